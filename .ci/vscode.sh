#!/usr/bin/env bash
# The VS Code extension (editors/vscode): install from the lockfile, test
# the socket module against a real agent and the sandbox and the glue
# against a fake of the vscode API, then build the .vsix. The tests run
# `make build` themselves, so this works on a clean clone.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
command -v script >/dev/null || { echo "vscode.sh: the tests need util-linux's script (a pseudo-terminal for the CLI)" >&2; exit 1; }
make build
cd editors/vscode
npm ci --no-audit --no-fund
npm test
# vsce lists every file it packs; keep its summary line only.
rm -f ./*.vsix
npx vsce package --skip-license | { grep -E 'DONE|WARNING|ERROR' || true; }
ls -l ./*.vsix
