// The VS Code glue against the fake vscode API and a scripted client.

import "./vscode-hook";

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";

import { AgentClient, AgentError, PromptStatus, Rack, remainingSeconds, segment, Status } from "../src/agent";
import * as ext from "../src/extension";
import { Dialog, fake } from "./fake-vscode";
import { waitFor } from "./harness";

/** Stands in for AgentClient: the test sets its state and emits its events. */
class ScriptedClient extends EventEmitter {
  connected = false;
  rackList: Rack[] = [];
  pending: PromptStatus[] = [];
  answers: [string, string][] = [];
  answerError?: Error;
  refreshes = 0;
  started = false;
  stopped = false;
  clock = Date.now();
  constructor(readonly socketPath: string) {
    super();
  }
  racks() {
    return this.rackList;
  }
  currentRacks() {
    return this.rackList.filter((r) => r.current);
  }
  prompts() {
    return this.pending;
  }
  remaining(r: Rack) {
    return remainingSeconds(r.windowExpiresAt, this.clock);
  }
  segmentOf(r: Rack) {
    return segment(r, this.clock);
  }
  start() {
    this.started = true;
  }
  stop() {
    this.stopped = true;
  }
  reconnect() {}
  async refresh() {
    this.refreshes++;
  }
  async getStatus(): Promise<Status> {
    return {
      version: "v9.9.9", capability: 2, pid: 4242, started_at: "2026-12-02T00:00:00Z", socket: this.socketPath,
      secret_store: "file", prompts: this.pending,
      racks: this.rackList.map((r) => ({
        name: r.name, url: r.url, current: r.current, config_dir: r.configDir, logged_in: r.loggedIn, email: r.email,
        window: { active: !!r.windowExpiresAt, expires_at: r.windowExpiresAt ? new Date(r.windowExpiresAt).toISOString() : undefined, remaining_s: 0 },
        pending_prompts: [],
      })),
    };
  }
  async answer(id: string, value: string) {
    if (this.answerError) throw this.answerError;
    this.answers.push([id, value]);
  }
  /** Sets the state and says it changed, as the real client does. */
  set(connected: boolean, racks: Rack[]) {
    this.connected = connected;
    this.rackList = racks;
    this.emit(connected ? "connected" : "disconnected", connected ? undefined : new Error("the rack-gateway agent is not running"));
    this.emit("change");
  }
}

const rack = (name: string, over: Partial<Rack> = {}): Rack => ({
  name, configDir: "/home/me/.config/rack-gateway", url: `https://${name}.example.com`, current: false, loggedIn: true, email: "me@example.com", ...over,
});

const prompt: PromptStatus = {
  id: "p1", rack: "prod", command: "rack-gateway deploy", text: "Enter TOTP code: ", secret: true, reason: "mfa", pid: 77, tty: "/dev/pts/3",
  created_at: "2026-12-02T00:00:00Z",
};

function nextDialog(kind: Dialog["kind"], ms = 5000): Promise<Dialog> {
  const open = fake.dialogs.find((d) => d.kind === kind && !(d as any).taken);
  if (open) {
    (open as any).taken = true;
    return Promise.resolve(open);
  }
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${kind} dialog within ${ms} ms; saw ${fake.dialogs.map((d) => d.kind + ": " + d.message).join(" | ")}`)), ms);
    const on = (d: Dialog) => {
      if (d.kind === kind) {
        (d as any).taken = true;
        clearTimeout(t);
        fake.events.off("dialog", on);
        resolve(d);
      }
    };
    fake.events.on("dialog", on);
  });
}

describe("the VS Code glue", () => {
  let clients: ScriptedClient[];
  let ctx: { subscriptions: { dispose(): void }[] };
  const client = () => clients[clients.length - 1];

  beforeEach(() => {
    fake.reset();
    clients = [];
    ext.setClientFactory((socketPath) => {
      const c = new ScriptedClient(socketPath);
      clients.push(c);
      return c as unknown as AgentClient;
    });
    fake.settings.set("rackGateway.socketPath", "/run/test/agent.sock");
    ctx = { subscriptions: [] };
    ext.activate(ctx as any);
  });
  afterEach(() => {
    ext.deactivate();
  });

  it("starts a client on the configured socket and shows no agent until it connects", () => {
    assert.equal(client().socketPath, "/run/test/agent.sock");
    assert.ok(client().started);
    assert.deepEqual(fake.texts(), ["rack-gateway: no agent"]);
  });

  it("shows one item per current rack, counting down, and the lock when the window closes", () => {
    const c = client();
    const exp = c.clock + 7 * 60_000 + 30_000;
    c.set(true, [rack("prod", { current: true, windowExpiresAt: exp }), rack("staging"), rack("eu", { current: true, configDir: "/other" })]);
    assert.deepEqual(fake.texts().sort(), ["eu 🔒", "prod 🔓 7m"]);
    c.clock = exp - 45_000;
    c.emit("change"); // as the client does, and the 1 s ticker
    assert.deepEqual(fake.texts().sort(), ["eu 🔒", "prod 🔓 45s"]);
    c.clock = exp + 1000;
    c.emit("change");
    assert.deepEqual(fake.texts().sort(), ["eu 🔒", "prod 🔒"]);
    // The current rack moves: the old item goes, the new one comes.
    c.set(true, [rack("prod"), rack("staging", { current: true })]);
    assert.deepEqual(fake.texts(), ["staging 🔒"]);
    const item = fake.items.find((i) => i.visible && !i.disposed)!;
    assert.equal((item.command as any).command, "rackGateway.stepUp");
    // The agent stops: one item says so.
    c.set(false, []);
    assert.deepEqual(fake.texts(), ["rack-gateway: no agent"]);
  });

  it("answers a pending secret prompt from a notification and a password box", async () => {
    const c = client();
    c.set(true, [rack("prod", { current: true })]);
    c.pending = [prompt];
    c.emit("prompt", prompt);
    const note = await nextDialog("warning");
    assert.match(note.message!, /rack-gateway deploy on prod waits for an MFA code in \/dev\/pts\/3/);
    assert.deepEqual(note.items, ["Answer…"]);
    note.answer("Answer…");
    const box = await nextDialog("input");
    assert.equal(box.options.password, true);
    assert.match(box.options.prompt, /Enter TOTP code:.*\/dev\/pts\/3/);
    box.answer("123456");
    await waitFor("the answer sent", 5000, () => c.answers.length === 1);
    assert.deepEqual(c.answers, [["p1", "123456"]]);
  });

  it("closes the input box when the terminal answers first", async () => {
    const c = client();
    c.set(true, [rack("prod", { current: true })]);
    c.pending = [prompt];
    c.emit("prompt", prompt);
    (await nextDialog("warning")).answer("Answer…");
    const box = await nextDialog("input");
    c.pending = [];
    c.emit("promptEnded", "p1", "terminal");
    await waitFor("the box cancelled", 5000, () => box.cancelled);
    assert.deepEqual(c.answers, []);
  });

  it("says so when the answer came too late", async () => {
    const c = client();
    c.set(true, [rack("prod", { current: true })]);
    c.pending = [{ ...prompt, secret: false, reason: "confirm", text: "Approve? [y/N] " }];
    c.answerError = new AgentError("no pending prompt", "not_found", 404);
    const run = fake.commands.get("rackGateway.answerPrompt")!();
    const box = await nextDialog("input");
    assert.equal(box.options.password, false);
    box.answer("y");
    const info = await nextDialog("info");
    assert.match(info.message!, /answered in the terminal first/);
    await run;
  });

  it("opens a step-up window in a terminal running the configured CLI", async () => {
    fake.settings.set("rackGateway.cliPath", "/opt/rg/rack-gateway");
    const c = client();
    c.set(true, [rack("prod", { current: true, configDir: "/cfg" })]);
    await fake.commands.get("rackGateway.stepUp")!();
    assert.equal(fake.terminals.length, 1);
    const t = fake.terminals[0];
    assert.equal(t.options.shellPath, "/opt/rg/rack-gateway");
    assert.deepEqual(t.options.shellArgs, ["mfa", "renew", "--rack", "prod", "--config", "/cfg"]);
    assert.ok(t.shown);
  });

  it("switches rack through the CLI and re-reads the state", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rg-vscode-switch-"));
    try {
      const log = path.join(dir, "args");
      const cli = path.join(dir, "rack-gateway");
      fs.writeFileSync(cli, `#!/bin/sh\nprintf '%s\\n' "$@" > '${log}'\n`, { mode: 0o755 });
      fake.settings.set("rackGateway.cliPath", cli);
      const c = client();
      c.set(true, [rack("prod", { current: true }), rack("staging", { loggedIn: false })]);
      const run = fake.commands.get("rackGateway.switchRack")!();
      const pick = await nextDialog("quickPick");
      assert.deepEqual(pick.items!.map((i) => i.label), ["prod", "staging"]);
      assert.match(pick.items![0].description, /current/);
      pick.answer(pick.items![1]);
      await run;
      assert.deepEqual(fs.readFileSync(log, "utf8").trim().split("\n"), ["switch", "staging", "--config", "/home/me/.config/rack-gateway"]);
      assert.equal(c.refreshes, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("shows the agent status in an output channel", async () => {
    const c = client();
    c.set(true, [rack("prod", { current: true, windowExpiresAt: c.clock + 120_000 })]);
    c.pending = [prompt];
    await fake.commands.get("rackGateway.showStatus")!();
    const ch = fake.channels[0];
    assert.ok(ch.shown);
    assert.match(ch.text, /agent v9\.9\.9 .*pid 4242/);
    assert.match(ch.text, /\* prod .*me@example\.com .*window [12]m/);
    assert.match(ch.text, /waiting: .*rack-gateway deploy on prod/);
  });

  it("offers to start the agent when the status cannot be read", async () => {
    const c = client();
    c.getStatus = async () => {
      throw new Error("the rack-gateway agent is not running (no agent on /run/test/agent.sock)");
    };
    const run = fake.commands.get("rackGateway.showStatus")!();
    const err = await nextDialog("error");
    assert.match(err.message!, /not running/);
    err.answer("Start the agent");
    await run;
    assert.deepEqual(fake.terminals[0].options.shellArgs, ["agent", "start"]);
  });

  it("reconnects on the new socket when the setting changes", () => {
    const first = client();
    fake.setSetting("rackGateway.socketPath", "/elsewhere/agent.sock");
    assert.equal(clients.length, 2);
    assert.ok(first.stopped);
    assert.equal(client().socketPath, "/elsewhere/agent.sock");
    assert.ok(client().started);
  });

  it("leaves nothing behind on deactivate", () => {
    const c = client();
    c.set(true, [rack("prod", { current: true })]);
    ext.deactivate();
    assert.ok(c.stopped);
    assert.deepEqual(fake.texts(), []);
    assert.equal(fake.commands.size, 0);
  });
});
