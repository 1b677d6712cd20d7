// The VS Code side: a status-bar item per current rack, a notification
// when a command waits for an answer, and the commands. Everything that
// talks to the agent is in ./agent, which has no vscode import.

import { execFile } from "node:child_process";
import * as vscode from "vscode";

import { AgentClient, AgentError, PromptEnd, PromptStatus, Rack, Status, countdown } from "./agent";

/** Builds the client; tests replace it to point at their own agent. */
export let makeClient = (socketPath: string): AgentClient => new AgentClient({ socketPath });

/** For tests: replaces the client factory. */
export function setClientFactory(f: (socketPath: string) => AgentClient): void {
  makeClient = f;
}

const SECTION = "rackGateway";

/** The extension's live state, one per activation. */
export class Controller implements vscode.Disposable {
  client!: AgentClient;
  private items = new Map<string, vscode.StatusBarItem>();
  private offline?: vscode.StatusBarItem;
  private tick?: NodeJS.Timeout;
  /** Cancels an open input box when its prompt ends elsewhere. */
  private asking = new Map<string, vscode.CancellationTokenSource>();
  private disposables: vscode.Disposable[] = [];
  private lastError?: Error;

  constructor() {
    const reg = (id: string, f: (...a: any[]) => unknown) => this.disposables.push(vscode.commands.registerCommand(id, f));
    reg("rackGateway.stepUp", (rack?: Rack) => this.stepUp(rack));
    reg("rackGateway.showStatus", () => this.showStatus());
    reg("rackGateway.switchRack", () => this.switchRack());
    reg("rackGateway.answerPrompt", (id?: string) => this.answerPrompt(id));
    reg("rackGateway.reconnect", () => this.client.reconnect());
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION + ".socketPath")) {
          this.connect();
        }
      }),
    );
    this.connect();
    this.tick = setInterval(() => this.render(), 1000);
  }

  private config(): { socketPath: string; cliPath: string } {
    const c = vscode.workspace.getConfiguration(SECTION);
    return { socketPath: c.get<string>("socketPath") || "", cliPath: c.get<string>("cliPath") || "rack-gateway" };
  }

  /** (Re)creates the client from the settings. */
  private connect(): void {
    if (this.client) {
      this.client.stop();
      this.client.removeAllListeners();
    }
    const c = makeClient(this.config().socketPath);
    this.client = c;
    c.on("change", () => this.render());
    c.on("prompt", (p: PromptStatus) => void this.notify(p));
    c.on("promptEnded", (id: string, how: PromptEnd) => this.ended(id, how));
    c.on("disconnected", (err?: Error) => {
      this.lastError = err;
      this.render();
    });
    c.on("connected", () => {
      this.lastError = undefined;
      this.render();
    });
    c.start();
    this.render();
  }

  /** Redraws the status bar: one item per current rack, or one saying the agent is away. */
  render(): void {
    const c = this.client;
    const seen = new Set<string>();
    if (c.connected) {
      this.offline?.dispose();
      this.offline = undefined;
      for (const r of c.currentRacks()) {
        const k = r.configDir + "\0" + r.name;
        seen.add(k);
        let item = this.items.get(k);
        if (!item) {
          item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
          this.items.set(k, item);
          item.show();
        }
        const secs = c.remaining(r);
        const text = c.segmentOf(r);
        if (item.text !== text) {
          item.text = text;
        }
        item.tooltip = tooltip(r, secs);
        item.command = { title: "Open a step-up window", command: "rackGateway.stepUp", arguments: [r] };
      }
    } else {
      if (!this.offline) {
        this.offline = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
        this.offline.text = "rack-gateway: no agent";
        this.offline.command = "rackGateway.showStatus";
        this.offline.show();
      }
      this.offline.tooltip = (this.lastError?.message ?? "Connecting to the rack-gateway agent…") + "\nRetrying on its own; click for details.";
    }
    for (const [k, item] of this.items) {
      if (!seen.has(k)) {
        item.dispose();
        this.items.delete(k);
      }
    }
  }

  /** Tells the user a command waits, and offers to answer it here. */
  private async notify(p: PromptStatus): Promise<void> {
    const answer = "Answer…";
    const pick = await vscode.window.showWarningMessage(describe(p), answer);
    if (pick === answer) {
      await this.ask(p);
    }
  }

  /** Asks for the answer in an input box (a password box for secrets) and sends it. */
  private async ask(p: PromptStatus): Promise<void> {
    if (!this.client.prompts().some((x) => x.id === p.id)) {
      void vscode.window.showInformationMessage(`rack-gateway: that prompt is no longer waiting (${p.command ?? "the command"} was answered or ended).`);
      return;
    }
    const cts = new vscode.CancellationTokenSource();
    this.asking.set(p.id, cts);
    let value: string | undefined;
    try {
      value = await vscode.window.showInputBox(
        {
          title: `rack-gateway: ${p.command ?? "a command"}${p.rack ? " on " + p.rack : ""}`,
          prompt: p.text.trim() + (p.tty ? ` (waiting in ${p.tty})` : ""),
          password: p.secret,
          ignoreFocusOut: true,
        },
        cts.token,
      );
    } finally {
      this.asking.delete(p.id);
      cts.dispose();
    }
    if (value === undefined) {
      return;
    }
    try {
      await this.client.answer(p.id, value);
    } catch (err) {
      if (err instanceof AgentError && err.code === "not_found") {
        void vscode.window.showInformationMessage("rack-gateway: the prompt was answered in the terminal first, or ended; your answer was not used.");
        return;
      }
      void vscode.window.showErrorMessage(`rack-gateway: could not answer: ${(err as Error).message}`);
    }
  }

  /** A prompt ended elsewhere: close its input box if one is open. */
  private ended(id: string, _how: PromptEnd): void {
    this.asking.get(id)?.cancel();
  }

  /** "Answer a pending prompt": the one, or a pick among several. */
  private async answerPrompt(id?: string): Promise<void> {
    const ps = this.client.prompts();
    let p = id ? ps.find((x) => x.id === id) : ps.length === 1 ? ps[0] : undefined;
    if (!p && ps.length > 1) {
      const picked = await vscode.window.showQuickPick(
        ps.map((x) => ({ label: x.text.trim(), description: describe(x), prompt: x })),
        { title: "rack-gateway: pending prompts" },
      );
      p = picked?.prompt;
    }
    if (!p) {
      if (ps.length === 0) {
        void vscode.window.showInformationMessage("rack-gateway: no command is waiting for an answer.");
      }
      return;
    }
    await this.ask(p);
  }

  /** "Open a step-up window": `rack-gateway mfa renew` in a terminal, where it asks. */
  private stepUp(rack?: Rack): void {
    const r = rack ?? this.client.currentRacks()[0];
    const args = ["mfa", "renew"];
    if (r) {
      args.push("--rack", r.name, "--config", r.configDir);
    }
    const t = vscode.window.createTerminal({ name: `rack-gateway${r ? " " + r.name : ""}: step-up`, shellPath: this.config().cliPath, shellArgs: args });
    t.show();
  }

  /** "Show agent status": what GET /v1/status says, in an output channel. */
  private async showStatus(): Promise<void> {
    let st: Status;
    try {
      st = await this.client.getStatus();
    } catch (err) {
      const start = "Start the agent";
      const pick = await vscode.window.showErrorMessage(`rack-gateway: ${(err as Error).message}`, start);
      if (pick === start) {
        // The extension never starts the agent on its own (docs/local-api.md,
        // "Finding the socket"); the user asked, so the CLI does it.
        vscode.window.createTerminal({ name: "rack-gateway: agent", shellPath: this.config().cliPath, shellArgs: ["agent", "start"] }).show();
      }
      return;
    }
    const out = this.channel();
    out.clear();
    out.appendLine(formatStatus(st, Date.now()));
    out.show(true);
  }

  private out?: vscode.OutputChannel;
  private channel(): vscode.OutputChannel {
    if (!this.out) {
      this.out = vscode.window.createOutputChannel("rack-gateway");
      this.disposables.push(this.out);
    }
    return this.out;
  }

  /** "Switch rack": pick a configured rack, then `rack-gateway switch NAME`. */
  private async switchRack(): Promise<void> {
    const racks = this.client.racks();
    if (racks.length === 0) {
      void vscode.window.showInformationMessage("rack-gateway: no rack is configured; run rack-gateway login NAME URL in a terminal.");
      return;
    }
    const picked = await vscode.window.showQuickPick(
      racks.map((r) => ({
        label: r.name,
        description: (r.current ? "current · " : "") + (r.loggedIn ? r.email ?? "logged in" : "not logged in"),
        detail: r.url,
        rack: r,
      })),
      { title: "rack-gateway: switch the current rack" },
    );
    if (!picked || picked.rack.current) {
      return;
    }
    const { cliPath } = this.config();
    const args = ["switch", picked.rack.name, "--config", picked.rack.configDir];
    const err = await new Promise<Error | undefined>((resolve) =>
      execFile(cliPath, args, { timeout: 30_000 }, (e, _stdout, stderr) => resolve(e ? new Error((stderr || e.message).trim()) : undefined)),
    );
    if (err) {
      void vscode.window.showErrorMessage(`rack-gateway switch ${picked.rack.name}: ${err.message}`);
      return;
    }
    await this.client.refresh();
  }

  dispose(): void {
    clearInterval(this.tick);
    this.client.stop();
    this.client.removeAllListeners();
    for (const cts of this.asking.values()) {
      cts.cancel();
    }
    for (const item of this.items.values()) {
      item.dispose();
    }
    this.items.clear();
    this.offline?.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

/** "rack-gateway api on prod waits for a TOTP code in /dev/pts/3". */
export function describe(p: PromptStatus): string {
  const what = p.reason === "mfa" || p.reason === "login" ? "an MFA code" : p.reason === "fido_pin" ? "the security key PIN" : "an answer";
  return `rack-gateway: ${p.command ?? "a command"}${p.rack ? " on " + p.rack : ""} waits for ${what}${p.tty ? " in " + p.tty : ""}.`;
}

function tooltip(r: Rack, secs: number): string {
  const who = r.loggedIn ? `${r.name}: ${r.email ?? "logged in"}` : `${r.name}: not logged in`;
  const win = secs > 0 ? `step-up window open, ${countdown(secs)} left` : "no step-up window open";
  return `${who}\n${win}\nClick to open a step-up window.`;
}

/** The status as a few lines of text. */
export function formatStatus(st: Status, now: number): string {
  const lines = [
    `agent ${st.version} (capability ${st.capability}), pid ${st.pid}, since ${st.started_at}`,
    `socket ${st.socket}`,
    `secrets: ${st.secret_store}`,
  ];
  if (st.log_error) lines.push(`log not written: ${st.log_error}`);
  if (st.audit_error) lines.push(`audit log not written: ${st.audit_error}`);
  for (const r of st.racks ?? []) {
    const exp = r.window.active && r.window.expires_at ? Date.parse(r.window.expires_at) : undefined;
    const left = exp ? Math.max(0, Math.floor(exp / 1000) - Math.floor(now / 1000)) : 0;
    lines.push(
      `${r.current ? "*" : " "} ${r.name}  ${r.url}  ${r.logged_in ? r.email ?? "logged in" : "not logged in"}` +
        `  ${left > 0 ? "window " + countdown(left) : "no window"}  (${r.config_dir})`,
    );
  }
  for (const p of st.prompts ?? []) {
    lines.push(`waiting: ${describe(p)}`);
  }
  return lines.join("\n");
}

let controller: Controller | undefined;

export function activate(context: vscode.ExtensionContext): void {
  controller = new Controller();
  context.subscriptions.push(controller);
}

export function deactivate(): void {
  controller?.dispose();
  controller = undefined;
}
