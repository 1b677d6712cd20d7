// The socket module against a scripted agent on a Unix socket: the cases
// a real agent cannot be made to produce on demand (a status read that
// races an event, a stream that goes silent, a "too slow" close).

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "ws";

import { AgentClient } from "../src/agent";
import { once, waitFor } from "./harness";

const prompt = { id: "p1", rack: "prod", command: "rack-gateway deploy", text: "code: ", secret: true, created_at: "2026-12-02T00:00:00Z" };

function status(prompts: unknown[] = []) {
  return {
    version: "test", capability: 2, pid: 1, started_at: "2026-12-02T00:00:00Z", socket: "s", secret_store: "file",
    racks: [{ name: "prod", url: "u", current: true, config_dir: "/c", logged_in: true, window: { active: false, remaining_s: 0 }, pending_prompts: [] }],
    prompts,
  };
}

/** A scripted agent: the test sets how /v1/status answers and what a new stream gets. */
class FakeAgent {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rg-vscode-fake-"));
  socket = path.join(this.dir, "agent.sock");
  server = http.createServer((req, res) => this.onRequest(req, res));
  wss = new WebSocketServer({ noServer: true });
  streams: WebSocket[] = [];
  statusReads = 0;
  /** Answers GET /v1/status; may delay. */
  onStatus: () => Promise<unknown> = async () => status();
  /** Runs when a client's stream opens. */
  onStream: (ws: WebSocket) => void = () => {};

  constructor() {
    this.server.on("upgrade", (req, sock, head) => {
      this.wss.handleUpgrade(req, sock, head, (ws) => {
        this.streams.push(ws);
        this.onStream(ws);
      });
    });
  }
  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(this.socket, r));
  }
  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    if (req.url === "/v1/status") {
      this.statusReads++;
      const body = JSON.stringify(await this.onStatus());
      res.writeHead(200, { "Content-Type": "application/json" }).end(body);
      return;
    }
    res.writeHead(404).end();
  }
  async close(): Promise<void> {
    for (const ws of this.streams) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("socket module against a scripted agent", () => {
  let agent: FakeAgent;
  let client: AgentClient;
  beforeEach(async () => {
    agent = new FakeAgent();
    await agent.listen();
  });
  afterEach(async () => {
    client?.stop();
    await agent.close();
  });

  it("does not bring back a prompt that ended while the status was read", async () => {
    let sendAnswered!: () => void;
    const answeredSent = new Promise<void>((r) => (sendAnswered = r));
    agent.onStream = (ws) => {
      // The prompt ends right after the subscription, before the status
      // read (which still lists it) returns.
      ws.send(JSON.stringify({ seq: 9, time: "t", type: "prompt_answered", prompt_id: "p1", answered_by: "terminal" }), () => sendAnswered());
    };
    agent.onStatus = async () => {
      await answeredSent;
      return status([prompt]);
    };
    client = new AgentClient({ socketPath: agent.socket });
    const announced: string[] = [];
    client.on("prompt", (p) => announced.push(p.id));
    const connected = once(client, "connected", 5000);
    client.start();
    await connected;
    await waitFor("the queued event applied", 5000, () => client.prompts().length === 0);
    assert.deepEqual(announced, [], "a prompt that ended before the snapshot applied is never announced");
    // A later status that still lists it (a read that raced) changes nothing.
    await client.refresh();
    assert.deepEqual(client.prompts(), []);
    assert.deepEqual(announced, []);
  });

  it("re-reads the status on prompt_pending, and announces each prompt once", async () => {
    let prompts: unknown[] = [];
    agent.onStatus = async () => status(prompts);
    client = new AgentClient({ socketPath: agent.socket });
    const announced: string[] = [];
    client.on("prompt", (p) => announced.push(p.id));
    const connected = once(client, "connected", 5000);
    client.start();
    await connected;
    prompts = [prompt];
    const ws = agent.streams[0];
    ws.send(JSON.stringify({ seq: 1, type: "prompt_pending", prompt_id: "p1", rack: "prod" }));
    ws.send(JSON.stringify({ seq: 2, type: "command_finished", command: "x" }));
    await waitFor("the prompt listed", 5000, () => client.prompts().length === 1);
    await client.refresh();
    assert.deepEqual(announced, ["p1"]);
    assert.equal(client.prompts()[0].secret, true);
    const ended = once(client, "promptEnded", 5000);
    ws.send(JSON.stringify({ seq: 3, type: "prompt_withdrawn", prompt_id: "p1", rack: "prod" }));
    assert.deepEqual(await ended, ["p1", "withdrawn"]);
  });

  it("follows the window from events", async () => {
    client = new AgentClient({ socketPath: agent.socket });
    const connected = once(client, "connected", 5000);
    client.start();
    await connected;
    const prod = () => client.currentRacks()[0];
    const exp = new Date(Date.now() + 5 * 60_000 + 30_000).toISOString();
    agent.streams[0].send(JSON.stringify({ seq: 1, type: "window_opened", rack: "prod", config_dir: "/c", expires_at: exp, method: "totp" }));
    await waitFor("the window open", 5000, () => client.segmentOf(prod()) === "prod 🔓 5m");
    agent.streams[0].send(JSON.stringify({ seq: 2, type: "window_expired", rack: "prod", config_dir: "/c" }));
    await waitFor("the window closed", 5000, () => client.segmentOf(prod()) === "prod 🔒");
  });

  it("reads the status again when an event arrives during a read", async () => {
    client = new AgentClient({ socketPath: agent.socket });
    const connected = once(client, "connected", 5000);
    client.start();
    await connected;
    const exp = new Date(Date.now() + 9 * 60_000 + 30_000).toISOString();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let opened = false;
    agent.onStatus = async () => {
      const st = status(); // as the agent saw it before the event
      if (!opened) {
        await held;
      } else {
        st.racks[0].window = { active: true, expires_at: exp, remaining_s: 570 } as any;
      }
      return st;
    };
    const reads = agent.statusReads;
    const done = client.refresh();
    await waitFor("the read to start", 5000, () => agent.statusReads === reads + 1);
    const seen = once(client, "event", 5000);
    agent.streams[0].send(JSON.stringify({ seq: 1, type: "window_opened", rack: "prod", config_dir: "/c", expires_at: exp }));
    await seen;
    opened = true;
    release();
    await done;
    assert.equal(agent.statusReads, reads + 2, "a second read after the event");
    assert.equal(client.segmentOf(client.currentRacks()[0]), "prod 🔓 9m");
  });

  it("reconnects after a \"too slow\" close and re-reads the status", async () => {
    client = new AgentClient({ socketPath: agent.socket, initialBackoffMs: 10 });
    const connected = once(client, "connected", 5000);
    client.start();
    await connected;
    const again = once(client, "connected", 5000);
    const lost = once(client, "disconnected", 5000);
    agent.streams[0].close(1013, "too slow: events dropped; reconnect and re-read /v1/status");
    const [err] = await lost;
    assert.match(String(err), /1013/);
    await again;
    assert.equal(agent.statusReads, 2);
    assert.equal(agent.streams.length, 2);
  });

  it("takes a silent stream for dead and reconnects", async () => {
    client = new AgentClient({ socketPath: agent.socket, initialBackoffMs: 10, staleMs: 200 });
    const connected = once(client, "connected", 5000);
    client.start();
    await connected;
    const lost = once(client, "disconnected", 5000);
    const [err] = await lost;
    assert.match(String(err), /sent nothing/);
    await waitFor("a second stream", 5000, () => agent.streams.length >= 2);
  });

  it("keeps trying while no agent listens, and connects once one does", async () => {
    await agent.close();
    agent = new FakeAgent();
    client = new AgentClient({ socketPath: agent.socket, initialBackoffMs: 10, maxBackoffMs: 50 });
    const failures: Error[] = [];
    client.on("disconnected", (e) => failures.push(e));
    client.start();
    await waitFor("two failed attempts", 5000, () => failures.length >= 2);
    assert.match(String(failures[0]), /agent is not running/);
    const connected = once(client, "connected", 5000);
    await agent.listen();
    await connected;
    assert.ok(client.connected);
  });
});
