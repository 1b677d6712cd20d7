// The socket module's pure parts: where the socket is, and the segment.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { countdown, defaultSocketPath, remainingSeconds, segment } from "../src/agent";

describe("defaultSocketPath finds the socket as the CLI does", () => {
  it("uses an absolute XDG_RUNTIME_DIR on Linux", () => {
    assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: "/run/user/1000" }, "linux", 1000, "/tmp"), "/run/user/1000/rack-gateway/agent.sock");
  });
  it("ignores a relative XDG_RUNTIME_DIR, and any on macOS", () => {
    assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: "run" }, "linux", 1000, "/tmp"), "/tmp/rack-gateway-1000/agent.sock");
    assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: "/run/user/501" }, "darwin", 501, "/var/folders/x/T"), "/var/folders/x/T/rack-gateway-501/agent.sock");
  });
  it("names the pipe on Windows after the user, without the domain", () => {
    assert.equal(defaultSocketPath({ USERNAME: "CORP\\me" }, "win32", -1, "C:\\Temp"), "\\\\.\\pipe\\rack-gateway-me");
  });
});

describe("the segment", () => {
  const now = Date.parse("2026-12-02T10:00:00.900Z");
  it("counts whole seconds down, as `rack-gateway prompt` does", () => {
    assert.equal(remainingSeconds(undefined, now), 0);
    assert.equal(remainingSeconds(now - 1000, now), 0);
    assert.equal(remainingSeconds(Date.parse("2026-12-02T10:07:30Z"), now), 450);
    assert.equal(countdown(450), "7m");
    assert.equal(countdown(59), "59s");
    assert.equal(countdown(0), "");
  });
  it("shows the open or closed lock", () => {
    const r = { name: "prod", configDir: "/c", url: "u", current: true, loggedIn: true };
    assert.equal(segment({ ...r, windowExpiresAt: now + 7 * 60_000 }, now), "prod 🔓 7m");
    assert.equal(segment({ ...r, windowExpiresAt: now + 45_000 }, now), "prod 🔓 45s");
    assert.equal(segment(r, now), "prod 🔒");
  });
});
