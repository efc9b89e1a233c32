// Ownership of VS Code resources: every UI piece derives from `Disposable` and registers what it
// creates with `_register()`, so disposing the owner disposes its children (in reverse order).
import type * as vscode from 'vscode';

export abstract class Disposable implements vscode.Disposable {
  private _disposed = false;
  private readonly _children: vscode.Disposable[] = [];

  protected get isDisposed(): boolean {
    return this._disposed;
  }

  /** Ties `child` to this object's lifetime. Disposed at once when the owner is already gone. */
  protected _register<T extends vscode.Disposable>(child: T): T {
    if (this._disposed) {
      safeDispose(child);
    } else {
      this._children.push(child);
    }
    return child;
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    while (this._children.length > 0) {
      safeDispose(this._children.pop()!);
    }
  }
}

/** A disposable from a plain function (timers, engine listeners). */
export function toDisposable(fn: () => void): vscode.Disposable {
  let done = false;
  return {
    dispose() {
      if (!done) {
        done = true;
        fn();
      }
    },
  };
}

function safeDispose(d: vscode.Disposable): void {
  try {
    d.dispose();
  } catch (err) {
    // Disposal must never throw into the extension host; there is nobody to report to here.
    console.error('[socks5] dispose failed', err);
  }
}
