// The socket module against a real agent and the sandbox gateway.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { AgentClient, AgentError, PromptStatus } from "../src/agent";
import { cleanup, Codes, ensureBinaries, Env, once, startSandbox, waitFor } from "./harness";

const admin = "admin@example.com";
// A command that needs a step-up window (internal/e2e/stepup_test.go).
const stepUpCmd = ["api", "-X", "POST", "/apps/demo/releases", "-f", "description=vscode"];

describe("socket module against a real agent", { timeout: 180_000 }, () => {
  const clients: AgentClient[] = [];
  const client = (e: Env) => {
    const c = new AgentClient({ socketPath: e.socket, initialBackoffMs: 50, maxBackoffMs: 500 });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };

  before(() => ensureBinaries());
  afterEach(async () => {
    for (const c of clients.splice(0)) {
      c.stop();
    }
    await cleanup();
  });
  after(cleanup);

  /** A user logged in to prod whose step-up window the server has closed. */
  async function mfaEnv(): Promise<{ e: Env; codes: Codes }> {
    const sb = await startSandbox("--step-up-window", "10m");
    const e = new Env(sb);
    await e.login("prod", admin);
    await e.expireStepUp(admin);
    return { e, codes: new Codes(sb) };
  }

  it("answers a prompt a pty command waits on, and counts the window down", async () => {
    const { e, codes } = await mfaEnv();
    const c = client(e);
    const connected = once(c, "connected", 10_000);
    c.start();
    await connected;
    const prod = () => c.currentRacks().find((r) => r.name === "prod");
    assert.ok(prod()?.loggedIn, "prod is logged in after login");

    const prompted = once(c, "prompt", 20_000);
    const p = e.startPTY(stepUpCmd);
    const [prompt] = (await prompted) as [PromptStatus];
    assert.equal(prompt.rack, "prod");
    assert.equal(prompt.secret, true);
    assert.match(prompt.command ?? "", /api/);
    assert.match(prompt.tty ?? "", /^\/dev\//, "the prompt names the waiting terminal");
    assert.deepEqual(c.prompts().map((x) => x.id), [prompt.id]);
    // The server said step-up is needed: the window shows closed.
    await waitFor("prod 🔒", 10_000, () => c.segmentOf(prod()!) === "prod 🔒");

    // A wrong code is used (200) and refused by the gateway: the command
    // asks again, with a new prompt.
    const wrongEnded = once(c, "promptEnded", 15_000, (id) => id === prompt.id);
    const again = once(c, "prompt", 20_000, (x: PromptStatus) => x.id !== prompt.id);
    await c.answer(prompt.id, "000000");
    assert.equal((await wrongEnded)[1], "api");
    const [second] = (await again) as [PromptStatus];
    assert.equal(second.tty, prompt.tty);

    const ended = once(c, "promptEnded", 15_000, (id) => id === second.id);
    await c.answer(second.id, codes.next(admin));
    const [, how] = await ended;
    assert.equal(how, "api");
    assert.equal(await p.wait(20_000), 0, p.output);
    assert.match(p.output, /Invalid code/);
    assert.match(p.output, /MFA verified/);

    await waitFor("an open window counted down", 10_000, () => c.remaining(prod()!) > 500);
    assert.match(c.segmentOf(prod()!), /^prod 🔓 (9|10)m$/);
    assert.deepEqual(c.prompts(), []);

    // The prompt is gone: a second answer is refused with not_found.
    await assert.rejects(c.answer(prompt.id, "123456"), (err: unknown) => err instanceof AgentError && err.code === "not_found" && err.status === 404);
  });

  it("drops a prompt withdrawn by Ctrl-C in the terminal", async () => {
    const { e } = await mfaEnv();
    const c = client(e);
    const connected = once(c, "connected", 10_000);
    c.start();
    await connected;
    const prompted = once(c, "prompt", 20_000);
    const p = e.startPTY(stepUpCmd);
    const [prompt] = (await prompted) as [PromptStatus];
    const ended = once(c, "promptEnded", 15_000, (id) => id === prompt.id);
    await waitFor("the terminal to show the prompt", 10_000, () => /TOTP code/.test(p.output));
    p.type("\x03");
    const [, how] = await ended;
    assert.equal(how, "withdrawn");
    assert.notEqual(await p.wait(20_000), 0);
    assert.deepEqual(c.prompts(), []);
  });

  it("reconnects after `agent stop` and a restart", async () => {
    const sb = await startSandbox();
    const e = new Env(sb);
    await e.login("prod", admin);
    const c = client(e);
    const connected = once(c, "connected", 10_000);
    c.start();
    const [first] = await connected;
    assert.ok(c.connected);

    const lost = once(c, "disconnected", 10_000);
    await e.stopAgent();
    await lost;
    assert.equal(c.connected, false);

    // While no agent runs, the client keeps retrying; the next command
    // starts an agent and the client finds it.
    const back = once(c, "connected", 20_000);
    await e.mustRun(["racks"]);
    const [second] = await back;
    assert.notEqual(second.pid, first.pid, "a new agent answered");
    assert.ok(c.connected);
    assert.ok(c.currentRacks().some((r) => r.name === "prod" && r.loggedIn), "the state is re-read after reconnecting");
  });

  it("explains a socket with no agent behind it", async () => {
    const c = new AgentClient({ socketPath: "/nonexistent/rack-gateway/agent.sock" });
    await assert.rejects(c.getStatus(), /agent is not running .*rack-gateway agent start/);
  });
});
