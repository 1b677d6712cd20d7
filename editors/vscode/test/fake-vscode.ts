// A small fake of the part of the `vscode` API the extension uses. Tests
// reach its state through `fake`; dialogs (messages, input boxes, quick
// picks) wait until the test answers them.

import { EventEmitter } from "node:events";

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private f: () => void = () => {}) {}
  dispose(): void {
    this.f();
  }
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export class StatusBarItem {
  text = "";
  tooltip: unknown;
  command: unknown;
  visible = false;
  disposed = false;
  constructor(readonly alignment: StatusBarAlignment, readonly priority?: number) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.disposed = true;
    this.visible = false;
  }
}

export class CancellationTokenSource {
  private em = new EventEmitter();
  token = {
    isCancellationRequested: false,
    onCancellationRequested: (l: Listener<void>) => {
      this.em.on("cancel", l);
      return new Disposable(() => this.em.off("cancel", l));
    },
  };
  cancel(): void {
    if (!this.token.isCancellationRequested) {
      this.token.isCancellationRequested = true;
      this.em.emit("cancel");
    }
  }
  dispose(): void {
    this.em.removeAllListeners();
  }
}

/** A dialog the extension opened, waiting for the test's answer. */
export interface Dialog {
  kind: "info" | "warning" | "error" | "input" | "quickPick";
  message?: string;
  items?: any[];
  options?: any;
  cancelled: boolean;
  answer(v: any): void;
}

class OutputChannel {
  text = "";
  shown = false;
  constructor(readonly name: string) {}
  append(s: string): void {
    this.text += s;
  }
  appendLine(s: string): void {
    this.text += s + "\n";
  }
  clear(): void {
    this.text = "";
  }
  show(): void {
    this.shown = true;
  }
  dispose(): void {}
}

/** Everything the fake recorded, for assertions. */
export const fake = {
  items: [] as StatusBarItem[],
  dialogs: [] as Dialog[],
  terminals: [] as { options: any; shown: boolean }[],
  channels: [] as OutputChannel[],
  commands: new Map<string, (...a: any[]) => unknown>(),
  settings: new Map<string, unknown>(),
  configListeners: [] as Listener<{ affectsConfiguration(s: string): boolean }>[],
  events: new EventEmitter(),
  /** Visible status-bar texts. */
  texts(): string[] {
    return this.items.filter((i) => i.visible && !i.disposed).map((i) => i.text);
  },
  /** Changes a setting and tells the listeners, as the settings UI does. */
  setSetting(key: string, v: unknown): void {
    this.settings.set(key, v);
    for (const l of this.configListeners) {
      l({ affectsConfiguration: (s: string) => s === key || key.startsWith(s + ".") });
    }
  },
  reset(): void {
    this.items = [];
    this.dialogs = [];
    this.terminals = [];
    this.channels = [];
    this.commands.clear();
    this.settings.clear();
    this.configListeners = [];
    this.events.removeAllListeners();
  },
};

function dialog(kind: Dialog["kind"], message: string | undefined, items: any[] | undefined, options: any, token?: any): Promise<any> {
  return new Promise((resolve) => {
    const d: Dialog = {
      kind,
      message,
      items,
      options,
      cancelled: false,
      answer: (v) => resolve(v),
    };
    token?.onCancellationRequested(() => {
      d.cancelled = true;
      resolve(undefined);
    });
    fake.dialogs.push(d);
    fake.events.emit("dialog", d);
  });
}

export const window = {
  createStatusBarItem(alignment: StatusBarAlignment, priority?: number): StatusBarItem {
    const i = new StatusBarItem(alignment, priority);
    fake.items.push(i);
    return i;
  },
  showInformationMessage: (m: string, ...items: any[]) => dialog("info", m, items, undefined),
  showWarningMessage: (m: string, ...items: any[]) => dialog("warning", m, items, undefined),
  showErrorMessage: (m: string, ...items: any[]) => dialog("error", m, items, undefined),
  showInputBox: (options: any, token?: any) => dialog("input", options?.prompt, undefined, options, token),
  showQuickPick: (items: any[], options: any, token?: any) => dialog("quickPick", options?.title, items, options, token),
  createTerminal(options: any) {
    const t = { options, shown: false, show: () => (t.shown = true), dispose: () => {} };
    fake.terminals.push(t);
    return t;
  },
  createOutputChannel(name: string): OutputChannel {
    const c = new OutputChannel(name);
    fake.channels.push(c);
    return c;
  },
};

export const commands = {
  registerCommand(id: string, f: (...a: any[]) => unknown): Disposable {
    if (fake.commands.has(id)) {
      throw new Error(`command ${id} already registered`);
    }
    fake.commands.set(id, f);
    return new Disposable(() => fake.commands.delete(id));
  },
  async executeCommand(id: string, ...args: any[]): Promise<unknown> {
    const f = fake.commands.get(id);
    if (!f) {
      throw new Error(`command ${id} not found`);
    }
    return f(...args);
  },
};

export const workspace = {
  getConfiguration(section: string) {
    return { get: <T>(k: string, dflt?: T) => (fake.settings.has(`${section}.${k}`) ? (fake.settings.get(`${section}.${k}`) as T) : dflt) };
  },
  onDidChangeConfiguration(l: Listener<{ affectsConfiguration(s: string): boolean }>): Disposable {
    fake.configListeners.push(l);
    return new Disposable(() => (fake.configListeners = fake.configListeners.filter((x) => x !== l)));
  },
};
