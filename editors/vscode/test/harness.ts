// Real processes for the socket module's tests: the sandbox gateway, an
// agent in an isolated user environment (as internal/e2e/harness_test.go
// isolates one), the CLI, and a CLI under a pseudo-terminal (util-linux
// `script`). Every process started here is ended by cleanup(), which the
// tests call from their after hooks, failed or not.

import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const repoRoot = path.resolve(__dirname, "..", "..", "..", "..");
export const binDir = process.env.RG_BIN_DIR || path.join(repoRoot, "bin");
const bins = ["rack-gateway", "rack-gateway-agent", "rack-gateway-sandbox"];

/**
 * Builds the binaries with `make build` (quick when Go's cache is warm), so
 * the tests never run a stale agent. With RG_BIN_DIR the binaries there
 * are used as they are.
 */
export function ensureBinaries(): void {
  if (!process.env.RG_BIN_DIR) {
    const r = spawnSync("make", ["build"], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"], timeout: 600_000 });
    if (r.status !== 0) {
      throw new Error(`make build failed (${r.status ?? r.signal}); the tests need ${bins.join(", ")} in ${binDir}`);
    }
  }
  for (const b of bins) {
    if (!fs.existsSync(path.join(binDir, b))) {
      throw new Error(`${path.join(binDir, b)} is missing: run make build, or point RG_BIN_DIR at the binaries`);
    }
  }
}

/** Polls cond every 10 ms until it holds, or fails after ms. */
export async function waitFor(what: string, ms: number, cond: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves with the first emission of name (args as an array), or fails after ms. */
export function once(em: NodeJS.EventEmitter, name: string, ms: number, filter: (...a: any[]) => boolean = () => true): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      em.off(name, on);
      reject(new Error(`timed out after ${ms} ms waiting for "${name}"`));
    }, ms);
    const on = (...a: any[]) => {
      if (filter(...a)) {
        clearTimeout(t);
        em.off(name, on);
        resolve(a);
      }
    };
    em.on(name, on);
  });
}

const children = new Set<ChildProcess>();
const envs = new Set<Env>();

function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.on("exit", () => children.delete(c));
  return c;
}

/** Stops every agent and kills every process this harness started. */
export async function cleanup(): Promise<void> {
  for (const e of envs) {
    await e.stopAgent();
    envs.delete(e);
    if (!process.env.KEEP_TEST_DIRS) {
      fs.rmSync(e.root, { recursive: true, force: true });
    }
  }
  for (const c of children) {
    c.kill("SIGKILL");
  }
  await waitFor("test processes to end", 10_000, () => children.size === 0);
}

/** A running rack-gateway-sandbox. */
export interface Sandbox {
  url: string;
  totp: Map<string, string>; // email → base32 secret
  proc: ChildProcess;
}

export async function startSandbox(...extra: string[]): Promise<Sandbox> {
  const proc = track(
    spawn(path.join(binDir, "rack-gateway-sandbox"), ["--listen", "127.0.0.1:0", "--rate-limit-rps", "1000", "--rate-limit-burst", "1000", ...extra], {
      stdio: ["ignore", "pipe", "ignore"],
    }),
  );
  const sb: Sandbox = { url: "", totp: new Map(), proc };
  let buf = "";
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the sandbox did not print its url and users within 10 s")), 10_000);
    proc.on("exit", (code) => reject(new Error(`the sandbox exited (${code}) before it was ready`)));
    proc.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith("url=")) {
          sb.url = line.slice(4);
        }
        const f = line.trim().split(/\s+/);
        if (f.length === 3 && f[0] === "totp") {
          sb.totp.set(f[1], f[2]);
          if (f[1] === "viewer@example.com") {
            clearTimeout(t);
            resolve();
          }
        }
      }
    });
  });
  return sb;
}

/** A TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) for a base32 secret at a step. */
export function totpCode(secret: string, step: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/=+$/, "").toUpperCase()) {
    bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) {
    key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  }
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = crypto.createHmac("sha1", key).update(msg).digest();
  const off = h[h.length - 1] & 0xf;
  const n = (h.readUInt32BE(off) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, "0");
}

/**
 * Hands out codes the sandbox accepts, each once: the current 30 s step,
 * then the next (a code of the previous step may stop working before it
 * is checked on a busy machine).
 */
export class Codes {
  private used = new Set<string>();
  constructor(private sb: Sandbox) {}
  next(email: string): string {
    const now = Math.floor(Date.now() / 1000 / 30);
    for (const step of [now, now + 1]) {
      const k = `${email} ${step}`;
      if (!this.used.has(k)) {
        this.used.add(k);
        return totpCode(this.sb.totp.get(email)!, step);
      }
    }
    throw new Error(`${email}: more than two codes asked within one step`);
  }
}

/** What a finished command printed. */
export interface Result {
  code: number | null;
  out: string;
  err: string;
}

/** One isolated user: its own runtime, state, config and home directories. */
export class Env {
  readonly root: string;
  readonly vars: NodeJS.ProcessEnv;
  constructor(public sb: Sandbox) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "rg-vscode-"));
    for (const d of ["run", "state", "home"]) {
      fs.mkdirSync(path.join(this.root, d), { mode: 0o700 });
    }
    const vars: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(vars)) {
      if (k.startsWith("RACK_GATEWAY_") || k.startsWith("GATEWAY_")) {
        delete vars[k];
      }
    }
    Object.assign(vars, {
      HOME: path.join(this.root, "home"),
      XDG_RUNTIME_DIR: path.join(this.root, "run"),
      XDG_STATE_HOME: path.join(this.root, "state"),
      GATEWAY_CLI_CONFIG_DIR: path.join(this.root, "config"),
      RACK_GATEWAY_SECRET_STORE: "file",
      BROWSER: "true", // never a real browser
      TERM: "xterm",
    });
    this.vars = vars;
    envs.add(this);
  }

  get socket(): string {
    return path.join(this.root, "run", "rack-gateway", "agent.sock");
  }

  /** Runs the CLI to its end, with a deadline. */
  run(args: string[], ms = 30_000): Promise<Result> {
    return new Promise((resolve) => {
      const c = track(spawn(path.join(binDir, "rack-gateway"), args, { env: this.vars, cwd: this.root, stdio: ["ignore", "pipe", "pipe"] }));
      let out = "";
      let err = "";
      c.stdout!.on("data", (d) => (out += d));
      c.stderr!.on("data", (d) => (err += d));
      const t = setTimeout(() => c.kill("SIGKILL"), ms);
      c.on("close", (code) => {
        clearTimeout(t);
        resolve({ code, out, err });
      });
    });
  }

  async mustRun(args: string[]): Promise<Result> {
    const r = await this.run(args);
    if (r.code !== 0) {
      throw new Error(`rack-gateway ${args.join(" ")}: exit ${r.code}\n${r.out}\n${r.err}`);
    }
    return r;
  }

  /** Signs in headlessly, playing the browser's part as e.login does. */
  async login(rack: string, email: string): Promise<void> {
    const authFile = path.join(this.root, "auth-" + rack);
    const done = this.run(["login", rack, this.sb.url, "--no-open", "--auth-file", authFile], 60_000);
    let authURL = "";
    await waitFor("AUTH_URL in " + authFile, 20_000, () => {
      try {
        const m = /^AUTH_URL=(.+)$/m.exec(fs.readFileSync(authFile, "utf8"));
        authURL = m ? m[1] : "";
      } catch {
        return false;
      }
      return authURL !== "";
    });
    const res = await fetch(`${authURL}&selected_user=${encodeURIComponent(email)}&mfa=auto`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (res.status !== 200) {
      throw new Error(`browser leg ended with ${res.status} at ${res.url}`);
    }
    const r = await done;
    if (r.code !== 0) {
      throw new Error(`login: exit ${r.code}\n${r.out}\n${r.err}`);
    }
  }

  /** Closes a user's step-up windows on the server, as time would. */
  async expireStepUp(email: string): Promise<void> {
    const res = await fetch(`${this.sb.url}/_sandbox/users/${email}/expire-step-up`, { method: "POST", signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (!res.ok) {
      throw new Error(`expire-step-up: ${res.status}`);
    }
  }

  /** Starts the CLI in a pseudo-terminal (`script`), as a person would run it. */
  startPTY(args: string[]): Pty {
    const cmdline = [path.join(binDir, "rack-gateway"), ...args].map(shellQuote).join(" ");
    const c = track(spawn("script", ["-qefc", cmdline, "/dev/null"], { env: this.vars, cwd: this.root, stdio: ["pipe", "pipe", "pipe"] }));
    return new Pty(c);
  }

  /** The agent's pid, from `agent status`, or 0. */
  async agentPID(): Promise<number> {
    const r = await this.run(["agent", "status"]);
    const m = /pid (\d+)/.exec(r.out);
    return m ? Number(m[1]) : 0;
  }

  /** Stops this environment's agent (if any) and waits until it is gone. */
  async stopAgent(): Promise<void> {
    if (!fs.existsSync(this.socket)) {
      return;
    }
    const r = await this.run(["agent", "stop"], 10_000);
    const m = /Agent stopped \(pid (\d+)\)/.exec(r.out);
    if (m) {
      const pid = Number(m[1]);
      await waitFor(`agent pid ${pid} to exit`, 10_000, () => !alive(pid));
    }
  }
}

/** A command running under a pseudo-terminal. */
export class Pty {
  private buf = "";
  readonly exited: Promise<number | null>;
  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on("data", (d) => (this.buf += d));
    proc.stderr!.on("data", (d) => (this.buf += d));
    this.exited = new Promise((resolve) => proc.on("close", (code) => resolve(code)));
  }
  get output(): string {
    return this.buf;
  }
  /** Types into the terminal. */
  type(s: string): void {
    this.proc.stdin!.write(s);
  }
  async wait(ms: number): Promise<number | null> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`still running after ${ms} ms; screen:\n${this.buf}`)), ms);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(t);
    }
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.split(" ")[2] !== "Z";
  } catch {
    return false;
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\/.=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
