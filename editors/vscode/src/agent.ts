// The agent's local API (docs/local-api.md) over its Unix socket, with no
// `vscode` import, so it is tested against a real agent with node's test
// runner and could serve any other Node-based editor.
//
// HTTP goes through Node's `http` with `socketPath`; events come over a
// websocket (the `ws` package) dialled on the same socket. The client keeps
// a model of what an editor shows: each rack's step-up window and the
// pending prompts. It rebuilds that model from GET /v1/status on every
// (re)connect and keeps it current from /v1/events.

import { EventEmitter } from "node:events";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import WebSocket from "ws";

/** The host every request names; the agent accepts any (docs/local-api.md). */
const HOST = "agent";

/** A rack as GET /v1/status describes it. */
export interface RackStatus {
  name: string;
  url: string;
  current: boolean;
  config_dir: string;
  logged_in: boolean;
  email?: string;
  role?: string;
  session_expires_at?: string;
  window: { active: boolean; expires_at?: string; remaining_s: number };
  pending_prompts: PromptStatus[];
}

/** A question a command waits on (GET /v1/status `prompts`). */
export interface PromptStatus {
  id: string;
  rack?: string;
  command?: string;
  text: string;
  secret: boolean;
  reason?: string;
  pid?: number;
  tty?: string;
  created_at: string;
}

/** GET /v1/status. */
export interface Status {
  version: string;
  capability: number;
  pid: number;
  started_at: string;
  socket: string;
  secret_store: string;
  racks: RackStatus[] | null;
  prompts: PromptStatus[] | null;
  log_error?: string;
  audit_error?: string;
}

/** One message of GET /v1/events. */
export interface AgentEvent {
  seq: number;
  time: string;
  type: string;
  rack?: string;
  config_dir?: string;
  email?: string;
  expires_at?: string;
  method?: string;
  prompt_id?: string;
  command?: string;
  pid?: number;
  exit?: number;
  answered_by?: string;
  tty?: string;
}

/** What the client knows of one rack. */
export interface Rack {
  name: string;
  configDir: string;
  url: string;
  current: boolean;
  loggedIn: boolean;
  email?: string;
  /** When the step-up window closes (ms since the epoch), or undefined. */
  windowExpiresAt?: number;
}

/**
 * How a prompt left the list: answered (by the terminal or through the
 * API), withdrawn (it ended unanswered), or lost (the stream to the agent
 * broke; it comes back on reconnect if it is still pending).
 */
export type PromptEnd = "terminal" | "api" | "withdrawn" | "lost";

/** An error the agent answered, with its machine code (docs/local-api.md). */
export class AgentError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "AgentError";
  }
}

/**
 * The agent's socket path, found as the CLI finds it (ipc/transport):
 * $XDG_RUNTIME_DIR/rack-gateway/agent.sock when XDG_RUNTIME_DIR is an
 * absolute path and the system is not macOS, else
 * $TMPDIR/rack-gateway-<uid>/agent.sock; on Windows the named pipe.
 */
export function defaultSocketPath(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  uid: number = process.getuid ? process.getuid() : -1,
  tmpdir: string = os.tmpdir(),
): string {
  if (platform === "win32") {
    // As ipc/transport's pipeUserPart: no domain, no awkward characters.
    let user = (env.USERNAME || os.userInfo().username).split("\\").pop() ?? "";
    user = user.replace(/[\x00-\x1f\\/:*?"<>|]/g, "_") || "user";
    return `\\\\.\\pipe\\rack-gateway-${user}`;
  }
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg) && platform !== "darwin") {
    return path.join(xdg, "rack-gateway", "agent.sock");
  }
  return path.join(tmpdir, `rack-gateway-${uid}`, "agent.sock");
}

/** Whole seconds left in a window at now, 0 when closed (as cli/prompt.go counts). */
export function remainingSeconds(expiresAt: number | undefined, now: number): number {
  if (expiresAt === undefined) {
    return 0;
  }
  const r = Math.floor(expiresAt / 1000) - Math.floor(now / 1000);
  return r > 0 ? r : 0;
}

/** "7m" for whole minutes left, "45s" under a minute, "" when closed. */
export function countdown(secs: number): string {
  if (secs >= 60) {
    return `${Math.floor(secs / 60)}m`;
  }
  return secs > 0 ? `${secs}s` : "";
}

/** The segment the CLI's `prompt` prints: "prod 🔓 7m" or "prod 🔒". */
export function segment(rack: Rack, now: number): string {
  const secs = remainingSeconds(rack.windowExpiresAt, now);
  return secs > 0 ? `${rack.name} 🔓 ${countdown(secs)}` : `${rack.name} 🔒`;
}

/** Options of an AgentClient. */
export interface ClientOptions {
  /** The agent socket; defaultSocketPath() when empty. */
  socketPath?: string;
  /** First reconnect delay (ms); doubles per failure up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Deadline of one HTTP request (ms). */
  requestTimeoutMs?: number;
  /**
   * A stream that brings nothing, not even the agent's ping (every 30 s),
   * for this long is taken for dead and reconnected (ms).
   */
  staleMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/**
 * A live view of the agent. Events (EventEmitter):
 * - "change": racks, windows or prompts changed (redraw the status bar);
 * - "prompt" (PromptStatus): a new pending prompt, once per id;
 * - "promptEnded" (id, PromptEnd): it was answered or withdrawn;
 * - "connected" (Status), "disconnected" (Error | undefined);
 * - "event" (AgentEvent): every event as it arrives.
 */
export class AgentClient extends EventEmitter {
  readonly socketPath: string;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly timeout: number;
  private readonly staleMs: number;
  private readonly now: () => number;

  private racksByKey = new Map<string, Rack>();
  private pending = new Map<string, PromptStatus>();
  /** Prompt ids seen and ended: a late snapshot must not bring one back. */
  private ended = new Set<string>();
  private announced = new Set<string>();

  private ws?: WebSocket;
  private running = false;
  private isConnected = false;
  private backoff: number;
  private retryTimer?: NodeJS.Timeout;
  private staleTimer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;
  private refreshAgain = false;
  private lastStatus?: Status;

  constructor(opts: ClientOptions = {}) {
    super();
    this.socketPath = opts.socketPath || defaultSocketPath();
    this.initialBackoff = opts.initialBackoffMs ?? 250;
    this.maxBackoff = opts.maxBackoffMs ?? 30_000;
    this.timeout = opts.requestTimeoutMs ?? 10_000;
    this.staleMs = opts.staleMs ?? 75_000;
    this.now = opts.now ?? Date.now;
    this.backoff = this.initialBackoff;
  }

  /** Whether the event stream is up and the model synced. */
  get connected(): boolean {
    return this.isConnected;
  }

  /** The last /v1/status read (on connect or refresh). */
  get status(): Status | undefined {
    return this.lastStatus;
  }

  /** Every configured rack, as last known. */
  racks(): Rack[] {
    return [...this.racksByKey.values()];
  }

  /** The current rack of each config directory (usually one). */
  currentRacks(): Rack[] {
    return this.racks().filter((r) => r.current);
  }

  /** Pending prompts, oldest first. */
  prompts(): PromptStatus[] {
    return [...this.pending.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  /** Whole seconds left in a rack's window now. */
  remaining(rack: Rack): number {
    return remainingSeconds(rack.windowExpiresAt, this.now());
  }

  /** A rack's status-bar segment now: "prod 🔓 7m" or "prod 🔒". */
  segmentOf(rack: Rack): string {
    return segment(rack, this.now());
  }

  /** Starts following the agent, reconnecting until stop(). */
  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.connect();
  }

  /** Stops following; closes the stream and cancels any retry. */
  stop(): void {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.drop();
    this.setDisconnected(undefined);
  }

  /** Closes the stream, if any, and forgets it. */
  private drop(): void {
    clearTimeout(this.staleTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
    }
  }

  /** Reconnects now, without waiting for the backoff (after a setting changes, say). */
  reconnect(): void {
    if (!this.running) {
      return this.start();
    }
    clearTimeout(this.retryTimer);
    this.backoff = this.initialBackoff;
    this.drop();
    this.setDisconnected(undefined);
    this.connect();
  }

  /** GET /v1/status. */
  async getStatus(): Promise<Status> {
    return (await this.request("GET", "/v1/status")) as Status;
  }

  /**
   * Answers a pending prompt (POST /v1/prompts/{id}). Resolves once the
   * agent took the answer; rejects with an AgentError `not_found` when
   * the terminal answered first or the prompt was withdrawn.
   */
  async answer(id: string, value: string): Promise<void> {
    await this.request("POST", "/v1/prompts/" + encodeURIComponent(id), JSON.stringify({ value }));
  }

  /** POST /v1/shutdown. */
  async shutdown(): Promise<void> {
    await this.request("POST", "/v1/shutdown");
  }

  /** One JSON request over the socket, with a deadline. */
  request(method: string, urlPath: string, body?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { Host: HOST };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = Buffer.byteLength(body);
      }
      const req = http.request(
        { socketPath: this.socketPath, method, path: urlPath, headers, timeout: this.timeout, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              reject(errorFrom(status, text));
              return;
            }
            try {
              resolve(text ? JSON.parse(text) : undefined);
            } catch (err) {
              reject(new Error(`agent answered ${method} ${urlPath} with bad JSON: ${(err as Error).message}`));
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`agent did not answer ${method} ${urlPath} within ${this.timeout} ms`)));
      req.on("error", (err) => reject(explainDialError(err, this.socketPath)));
      req.end(body);
    });
  }

  private connect(): void {
    if (!this.running) {
      return;
    }
    const ws = new WebSocket(`ws://${HOST}/v1/events`, {
      createConnection: () => net.connect(this.socketPath),
      handshakeTimeout: 5_000,
      maxPayload: 1 << 20,
    });
    this.ws = ws;
    // Events that arrive while the snapshot is read wait here, so they
    // apply after it, in order.
    let queue: AgentEvent[] | undefined = [];
    // The agent pings every 30 s; silence much longer than that means a
    // peer that is gone without closing (a suspended machine, say).
    const alive = () => {
      clearTimeout(this.staleTimer);
      this.staleTimer = setTimeout(() => this.lost(ws, new Error(`the agent sent nothing for ${this.staleMs} ms`)), this.staleMs);
    };
    ws.on("ping", alive);
    ws.on("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => this.lost(ws, errorFrom(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))));
    });
    ws.on("open", () => {
      alive();
      this.getStatus().then(
        (st) => {
          if (this.ws !== ws) {
            return;
          }
          // A prompt that ended since the subscription is not announced.
          for (const e of queue ?? []) {
            if ((e.type === "prompt_answered" || e.type === "prompt_withdrawn") && e.prompt_id) {
              this.ended.add(e.prompt_id);
            }
          }
          this.applySnapshot(st);
          this.backoff = this.initialBackoff;
          this.isConnected = true;
          const q = queue ?? [];
          queue = undefined;
          this.emit("connected", st);
          for (const e of q) {
            this.apply(e);
          }
          this.emit("change");
        },
        (err) => this.lost(ws, err),
      );
    });
    ws.on("message", (data, isBinary) => {
      if (isBinary || this.ws !== ws) {
        return;
      }
      alive();
      let e: AgentEvent;
      try {
        e = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (queue) {
        queue.push(e);
      } else {
        this.apply(e);
      }
    });
    ws.on("close", (code, reason) => {
      this.lost(ws, code === 1000 ? undefined : new Error(`event stream closed (${code}${reason.length ? ": " + reason : ""})`));
    });
    ws.on("error", (err) => this.lost(ws, explainDialError(err, this.socketPath)));
  }

  /** The stream ended or failed: schedule a reconnect with backoff. */
  private lost(ws: WebSocket, err: Error | undefined): void {
    if (this.ws !== ws) {
      return; // already handled, or replaced
    }
    this.drop();
    this.setDisconnected(err);
    if (!this.running) {
      return;
    }
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.maxBackoff);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private setDisconnected(err: Error | undefined): void {
    const was = this.isConnected;
    this.isConnected = false;
    // What the agent said no longer holds: a restarted agent knows no
    // prompt of the old one, and windows are re-read on reconnect.
    for (const id of [...this.pending.keys()]) {
      this.pending.delete(id);
      this.announced.delete(id);
      this.emit("promptEnded", id, "lost");
    }
    if (was || err) {
      this.emit("disconnected", err);
      this.emit("change");
    }
  }

  /** Replaces the model with a status snapshot. */
  private applySnapshot(st: Status): void {
    this.lastStatus = st;
    const racks = new Map<string, Rack>();
    for (const r of st.racks ?? []) {
      const exp = r.window?.active && r.window.expires_at ? Date.parse(r.window.expires_at) : undefined;
      racks.set(key(r.config_dir, r.name), {
        name: r.name,
        configDir: r.config_dir,
        url: r.url,
        current: r.current,
        loggedIn: r.logged_in,
        email: r.email,
        windowExpiresAt: exp,
      });
    }
    this.racksByKey = racks;
    const live = new Set<string>();
    for (const p of st.prompts ?? []) {
      live.add(p.id);
      if (this.ended.has(p.id)) {
        continue;
      }
      this.pending.set(p.id, p);
      if (!this.announced.has(p.id)) {
        this.announced.add(p.id);
        this.emit("prompt", p);
      }
    }
    // A prompt the snapshot no longer lists ended while we were not
    // looking (an agent without prompt_withdrawn, or a missed event).
    for (const id of [...this.pending.keys()]) {
      if (!live.has(id)) {
        this.endPrompt(id, "withdrawn");
      }
    }
  }

  /** Applies one event to the model. */
  private apply(e: AgentEvent): void {
    this.emit("event", e);
    if (this.refreshing) {
      // The snapshot being read may predate this event: read another.
      this.refreshAgain = true;
    }
    switch (e.type) {
      case "window_opened":
      case "window_expiring": {
        const r = this.findRack(e.rack, e.config_dir);
        if (r && e.expires_at) {
          r.windowExpiresAt = Date.parse(e.expires_at);
          this.emit("change");
        } else {
          this.refresh();
        }
        break;
      }
      case "window_expired": {
        const r = this.findRack(e.rack, e.config_dir);
        if (r) {
          r.windowExpiresAt = undefined;
          this.emit("change");
        } else {
          this.refresh();
        }
        break;
      }
      case "prompt_pending":
        // The event has no text nor secret flag: the snapshot has both.
        this.refresh();
        break;
      case "prompt_answered":
      case "prompt_withdrawn":
        if (e.prompt_id) {
          this.endPrompt(e.prompt_id, e.type === "prompt_withdrawn" ? "withdrawn" : e.answered_by === "terminal" ? "terminal" : "api");
          this.emit("change");
        }
        break;
      case "login":
      case "logout":
      case "command_finished":
        // A login adds a rack, `switch` moves the current one: neither
        // has an event of its own, so re-read the whole state.
        this.refresh();
        break;
    }
  }

  private endPrompt(id: string, how: PromptEnd): void {
    this.ended.add(id);
    if (this.ended.size > 512) {
      // Ids are random and never reused; keep only recent ones.
      const first = this.ended.values().next().value;
      if (first !== undefined) {
        this.ended.delete(first);
      }
    }
    if (this.pending.delete(id)) {
      this.emit("promptEnded", id, how);
    }
  }

  private findRack(name?: string, configDir?: string): Rack | undefined {
    if (!name) {
      return undefined;
    }
    if (configDir) {
      return this.racksByKey.get(key(configDir, name));
    }
    return this.racks().find((r) => r.name === name);
  }

  /**
   * Re-reads /v1/status. Refreshes never overlap; an event during one
   * asks for another after it, so the last snapshot is newer than every
   * event seen.
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    const ws = this.ws;
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          const st = await this.getStatus();
          if (this.ws !== ws || !this.isConnected) {
            return;
          }
          this.applySnapshot(st);
          this.emit("change");
        } while (this.refreshAgain);
      } catch (err) {
        // The stream notices a gone agent and reconnects; a failed read
        // while it is up is only reported.
        this.emit("refreshError", err);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}

function key(configDir: string, name: string): string {
  return configDir + "\0" + name;
}

function errorFrom(status: number, text: string): AgentError {
  try {
    const body = JSON.parse(text);
    if (body && body.error && typeof body.error.code === "string") {
      return new AgentError(body.error.message ?? body.error.code, body.error.code, status, body.error.hint);
    }
  } catch {
    // not JSON: fall through
  }
  return new AgentError(`agent answered HTTP ${status}`, "http_" + status, status);
}

/** Says what to do when the socket cannot be reached. */
function explainDialError(err: Error, socketPath: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ECONNREFUSED") {
    const e = new Error(
      `the rack-gateway agent is not running (no agent on ${socketPath}); any rack-gateway command starts it, or run: rack-gateway agent start`,
    );
    (e as NodeJS.ErrnoException).code = code;
    return e;
  }
  return err;
}
