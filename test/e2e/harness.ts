// End-to-end harness: a real VS Code (code-server 4.100.3 = VS Code 1.100.3, installed by
// test/e2e/setup.sh) driven through its web workbench by Debian's headless Chromium with
// playwright-core. Nothing here is mocked: code-server runs the packaged VSIX in a real
// extension host, and the tests talk to it the way a user does (palette, status bar, views,
// settings editor, input boxes, notifications).
//
// Rules kept here: every wait is bounded; every process started is tracked by PID and stopped at
// teardown, also when a test fails or the test process is told to stop. code-server is started
// detached, in its own process group, so its extension host, pty host and file watcher go with it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CODE_SERVER_VERSION = '4.100.3';
export const CACHE_DIR = process.env.SOCKS5_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'socks5-proxy-e2e');
export const CODE_SERVER_BIN =
  process.env.SOCKS5_E2E_CODE_SERVER ??
  path.join(CACHE_DIR, `code-server-${CODE_SERVER_VERSION}`, 'node_modules', '.bin', 'code-server');
export const CHROMIUM_BIN = process.env.SOCKS5_E2E_CHROMIUM ?? '/usr/bin/chromium';
/**
 * Where the README's screenshots go: media/screenshots/ only with UPDATE_SCREENSHOTS=1 (a
 * deliberate update, committed by hand), otherwise a temp folder, so that a test run leaves the
 * work tree clean.
 */
export const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1' ? path.join(REPO_ROOT, 'media', 'screenshots') : path.join(os.tmpdir(), 'socks5-proxy-e2e-screenshots');

/** Flags that let Debian's Chromium run headless as root without reaching for the internet. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-dev-shm-usage',
  // Chromium still calls home in the background (accounts.google.com, update.googleapis.com):
  // no name is resolved here except loopback, so none of that leaves the machine, not even DNS.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

/** Google hosts Chromium reaches for in the background; see proxyClientArgs. */
const CHROMIUM_BACKGROUND_HOSTS = ['*.google.com', '*.googleapis.com', '*.gstatic.com', '*.gvt1.com'];

/**
 * Flags that make Chromium a SOCKS5 client of 127.0.0.1:port, loopback targets included
 * (`<-loopback>`: without it Chromium never proxies localhost). Its own background requests to
 * Google bypass the proxy (and then fail on the resolver rules above), so the proxy sees only
 * what the test loads and never resolves a public name.
 */
export function proxyClientArgs(port: number): string[] {
  return [`--proxy-server=socks5://127.0.0.1:${port}`, `--proxy-bypass-list=<-loopback>;${CHROMIUM_BACKGROUND_HOSTS.join(';')}`];
}

/** User settings that keep the workbench quiet and deterministic (no welcome page, no tips). */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'chat.commandCenter.enabled': false,
  'window.commandCenter': false,
  'editor.accessibilitySupport': 'off',
};

export const log = (...args: unknown[]): void => {
  const t = new Date().toISOString().slice(11, 23);
  console.log(`[e2e ${t}]`, ...args);
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` at most `ms` long; rejects with a message naming `what` otherwise. */
export async function withTimeout<T>(what: string, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns a truthy value; bounded in time and count. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 15_000, intervalMs = 200 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const maxTries = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let i = 0; i < maxTries; i++) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

// ------------------------------------------------------------------------------------------
// Processes: tracked by PID, stopped as a group.

const liveGroups = new Set<number>();
let exitHooksInstalled = false;

function killGroupNow(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // Last resort when the test process ends without running teardown (crash, runner timeout).
  process.on('exit', () => {
    for (const pid of liveGroups) killGroupNow(pid, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const pid of liveGroups) killGroupNow(pid, 'SIGKILL');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A process started by the harness in its own process group (detached). */
export class Proc {
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitCode: number | null = null;
  output = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    logFile?: string,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    this.pid = child.pid;
    liveGroups.add(this.pid);
    installExitHooks();
    const sink = logFile ? createWriteStream(logFile) : undefined;
    const collect = (b: Buffer): void => {
      sink?.write(b);
      if (this.output.length < 1_000_000) this.output += b.toString('utf8');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        sink?.end();
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves when the group is gone (bounded). */
  async stop(graceMs = 5_000): Promise<void> {
    if (!liveGroups.has(this.pid)) return;
    killGroupNow(this.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (groupAlive(this.pid) && Date.now() < deadline) await sleep(100);
    if (groupAlive(this.pid)) {
      log(`${this.name} (pgid ${this.pid}) still alive after ${graceMs} ms: SIGKILL`);
      killGroupNow(this.pid, 'SIGKILL');
      const hard = Date.now() + 5_000;
      while (groupAlive(this.pid) && Date.now() < hard) await sleep(100);
    }
    liveGroups.delete(this.pid);
  }
}

/** Spawns `cmd` detached (own process group), output collected and optionally logged to a file. */
export function startProcess(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string } = {},
): Proc {
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  return new Proc(name, child, opts.logFile);
}

/** Runs a command to completion (bounded); returns its exit code and output. */
export function runProcess(
  name: string,
  cmd: string,
  args: string[],
  { timeoutMs = 60_000, env }: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    if (child.pid === undefined) {
      reject(new Error(`${name}: spawn failed`));
      return;
    }
    const pid = child.pid;
    liveGroups.add(pid);
    installExitHooks();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = setTimeout(() => {
      log(`${name} (pid ${pid}) ran over ${timeoutMs} ms: SIGKILL`);
      killGroupNow(pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      liveGroups.delete(pid);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      killGroupNow(pid, 'SIGKILL'); // anything it left behind in its group
      liveGroups.delete(pid);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// ------------------------------------------------------------------------------------------
// Ports, folders, settings.

/** A free TCP port on 127.0.0.1 (the OS picks it; released before returning). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on host:port (bounded to `timeoutMs`). */
export function isListening(port: number, host = '127.0.0.1', timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (v: boolean): void => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export interface Dirs {
  root: string;
  userDataDir: string;
  extensionsDir: string;
  workspace: string;
  logs: string;
}

/** Fresh temp folders for one code-server: user data, extensions, a workspace folder, logs. */
export function makeDirs(prefix = 'socks5-e2e-'): Dirs {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const dirs: Dirs = {
    root,
    userDataDir: path.join(root, 'user-data'),
    extensionsDir: path.join(root, 'extensions'),
    workspace: path.join(root, 'workspace'),
    logs: path.join(root, 'logs'),
  };
  for (const d of [dirs.userDataDir, dirs.extensionsDir, dirs.workspace, dirs.logs]) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(dirs.workspace, 'README.md'), '# e2e workspace\n');
  return dirs;
}

/** The extension's machine-scoped settings: in code-server (a remote window) they live in Machine/settings.json. */
const MACHINE_SCOPED = new Set(['socks5.host', 'socks5.port', 'socks5.auth.users', 'socks5.allowUnauthenticatedRemote', 'socks5.autoStart']);

/**
 * Writes the settings the way a user would (before code-server starts): machine-scoped keys to
 * `Machine/settings.json` (the Settings editor's Remote tab; VS Code ignores them in
 * `User/settings.json` of a remote window), the rest to `User/settings.json`. Returns the User file.
 */
export function writeUserSettings(dirs: Dirs, settings: Record<string, unknown>): string {
  const user: Record<string, unknown> = { ...QUIET_SETTINGS };
  const machine: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(settings)) (MACHINE_SCOPED.has(k) ? machine : user)[k] = v;
  const write = (target: SettingsTarget, data: Record<string, unknown>) => {
    const file = settingsFile(dirs, target);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
    return file;
  };
  if (Object.keys(machine).length > 0) write('remote', machine);
  return write('user', user);
}

export function readUserSettings(dirs: Dirs): Record<string, unknown> {
  return readSettings(dirs, 'user');
}

function codeServerEnv(dirs: Dirs): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Keep code-server's own config/data out of the real home folder.
  env.XDG_CONFIG_HOME = path.join(dirs.root, 'xdg-config');
  env.XDG_DATA_HOME = path.join(dirs.root, 'xdg-data');
  env.XDG_CACHE_HOME = path.join(dirs.root, 'xdg-cache');
  // The user's proxy environment must not leak into the extension host or the workbench.
  for (const k of ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'no_proxy', 'NO_PROXY']) {
    delete env[k];
  }
  delete env.NODE_OPTIONS; // tsx's loader must not follow us into code-server
  delete env.VSCODE_IPC_HOOK_CLI;
  return env;
}

export function assertCodeServerInstalled(): void {
  if (!existsSync(CODE_SERVER_BIN)) {
    throw new Error(`code-server not found at ${CODE_SERVER_BIN}: run test/e2e/setup.sh first`);
  }
  if (!existsSync(CHROMIUM_BIN)) {
    throw new Error(`Chromium not found at ${CHROMIUM_BIN}: run test/e2e/setup.sh first`);
  }
}

/** `code-server --install-extension VSIX` into the given extensions folder. */
export async function installVsix(dirs: Dirs, vsix: string): Promise<string> {
  assertCodeServerInstalled();
  if (!existsSync(vsix)) throw new Error(`VSIX not found: ${vsix} (run npm run package)`);
  const r = await runProcess(
    'code-server --install-extension',
    CODE_SERVER_BIN,
    ['--extensions-dir', dirs.extensionsDir, '--user-data-dir', dirs.userDataDir, '--install-extension', vsix],
    { timeoutMs: 120_000, env: codeServerEnv(dirs) },
  );
  const out = r.stdout + r.stderr;
  if (r.code !== 0 || !/successfully installed/i.test(out)) {
    throw new Error(`installing ${vsix} failed (exit ${r.code}):\n${out}`);
  }
  return out.trim();
}

/** The VSIX `npm run package` wrote (`<name>-<version>.vsix`); SOCKS5_E2E_VSIX overrides. */
export function findVsix(): string {
  const override = process.env.SOCKS5_E2E_VSIX;
  if (override) {
    if (!existsSync(override)) throw new Error(`SOCKS5_E2E_VSIX=${override} not found`);
    return override;
  }
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  const vsix = path.join(REPO_ROOT, `${pkg.name}-${pkg.version}.vsix`);
  if (!existsSync(vsix)) throw new Error(`${vsix} not found: run npm run package first`);
  return vsix;
}

function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export class CodeServer {
  private constructor(
    readonly proc: Proc,
    readonly port: number,
    readonly dirs: Dirs,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The workbench URL with the workspace folder open. */
  get workbenchUrl(): string {
    return `${this.url}/?folder=${encodeURIComponent(this.dirs.workspace)}`;
  }

  /** Starts code-server on 127.0.0.1 and waits until /healthz answers (bounded). */
  static async start(dirs: Dirs, { timeoutMs = 60_000, extraArgs = [] as string[] } = {}): Promise<CodeServer> {
    assertCodeServerInstalled();
    const port = await freePort();
    const configFile = path.join(dirs.root, 'code-server.yaml');
    writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
    const args = [
      '--config', configFile,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--user-data-dir', dirs.userDataDir,
      '--extensions-dir', dirs.extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      ...extraArgs,
      dirs.workspace,
    ];
    const proc = startProcess('code-server', CODE_SERVER_BIN, args, {
      env: codeServerEnv(dirs),
      cwd: dirs.workspace,
      logFile: path.join(dirs.logs, 'code-server.log'),
    });
    const cs = new CodeServer(proc, port, dirs);
    log(`code-server pid ${proc.pid} on ${cs.url}`);
    try {
      await waitFor(
        `code-server to answer on ${cs.url}/healthz`,
        async () => {
          if (!proc.running) throw new Error(`code-server exited (code ${proc.exitCode}):\n${proc.output}`);
          return (await httpStatus(`${cs.url}/healthz`, 2_000)) === 200;
        },
        { timeoutMs, intervalMs: 250 },
      );
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return cs;
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }

  /** The extension host's and output channels' log files, concatenated (bounded), for diagnostics. */
  extensionHostLogs(maxChars = 20_000): string {
    const logsDir = path.join(this.dirs.userDataDir, 'logs');
    if (!existsSync(logsDir)) return '';
    const r = spawnSync('find', [logsDir, '-name', '*.log', '-type', 'f'], { encoding: 'utf8', timeout: 5_000 });
    const out: string[] = [];
    for (const f of (r.stdout ?? '').split('\n').filter(Boolean).sort()) {
      if (!/exthost|socks|output/i.test(f)) continue;
      try {
        out.push(`== ${f}\n${readFileSync(f, 'utf8')}`);
      } catch {
        /* gone */
      }
    }
    const text = out.join('\n');
    return text.length > maxChars ? text.slice(-maxChars) : text;
  }
}

// ------------------------------------------------------------------------------------------
// Chromium.

/** Headless Debian Chromium through playwright-core. Extra args are appended to CHROMIUM_ARGS. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  assertCodeServerInstalled();
  return withTimeout('launching Chromium', 60_000, () =>
    chromium.launch({
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: [...CHROMIUM_ARGS, ...extraArgs],
      timeout: 60_000,
      // Our own exit hooks stop code-server; let playwright stop its browser the usual way.
    }),
  );
}

export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  if (!browser) return;
  try {
    await withTimeout('closing Chromium', 15_000, () => browser.close());
  } catch (e) {
    log(`closing Chromium: ${(e as Error).message}`);
  }
}

// ------------------------------------------------------------------------------------------
// The workbench.

export const SEL = {
  workbench: '.monaco-workbench',
  statusbar: '#workbench\\.parts\\.statusbar',
  statusItem: '#workbench\\.parts\\.statusbar .statusbar-item',
  quickInput: '.quick-input-widget',
  quickInputBox: '.quick-input-widget .quick-input-box input',
  quickInputRow: '.quick-input-widget .quick-input-list .monaco-list-row',
  quickInputMessage: '.quick-input-widget .quick-input-message',
  toast: '.notifications-toasts .notification-toast',
  toastMessage: '.notifications-toasts .notification-list-item-message',
  activitybar: '#workbench\\.parts\\.activitybar',
  sidebar: '#workbench\\.parts\\.sidebar',
} as const;

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface Workbench {
  browser: Browser;
  context: BrowserContext;
  page: Page;
}

/** Opens the workbench in a new page and waits until it is usable (bounded). */
export async function openWorkbench(
  browser: Browser,
  cs: CodeServer,
  { timeoutMs = 60_000, viewport = { width: 1400, height: 900 } } = {},
): Promise<Workbench> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  await page.goto(cs.workbenchUrl, { timeout: timeoutMs, waitUntil: 'domcontentloaded' });
  await page.locator(SEL.workbench).waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator(SEL.statusbar).waitFor({ state: 'visible', timeout: timeoutMs });
  // The workbench is restored when the explorer shows the workspace folder.
  await page
    .locator('.explorer-folders-view, .explorer-viewlet, .monaco-workbench .part.editor')
    .first()
    .waitFor({ state: 'visible', timeout: timeoutMs });
  return { browser, context, page };
}

/** Opens the command palette (F1; Ctrl+Shift+P as a fallback), bounded. */
export async function openPalette(page: Page): Promise<void> {
  const input = page.locator(SEL.quickInputBox);
  for (const key of ['F1', 'Control+Shift+P', 'F1']) {
    await page.keyboard.press('Escape');
    await page.keyboard.press(key);
    try {
      await input.waitFor({ state: 'visible', timeout: 5_000 });
      return;
    } catch {
      // the workbench may not have had focus yet: click a neutral spot and try again
      await page.locator(SEL.statusbar).click({ position: { x: 2, y: 2 }, timeout: 5_000 }).catch(() => {});
    }
  }
  throw new Error('the command palette did not open');
}

/**
 * Runs a command from the palette by its full title as the palette shows it
 * (`Category: Title`, e.g. `SOCKS5: Start Proxy`). Fails if no palette entry has that title
 * within `timeoutMs`. The palette takes its list of commands when it opens, so while the list is
 * still missing the title (extensions still registering) it is closed and opened again.
 */
export async function runCommand(page: Page, title: string, { timeoutMs = 15_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const row = page
    .locator(SEL.quickInputRow)
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRe(title)}\\s*$`) }) })
    .first();
  let shown: string[] = [];
  let lastError = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await openPalette(page);
      await page.locator(SEL.quickInputBox).fill(`>${title}`, { timeout: 3_000 });
      const wait = Math.max(1_000, Math.min(4_000, deadline - Date.now()));
      await row.waitFor({ state: 'visible', timeout: wait });
      await row.click({ timeout: 3_000 });
      return;
    } catch (e) {
      // Not listed yet, or the palette lost focus and closed (the workbench re-rendered).
      lastError = (e as Error).message.split('\n')[0] ?? '';
      shown = await page.locator(`${SEL.quickInputRow} .label-name`).allTextContents().catch(() => []);
      await page.keyboard.press('Escape');
    }
    if (Date.now() >= deadline) break;
  }
  if (shown.length === 0 && lastError) shown = [`(${lastError})`];
  throw new Error(`command "${title}" is not in the palette; it shows: ${JSON.stringify(shown.slice(0, 10))}`);
}

/** The status bar item whose text matches (string = substring), once visible (bounded). */
export async function waitForStatusItem(
  page: Page,
  text: string | RegExp,
  { timeoutMs = 15_000 } = {},
): Promise<Locator> {
  const item = page.locator(SEL.statusItem).filter({ hasText: text }).first();
  try {
    await item.waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    throw new Error(`no status bar item matching ${String(text)}; status bar shows: ${JSON.stringify(await statusTexts(page))}`);
  }
  return item;
}

/** Waits until no visible status bar item matches `text` (bounded). */
export async function waitForStatusItemGone(page: Page, text: string | RegExp, { timeoutMs = 15_000 } = {}): Promise<void> {
  const items = page.locator(SEL.statusItem).filter({ hasText: text });
  await waitFor(`status bar item ${String(text)} to go away`, async () => (await items.count()) === 0, { timeoutMs });
}

/** Texts of every status bar item (for assertions and error messages). */
export async function statusTexts(page: Page): Promise<string[]> {
  const texts = await page.locator(SEL.statusItem).allInnerTexts().catch(() => [] as string[]);
  return texts.map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
}

/** Fills the open input box (showInputBox / quick pick filter) and presses Enter. */
export async function fillInputBox(
  page: Page,
  value: string,
  { expectPassword, promptText, timeoutMs = 15_000 }: { expectPassword?: boolean; promptText?: string | RegExp; timeoutMs?: number } = {},
): Promise<void> {
  const input = page.locator(SEL.quickInputBox);
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  if (promptText !== undefined) {
    await page.locator(SEL.quickInput).filter({ hasText: promptText }).first().waitFor({ state: 'visible', timeout: timeoutMs });
  }
  if (expectPassword !== undefined) {
    const type = await input.getAttribute('type');
    if ((type === 'password') !== expectPassword) {
      throw new Error(`input box type is "${type}", expected ${expectPassword ? 'password' : 'text'}`);
    }
  }
  await input.fill(value);
  await input.press('Enter');
}

/** Picks the quick pick item whose label matches `label` (string = whole label). */
export async function pickQuickItem(page: Page, label: string | RegExp, { timeoutMs = 15_000 } = {}): Promise<void> {
  const re = typeof label === 'string' ? new RegExp(`^\\s*${escapeRe(label)}\\s*$`) : label;
  const row = page.locator(SEL.quickInputRow).filter({ has: page.locator('.label-name', { hasText: re }) }).first();
  await row.waitFor({ state: 'visible', timeout: timeoutMs });
  await row.click();
}

/** The texts of the notification toasts currently shown. */
export async function notificationTexts(page: Page): Promise<string[]> {
  const texts = await page.locator(SEL.toastMessage).allInnerTexts().catch(() => [] as string[]);
  return texts.map((t) => t.replace(/\s+/g, ' ').trim());
}

/** The notification toast whose message matches, once visible (bounded). */
export async function waitForNotification(page: Page, text: string | RegExp, { timeoutMs = 15_000 } = {}): Promise<Locator> {
  const toast = page.locator(SEL.toast).filter({ hasText: text }).first();
  try {
    await toast.waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    throw new Error(`no notification matching ${String(text)}; shown: ${JSON.stringify(await notificationTexts(page))}`);
  }
  return toast;
}

/** Closes every notification toast (Clear All Notifications). */
export async function clearNotifications(page: Page): Promise<void> {
  if ((await page.locator(SEL.toast).count()) === 0) return;
  await runCommand(page, 'Notifications: Clear All Notifications');
  await waitFor('notifications to clear', async () => (await page.locator(SEL.toast).count()) === 0, { timeoutMs: 5_000 });
}

/** Which settings file: `user` = User/settings.json; `remote` = the Remote tab = Machine/settings.json. */
export type SettingsTarget = 'user' | 'remote';

export function settingsFile(dirs: Dirs, target: SettingsTarget): string {
  return path.join(dirs.userDataDir, target === 'user' ? 'User' : 'Machine', 'settings.json');
}

/** Reads a settings file (plain JSON as the Settings editor writes it; {} when missing). */
export function readSettings(dirs: Dirs, target: SettingsTarget): Record<string, unknown> {
  const file = settingsFile(dirs, target);
  if (!existsSync(file)) return {};
  const text = readFileSync(file, 'utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** Opens the Settings editor (UI) on the given tab (User, or Remote = code-server's machine). */
export async function openSettingsUI(page: Page, target: SettingsTarget = 'user'): Promise<Locator> {
  await runCommand(page, 'Preferences: Open Settings (UI)');
  const editor = page.locator('.settings-editor');
  await editor.waitFor({ state: 'visible', timeout: 15_000 });
  const tab = page
    .locator('.settings-editor .settings-tabs-widget .action-label')
    .filter({ hasText: target === 'user' ? /^\s*User\s*$/ : /^\s*Remote\b/ })
    .first();
  await tab.click({ timeout: 10_000 });
  return editor;
}

/**
 * Changes one text or number setting in the Settings editor (UI), as a user would: open it on the
 * right tab, search for the id, type the value into the field and leave it (Tab). Checks that the
 * Settings editor wrote the value to the settings file (it re-renders while extensions register
 * their settings, which can swallow a first edit: retried, bounded).
 */
export async function setSettingInUI(
  page: Page,
  dirs: Dirs,
  settingId: string,
  value: string | number,
  target: SettingsTarget = 'user',
): Promise<void> {
  await openSettingsUI(page, target);
  await searchSettings(page, settingId);
  const item = settingItem(page, settingId);
  await item.waitFor({ state: 'visible', timeout: 15_000 });
  const input = item.locator('.setting-item-control input').first();
  for (let attempt = 1; attempt <= 3; attempt++) {
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(String(value));
    await page.keyboard.press('Tab');
    try {
      await waitFor(
        `${settingId} = ${value} in ${settingsFile(dirs, target)}`,
        () => String(readSettings(dirs, target)[settingId]) === String(value),
        { timeoutMs: 5_000 },
      );
      return;
    } catch (e) {
      if (attempt === 3) throw e;
      log(`setting ${settingId} did not stick (attempt ${attempt}), typing it again`);
    }
  }
}

/**
 * Adds `value` to a list-of-strings setting in the Settings editor (its "Add Item" button, type,
 * Enter), as a user would, and checks that it was written (retried like setSettingInUI).
 */
export async function addListItemInUI(
  page: Page,
  dirs: Dirs,
  settingId: string,
  value: string,
  target: SettingsTarget = 'user',
): Promise<void> {
  await openSettingsUI(page, target);
  await searchSettings(page, settingId);
  const item = settingItem(page, settingId);
  const written = (): boolean => {
    const v = readSettings(dirs, target)[settingId];
    return Array.isArray(v) && v.includes(value);
  };
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await item.waitFor({ state: 'visible', timeout: 15_000 });
      await item.locator('.setting-list-addButton').click({ timeout: 10_000 });
      // The new row's input takes the focus; type into whatever has it (the row may re-render).
      // A click that lands while the editor re-renders opens no row: that attempt is retried too.
      await item.locator('.setting-list-edit-row input').first().waitFor({ state: 'visible', timeout: 5_000 });
      await page.keyboard.type(value);
      await page.keyboard.press('Enter');
      await waitFor(`${settingId} to contain "${value}" in ${settingsFile(dirs, target)}`, written, { timeoutMs: 5_000 });
      return;
    } catch (e) {
      if (attempt === 3) throw e;
      log(`adding "${value}" to ${settingId} did not stick (attempt ${attempt}), trying again`);
      await page.keyboard.press('Escape');
    }
  }
}

/** Types `query` into the open Settings editor's search box (replacing what was there). */
export async function searchSettings(page: Page, query: string): Promise<void> {
  const search = page.locator('.settings-editor .settings-header textarea').first();
  await search.waitFor({ state: 'attached', timeout: 10_000 });
  // The search box is a small Monaco editor: its textarea sits under the view lines, so focus it
  // directly instead of clicking.
  await search.focus();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(query);
  // Results are rendered after a debounce; until then the rows shown are the previous ones.
  await page
    .locator('.settings-editor .settings-count-widget')
    .filter({ hasText: /Settings? Found/ })
    .waitFor({ state: 'visible', timeout: 10_000 });
}

/** The Settings editor's row for `settingId` (e.g. `socks5.port`). */
export function settingItem(page: Page, settingId: string): Locator {
  // Each row carries the id in its `data-key` attribute (on the list row) and shows it in the
  // title as "Section › Key"; the data-key attribute is the stable handle.
  return page.locator(`.settings-editor .setting-item-contents[data-key="${settingId}"], .settings-editor [data-key="${settingId}"] .setting-item-contents`).first();
}

/** Screenshot of the page (or one element) into `dir/name.png`. */
export async function screenshot(page: Page, dir: string, name: string, element?: Locator): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name.endsWith('.png') ? name : `${name}.png`);
  if (element) await element.screenshot({ path: file, timeout: 10_000 });
  else await page.screenshot({ path: file, timeout: 10_000 });
  return file;
}

// ------------------------------------------------------------------------------------------
// Teardown.

/** A LIFO list of cleanups that always runs every step, bounded, and never throws. */
export class Cleanup {
  private steps: { what: string; fn: () => unknown }[] = [];

  add(what: string, fn: () => unknown): void {
    this.steps.push({ what, fn });
  }

  async run(): Promise<void> {
    while (this.steps.length > 0) {
      const { what, fn } = this.steps.pop()!;
      try {
        await withTimeout(`cleanup: ${what}`, 30_000, async () => {
          await fn();
        });
      } catch (e) {
        log(`cleanup "${what}" failed: ${(e as Error).message}`);
      }
    }
  }
}

/** Removes a temp folder made by makeDirs (only those: refuses anything outside the temp dir). */
export function removeDirs(dirs: Dirs): void {
  if (!dirs.root.startsWith(os.tmpdir() + path.sep)) throw new Error(`refusing to remove ${dirs.root}`);
  rmSync(dirs.root, { recursive: true, force: true });
}

/**
 * One complete VS Code for a test: temp folders, optional VSIX, user settings, code-server,
 * Chromium, the workbench page. `close()` stops everything it started (also after a failure).
 * Set SOCKS5_E2E_KEEP=1 to keep the temp folder (logs) after the run.
 */
export class VSCode {
  readonly cleanup = new Cleanup();
  dirs!: Dirs;
  cs!: CodeServer;
  browser!: Browser;
  page!: Page;

  static async launch(
    opts: {
      vsix?: string;
      /** More extensions to install first (test fixtures). */
      extraVsix?: string[];
      settings?: Record<string, unknown>;
      prefix?: string;
      /** More code-server arguments, e.g. ['--locale', 'zh-cn']. */
      codeServerArgs?: string[];
    } = {},
  ): Promise<VSCode> {
    const vs = new VSCode();
    try {
      const t0 = Date.now();
      vs.dirs = makeDirs(opts.prefix);
      const keep = process.env.SOCKS5_E2E_KEEP === '1';
      vs.cleanup.add('remove temp folders', () => (keep ? log(`kept ${vs.dirs.root}`) : removeDirs(vs.dirs)));
      writeUserSettings(vs.dirs, opts.settings ?? {});
      for (const extra of opts.extraVsix ?? []) await installVsix(vs.dirs, extra);
      if (opts.vsix) {
        await installVsix(vs.dirs, opts.vsix);
        log(`installed ${path.basename(opts.vsix)} (${Date.now() - t0} ms)`);
      }
      vs.cs = await CodeServer.start(vs.dirs, { extraArgs: opts.codeServerArgs ?? [] });
      vs.cleanup.add('stop code-server', () => vs.cs.stop());
      log(`code-server ready (${Date.now() - t0} ms)`);
      vs.browser = await launchBrowser();
      vs.cleanup.add('close Chromium', () => closeBrowser(vs.browser));
      const wb = await openWorkbench(vs.browser, vs.cs);
      vs.page = wb.page;
      log(`workbench ready (${Date.now() - t0} ms)`);
      return vs;
    } catch (e) {
      await vs.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.cleanup.run();
  }
}
