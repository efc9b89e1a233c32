// Owns the engine's Socks5Server: start, stop, restart, and applying settings live. Every
// operation runs through one queue, so a toggle during a start or a settings change during a stop
// happens after it, in order. Nothing here rejects or throws into the extension host: failures
// become the `error` state, a log line and a notification with a fix.
import * as net from 'node:net';
import { hostname } from 'node:os';
import * as vscode from 'vscode';
import type { ClosedConnectionInfo, ConnectionInfo, Endpoint, ServerStats, Socks5Server } from '../engine';
import type { TrafficTracker } from '../engine';
import type { ProxyState } from './api';
import { engine } from './engine';
import { affectsSettings, readRawSettings, readVsCodeProxy, updateSetting } from './config';
import { RefusalTracker } from './refusals';
import { Disposable, toDisposable } from './dispose';
import { buildProxyUrl, enabledCommandsText, enabledProtocolsText, formatEndpoint, plural, proxySchemes, type StatusModel } from './format';
import { localized, t, untranslated, type Localized } from './l10n';
import { background, errorMessage, type Log } from './log';
import type { Doors } from './recipes';
import type { Secrets } from './secrets';
import {
  DEFAULT_SETTINGS,
  isLoopbackHost,
  effectiveUpstreamUrl,
  planApply,
  planStart,
  restoreSettings,
  settingValueText,
  VSCODE_UPSTREAM,
  summarizeProblems,
  toRawSettings,
  validateSettings,
  type EngineOptions,
  type ProxySettings,
  type SettingProblem,
  type StartPlan,
  type UpstreamInputs,
} from './settings';
import { Throttle } from './throttle';

const RECENT_LIMIT = 50;

/** A closed session and the listener generation it belonged to (ids restart with each listener). */
export interface RecentEntry {
  generation: number;
  info: ClosedConnectionInfo;
}

type Fix = 'setPassword' | 'openSettings' | 'useAnotherPort' | 'showLog' | 'raiseLimit' | 'showConnections' | 'setUpstreamPassword';

/** A setting whose value is invalid: the proxy keeps using `using` (the last valid value) instead. */
export interface IgnoredSetting {
  setting: string;
  /** Why the value is invalid (a sentence starting with the setting id), English for the log. */
  message: string;
  /** The same in the display language. */
  text: string;
  /** The value used instead, as JSON text. */
  using: string;
}

/** How often the engine's refusal counter is read while running (it has no event). */
const REFUSAL_POLL_MS = 1_000;

export class ProxyController extends Disposable {
  private server: Socks5Server | undefined;
  private runningOptions: EngineOptions | undefined;
  private unhook: vscode.Disposable | undefined;
  private _generation = 0;
  private _state: ProxyState = 'stopped';
  private _error: Localized | undefined;
  /** What the user asked for last: running (start/restart/autoStart) or not (stop). */
  private wanted = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly recent: RecentEntry[] = [];
  private _settings: ProxySettings = DEFAULT_SETTINGS;
  /** The running listener's traffic model; after a stop, the last run's (until the next start). */
  private _traffic: TrafficTracker | undefined;
  private lastWarnings = '';
  private lastProblems = '';
  private shuttingDown: Promise<void> | undefined;
  /** The last valid configuration (persisted per host): invalid keys fall back to it. */
  private lastValid: ProxySettings;
  /** False while lastValid holds defaults for keys that were never valid (nothing stored yet). */
  private lastValidKnown: boolean;
  private readonly lastValidKey: string;
  private _ignored: IgnoredSetting[] = [];
  private readonly refusals = new RefusalTracker();
  private refusalTimer: ReturnType<typeof setInterval> | undefined;
  private _refusedLastMinute = 0;

  private readonly _onDidChangeState = this._register(new vscode.EventEmitter<ProxyState>());
  /** The state changed. */
  readonly onDidChangeState = this._onDidChangeState.event;

  private readonly _onDidChangeConnections = this._register(new vscode.EventEmitter<void>());
  /** Sessions opened, changed state or closed (batched: at most 4 per second). */
  readonly onDidChangeConnections = this._onDidChangeConnections.event;

  private readonly _onDidChangeSettings = this._register(new vscode.EventEmitter<void>());
  /** The (valid) settings changed: read, and again once applied live to the running listener. */
  readonly onDidChangeSettings = this._onDidChangeSettings.event;

  private readonly _onDidChangeRefusals = this._register(new vscode.EventEmitter<void>());
  /** The number of clients refused in the last minute changed. */
  readonly onDidChangeRefusals = this._onDidChangeRefusals.event;

  private readonly connectionsChanged = new Throttle(() => this._onDidChangeConnections.fire(), 250);

  constructor(
    private readonly log: Log,
    private readonly secrets: Secrets,
    /** ExtensionContext.globalState: the last valid configuration survives a reload. */
    private readonly memento: vscode.Memento,
  ) {
    super();
    this._register(toDisposable(() => this.connectionsChanged.dispose()));
    this._register(toDisposable(() => this.stopRefusalPoll()));
    // globalState may be shared by the machines a user works on: one entry per host.
    this.lastValidKey = `socks5.lastValidSettings/${vscode.env.remoteName ?? 'local'}/${hostname()}`;
    const stored = restoreSettings(memento.get<unknown>(this.lastValidKey));
    this.lastValid = stored ?? DEFAULT_SETTINGS;
    this.lastValidKnown = stored !== undefined;
    this._settings = this.readSettings().settings;
  }

  // --- read side -------------------------------------------------------------------------------

  get state(): ProxyState {
    return this._state;
  }

  get error(): string | undefined {
    return this._state === 'error' ? this._error?.english : undefined;
  }

  get address(): Endpoint | undefined {
    return this._state === 'running' ? this.server?.address : undefined;
  }

  /** The settings in use: what settings.json says, with each invalid value replaced by its last valid one. */
  get settings(): ProxySettings {
    return this._settings;
  }

  /** Settings whose (invalid) values are being ignored, and what is used instead. */
  get ignored(): readonly IgnoredSetting[] {
    return this._ignored;
  }

  /** Clients refused in the last minute because maxConnections sessions were open. */
  get refusedLastMinute(): number {
    return this._state === 'running' ? this._refusedLastMinute : 0;
  }

  /** The maxConnections of the running listener (or of the settings when stopped). */
  get maxConnections(): number {
    return this.runningOptions?.maxConnections ?? this._settings.maxConnections;
  }

  /** Bumped for every new listener; tree item ids include it. */
  get generation(): number {
    return this._generation;
  }

  /** User names that can log in on the running proxy (auth is off when empty). */
  get activeUsers(): string[] {
    return this.runningOptions ? [...this.runningOptions.users.keys()] : [];
  }

  /**
   * The front doors of the running listener: switched on (`protocols`) and present in the engine
   * (an HTTP switch without an HTTP door opens nothing). Stopped: SOCKS5 only.
   */
  get doors(): Doors {
    const p = this.server?.options.protocols;
    if (!p) return { socks5: true, http: false };
    return { socks5: p.socks5 && engine().hasDoor('socks5'), http: p.http && engine().hasDoor('http') };
  }

  connections(): ConnectionInfo[] {
    return this.server?.connections() ?? [];
  }

  connection(id: number): ConnectionInfo | undefined {
    return this.server?.connection(id);
  }

  /** Traffic since the current listener started (see ./trafficPanel); undefined before any start. */
  get traffic(): TrafficTracker | undefined {
    return this._traffic;
  }

  recentEntries(): RecentEntry[] {
    return this.recent.slice();
  }

  recentlyClosed(): ClosedConnectionInfo[] {
    return this.recent.map((r) => r.info);
  }

  stats(): ServerStats | undefined {
    return this.server?.stats();
  }

  activeCount(): number {
    return this.server?.stats().active ?? 0;
  }

  statusModel(): StatusModel {
    const s = this._settings;
    const address = this.address;
    const running = this.runningOptions;
    return {
      state: this._state,
      ...(address ? { address } : {}),
      configured: { host: s.host, port: s.port },
      ...(this._error !== undefined && this._state === 'error' ? { error: this._error.text } : {}),
      authUsers: running ? running.users.size : 0,
      commands: running ? running.commands : s.commands,
      protocols: running ? running.protocols : s.protocols,
      ...(this.server && this._state === 'running' ? { stats: this.server.stats() } : {}),
      exposed: !isLoopbackHost(address?.host ?? s.host),
      ...(this.server && running?.rules
        ? {
            rules: {
              destinations: running.rules.destinations?.filter((r) => r.trim() !== '').length ?? 0,
              clients: running.rules.clients?.filter((c) => c.trim() !== '').length ?? 0,
              blockPrivate: running.rules.blockPrivate === true,
              clientsRefused: this.server.stats().clientsRefused,
            },
          }
        : {}),
    };
  }

  // --- operations ------------------------------------------------------------------------------

  /** Starts with the current settings. Resolves with the bound address, or undefined on failure. */
  start(): Promise<Endpoint | undefined> {
    this.wanted = true;
    return this.enqueue('start', () => this.doStart(), undefined);
  }

  /** Stops and closes every connection; resolves when the port is released. */
  stop(): Promise<void> {
    this.wanted = false;
    return this.enqueue('stop', () => this.doStop(), undefined);
  }

  toggle(): Promise<unknown> {
    return this._state === 'running' || this._state === 'starting' ? this.stop() : this.start();
  }

  restart(): Promise<Endpoint | undefined> {
    this.wanted = true;
    return this.enqueue(
      'restart',
      async () => {
        await this.doStop();
        return this.doStart();
      },
      undefined,
    );
  }

  /** Settings or passwords changed: apply live, move the listener, or retry a failed start. */
  reapply(): Promise<void> {
    return this.enqueue('apply settings', () => this.doApply(), undefined);
  }

  onConfigurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (affectsSettings(e)) void this.reapply();
  }

  closeConnection(id: number): boolean {
    return this.server?.closeConnection(id) ?? false;
  }

  closeAll(): number {
    return this.server?.closeAll() ?? 0;
  }

  /** Stops the server for good (deactivate). Idempotent. */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.stop().then(() => this.dispose());
    return this.shuttingDown;
  }

  override dispose(): void {
    // Never leave a listener behind, even when disposed without shutdown().
    const s = this.server;
    this.server = undefined;
    this.unhook?.dispose();
    if (s) s.stop().catch(() => undefined);
    super.dispose();
  }

  // --- internals -------------------------------------------------------------------------------

  private enqueue<T>(what: string, op: () => Promise<T>, fallback: T): Promise<T> {
    const run = this.queue.then(op).catch((err: unknown) => {
      this.log.error(`SOCKS5: ${what} failed unexpectedly: ${errorMessage(err)}`);
      if (err instanceof Error && err.stack) this.log.debug(err.stack);
      return fallback;
    });
    this.queue = run;
    return run;
  }

  private setState(state: ProxyState, error?: Localized): void {
    const changed = state !== this._state || error?.english !== this._error?.english || error?.text !== this._error?.text;
    this._state = state;
    this._error = error;
    if (changed && !this.isDisposed) {
      background(vscode.commands.executeCommand('setContext', 'socks5.running', state === 'running'), this.log);
      background(vscode.commands.executeCommand('setContext', 'socks5.state', state), this.log);
      this._onDidChangeState.fire(state);
    }
  }

  /**
   * Reads + validates the settings. An invalid value never stops the proxy: it is ignored (and
   * reported by reportIgnored) and its last valid value is used instead. The result is stored as
   * the new last valid configuration.
   */
  private readSettings(): { settings: ProxySettings; problems: SettingProblem[]; warnings: SettingProblem[] } {
    const v = validateSettings(readRawSettings(), this.lastValid);
    const settings = v.ok ? v.settings : v.effective;
    const problems = v.ok ? [] : v.errors;
    this._ignored = problems.map((p) => ({ setting: p.setting, message: p.message, text: p.text, using: settingValueText(settings, p.setting) }));
    if (problems.length === 0) this.lastValidKnown = true;
    // Every value in `settings` is valid on its own (the bad ones came from lastValid): it is the
    // new last valid configuration.
    const raw = toRawSettings(settings);
    if (JSON.stringify(raw) !== JSON.stringify(toRawSettings(this.lastValid)) || this.memento.get(this.lastValidKey) === undefined) {
      this.lastValid = settings;
      background(Promise.resolve(this.memento.update(this.lastValidKey, raw)), this.log);
    }
    return { settings, problems, warnings: v.warnings };
  }

  /** Reads settings and passwords. `explicit`: the user asked (start, restart): report ignored values again. */
  private async plan(explicit: boolean): Promise<{ settings: ProxySettings; plan: StartPlan }> {
    const r = this.readSettings();
    for (const w of r.warnings) this.log.warn(w.message);
    this.reportIgnored(r.problems, explicit, this.lastValidKnown);
    this._settings = r.settings;
    this._onDidChangeSettings.fire();
    const passwords = await this.secrets.passwords(r.settings.users);
    return { settings: r.settings, plan: planStart(r.settings, passwords, await this.upstreamInputs(r.settings)) };
  }

  /** VS Code's own proxy (for socks5.upstream.url "vscode") and the upstream password stored for the URL in effect. */
  private async upstreamInputs(settings: ProxySettings): Promise<UpstreamInputs> {
    if (settings.upstream.url === '') return {};
    const vscodeProxy = settings.upstream.url === VSCODE_UPSTREAM ? readVsCodeProxy() : undefined;
    const url = effectiveUpstreamUrl(settings.upstream, vscodeProxy);
    const id = url === undefined ? undefined : engine().upstreamPasswordId(url);
    const password = id ? await this.secrets.upstreamPassword(id.id) : undefined;
    return { ...(vscodeProxy ? { vscode: vscodeProxy } : {}), ...(password ? { password } : {}) };
  }

  /** Log, notification (once per set of problems, or when the user asked) and the status tooltip. */
  private reportIgnored(problems: SettingProblem[], explicit: boolean, fromLastValid: boolean): void {
    const key = JSON.stringify(problems);
    if (problems.length === 0) {
      this.lastProblems = '';
      return;
    }
    if (!explicit && key === this.lastProblems) return;
    this.lastProblems = key;
    const first = this._ignored[0];
    for (const i of this._ignored) {
      this.log.error(`${i.message}: ignored; using ${fromLastValid ? 'the last valid value' : 'the default'} ${i.setting} = ${i.using}`);
    }
    const summary = summarizeProblems(problems).text;
    this.notify('error', t('SOCKS5: {0} Ignored: the proxy keeps using {1} = {2}.', summary, first.setting, first.using), ['openSettings'], first.setting);
  }

  private async doStart(): Promise<Endpoint | undefined> {
    if (this.server?.running) return this.server.address;
    const { plan } = await this.plan(true);
    if (!plan.ok) {
      if (plan.setting) this.fail(plan.reason, plan.fix === 'setUpstreamPassword' ? ['setUpstreamPassword', 'openSettings'] : ['openSettings'], plan.setting);
      else this.fail(plan.reason, ['setPassword', 'openSettings'], plan.fix === 'openSettings' ? 'socks5.host' : 'socks5.auth.users', plan.usersWithoutPassword[0]);
      return undefined;
    }
    this.setState('starting');
    const server = this.createServer(plan.options);
    let address: Endpoint;
    try {
      address = await server.start();
    } catch (err) {
      this.startFailed(err, plan.options);
      return undefined;
    }
    this.attach(server, plan.options);
    this.setState('running');
    const users = plan.options.users.size;
    this.log.info(
      `Authentication ${users > 0 ? `on (${plural(users, 'user')})` : 'off'}; protocols: ${enabledProtocolsText(plan.options.protocols)}; ` +
        `commands: ${enabledCommandsText(plan.options.commands)}; clients: ${proxySchemes(plan.options.protocols).map((sc) => buildProxyUrl(address, undefined, sc)).join(' or ') || 'none'}`,
    );
    if (this._settings.upstream.url === VSCODE_UPSTREAM && !plan.options.upstream) {
      this.log.info('socks5.upstream.url is "vscode" and VS Code uses no proxy (http.proxy is empty, no HTTPS_PROXY / HTTP_PROXY): connections go direct.');
    }
    this.reportWarnings(plan.warnings, plan.usersWithoutPassword, true);
    return address;
  }

  private async doStop(): Promise<void> {
    const server = this.server;
    if (!server) {
      if (this._state !== 'stopped') this.setState('stopped');
      return;
    }
    const open = server.stats().active;
    try {
      await server.stop();
    } finally {
      this.detach(server);
      this.setState('stopped');
    }
    if (open > 0) this.log.info(`${plural(open, 'open connection')} closed by stopping the proxy`);
  }

  private async doApply(): Promise<void> {
    const { plan } = await this.plan(false);

    if (!this.server) {
      // Stopped. A failed start the user still wants is retried with the new settings.
      if (this.wanted && this._state === 'error') await this.doStart();
      return;
    }

    const running = this.runningOptions!;
    if (!plan.ok && plan.setting) {
      // The upstream cannot be used: its last valid configuration keeps running (never a silent direct route).
      const fixes: Fix[] = plan.fix === 'setUpstreamPassword' ? ['setUpstreamPassword', 'openSettings'] : ['openSettings'];
      this.log.error(`${plan.reason.english} The proxy keeps running with its last valid upstream settings.`);
      const key = `upstream:${plan.reason.english}`;
      if (key !== this.lastProblems) {
        this.lastProblems = key;
        this.notify('error', t('SOCKS5: {0} The proxy keeps running with its last valid upstream settings.', plan.reason.text), fixes, plan.setting);
      }
      return;
    }
    if (!plan.ok) {
      // Never keep serving with credentials the user removed, nor open up a network listener.
      const wasAuth = running.users.size > 0;
      const exposed = !isLoopbackHost(this.server.address?.host ?? running.host);
      if (plan.fix === 'setPassword' && !wasAuth && !exposed) {
        this.log.warn(`${plan.reason.english} Until then the proxy keeps running without authentication.`);
        this.notify(
          'warning',
          t('SOCKS5: {0} Until then the proxy keeps running without authentication.', plan.reason.text),
          ['setPassword'],
          undefined,
          plan.usersWithoutPassword[0],
        );
        return;
      }
      if (plan.fix === 'openSettings' && !exposed) {
        // Only the move to a network address was refused: the loopback listener stays.
        const where = formatEndpoint(this.server.address!);
        this.log.error(`${plan.reason.english} The proxy keeps listening on ${where}.`);
        this.notify('error', t('SOCKS5: {0} The proxy keeps listening on {1}.', plan.reason.text, where), ['setPassword', 'openSettings'], 'socks5.host');
        return;
      }
      this.log.warn(`Stopping the proxy: ${plan.reason.english}`);
      await this.doStop();
      this.wanted = true;
      this.fail(localized('Stopped: {0}', plan.reason), ['setPassword', 'openSettings'], 'socks5.auth.users', plan.usersWithoutPassword[0]);
      return;
    }

    const change = planApply(running, plan.options);
    if (change.kind === 'none') {
      this.reportWarnings(plan.warnings, plan.usersWithoutPassword, false);
      return;
    }
    if (change.kind === 'live') {
      this.server.setOptions(change.live);
      if (change.live.maxConnections !== undefined && change.live.maxConnections > running.maxConnections) {
        // A higher limit: the "proxy is full" warning is over.
        this.refusals.clearCount();
        this.updateRefusals(Date.now());
      }
      this.runningOptions = plan.options;
      this.log.info(`Applied ${change.changed.join(', ')} (affects new connections; open ones keep their settings)`);
      this.reportWarnings(plan.warnings, plan.usersWithoutPassword, false);
      this._onDidChangeConnections.fire();
      // Now applied (e.g. a door switched on or off): what is derived from the running options,
      // such as the terminals' proxy variables, follows.
      this._onDidChangeSettings.fire();
      return;
    }
    await this.moveListener(plan.options, change.changed);
    this.reportWarnings(plan.warnings, plan.usersWithoutPassword, false);
  }

  /** host/port changed while running: bind the new address, then let the old listener go. */
  private async moveListener(next: EngineOptions, changed: string[]): Promise<void> {
    const old = this.server!;
    const oldOptions = this.runningOptions!;
    const from = old.address ? formatEndpoint(old.address) : `${oldOptions.host}:${oldOptions.port}`;
    this.log.info(`${changed.join(' and ')} changed: moving the listener from ${from} to ${formatEndpoint(next)}`);
    this.setState('starting');

    let fresh = this.createServer(next);
    try {
      await fresh.start();
    } catch (err) {
      const sharesPort = err instanceof engine().StartError && err.code === 'EADDRINUSE' && next.port !== 0 && next.port === old.address?.port;
      if (!sharesPort) {
        // The old listener never stopped: it keeps running, which is the last good configuration.
        this.setState('running');
        const reason = startErrorText(err);
        this.log.error(`Cannot move the listener to ${formatEndpoint(next)}: ${reason.english}. Still listening on ${from}.`);
        this.notify('error', t('SOCKS5: {0}. The proxy keeps listening on {1}.', reason.text, from), this.fixesFor(err), 'socks5.port');
        return;
      }
      // Our own listener holds the port (e.g. 127.0.0.1:1080 → 0.0.0.0:1080): free it, then bind.
      const open = await this.stopOld(old);
      fresh = this.createServer(next);
      try {
        await fresh.start();
      } catch (err2) {
        this.log.error(`Cannot move the listener to ${formatEndpoint(next)}: ${errorMessage(err2)}; ${open} connection(s) were closed.`);
        this.startFailed(err2, next);
        return;
      }
      this.attach(fresh, next);
      this.setState('running');
      this.log.info(`Listening on ${formatEndpoint(fresh.address!)}; ${plural(open, 'open connection')} on ${from} ${open === 1 ? 'was' : 'were'} closed.`);
      return;
    }
    const open = await this.stopOld(old);
    this.attach(fresh, next);
    this.setState('running');
    this.log.info(`Listening on ${formatEndpoint(fresh.address!)}; ${plural(open, 'open connection')} on ${from} ${open === 1 ? 'was' : 'were'} closed.`);
  }

  private async stopOld(old: Socks5Server): Promise<number> {
    const open = old.stats().active;
    try {
      await old.stop();
    } finally {
      this.detach(old);
    }
    return open;
  }

  private createServer(options: EngineOptions): Socks5Server {
    return new (engine().Socks5Server)({ ...options, logger: this.log });
  }

  private attach(server: Socks5Server, options: EngineOptions): void {
    this.unhook?.dispose();
    this._generation++;
    const generation = this._generation;
    const changed = (): void => this.connectionsChanged.schedule();
    const closed = (info: ClosedConnectionInfo): void => {
      this.recent.unshift({ generation, info });
      if (this.recent.length > RECENT_LIMIT) this.recent.length = RECENT_LIMIT;
      changed();
    };
    server.on('open', changed);
    server.on('update', changed);
    server.on('close', closed);
    // Follows 'close' events from now on; reads counters only when the Traffic panel samples.
    const traffic = new (engine().TrafficTracker)();
    const untrack = traffic.attach(server);
    this._traffic = traffic;
    this.server = server;
    this.runningOptions = options;
    this.refusals.reset();
    this.refusals.sample(turnedAway(server.stats()), Date.now());
    this.refusalTimer ??= setInterval(() => this.pollRefusals(), REFUSAL_POLL_MS);
    this.unhook = toDisposable(() => {
      server.off('open', changed);
      server.off('update', changed);
      server.off('close', closed);
      untrack();
    });
    changed();
  }

  private detach(server: Socks5Server): void {
    if (this.server !== server) return;
    this.unhook?.dispose();
    this.unhook = undefined;
    this.server = undefined;
    this.runningOptions = undefined;
    this.stopRefusalPoll();
    this.connectionsChanged.schedule();
  }

  // --- refusals (the proxy is full) ------------------------------------------------------------

  private pollRefusals(): void {
    const server = this.server;
    if (!server || this.isDisposed) return;
    const now = Date.now();
    this.refusals.sample(turnedAway(server.stats()), now);
    this.updateRefusals(now);
    if (this._refusedLastMinute > 0 && this.refusals.takeNotice(now)) {
      const max = this.maxConnections;
      this.log.warn(`The proxy is full: ${this._refusedLastMinute} client(s) refused in the last minute (socks5.maxConnections = ${max})`);
      this.notify(
        'warning',
        t(
          'SOCKS5: the proxy is full. {0} clients were refused in the last minute because {1} connections are open (socks5.maxConnections).',
          this._refusedLastMinute,
          max,
        ),
        ['raiseLimit', 'showConnections'],
      );
    }
  }

  private updateRefusals(now: number): void {
    const count = this.refusals.count(now);
    if (count !== this._refusedLastMinute) {
      this._refusedLastMinute = count;
      this._onDidChangeRefusals.fire();
    }
  }

  private stopRefusalPoll(): void {
    if (this.refusalTimer !== undefined) {
      clearInterval(this.refusalTimer);
      this.refusalTimer = undefined;
    }
    if (this._refusedLastMinute !== 0) {
      this._refusedLastMinute = 0;
      if (!this.isDisposed) this._onDidChangeRefusals.fire();
    }
  }

  private startFailed(err: unknown, options: EngineOptions): void {
    const reason = startErrorText(err);
    this.fail(localized('{0}.', reason), this.fixesFor(err), 'socks5.port', undefined, options);
  }

  private fixesFor(err: unknown): Fix[] {
    if (err instanceof engine().StartError) {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') return ['useAnotherPort', 'openSettings'];
      if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return ['openSettings'];
    }
    return ['showLog', 'openSettings'];
  }

  /** The `error` state: a log line, the status bar, and a notification with the fixes. */
  private fail(reason: Localized, fixes: Fix[], setting?: string, user?: string, options?: EngineOptions): void {
    this.log.error(reason.english);
    this.setState('error', reason);
    this.notify('error', t('SOCKS5 proxy: {0}', reason.text), fixes, setting, user, options);
  }

  private reportWarnings(warnings: readonly Localized[], usersWithoutPassword: string[], always: boolean): void {
    const key = warnings.map((w) => w.english).join('\n');
    if (!always && key === this.lastWarnings) return;
    this.lastWarnings = key;
    for (const w of warnings) {
      this.log.warn(w.english);
      const fixes: Fix[] = /no password/.test(w.english) ? ['setPassword'] : ['openSettings'];
      this.notify('warning', t('SOCKS5: {0}', w.text), fixes, 'socks5.allowUnauthenticatedRemote', usersWithoutPassword[0]);
    }
  }

  /**
   * Shows a notification without waiting for it (a notification stays until dismissed: awaiting
   * it inside the queue would block every later operation).
   */
  private notify(kind: 'error' | 'warning', message: string, fixes: Fix[], setting?: string, user?: string, options?: EngineOptions): void {
    if (this.isDisposed) return;
    const labels: Record<Fix, string> = {
      setPassword: t('Set Password…'),
      openSettings: t('Open Settings'),
      useAnotherPort: t('Use Another Port'),
      showLog: t('Show Log'),
      setUpstreamPassword: t('Set Upstream Password…'),
      raiseLimit: t('Raise the Limit…'),
      showConnections: t('Show Connections'),
    };
    const actions = fixes.map((f) => labels[f]);
    const shown = kind === 'error' ? vscode.window.showErrorMessage(message, ...actions) : vscode.window.showWarningMessage(message, ...actions);
    const act = async (picked: string | undefined): Promise<void> => {
      const fix = fixes.find((f) => labels[f] === picked);
      if (!fix) return;
      try {
        switch (fix) {
          case 'setPassword':
            await vscode.commands.executeCommand('socks5.setPassword', user);
            break;
          case 'openSettings':
            await vscode.commands.executeCommand('socks5.openSettings', setting);
            break;
          case 'showLog':
            await vscode.commands.executeCommand('socks5.showLog');
            break;
          case 'setUpstreamPassword':
            await vscode.commands.executeCommand('socks5.setUpstreamPassword');
            break;
          case 'raiseLimit':
            await vscode.commands.executeCommand('socks5.raiseMaxConnections');
            break;
          case 'showConnections':
            await vscode.commands.executeCommand('socks5.showConnections');
            break;
          case 'useAnotherPort':
            await this.useAnotherPort(options?.host ?? this._settings.host);
            break;
        }
      } catch (err) {
        this.log.error(`${fix} failed: ${errorMessage(err)}`);
      }
    };
    background(shown.then(act), this.log);
  }

  /** Suggests a free port, writes the accepted one to socks5.port and starts there. */
  private async useAnotherPort(host: string): Promise<void> {
    const suggestion = await freePort(host).catch(() => 0);
    const value = await vscode.window.showInputBox({
      title: t('SOCKS5: Use Another Port'),
      prompt: t('Port for the proxy on {0} (0 = any free port). Saved to socks5.port in your user settings.', host),
      value: String(suggestion),
      ignoreFocusOut: true,
      validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) <= 65535 ? undefined : t('Enter an integer from 0 to 65535')),
    });
    if (value === undefined) return;
    this.wanted = true;
    await updateSetting('port', Number(value.trim()));
    // The configuration change retries the start; make sure it happens even if nothing changed.
    await this.start();
  }
}

/**
 * Why the listener could not bind: the engine's English message for the log, and the same fact in
 * the display language for the UI (by the StartError's errno code).
 */
function startErrorText(err: unknown): Localized {
  const english = (err instanceof Error ? err.message : String(err)).replace(/\.$/, '');
  if (!(err instanceof engine().StartError)) return untranslated(english);
  const { code, host, port } = err;
  const text = ((): string | undefined => {
    switch (code) {
      case 'EADDRINUSE':
        return t('Port {0} is already in use on {1}', port, host);
      case 'EACCES':
        return t('Permission denied binding {0} (ports below 1024 need privileges)', formatEndpoint({ host, port }));
      case 'EADDRNOTAVAIL':
        return t('Address {0} is not available on this machine', host);
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return t('Cannot resolve host "{0}"', host);
      default:
        return undefined;
    }
  })();
  return { english, text: text ?? english };
}

/**
 * Clients turned away because the proxy was full: refused at accept (every slot holds an
 * established session) plus those cut in their handshake to make room (maxHandshakes, which
 * follows maxConnections by default).
 */
function turnedAway(s: { refused: number; shed?: number }): number {
  return s.refused + (s.shed ?? 0);
}

/** A port that is free on `host` right now (the OS picks it). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const a = srv.address();
      const port = a && typeof a === 'object' ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
