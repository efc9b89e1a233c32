// Issue 7's safety items that only the extension can show, proven in real VS Code (code-server
// 4.100.3 = VS Code 1.100.3, the packaged VSIX, headless Chromium driving the workbench):
//   1. security settings in a workspace's .vscode/settings.json are ignored (host, port,
//      allowUnauthenticatedRemote, autoStart): no auto-start, the user's port, loopback only;
//   2. a password set with SOCKS5: Set Password… never shows: Connections view (and its row
//      tooltip), status bar tooltip, the log (output channel and its file), notifications,
//      settings files;
//   3. deactivate releases the port: Developer: Reload Window restarts the extension host, open
//      sessions are closed and the port can be bound by someone else. A companion test extension
//      with a slow deactivate keeps the old extension host alive for a few seconds, so the test
//      tells the extension's own cleanup apart from the kernel's when the process exits (with
//      deactivate and dispose made no-ops in the bundle, this scenario fails).
// One VS Code for all three (starting one costs ~10-30 s); each scenario leaves the proxy in the
// state the next one expects. The workspace is trusted (the harness turns workspace trust off):
// the harder case, where VS Code itself would apply every workspace value.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SocksClient } from 'socks';
import type { Page } from 'playwright-core';
import {
  CodeServer,
  clearNotifications,
  fillInputBox,
  findVsix,
  freePort,
  installVsix,
  isListening,
  launchBrowser,
  closeBrowser,
  log,
  makeDirs,
  openWorkbench,
  pickQuickItem,
  readSettings,
  removeDirs,
  REPO_ROOT,
  runCommand,
  startProcess,
  VSCode,
  waitFor,
  waitForNotification,
  withTimeout,
  writeUserSettings,
  type Proc,
} from './harness';
import { connectionRow, EXTENSION_ID, hoverText, scenario as runScenario, statusItem, statusLabel, VIEW_CONTAINER, waitForPort, waitForStatusLabel } from './extensionUi';
import { curlViaProxy, holdPort, startHttpServer, type TestHttpServer } from './fixtures';

/** Failure evidence of these scenarios is named safety-<scenario>. */
const scenario = (vs: VSCode, name: string, fn: () => Promise<void>): Promise<void> => runScenario(vs, name, fn, 'safety-');

const USER = 'alice';
// Random per run, so that a hit can only come from this run's input.
const TAG = Math.random().toString(36).slice(2, 10);
const PASSWORD = `pw-${TAG}-Secret`;
const WRONG_PASSWORD = `wrong-${TAG}-Guess`;

// ------------------------------------------------------------------------------------------
// What the extension shows.

/** Everything the workbench page holds right now: markup (attributes: titles, aria labels) and text. */
async function pageDump(page: Page): Promise<string> {
  const html = String(await page.evaluate('document.documentElement.outerHTML'));
  const text = String(await page.evaluate('document.body.innerText'));
  return `${html}\n${text}`;
}

function assertNoSecret(where: string, text: string): void {
  for (const [what, secret] of [
    ['the password', PASSWORD],
    ['the wrong password a client tried', WRONG_PASSWORD],
  ] as const) {
    const at = text.indexOf(secret);
    assert.equal(at, -1, `${what} appears in ${where}: …${text.slice(Math.max(0, at - 120), at + secret.length + 40)}…`);
  }
}

// ------------------------------------------------------------------------------------------
// Files and sockets on this machine.

/** Every regular file under `dir` (bounded: 2,000 files, depth 12). */
function filesUnder(dir: string, depth = 0, out: string[] = []): string[] {
  if (depth > 12 || out.length >= 2_000) return out;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e);
    try {
      const st = statSync(p);
      if (st.isDirectory()) filesUnder(p, depth + 1, out);
      else if (st.isFile()) out.push(p);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Files under `dir` whose bytes contain `needle` (files up to 64 MiB). */
function filesContaining(dir: string, needle: string): string[] {
  const n = Buffer.from(needle, 'utf8');
  return filesUnder(dir).filter((f) => {
    try {
      return statSync(f).size <= 64 * 1024 * 1024 && readFileSync(f).includes(n);
    } catch {
      return false;
    }
  });
}

interface ListenSocket {
  address: string;
  port: number;
  inode: string;
}

/** Decodes /proc/net/tcp{,6}'s hex address (host byte order per 32-bit word, little-endian here). */
function decodeProcAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  const v6 = groups.join(':');
  // ::ffff:a.b.c.d
  if (/^0:0:0:0:0:ffff:/.test(v6)) return `::ffff:${bytes.slice(12).join('.')}`;
  return v6.replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

/** Every TCP socket in LISTEN state on this machine (IPv4 and IPv6). */
function listeningTcp(): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      const [addr, port] = f[1].split(':');
      out.push({ address: decodeProcAddress(addr), port: parseInt(port, 16), inode: f[9] });
    }
  }
  return out;
}

function isLoopbackAddress(a: string): boolean {
  return /^127\./.test(a) || a === '::1' || /^::ffff:127\./.test(a);
}

/** PIDs of the processes in process group `pgid` (code-server, its extension host, …). */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** The TCP listeners held by any process of the group (socket inodes matched against /proc/net). */
function groupListeners(pgid: number): ListenSocket[] {
  const inodes = new Set<string>();
  for (const pid of groupPids(pgid)) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return listeningTcp().filter((s) => inodes.has(s.inode));
}

/** The extension host processes of code-server (forked with `--type=extensionHost`). */
function extensionHostPids(pgid: number): number[] {
  return groupPids(pgid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('extensionHost');
    } catch {
      return false;
    }
  });
}

/** Whether `pid` is a live process (not gone, not a zombie). */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** How long the companion extension's deactivate keeps the old extension host alive. */
const HOLD_MS = 3_000;

/**
 * A companion test extension whose deactivate() takes HOLD_MS. VS Code waits for every
 * extension's deactivate (at most 5 s) before the extension host exits, so with it installed the
 * old extension host outlives a reload by HOLD_MS: whatever closes the proxy's sockets before then
 * is the SOCKS5 extension's own deactivate, not the kernel cleaning up after an exiting process.
 */
async function packageHoldExtension(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: 'hold-deactivate',
      publisher: 'socks5-e2e',
      version: '0.0.1',
      license: 'MIT',
      engines: { vscode: '^1.100.0' },
      main: './extension.js',
      activationEvents: ['onStartupFinished'],
      files: ['extension.js'],
    }),
  );
  writeFileSync(
    path.join(dir, 'extension.js'),
    `exports.activate = () => {};\nexports.deactivate = () => new Promise((resolve) => setTimeout(resolve, ${HOLD_MS}));\n`,
  );
  writeFileSync(path.join(dir, 'README.md'), '# e2e helper: slow deactivate\n');
  const vsix = path.join(dir, 'hold-deactivate.vsix');
  const vsce = path.join(REPO_ROOT, 'node_modules', '.bin', 'vsce');
  const p = startProcess('vsce package (hold-deactivate)', vsce, ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '-o', vsix], {
    cwd: dir,
  });
  try {
    const { code } = await withTimeout('vsce package (hold-deactivate)', 60_000, () => p.exited);
    if (code !== 0) throw new Error(`packaging the hold-deactivate extension failed (exit ${code}):\n${p.output}`);
  } finally {
    await p.stop();
  }
  return vsix;
}

/** This machine's own non-loopback addresses (connecting to them never leaves the machine). */
function ownNonLoopbackAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((i): i is os.NetworkInterfaceInfo => !!i && !i.internal && !i.address.startsWith('fe80:'))
    .map((i) => i.address);
}

// ------------------------------------------------------------------------------------------

describe(`SOCKS5 proxy extension safety in VS Code (code-server) — ${EXTENSION_ID}`, { timeout: 300_000 }, () => {
  let vs: VSCode;
  let page: Page;
  let web: TestHttpServer;
  let portP: number; // socks5.port in the workspace's .vscode/settings.json (must be ignored)
  let portQ: number; // socks5.port in the user's (remote machine) settings
  let workspaceSettings: string;
  const procs: Proc[] = [];
  const sockets: net.Socket[] = [];

  before(async () => {
    const vsix = findVsix();
    web = await startHttpServer();
    portP = await freePort();
    portQ = await freePort();
    log(`ports: workspace P=${portP}, user Q=${portQ}; http ${web.port}`);
    // VSCode.launch, with the workspace's .vscode/settings.json written before code-server starts.
    vs = new VSCode();
    try {
      const t0 = Date.now();
      vs.dirs = makeDirs('socks5-e2e-safety-');
      const keep = process.env.SOCKS5_E2E_KEEP === '1';
      vs.cleanup.add('remove temp folders', () => (keep ? log(`kept ${vs.dirs.root}`) : removeDirs(vs.dirs)));
      writeUserSettings(vs.dirs, {});
      // socks5.port is machine-scoped, and code-server's workbench is a remote window: its
      // machine settings are the Remote tab's file, Machine/settings.json (VS Code drops
      // machine-scoped keys from User/settings.json in a remote window once the extension's
      // settings are registered, so a value there applies only by a startup race).
      mkdirSync(path.join(vs.dirs.userDataDir, 'Machine'), { recursive: true });
      writeFileSync(path.join(vs.dirs.userDataDir, 'Machine', 'settings.json'), JSON.stringify({ 'socks5.port': portQ }, null, 2) + '\n');
      mkdirSync(path.join(vs.dirs.workspace, '.vscode'), { recursive: true });
      workspaceSettings = path.join(vs.dirs.workspace, '.vscode', 'settings.json');
      writeFileSync(
        workspaceSettings,
        JSON.stringify(
          {
            'socks5.host': '0.0.0.0',
            'socks5.port': portP,
            'socks5.allowUnauthenticatedRemote': true,
            'socks5.autoStart': true,
            // Not security-sensitive, so it does apply from the workspace: the control that proves
            // this file is read at all (the status tooltip then lists CONNECT, BIND only).
            'socks5.commands.udpAssociate': false,
          },
          null,
          2,
        ) + '\n',
      );
      await installVsix(vs.dirs, vsix);
      await installVsix(vs.dirs, await packageHoldExtension(path.join(vs.dirs.root, 'hold-deactivate')));
      vs.cs = await CodeServer.start(vs.dirs);
      vs.cleanup.add('stop code-server', () => vs.cs.stop());
      vs.browser = await launchBrowser();
      vs.cleanup.add('close Chromium', () => closeBrowser(vs.browser));
      vs.page = (await openWorkbench(vs.browser, vs.cs)).page;
      page = vs.page;
      await statusItem(page).waitFor({ state: 'visible', timeout: 60_000 });
      log(`workbench and extension up (${Date.now() - t0} ms)`);
    } catch (e) {
      await vs.close();
      throw e;
    }
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    for (const p of procs) await p.stop().catch(() => undefined);
    await vs?.close();
    await web?.close();
    for (const p of [portP, portQ]) {
      if (p !== undefined) assert.equal(await isListening(p), false, `port ${p} still open after teardown`);
    }
  });

  test('1. workspace-scoped security settings are ignored: no auto-start, the user port, loopback only', async () => {
    await scenario(vs, 'workspace settings ignored', async () => {
      // Not auto-started: the workspace's autoStart is ignored. A start would have begun as soon
      // as the extension activated (its status item is up); watch for a while to be sure.
      const deadline = Date.now() + 3_000;
      for (let i = 0; i < 30 && Date.now() < deadline; i++) {
        assert.match(await statusLabel(page), /stopped/, 'the proxy started from the workspace settings');
        assert.equal(await isListening(portQ), false, `something listens on the user port ${portQ} before Start`);
        assert.equal(await isListening(portP), false, `something listens on the workspace port ${portP}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Stopped, it offers to start on the user's address, not the workspace's.
      const stoppedTip = await hoverText(page, statusItem(page), 'SOCKS5 proxy: stopped');
      assert.match(stoppedTip, new RegExp(`Click to start on 127\\.0\\.0\\.1:${portQ}\\b`), stoppedTip);

      await clearNotifications(page);
      await runCommand(page, 'SOCKS5: Start Proxy');
      await waitForStatusLabel(page, new RegExp(`running on port ${portQ}\\b`));
      await waitForPort(portQ, true);
      assert.equal(await isListening(portP), false, `the workspace port ${portP} listens`);
      const r = await curlViaProxy(portQ, `http://localhost:${web.port}/`);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.body.includes(web.token), 'the page came through the proxy on the user port');

      // Loopback only: every TCP listener of code-server's process group (its extension host
      // included) is on loopback, the proxy's is on 127.0.0.1:Q, and nothing anywhere is on P.
      const listeners = groupListeners(vs.cs.proc.pid);
      log(`code-server group listeners: ${JSON.stringify(listeners.map((l) => `${l.address}:${l.port}`))}`);
      const exposed = listeners.filter((l) => !isLoopbackAddress(l.address));
      assert.deepEqual(exposed, [], 'code-server or its extension host listens on a non-loopback address');
      assert.deepEqual(
        listeners.filter((l) => l.port === portQ).map((l) => l.address),
        ['127.0.0.1'],
        'the proxy listens on 127.0.0.1:Q only',
      );
      assert.deepEqual(listeningTcp().filter((l) => l.port === portP), [], `a listener on the workspace port ${portP}`);
      // The machine's own non-loopback addresses (traffic to them stays on this machine).
      for (const addr of ownNonLoopbackAddresses()) {
        for (const p of [portP, portQ]) {
          assert.equal(await isListening(p, addr, 1_000), false, `${addr}:${p} accepts connections`);
        }
      }

      // The control: the workspace file was read (udpAssociate off from the workspace applies),
      // and the tooltip says the proxy listens on loopback only: code-server's window is a remote
      // window, so "only on the remote host" (a local window says "this machine only").
      const runningTip = await hoverText(page, statusItem(page), 'SOCKS5 proxy: running');
      assert.match(runningTip, new RegExp(`Address: 127\\.0\\.0\\.1:${portQ} on the remote host only`), runningTip);
      assert.match(runningTip, /Commands: CONNECT, BIND(?!, UDP)/, runningTip);
      // No "listens on 0.0.0.0 without authentication" warning: that setting was never used.
      const toasts = await page.locator('.notifications-toasts .notification-toast').allInnerTexts();
      assert.ok(!toasts.some((t) => /without authentication|0\.0\.0\.0/.test(t)), `unexpected notification: ${JSON.stringify(toasts)}`);
      await page.mouse.move(700, 450);
    });
  });

  test('2. a password set with SOCKS5: Set Password… is never shown: view, tooltips, log, notifications, settings files', async () => {
    await scenario(vs, 'password never shown', async () => {
      await waitForStatusLabel(page, new RegExp(`running on port ${portQ}\\b`), 5_000);
      // Add a user and its password the way a user does: palette → Add user… → name → password.
      await clearNotifications(page);
      await runCommand(page, 'SOCKS5: Set Password…');
      await pickQuickItem(page, 'Add user…');
      await fillInputBox(page, USER, { expectPassword: false, promptText: 'User name' });
      await fillInputBox(page, PASSWORD, { expectPassword: true, promptText: `Password for "${USER}"` });
      await waitForNotification(page, `User "${USER}" added`);
      log('step: user and password set');
      const users = [readSettings(vs.dirs, 'user'), readSettings(vs.dirs, 'remote')].map((s) => s['socks5.auth.users']);
      assert.ok(
        users.some((u) => Array.isArray(u) && u.includes(USER)),
        `the user was written to socks5.auth.users: ${JSON.stringify(users)}`,
      );

      // Authentication is on for new connections: anonymous and wrong-password clients are refused.
      const url = `http://localhost:${web.port}/`;
      await waitFor('anonymous clients to be refused', async () => (await curlViaProxy(portQ, url, { timeoutS: 5 })).code !== 0, {
        timeoutMs: 10_000,
        intervalMs: 500,
      });
      const wrong = await curlViaProxy(portQ, url, { user: `${USER}:${WRONG_PASSWORD}`, timeoutS: 5 });
      assert.notEqual(wrong.code, 0, 'curl with a wrong password got through');
      const ok = await curlViaProxy(portQ, url, { user: `${USER}:${PASSWORD}` });
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(ok.body.includes(web.token));

      log('step: curl refused / accepted');
      // A live authenticated session (a slow download) for the Connections view and its tooltip.
      const slow = startProcess('curl (slow, authenticated)', 'curl', [
        '-sS', '--max-time', '60', '--noproxy', '', '--socks5-hostname', `127.0.0.1:${portQ}`,
        '--proxy-user', `${USER}:${PASSWORD}`, '-o', '/dev/null', `http://localhost:${web.port}/slow`,
      ]);
      procs.push(slow);
      await runCommand(page, 'SOCKS5: Show Connections');
      const row = connectionRow(page, `localhost:${web.port}`);
      await row.waitFor({ state: 'visible', timeout: 15_000 });
      const rowTip = await hoverText(page, row, `User: ${USER}`);
      assert.match(rowTip, /CONNECT localhost:\d+ — established/, rowTip);
      assertNoSecret('the Connections row tooltip', rowTip);
      // The whole workbench while the row tooltip is open: the view, its rows, their labels.
      assertNoSecret('the workbench page (Connections view and row tooltip open)', await pageDump(page));
      const viewText = await page.locator(VIEW_CONTAINER).innerText();
      assert.ok(viewText.includes(`localhost:${web.port}`), 'the view lists the session');
      assertNoSecret('the Connections view', viewText);

      log('step: Connections view and row tooltip checked');
      const statusTip = await hoverText(page, statusItem(page), 'Authentication: on (1 user)');
      assertNoSecret('the status bar tooltip', statusTip);
      assertNoSecret('the workbench page (status tooltip open)', await pageDump(page));
      await page.mouse.move(700, 450);

      log('step: status tooltip checked');
      // Notifications: every one this session produced, in the notification center.
      await runCommand(page, 'Notifications: Show Notifications');
      const center = page.locator('.notifications-center');
      await center.waitFor({ state: 'visible', timeout: 10_000 });
      const centerText = await center.innerText();
      assert.ok(centerText.includes(`User "${USER}" added`), `the notification center lists this run's notifications: ${centerText}`);
      assertNoSecret('the notifications', centerText);
      await center.click({ position: { x: 10, y: 10 } }).catch(() => undefined); // focus it: Escape then hides it
      await page.keyboard.press('Escape');
      if (!(await center.waitFor({ state: 'hidden', timeout: 3_000 }).then(() => true, () => false))) {
        await center.locator('.action-label[aria-label^="Hide Notifications"]').first().click({ timeout: 5_000 });
        await center.waitFor({ state: 'hidden', timeout: 5_000 });
      }

      log('step: notifications checked');
      // The log: the "SOCKS5 Proxy" output channel as shown, and its file under logs/.
      await runCommand(page, 'SOCKS5: Show Log');
      const output = page.locator('[id="workbench.parts.panel"] .monaco-editor .view-lines').filter({ hasText: `Password for "${USER}"` }).first();
      await output.waitFor({ state: 'visible', timeout: 15_000 });
      const shown = await output.innerText();
      assert.match(shown, /auth/i, 'the log shows the authentication events');
      assertNoSecret('the SOCKS5 Proxy output channel', shown);
      const logsDir = path.join(vs.dirs.userDataDir, 'logs');
      const logFile = await waitFor(
        'the SOCKS5 Proxy log file to record the refused login',
        () => {
          const withUser = filesContaining(logsDir, `Password for "${USER}"`);
          return withUser.find((f) => readFileSync(f, 'utf8').includes('auth failed')) ?? false;
        },
        { timeoutMs: 10_000, intervalMs: 500 },
      );
      log(`log file: ${path.relative(vs.dirs.root, logFile)}`);
      assertNoSecret(logFile, readFileSync(logFile, 'utf8'));
      for (const secret of [PASSWORD, WRONG_PASSWORD]) {
        assert.deepEqual(filesContaining(logsDir, secret), [], `a file under ${logsDir} holds a password`);
        assert.deepEqual(filesContaining(vs.dirs.logs, secret), [], 'code-server output holds a password');
      }

      log('step: log checked');
      // Settings on disk: User/, Machine/ and the workspace's.
      for (const file of [
        path.join(vs.dirs.userDataDir, 'User', 'settings.json'),
        path.join(vs.dirs.userDataDir, 'Machine', 'settings.json'),
        workspaceSettings,
      ]) {
        let text = '';
        try {
          text = readFileSync(file, 'utf8');
        } catch {
          continue; // not written: nothing to leak
        }
        assertNoSecret(file, text);
      }
      // Where the password does live (VS Code's secret storage), for the report only.
      log(`files holding the password: ${JSON.stringify(filesContaining(vs.dirs.root, PASSWORD).map((f) => path.relative(vs.dirs.root, f)))}`);

      await slow.stop();
      await row.waitFor({ state: 'detached', timeout: 10_000 });
      await page.keyboard.press('Escape');
    });
  });

  test('3. Developer: Reload Window deactivates the extension: open sessions end, the port is released', async () => {
    await scenario(vs, 'deactivate releases port', async () => {
      await waitForStatusLabel(page, new RegExp(`running on port ${portQ}\\b`), 5_000);
      // Two open sessions: an idle CONNECT (socks client, authenticated) and a slow download.
      const { socket: idle } = await withTimeout('an idle CONNECT through the proxy', 10_000, () =>
        SocksClient.createConnection({
          proxy: { host: '127.0.0.1', port: portQ, type: 5, userId: USER, password: PASSWORD },
          command: 'connect',
          destination: { host: '127.0.0.1', port: web.port },
          timeout: 10_000,
        }),
      );
      sockets.push(idle);
      const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
      idle.on('error', () => undefined);
      const slowBefore = web.slow.length;
      const download = startProcess('curl (slow, across reload)', 'curl', [
        '-sS', '--max-time', '60', '--noproxy', '', '--socks5-hostname', `127.0.0.1:${portQ}`,
        '--proxy-user', `${USER}:${PASSWORD}`, '-o', '/dev/null', `http://localhost:${web.port}/slow`,
      ]);
      procs.push(download);
      await waitFor('the download to start', () => web.slow.length > slowBefore && web.slow.at(-1)!.sent > 0, { timeoutMs: 10_000 });
      await waitFor('the status bar to count both sessions', async () => /2 active connections/.test(await statusLabel(page)), {
        timeoutMs: 10_000,
      });

      // The extension host about to be stopped, and when it is still alive for each observation.
      const hosts = extensionHostPids(vs.cs.proc.pid);
      assert.equal(hosts.length, 1, `one extension host, found pids ${JSON.stringify(hosts)}`);
      const oldHost = hosts[0];
      let idleClosedWhileHostAlive: boolean | undefined;
      idle.once('close', () => (idleClosedWhileHostAlive = processAlive(oldHost)));
      const downloadEnded = download.exited.then((r) => ({ ...r, hostAlive: processAlive(oldHost) }));

      const t0 = Date.now();
      await runCommand(page, 'Developer: Reload Window');
      await withTimeout('the idle CONNECT to be closed by deactivate', 20_000, () => idleClosed);
      const { code, hostAlive } = await withTimeout('the download to end', 20_000, () => downloadEnded);
      assert.ok(code === 18 || code === 56, `curl exit code ${code} (${download.output.trim()}): cut, not completed`);
      await waitForPort(portQ, false);
      const portFreeWhileHostAlive = processAlive(oldHost);
      log(`sessions closed and port released ${Date.now() - t0} ms after Reload Window (old extension host ${oldHost} alive: ${portFreeWhileHostAlive})`);
      // Closed by the extension's deactivate, not by the old extension host's exit: the host
      // was still running (held by the companion's slow deactivate) when each happened.
      assert.equal(idleClosedWhileHostAlive, true, 'the idle CONNECT was closed only when the extension host exited');
      assert.equal(hostAlive, true, 'the download ended only when the extension host exited');
      assert.equal(portFreeWhileHostAlive, true, 'the port was released only when the extension host exited');
      const d = web.slow.at(-1)!;
      await waitFor('the web server to see the download aborted', () => d.aborted, { timeoutMs: 10_000 });
      assert.equal(d.finished, false);
      // And the old extension host does go away (VS Code waits at most 5 s for deactivate).
      await waitFor(`the old extension host (pid ${oldHost}) to exit`, () => !processAlive(oldHost), { timeoutMs: 15_000, intervalMs: 250 });

      // The reloaded window: a new extension host, proxy not auto-started (workspace autoStart is
      // still ignored), and the port is free for anyone.
      await statusItem(page).waitFor({ state: 'visible', timeout: 60_000 });
      await waitForStatusLabel(page, /stopped/);
      assert.equal(await isListening(portQ), false);
      assert.equal(await isListening(portP), false);
      const holder = await holdPort(portQ);
      await holder.close();
      // And the new extension host binds it again.
      await runCommand(page, 'SOCKS5: Start Proxy');
      await waitForStatusLabel(page, new RegExp(`running on port ${portQ}\\b`));
      const ok = await curlViaProxy(portQ, `http://localhost:${web.port}/`, { user: `${USER}:${PASSWORD}` });
      assert.equal(ok.code, 0, ok.stderr);
      await runCommand(page, 'SOCKS5: Stop Proxy');
      await waitForStatusLabel(page, /stopped/);
      await waitForPort(portQ, false);
    });
  });
});
