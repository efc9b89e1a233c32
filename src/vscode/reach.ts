// Reach: using the proxy from where the user is. "Use from This Computer" (a TCP forward of the
// proxy's port through vscode.env.asExternalUri in remote windows, or the honest answer and a
// tunnel recipe where VS Code can only forward HTTP), proxy-aware integrated terminals (the
// extension's environment variable collection) and "Use This Proxy With…". What is generated
// and how asExternalUri results are read is host-free (recipes.ts); this file does the VS Code
// calls, the notifications and the bookkeeping.
import * as vscode from 'vscode';
import type { Endpoint } from '../engine';
import { configuredUsers } from './config';
import type { ProxyController } from './controller';
import { Disposable } from './dispose';
import { background, errorMessage, type Log } from './log';
import {
  PASSWORD_PLACEHOLDER,
  classifyExternalUri,
  hostPort,
  preferredUrl,
  proxyEnvironment,
  proxyUrl,
  recipes,
  tunnelRecipes,
  whereText,
  whereabouts,
  type Credentials,
  type ForwardResult,
  type Whereabouts,
} from './recipes';
import { t } from './l10n';
import type { Secrets } from './secrets';

/** The display language's text (the translator extension.ts set up; see ./l10n). */
export { t };

type Forward =
  | { kind: 'none' }
  | { kind: 'pending'; listener: string }
  | ({ listener: string } & ForwardResult)
  | { kind: 'failed'; listener: string; reason: string };

export class Reach extends Disposable {
  private forward: Forward = { kind: 'none' };
  /** A forward was asked for (command or forwardOnStart) and should follow the listener. */
  private wanted = false;
  private seq = 0;
  private envSeq = 0;
  private lastEnv = '';
  private lastEnvNotice = '';

  private readonly _onDidChange = this._register(new vscode.EventEmitter<void>());
  /** The forward (and so the address to show) changed. */
  readonly onDidChange = this._onDidChange.event;

  constructor(
    private readonly controller: ProxyController,
    private readonly log: Log,
    private readonly secrets: Secrets,
    private readonly env: vscode.GlobalEnvironmentVariableCollection,
  ) {
    super();
    // Never kept across reloads: the variables exist only while this proxy runs.
    env.persistent = false;
    env.clear();
    this._register(controller.onDidChangeState(() => this.sync()));
    this._register(controller.onDidChangeSettings(() => this.sync()));
    this._register(secrets.onDidChange(() => this.updateEnvironment()));
  }

  /** A remote window (Remote-SSH, WSL, Dev Containers, Codespaces, code-server…). */
  get remoteWindow(): boolean {
    return vscode.env.remoteName !== undefined;
  }

  /** Where the shown address works, while running. */
  whereabouts(): Whereabouts | undefined {
    const listener = this.controller.address;
    if (!listener) return undefined;
    const f = this.forward;
    const local = f.kind === 'tcp' && f.listener === hostPort(listener) ? f.local : undefined;
    return whereabouts(listener, this.remoteWindow, local);
  }

  /** The last forward VS Code could only do as an HTTP URL (a browser host), for the tooltip. */
  get httpOnlyForward(): boolean {
    return this.forward.kind === 'http-only';
  }

  override dispose(): void {
    this.env.clear();
    super.dispose();
  }

  // --- state -----------------------------------------------------------------------------------

  private sync(): void {
    if (this.isDisposed) return;
    const address = this.controller.address;
    const state = this.controller.state;
    if (!address) {
      if (state !== 'starting') {
        // Stopped (or failed): the forward is dropped; a move keeps what was asked for.
        if (this.forward.kind !== 'none') this.log.info('Use from This Computer: the proxy stopped; the forward is no longer offered');
        this.wanted = false;
        this.setForward({ kind: 'none' });
      }
      this.updateEnvironment();
      return;
    }
    const listener = hostPort(address);
    const current = this.forward.kind === 'none' ? undefined : this.forward.listener;
    if (this.remoteWindow && current !== listener) {
      if (this.wanted || this.controller.settings.forwardOnStart) {
        if (current !== undefined) this.log.info(`Use from This Computer: the listener moved to ${listener}; forwarding again`);
        void this.doForward(false);
      } else if (this.forward.kind !== 'none') {
        this.setForward({ kind: 'none' });
      }
    }
    this.updateEnvironment();
  }

  private setForward(f: Forward): void {
    this.forward = f;
    this._onDidChange.fire();
  }

  // --- Use from This Computer ------------------------------------------------------------------

  /** The command: start if needed, forward, say what works. Returns the copied URL, if any. */
  async useFromThisComputer(): Promise<string | undefined> {
    const address = this.controller.address ?? (await this.controller.start());
    if (!address) return undefined;
    if (!this.remoteWindow) {
      const url = preferredUrl(address, this.controller.doors);
      await vscode.env.clipboard.writeText(url);
      background(
        vscode.window.showInformationMessage(t('This window is not remote: the proxy already runs on this computer. Copied {0}.', url)),
        this.log,
      );
      return url;
    }
    this.wanted = true;
    return this.doForward(true);
  }

  private async doForward(interactive: boolean): Promise<string | undefined> {
    const address = this.controller.address;
    if (!address) return undefined;
    const listener = hostPort(address);
    const seq = ++this.seq;
    this.setForward({ kind: 'pending', listener });
    const target = `http://${listener}`;
    let external: string;
    try {
      external = (await vscode.env.asExternalUri(vscode.Uri.parse(target))).toString(true);
    } catch (err) {
      if (seq !== this.seq) return undefined;
      const reason = errorMessage(err);
      this.log.error(`Use from This Computer: asExternalUri(${target}) failed: ${reason}`);
      this.setForward({ kind: 'failed', listener, reason });
      this.offerTunnel(address, undefined, t('VS Code could not forward the port ({0}).', reason));
      return undefined;
    }
    // The listener moved or stopped meanwhile: a newer call (or the stop) decides.
    if (seq !== this.seq || this.controller.address === undefined || hostPort(this.controller.address) !== listener) return undefined;
    this.log.info(`Use from This Computer: asExternalUri(${target}) returned ${external}`);
    const result = classifyExternalUri(external);
    this.setForward({ ...result, listener });
    if (result.kind === 'http-only') {
      this.log.warn(
        `Use from This Computer: ${external} carries only HTTP (a browser-based host), not SOCKS5; offering a TCP tunnel recipe instead`,
      );
      this.offerTunnel(address, result.serverHost, t('This window runs in a web browser, where VS Code can forward only web pages (HTTP), which cannot carry SOCKS5.'));
      return undefined;
    }
    const doors = this.controller.doors;
    const url = preferredUrl(result.local, doors);
    const httpUrl = doors.http && doors.socks5 ? proxyUrl('http', result.local) : undefined;
    this.log.info(`Use from This Computer: clients on this computer use ${url} (forwarded to the remote ${listener})`);
    const also = httpUrl ? ` ${t('HTTP proxy: {0}.', httpUrl)}` : '';
    const actions = [t('Use This Proxy With…'), ...(httpUrl ? [t('Copy HTTP URL')] : []), ...(interactive ? [] : [t('Copy URL')])];
    if (interactive) await vscode.env.clipboard.writeText(url);
    const text = interactive
      ? t('Forwarded to this computer: copied {0} (the remote {1}).', url, listener)
      : t('Forwarded to this computer: {0} (the remote {1}).', url, listener);
    background(
      vscode.window.showInformationMessage(`${text}${also}`, ...actions).then(async (picked) => {
        if (picked === t('Use This Proxy With…')) await vscode.commands.executeCommand('socks5.useWith');
        else if (picked === t('Copy HTTP URL') && httpUrl) await this.copy(httpUrl);
        else if (picked === t('Copy URL')) await this.copy(url);
      }),
      this.log,
    );
    return interactive ? url : undefined;
  }

  /** Says plainly that no TCP forward exists here and offers the commands that make one. */
  private offerTunnel(remote: Endpoint, serverHost: string | undefined, why: string): void {
    const codespace = process.env.CODESPACE_NAME;
    const tunnels = tunnelRecipes(remote, { ...(serverHost ? { serverHost } : {}), ...(codespace ? { codespace } : {}) }, t);
    const first = tunnels[0];
    const message = `${why} ${t('To use the proxy from this computer, open a TCP tunnel to the remote port {0}, then point clients at 127.0.0.1:{0}: {1}', remote.port, first.text)}`;
    this.log.info(`Use from This Computer: tunnel recipe: ${tunnels.map((x) => x.text).join(' | ')}`);
    background(
      vscode.window.showWarningMessage(message, ...tunnels.map((x) => x.label)).then(async (picked) => {
        const chosen = tunnels.find((x) => x.label === picked);
        if (chosen) await this.copy(chosen.text);
      }),
      this.log,
    );
  }

  private async copy(text: string): Promise<void> {
    await vscode.env.clipboard.writeText(text);
    vscode.window.setStatusBarMessage(t('Copied {0}', text), 4000);
  }

  // --- Use This Proxy With… --------------------------------------------------------------------

  /** The quick pick: one line per tool; picking one copies it. Returns what was copied. */
  async pickRecipe(): Promise<string | undefined> {
    const running = this.whereabouts();
    const s = this.controller.settings;
    const configured = { host: s.host, port: s.port };
    const w: Whereabouts = running ?? whereabouts(configured, this.remoteWindow, undefined);
    const users = running ? this.controller.activeUsers : configuredUsers();
    const user = users[0];
    const list = recipes({ address: w.address, doors: this.controller.doors, ...(user !== undefined ? { user } : {}) }, t);
    const items = list.map((r) => ({
      label: r.available ? r.label : `$(circle-slash) ${r.label}`,
      description: r.available ? r.text.split('\n')[0] : '',
      detail: r.detail,
      recipe: r,
    }));
    const where = whereText(w, t);
    const picked = await vscode.window.showQuickPick(items, {
      title: t('SOCKS5: Use This Proxy With…'),
      placeHolder: running
        ? t('Pick a tool to copy its line for {0} ({1})', hostPort(w.address), where)
        : t('Pick a tool to copy its line for {0} (the proxy is not running)', hostPort(w.address)),
      matchOnDetail: true,
    });
    if (!picked) return undefined;
    const r = picked.recipe;
    if (!r.available) {
      background(vscode.window.showInformationMessage(r.detail), this.log);
      return undefined;
    }
    await vscode.env.clipboard.writeText(r.text);
    const pw = user !== undefined ? ` ${t('Replace {0} with the password of "{1}".', PASSWORD_PLACEHOLDER, user)}` : '';
    const remoteNote = w.where === 'remote' ? ` ${t('It works on the remote host; run "SOCKS5: Use from This Computer" for your own computer.')}` : '';
    background(vscode.window.showInformationMessage(`${t('Copied the {0} line for {1} ({2}).', r.label, hostPort(w.address), where)}${pw}${remoteNote}`), this.log);
    this.log.info(`Use This Proxy With…: copied the ${r.id} line for ${hostPort(w.address)}`);
    return r.text;
  }

  // --- proxy-aware terminals -------------------------------------------------------------------

  /** Sets or clears the terminal variables to match the settings and the running proxy. */
  private updateEnvironment(): void {
    const seq = ++this.envSeq;
    void this.computeEnvironment()
      .then((next) => {
        if (seq !== this.envSeq || this.isDisposed) return;
        this.applyEnvironment(next);
      })
      .catch((err: unknown) => this.log.error(`Terminal environment: ${errorMessage(err)}`));
  }

  private async computeEnvironment(): Promise<{ env: Array<[string, string]>; shown: string } | undefined> {
    const s = this.controller.settings;
    const address = this.controller.address;
    if (!s.terminalEnvironment || !address) return undefined;
    const doors = this.controller.doors;
    const user = this.controller.activeUsers[0];
    let cred: Credentials | undefined;
    if (user !== undefined) {
      if (!s.terminalCredentials) {
        this.noticeOnce(
          `nocred:${user}`,
          t(
            'New terminals get no proxy variables: the proxy asks for a password, and socks5.terminal.includeCredentials is off, so the password of "{0}" is not put into every terminal\'s environment.',
            user,
          ),
        );
        return undefined;
      }
      const password = await this.secrets.get(user);
      if (password === undefined) return undefined;
      cred = { user, password };
    }
    this.lastEnvNotice = '';
    // Terminals run where the extension runs (the remote host in a remote window): the listener's
    // own address, never the forward.
    return { env: proxyEnvironment(address, doors, cred), shown: preferredUrl(address, doors, cred ? { user: cred.user } : undefined) };
  }

  private applyEnvironment(next: { env: Array<[string, string]>; shown: string } | undefined): void {
    const key = next ? JSON.stringify(next.env) : '';
    if (key === this.lastEnv) return;
    this.lastEnv = key;
    this.env.clear();
    if (!next) {
      this.env.description = undefined;
      this.log.info('Terminal environment: no proxy variables for new terminals');
      return;
    }
    for (const [name, value] of next.env) this.env.replace(name, value);
    const names = [...new Set(next.env.map(([k]) => k.toUpperCase()))].join(', ');
    this.env.description = new vscode.MarkdownString(
      t('SOCKS5 Proxy: {0} point new terminals at {1} while the proxy runs (socks5.terminal.proxyEnvironment).', names, next.shown),
    );
    this.log.info(`Terminal environment: new terminals get ${names} → ${next.shown}`);
  }

  private noticeOnce(key: string, message: string): void {
    if (this.lastEnvNotice === key) return;
    this.lastEnvNotice = key;
    this.log.warn(message);
    const open = t('Open Settings');
    background(
      vscode.window.showInformationMessage(message, open).then((p) =>
        p === open ? vscode.commands.executeCommand('socks5.openSettings', 'socks5.terminal.includeCredentials') : undefined,
      ),
      this.log,
    );
  }
}
