// Issue 13 (reach) in real VS Code: code-server 4.100.3 (= VS Code 1.100.3) with the packaged
// VSIX, driven by headless Chromium. code-server is a remote window (vscode.env.remoteName is set)
// running in a browser tab, the case where VS Code cannot forward TCP:
//   1. with socks5.remote.forwardOnStart on, starting the proxy shows the honest browser-host
//      message (no URL that cannot carry SOCKS5 is offered or copied) with the ssh recipe, whose
//      button copies it; what asExternalUri returned is logged;
//   2. with socks5.terminal.proxyEnvironment on, a plain `curl http://127.0.0.2:PORT/` typed into
//      a new integrated terminal (no proxy flags) is a live connection in the Connections view;
//      after Stop Proxy a new terminal has no proxy variables and its curl goes direct;
//   3. "Use This Proxy With…" copies the curl line (read back from Chromium's clipboard) and that
//      line, run as copied, fetches a page through the proxy;
//   4. settings follow: the HTTP door switched off live leaves HTTP_PROXY out of new terminals;
//      a new port moves the listener and the forward is asked for again;
//   5. SOCKS5: Get Started opens the walkthrough with its steps;
//   6. with a user, new terminals get no proxy variables (and no password) until
//      socks5.terminal.includeCredentials is on; then ALL_PROXY carries it (the log never does).
// Screenshots for the README's "Use it from your laptop" section go to SCREENSHOTS.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { EXAMPLE_URL } from '../../src/vscode/recipes';
import {
  clearNotifications,
  fillInputBox,
  findVsix,
  freePort,
  log,
  pickQuickItem,
  runCommand,
  SCREENSHOTS,
  SEL,
  settingsFile,
  sleep,
  VSCode,
  waitFor,
  waitForNotification,
} from './harness';
import { EXTENSION_ID, scenario as runScenario, statusItem, VIEW_CONTAINER, waitForPort, waitForStatusLabel } from './extensionUi';

const scenario = (vs: VSCode, name: string, fn: () => Promise<void>): Promise<void> => runScenario(vs, name, fn, 'reach-');

/** A loopback HTTP server on 127.0.0.2 (outside NO_PROXY): `/` streams slowly (≤ 30 s), `/quick` answers at once. */
interface Target {
  port: number;
  token: string;
  requests: string[];
  close(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  const token = `reach-${Math.random().toString(36).slice(2, 10)}`;
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/quick') {
      res.end(`${token}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write(`${token}\n`);
    let n = 0;
    const timer = setInterval(() => {
      if (res.destroyed || ++n > 150) {
        clearInterval(timer);
        timers.delete(timer);
        res.end();
        return;
      }
      res.write('.');
    }, 200);
    timers.add(timer);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    token,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * The Connections view's row for a connection to 127.0.0.2:PORT, whichever door carried it
 * (`127.0.0.2:PORT` through SOCKS5, `GET 127.0.0.2:PORT` through the HTTP door).
 */
function targetRow(page: Page, port: number): Locator {
  return page
    .locator(`${VIEW_CONTAINER} .monaco-list-row`)
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`(^|\\s)127\\.0\\.0\\.2:${port}\\s*$`) }) })
    .first();
}

async function showConnections(page: Page): Promise<void> {
  await runCommand(page, 'SOCKS5: Show Connections');
  await page.locator(VIEW_CONTAINER).waitFor({ state: 'visible', timeout: 15_000 });
}

/** Opens a new integrated terminal and runs `line` in its shell (bash). */
async function inNewTerminal(page: Page, line: string): Promise<void> {
  await runCommand(page, 'Terminal: Create New Terminal');
  await page.locator('.terminal-wrapper.active .xterm, .terminal .xterm').last().waitFor({ state: 'visible', timeout: 20_000 });
  await sleep(4_000); // the shell's prompt (typing before it shows gets echoed twice, harmlessly)
  await page.keyboard.type(line, { delay: 5 });
  await page.keyboard.press('Enter');
}

/** Runs a command line in bash from the test (not in VS Code), bounded. */
function bash(script: string, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/_proxy$/i.test(k)) env[k] = v;
    const child = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The browser's clipboard (the workbench's origin has clipboard-read): what the extension copied. */
const readClipboard = (page: Page): Promise<string> => page.evaluate<string>('navigator.clipboard.readText()');
const writeClipboard = (page: Page, text: string): Promise<unknown> => page.evaluate(`navigator.clipboard.writeText(${JSON.stringify(text)})`);

async function readFileWhenThere(file: string, what: string, timeoutMs = 20_000): Promise<string> {
  return waitFor(what, () => (existsSync(file) && readFileSync(file, 'utf8').includes('END') ? readFileSync(file, 'utf8') : undefined), { timeoutMs });
}

describe(`reach: use from this computer, proxy-aware terminals, Use This Proxy With… (${EXTENSION_ID})`, { timeout: 600_000 }, () => {
  let vs: VSCode;
  let page: Page;
  let target: Target;
  let port: number;
  let out: string;

  before(async () => {
    const vsix = findVsix();
    target = await startTarget();
    port = await freePort();
    log(`proxy port ${port}; target http://127.0.0.2:${target.port}/`);
    vs = await VSCode.launch({
      vsix,
      prefix: 'socks5-e2e-reach-',
      settings: { 'socks5.port': port, 'socks5.remote.forwardOnStart': true, 'socks5.terminal.proxyEnvironment': true },
    });
    page = vs.page;
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: vs.cs.url });
    out = path.join(vs.dirs.root, 'out');
    mkdirSync(out, { recursive: true });
    await statusItem(page).waitFor({ state: 'visible', timeout: 60_000 });
    await waitForStatusLabel(page, /stopped/);
  });

  after(async () => {
    await vs?.close();
    await target?.close();
  });

  test('1. forwardOnStart in a browser-based window: the honest message and the ssh recipe, no broken URL', async () => {
    await scenario(vs, 'browser host forward', async () => {
      await writeClipboard(page, '(nothing copied)');
      await runCommand(page, 'SOCKS5: Start Proxy');
      await waitForStatusLabel(page, new RegExp(`running on port ${port}`));
      await waitForPort(port, true);
      const toast = await waitForNotification(page, /cannot carry SOCKS5/, { timeoutMs: 30_000 });
      const text = (await toast.innerText()).replace(/\s+/g, ' ');
      log(`notification: ${text}`);
      // What VS Code's asExternalUri returned here, from the extension's log.
      const logs = vs.cs.extensionHostLogs(200_000);
      const returned = /asExternalUri\(http:\/\/127\.0\.0\.1:(\d+)\/?\) returned (\S+)/.exec(logs);
      assert.ok(returned, 'the extension logged what asExternalUri returned');
      log(`asExternalUri(http://127.0.0.1:${port}) returned ${returned[2]}`);
      assert.equal(Number(returned[1]), port);
      assert.match(text, /runs in a web browser/);
      assert.match(text, new RegExp(`ssh -N -L ${port}:127\\.0\\.0\\.1:${port} `));
      assert.ok(!text.includes(returned[2]), 'the HTTP-only URL is not offered');
      assert.doesNotMatch(text, /\/proxy\/|socks5h?:\/\//);
      assert.equal(await readClipboard(page), '(nothing copied)', 'nothing was copied at start');
      mkdirSync(SCREENSHOTS, { recursive: true });
      await toast.screenshot({ path: path.join(SCREENSHOTS, 'reach-browser-host.png') });
      // Its button copies the recipe.
      await toast.locator('.monaco-button', { hasText: 'Copy ssh Command' }).click();
      await waitFor('the ssh command on the clipboard', async () => /^ssh -N -L /.test(await readClipboard(page)), { timeoutMs: 10_000 });
      const ssh = await readClipboard(page);
      log(`copied: ${ssh}`);
      assert.match(ssh, new RegExp(`^ssh -N -L ${port}:127\\.0\\.0\\.1:${port} \\S+$`));
      // The Connections view says where its address works.
      await showConnections(page);
      // (The view's description; with one view in its container VS Code keeps it in the DOM of the
      // merged title.)
      await page.locator(SEL.sidebar).getByText(`127.0.0.1:${port} on the remote`).first().waitFor({ state: 'attached', timeout: 10_000 });
      await clearNotifications(page);
    });
  });

  test('2. proxy-aware terminals: a plain curl in a new terminal is a live connection; after Stop a new terminal goes direct', async () => {
    await scenario(vs, 'terminal environment', async () => {
      const env1 = path.join(out, 'env1.txt');
      const before = target.requests.length;
      await inNewTerminal(page, `env | grep -iE '^(all|http|https|no)_proxy=' | sort > ${env1}; echo END >> ${env1}; curl -sS -o /dev/null http://127.0.0.2:${target.port}/`);
      const env = await readFileWhenThere(env1, 'the first terminal to write its environment');
      log(`terminal environment:\n${env}`);
      assert.match(env, new RegExp(`^ALL_PROXY=socks5h://127\\.0\\.0\\.1:${port}$`, 'm'));
      assert.match(env, /^NO_PROXY=localhost,127\.0\.0\.1,::1$/m);
      assert.match(env, /^no_proxy=localhost,127\.0\.0\.1,::1$/m);
      // The curl shows up as a live connection to 127.0.0.2:PORT.
      await showConnections(page);
      const row = targetRow(page, target.port);
      await row.waitFor({ state: 'visible', timeout: 20_000 });
      log(`row: ${await row.getAttribute('aria-label')}`);
      assert.match((await row.getAttribute('aria-label')) ?? '', /established/);
      assert.ok(target.requests.length > before, 'the target saw the request');
      // The terminal's curl and its row, side by side.
      await page.screenshot({ path: path.join(SCREENSHOTS, 'reach-terminal-connection.png'), clip: { x: 0, y: 0, width: 1400, height: 700 } });
      await page.keyboard.press('Control+C');

      await runCommand(page, 'SOCKS5: Stop Proxy');
      await waitForStatusLabel(page, /stopped/);
      await waitForPort(port, false);
      await waitFor('the log to say the forward is dropped', () => /the proxy stopped; the forward is no longer offered/.test(vs.cs.extensionHostLogs(400_000)), { timeoutMs: 10_000 });
      const env2 = path.join(out, 'env2.txt');
      const direct = target.requests.length;
      await inNewTerminal(page, `(env | grep -ciE '^(all|http|https|no)_proxy='; curl -sS --max-time 10 http://127.0.0.2:${target.port}/quick; echo END) > ${env2} 2>&1`);
      const after2 = await readFileWhenThere(env2, 'the second terminal to write its environment');
      log(`after stop: ${JSON.stringify(after2)}`);
      assert.match(after2, /^0\n/, 'no proxy variable in a terminal opened after Stop');
      assert.match(after2, new RegExp(target.token), 'its curl reached the target directly');
      assert.equal(target.requests.length, direct + 1);
      // Nothing is listed: the proxy is not running (the view shows its welcome content).
      await showConnections(page);
      await page.locator(`${VIEW_CONTAINER} .welcome-view-content`).filter({ hasText: 'The SOCKS5 proxy is not running.' }).waitFor({ state: 'visible', timeout: 10_000 });
      assert.equal(await targetRow(page, target.port).count(), 0);
    });
  });

  test('3. Use This Proxy With… copies the curl line, and that line works as copied', async () => {
    await scenario(vs, 'use with curl', async () => {
      await runCommand(page, 'SOCKS5: Start Proxy');
      await waitForStatusLabel(page, new RegExp(`running on port ${port}`));
      await waitForNotification(page, /cannot carry SOCKS5/, { timeoutMs: 30_000 });
      await clearNotifications(page);
      await runCommand(page, 'SOCKS5: Use This Proxy With…');
      await page.locator(SEL.quickInputRow).first().waitFor({ state: 'visible', timeout: 10_000 });
      await page.locator(SEL.quickInput).screenshot({ path: path.join(SCREENSHOTS, 'reach-use-with.png') });
      await pickQuickItem(page, 'curl');
      await waitFor('the curl line on the clipboard', async () => /^curl /.test(await readClipboard(page)), { timeoutMs: 10_000 });
      const copied = await readClipboard(page);
      log(`copied: ${copied}`);
      assert.equal(copied, `curl --proxy socks5h://127.0.0.1:${port} ${EXAMPLE_URL}`);
      const said = await waitForNotification(page, /Copied the curl line/);
      assert.match(await said.innerText(), new RegExp(`127\\.0\\.0\\.1:${port} \\(on the remote host only\\)`));
      const before = target.requests.length;
      const r = await bash(`${copied.replace(EXAMPLE_URL, `http://127.0.0.2:${target.port}/quick`)} -sS --max-time 10`);
      assert.equal(r.stdout, `${target.token}\n`, r.stderr);
      assert.equal(target.requests.length, before + 1);
      // It went through the proxy: the connection is in the view's history.
      await showConnections(page);
      await page.locator(`${VIEW_CONTAINER} .monaco-list-row`).filter({ hasText: 'Recently closed' }).first().click();
      await targetRow(page, target.port).waitFor({ state: 'visible', timeout: 15_000 });
      await clearNotifications(page);
    });
  });

  test('4. settings follow live: HTTP door off → no HTTP_PROXY in new terminals; a new port is forwarded again', async () => {
    await scenario(vs, 'settings follow', async () => {
      await waitForStatusLabel(page, new RegExp(`running on port ${port}`));
      // The Remote tab's file (Machine/settings.json): code-server picks up its rewrites at once.
      const machine = settingsFile(vs.dirs, 'remote');
      const write = (extra: Record<string, unknown>): void => {
        const cur = existsSync(machine) ? (JSON.parse(readFileSync(machine, 'utf8')) as Record<string, unknown>) : {};
        writeFileSync(machine, `${JSON.stringify({ ...cur, ...extra }, null, 2)}\n`);
      };
      write({ 'socks5.protocols.http': false });
      await waitFor('the HTTP door to be switched off live', () => /Terminal environment: new terminals get ALL_PROXY, NO_PROXY →/.test(vs.cs.extensionHostLogs(400_000)), { timeoutMs: 20_000 });
      const env3 = path.join(out, 'env3.txt');
      await inNewTerminal(page, `(env | grep -iE '^(all|http|https|no)_proxy=' | sort; echo END) > ${env3}`);
      const env = await readFileWhenThere(env3, 'the third terminal to write its environment');
      log(`HTTP door off:\n${env}`);
      assert.match(env, new RegExp(`^ALL_PROXY=socks5h://127\\.0\\.0\\.1:${port}$`, 'm'));
      assert.doesNotMatch(env, /HTTP_PROXY|HTTPS_PROXY/i);

      const moved = await freePort();
      write({ 'socks5.port': moved });
      await waitForStatusLabel(page, new RegExp(`running on port ${moved}`));
      await waitFor(`a forward of the new port ${moved}`, () => new RegExp(`asExternalUri\\(http://127\\.0\\.0\\.1:${moved}/?\\) returned`).test(vs.cs.extensionHostLogs(400_000)), { timeoutMs: 20_000 });
      await waitForNotification(page, new RegExp(`ssh -N -L ${moved}:127\\.0\\.0\\.1:${moved} `), { timeoutMs: 20_000 });
      port = moved;
      await clearNotifications(page);
    });
  });

  test('5. SOCKS5: Get Started opens the walkthrough with its steps', async () => {
    await scenario(vs, 'walkthrough', async () => {
      await runCommand(page, 'SOCKS5: Get Started');
      const walk = page.locator('.gettingStartedContainer');
      await walk.getByText('Get Started with the SOCKS5 Proxy').first().waitFor({ state: 'visible', timeout: 20_000 });
      for (const step of ['Start the proxy', 'Use it from this computer', 'Point a tool at it', 'Watch its connections']) {
        await walk.getByText(step, { exact: true }).first().waitFor({ state: 'visible', timeout: 10_000 });
      }
      await page.mouse.move(5, 5);
      await walk.screenshot({ path: path.join(SCREENSHOTS, 'reach-walkthrough.png') });
    });
  });
  test('6. with a user, terminals get no password unless socks5.terminal.includeCredentials is on', async () => {
    await scenario(vs, 'terminal credentials', async () => {
      await waitForStatusLabel(page, new RegExp(`running on port ${port}`));
      const password = `pw-${Math.random().toString(36).slice(2, 8)}`;
      await runCommand(page, 'SOCKS5: Set Password…');
      await pickQuickItem(page, 'Add user…');
      await fillInputBox(page, 'alice', { expectPassword: false, promptText: 'User name' });
      await fillInputBox(page, password, { expectPassword: true, promptText: 'Password for "alice"' });
      await waitForNotification(page, /New terminals get no proxy variables/, { timeoutMs: 20_000 });
      const env4 = path.join(out, 'env4.txt');
      await inNewTerminal(page, `(env | grep -ciE '^(all|http|https|no)_proxy='; env | grep -c -- ${password}; echo END) > ${env4}`);
      const none = await readFileWhenThere(env4, 'the fourth terminal to write its environment');
      assert.match(none, /^0\n0\n/, `no proxy variable and no password: ${JSON.stringify(none)}`);

      const machine = settingsFile(vs.dirs, 'remote');
      const cur = JSON.parse(readFileSync(machine, 'utf8')) as Record<string, unknown>;
      writeFileSync(machine, `${JSON.stringify({ ...cur, 'socks5.terminal.includeCredentials': true }, null, 2)}\n`);
      await waitFor('the credentials to reach the terminal variables', () => /Terminal environment: new terminals get ALL_PROXY, NO_PROXY → socks5h:\/\/alice:<password>@/.test(vs.cs.extensionHostLogs(400_000)), { timeoutMs: 20_000 });
      const env5 = path.join(out, 'env5.txt');
      await inNewTerminal(page, `(env | grep -E '^ALL_PROXY='; echo END) > ${env5}`);
      const withCred = await readFileWhenThere(env5, 'the fifth terminal to write its environment');
      assert.match(withCred, new RegExp(`^ALL_PROXY=socks5h://alice:${password}@127\\.0\\.0\\.1:${port}$`, 'm'));
      // The log names the user, never the password.
      assert.ok(!vs.cs.extensionHostLogs(400_000).includes(password), 'the password is not in the log');
      await clearNotifications(page);
    });
  });
});
