// Makes `require("vscode")` load the fake: the real module exists only
// inside VS Code. Imported before the extension.

import Module from "node:module";
import * as path from "node:path";

const fakePath = path.join(__dirname, "fake-vscode.js");
const m = Module as unknown as { _resolveFilename: (req: string, ...rest: unknown[]) => string };
const orig = m._resolveFilename;
m._resolveFilename = function (req: string, ...rest: unknown[]): string {
  return req === "vscode" ? fakePath : orig.call(this, req, ...rest);
};
