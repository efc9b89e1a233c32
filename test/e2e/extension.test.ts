// The extension in real VS Code: the packaged VSIX installed into code-server 4.100.3 (VS Code
// 1.100.3), driven through the web workbench by headless Chromium exactly as a user drives it
// (command palette, status bar, Connections view and its context menu, Settings editor, input
// boxes, notifications), and used by real clients: a second Chromium with --proxy-server, curl,
// python3-socks and the `socks` npm client. Issue 5's eight scenarios, in order, in one VS Code
// (starting one costs ~10-30 s): each scenario states what it needs and leaves the proxy in a
// state the next one expects.
//
// Screenshots for the README go to harness.ts's SCREENSHOTS (a temp folder; media/screenshots/
// with UPDATE_SCREENSHOTS=1); on a failure, a screenshot and the extension's log go to test-results/e2e/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SocksClient } from 'socks';
import type { Browser, Page } from 'playwright-core';
import {
  addListItemInUI,
  clearNotifications,
  closeBrowser,
  fillInputBox,
  findVsix,
  freePort,
  isListening,
  launchBrowser,
  log,
  pickQuickItem,
  proxyClientArgs,
  readSettings,
  runCommand,
  SCREENSHOTS,
  SEL,
  setSettingInUI,
  startProcess,
  statusTexts,
  VSCode,
  waitFor,
  waitForNotification,
  withTimeout,
  type Proc,
} from './harness';
import {
  connectionRow,
  contextMenuAction,
  EXTENSION_ID,
  parseTraffic,
  scenario,
  showConnections,
  sidebarShot,
  statusItem,
  statusItemText,
  VIEW_CONTAINER,
  waitForPort,
  waitForStatusLabel,
} from './extensionUi';
import { curlViaProxy, holdPort, pysocksGet, startHttpServer, startUdpEcho, type TestHttpServer, type UdpEcho } from './fixtures';


const USER = 'alice';
/**
 * socks5.host/port/auth.users are `machine`-scoped. code-server's workbench is a remote window
 * (like Remote-SSH): the Settings editor shows machine settings only on its "Remote" tab, which
 * writes <user-data-dir>/Machine/settings.json, the settings of the machine the proxy runs on.
 */
const MACHINE_TAB = 'remote' as const;
const PASSWORD = 'correct horse battery staple';

// ------------------------------------------------------------------------------------------
// What the extension shows, read the way a user reads it.


/** Waits until the SOCKS5 status item says the proxy runs on `port` (text and accessible label). */
async function waitForRunningOn(page: Page, port: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `the status bar item to show SOCKS5 :${port}`,
    async () => {
      const text = await statusItemText(page);
      const label = (await statusItem(page).getAttribute('aria-label')) ?? '';
      return text.includes(`SOCKS5 :${port}`) && label.includes(`running on port ${port}`);
    },
    { timeoutMs },
  ).catch(async (e: Error) => {
    throw new Error(`${e.message}; status bar: ${JSON.stringify(await statusTexts(page))}`);
  });
}



/** Makes the side bar wider (drags its sash) so that row descriptions are readable in screenshots. */
async function widenSidebar(page: Page, width: number): Promise<void> {
  const sidebar = page.locator(SEL.sidebar);
  const box = await sidebar.boundingBox();
  if (!box || box.width >= width) return;
  const x = box.x + box.width;
  const y = box.y + box.height / 2;
  await page.mouse.move(x - 1, y);
  await page.mouse.down();
  await page.mouse.move(box.x + width, y, { steps: 8 });
  await page.mouse.up();
}


// ------------------------------------------------------------------------------------------

describe(`SOCKS5 proxy extension in VS Code (code-server) — ${EXTENSION_ID}`, { timeout: 600_000 }, () => {
  let vs: VSCode;
  let page: Page;
  let web: TestHttpServer; // pages for Chromium and curl
  let slowWeb: TestHttpServer; // the slow download, on its own port so its row is unique
  let udpEcho: UdpEcho;
  let port1: number; // socks5.port in settings.json at start
  let port2: number; // socks5.port after the Settings editor change
  let port3: number; // the port held by another process
  const procs: Proc[] = [];
  const browsers: Browser[] = [];

  before(async () => {
    const vsix = findVsix();
    [web, slowWeb, udpEcho] = await Promise.all([startHttpServer(), startHttpServer(), startUdpEcho()]);
    port1 = await freePort();
    port2 = await freePort();
    port3 = await freePort();
    log(`ports: proxy ${port1} → ${port2} → ${port3}; http ${web.port}, slow ${slowWeb.port}, udp echo ${udpEcho.port}`);
    // A user's settings.json, written before VS Code starts, as a user would.
    vs = await VSCode.launch({ vsix, prefix: 'socks5-e2e-ext-', settings: { 'socks5.port': port1, 'socks5.autoStart': false } });
    page = vs.page;
    // The extension activates on startup finished: its status item is the sign that it is up.
    await statusItem(page).waitFor({ state: 'visible', timeout: 60_000 });
    await waitForStatusLabel(page, /stopped/);
  });

  after(async () => {
    for (const p of procs) await p.stop().catch(() => undefined);
    for (const b of browsers) await closeBrowser(b);
    await vs?.close();
    await Promise.all([web?.close(), slowWeb?.close(), udpEcho?.close()]);
    // Every port the proxy used is released once code-server is gone.
    for (const p of [port1, port2, port3]) {
      if (p !== undefined) assert.equal(await isListening(p), false, `port ${p} still open after teardown`);
    }
  });

  test('1. SOCKS5: Start Proxy from the command palette: the status bar shows the port', async () => {
    await scenario(vs, 'start from palette', async () => {
      // Stopped: the Connections view shows its welcome content with a Start button.
      const view = await showConnections(page);
      const welcome = view.locator('.welcome-view-content').filter({ hasText: 'The SOCKS5 proxy is not running.' });
      await welcome.waitFor({ state: 'visible', timeout: 10_000 });
      await welcome.locator('.monaco-button', { hasText: 'Start Proxy' }).waitFor({ state: 'visible', timeout: 5_000 });
      await widenSidebar(page, 520);
      await page.mouse.move(900, 500); // no hover highlight in the picture
      await sidebarShot(page, 'welcome-view', 240);
      assert.equal(await isListening(port1), false, 'nothing listens before Start');

      await runCommand(page, 'SOCKS5: Start Proxy');
      await waitForRunningOn(page, port1);
      assert.match(await statusItemText(page), new RegExp(`^SOCKS5 :${port1} · 0$`));
      // Running, nobody connected yet: the welcome content says so (checked before the probe
      // below connects, since any connection, even a probe, replaces it with the history).
      await view.locator('.welcome-view-content').filter({ hasText: 'The proxy is running' }).waitFor({ state: 'visible', timeout: 10_000 });
      await waitForPort(port1, true);

      // Screenshot: the status bar item with its tooltip.
      await statusItem(page).hover();
      const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'SOCKS5 proxy: running' }).first();
      await hover.waitFor({ state: 'visible', timeout: 10_000 });
      const vp = page.viewportSize()!;
      const hb = (await hover.boundingBox())!;
      const x = Math.max(0, Math.min(hb.x, vp.width - 620) - 20);
      const y = Math.max(0, hb.y - 10);
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, 'status-bar.png'), clip: { x, y, width: vp.width - x, height: vp.height - y } });
      await page.mouse.move(vp.width / 2, vp.height / 2);
    });
  });

  test('2. a second headless Chromium using the proxy loads a local page with the right content', async () => {
    await scenario(vs, 'chromium through proxy', async () => {
      await waitForRunningOn(page, port1, 5_000);
      const client = await launchBrowser(proxyClientArgs(port1));
      browsers.push(client);
      try {
        const ctx = await client.newContext();
        const tab = await ctx.newPage();
        const before = web.requests.length;
        const res = await tab.goto(`http://localhost:${web.port}/`, { timeout: 20_000 });
        assert.equal(res?.status(), 200);
        assert.equal(await tab.locator('#token').innerText(), web.token);
        assert.equal(await tab.title(), web.token);
        assert.ok(web.requests.length > before, 'the page server saw the request');
        // The proxy carried it: the Connections view lists Chromium's connection to localhost:PORT
        // (Chromium keeps it open; the proxy resolved the name: ATYP domain).
        await showConnections(page);
        const row = connectionRow(page, `localhost:${web.port}`);
        await row.waitFor({ state: 'visible', timeout: 15_000 });
        assert.match((await row.getAttribute('aria-label')) ?? '', /^SOCKS5 CONNECT localhost:\d+, established, from 127\.0\.0\.1:\d+$/);
      } finally {
        await closeBrowser(client);
        browsers.splice(browsers.indexOf(client), 1);
      }
      // Without the proxy, Chromium with the same flags cannot load it: the proxy really was used.
      await runCommand(page, 'SOCKS5: Stop Proxy');
      await waitForStatusLabel(page, /stopped/);
      await waitForPort(port1, false);
      const offline = await launchBrowser(proxyClientArgs(port1));
      browsers.push(offline);
      try {
        const tab = await (await offline.newContext()).newPage();
        await assert.rejects(tab.goto(`http://localhost:${web.port}/`, { timeout: 15_000 }), /ERR_PROXY_CONNECTION_FAILED|ERR_SOCKS_CONNECTION_FAILED|ERR_CONNECTION_REFUSED/);
      } finally {
        await closeBrowser(offline);
        browsers.splice(browsers.indexOf(offline), 1);
      }
      await runCommand(page, 'SOCKS5: Start Proxy');
      await waitForRunningOn(page, port1);
    });
  });

  test('3. a slow download shows in the Connections view (destination, bytes); Close Connection from its context menu ends it', async () => {
    await scenario(vs, 'connections view close', async () => {
      await waitForRunningOn(page, port1, 5_000);
      await showConnections(page);
      await widenSidebar(page, 560);
      // Two slow downloads through the proxy; the first is the one closed from the view.
      const url = `http://localhost:${slowWeb.port}/slow`;
      const curlArgs = (u: string): string[] => ['-sS', '--max-time', '90', '--noproxy', '', '--socks5-hostname', `127.0.0.1:${port1}`, '-o', '/dev/null', u];
      const curl = startProcess('curl (slow download)', 'curl', curlArgs(url));
      procs.push(curl);
      const other = startProcess('curl (second slow download)', 'curl', curlArgs(`http://localhost:${web.port}/slow`));
      procs.push(other);
      const label = `localhost:${slowWeb.port}`;
      const row = connectionRow(page, label);
      const otherRow = connectionRow(page, `localhost:${web.port}`);
      await row.waitFor({ state: 'visible', timeout: 15_000 });
      await otherRow.waitFor({ state: 'visible', timeout: 15_000 });
      // Bytes move: the description's ↓ figure grows while the download runs (polled view).
      const first = await waitFor(
        'the row to show bytes received',
        async () => {
          const t = parseTraffic(await row.locator('.label-description').innerText());
          return t && t.down > 0 ? t : undefined;
        },
        { timeoutMs: 15_000 },
      );
      const later = await waitFor(
        'the row to show more bytes',
        async () => {
          const t = parseTraffic(await row.locator('.label-description').innerText());
          return t && t.down > first.down ? t : undefined;
        },
        { timeoutMs: 15_000 },
      );
      assert.ok(later.up > 0, 'the request went up');
      assert.match((await row.getAttribute('aria-label')) ?? '', new RegExp(`^SOCKS5 CONNECT ${label}, established, from 127\\.0\\.0\\.1:\\d+$`));
      assert.match(await statusItemText(page), new RegExp(`^SOCKS5 :${port1} · 2$`), 'the status bar counts both connections');
      assert.ok(curl.running, 'the download is still running');
      await page.mouse.move(900, 500);
      await sidebarShot(page, 'connections-view', 200);

      // Close Connection from the row's context menu.
      await contextMenuAction(page, row, 'Close Connection');
      const { code } = await withTimeout('curl to end after Close Connection', 15_000, () => curl.exited);
      // curl: 18 = partial file, 56 = failure receiving: the transfer was cut, not completed.
      assert.ok(code === 18 || code === 56, `curl exit code ${code} (${curl.output.trim()})`);
      const download = slowWeb.slow.at(-1)!;
      await waitFor('the server to see the download aborted', () => download.aborted, { timeoutMs: 10_000 });
      assert.equal(download.finished, false);
      await row.waitFor({ state: 'detached', timeout: 10_000 });
      // Only that one: the other download goes on.
      assert.ok(other.running, 'the other download was not touched');
      await waitFor('the status bar count to drop to 1', async () => (await statusItemText(page)) === `SOCKS5 :${port1} · 1`, { timeoutMs: 10_000 });
      await other.stop();
      await otherRow.waitFor({ state: 'detached', timeout: 10_000 });
      await waitFor('the status bar count to drop to 0', async () => (await statusItemText(page)) === `SOCKS5 :${port1} · 0`, { timeoutMs: 10_000 });
      // The closed session is listed under "Recently closed" as closed by the user.
      const recent = page.locator(`${VIEW_CONTAINER} .monaco-list-row`).filter({ hasText: 'Recently closed' }).first();
      await recent.waitFor({ state: 'visible', timeout: 10_000 });
      if ((await recent.getAttribute('aria-expanded')) !== 'true') await recent.click();
      const closed = page.locator(`${VIEW_CONTAINER} .monaco-list-row`).filter({ hasText: label }).filter({ hasText: /closed by user/ }).first();
      await closed.waitFor({ state: 'visible', timeout: 10_000 });
    });
  });

  test('4. changing socks5.port in the Settings editor moves the proxy: the new port serves, the old one is closed', async () => {
    await scenario(vs, 'port change via settings', async () => {
      await waitForRunningOn(page, port1, 5_000);
      await setSettingInUI(page, vs.dirs, 'socks5.port', port2, MACHINE_TAB);
      await waitForRunningOn(page, port2);
      await waitForPort(port2, true);
      await waitForPort(port1, false);
      const r = await curlViaProxy(port2, `http://localhost:${web.port}/`);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.body.includes(web.token), 'the page came through the new port');
      const old = await curlViaProxy(port1, `http://localhost:${web.port}/`, { timeoutS: 5 });
      assert.notEqual(old.code, 0, 'the old port no longer serves');
    });
  });

  test('5. auth: a user added in the Settings editor, its password set with SOCKS5: Set Password…; curl without credentials is refused, with them it gets through', async () => {
    await scenario(vs, 'auth', async () => {
      await waitForRunningOn(page, port2, 5_000);
      // Add the user to socks5.auth.users in the Settings editor (list widget: Add Item).
      await addListItemInUI(page, vs.dirs, 'socks5.auth.users', USER, MACHINE_TAB);
      assert.deepEqual(readSettings(vs.dirs, MACHINE_TAB)['socks5.auth.users'], [USER]);

      // Set the password: palette → pick the user → password input box.
      await clearNotifications(page);
      await runCommand(page, 'SOCKS5: Set Password…');
      await pickQuickItem(page, USER);
      await fillInputBox(page, PASSWORD, { expectPassword: true, promptText: `Password for "${USER}"` });
      await waitForNotification(page, `Password for "${USER}" saved`);
      // The password is in secret storage, never in settings.json.
      for (const target of ['user', 'remote'] as const) {
        assert.ok(!JSON.stringify(readSettings(vs.dirs, target)).includes(PASSWORD), `the password is not in the ${target} settings`);
      }

      const url = `http://localhost:${web.port}/`;
      const before = web.requests.length;
      const anonymous = await curlViaProxy(port2, url, { timeoutS: 10 });
      assert.notEqual(anonymous.code, 0, `curl without credentials got through: ${anonymous.body.slice(0, 200)}`);
      const wrong = await curlViaProxy(port2, url, { user: `${USER}:wrong password`, timeoutS: 10 });
      assert.notEqual(wrong.code, 0, 'curl with a wrong password got through');
      assert.equal(web.requests.length, before, 'refused clients never reached the web server');

      const ok = await curlViaProxy(port2, url, { user: `${USER}:${PASSWORD}` });
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(ok.body.includes(web.token));
      // A second, independent SOCKS5 client: Debian's python3-socks with username/password.
      const py = await pysocksGet(port2, 'localhost', web.port, '/', { user: USER, password: PASSWORD });
      assert.equal(py.code, 0, py.stderr);
      assert.ok(py.stdout.includes(web.token));
      const pyAnon = await pysocksGet(port2, 'localhost', web.port, '/');
      assert.notEqual(pyAnon.code, 0, 'python3-socks without credentials got through');
    });
  });

  test('6. port in use: Start shows an error notification and the status bar error state; freeing the port and starting again works', async () => {
    await scenario(vs, 'port in use', async () => {
      await runCommand(page, 'SOCKS5: Stop Proxy');
      await waitForStatusLabel(page, /stopped/);
      await waitForPort(port2, false);
      const holder = await holdPort(port3);
      try {
        await setSettingInUI(page, vs.dirs, 'socks5.port', port3, MACHINE_TAB);
        await waitForStatusLabel(page, /stopped/); // a setting change does not start a stopped proxy
        await clearNotifications(page);
        await runCommand(page, 'SOCKS5: Start Proxy');
        const toast = await waitForNotification(page, /SOCKS5 proxy:/);
        const message = (await toast.locator('.notification-list-item-message').innerText()).replace(/\s+/g, ' ');
        assert.match(message, new RegExp(`${port3}`), `the notification names the port: ${message}`);
        assert.match(message, /in use|EADDRINUSE/i, `the notification says why: ${message}`);
        assert.ok((await toast.locator('.monaco-button', { hasText: 'Use Another Port' }).count()) > 0, 'offers Use Another Port');
        await waitForStatusLabel(page, /failed to start/);
        assert.equal(await statusItem(page).locator('.codicon-error').count(), 1, 'the status item shows the error icon');
        const bg = String(await statusItem(page).evaluate('(el) => getComputedStyle(el).backgroundColor'));
        assert.notEqual(bg, 'rgba(0, 0, 0, 0)', 'the status item has the error background');
        const view = await showConnections(page);
        await view.locator('.welcome-view-content').filter({ hasText: 'failed to start' }).waitFor({ state: 'visible', timeout: 10_000 });
      } finally {
        await holder.close();
      }
      await clearNotifications(page);
      await runCommand(page, 'SOCKS5: Start Proxy');
      await waitForRunningOn(page, port3);
      const ok = await curlViaProxy(port3, `http://localhost:${web.port}/`, { user: `${USER}:${PASSWORD}` });
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(ok.body.includes(web.token));
    });
  });

  test('7. clicking the status bar item stops the proxy and releases the port', async () => {
    await scenario(vs, 'status bar click stops', async () => {
      await waitForRunningOn(page, port3, 5_000);
      await waitForPort(port3, true);
      await statusItem(page).click();
      await waitForStatusLabel(page, /stopped/);
      await waitForPort(port3, false);
      // Released for real: another process can bind it now.
      const h = await holdPort(port3);
      await h.close();
      const r = await curlViaProxy(port3, `http://localhost:${web.port}/`, { user: `${USER}:${PASSWORD}`, timeoutS: 5 });
      assert.notEqual(r.code, 0);
    });
  });

  test('8. UDP ASSOCIATE and BIND through the proxy in the extension host (socks npm client)', async () => {
    await scenario(vs, 'udp and bind', async () => {
      // Start again with a click on the status item (it toggles).
      await statusItem(page).click();
      await waitForRunningOn(page, port3);
      const proxy = { host: '127.0.0.1', port: port3, type: 5 as const, userId: USER, password: PASSWORD };
      await showConnections(page);

      // UDP ASSOCIATE: one datagram to the echo server and its answer, through the relay.
      const udp = (await import('node:dgram')).createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(0, '127.0.0.1', () => resolve());
      });
      const assoc = new SocksClient({ proxy, command: 'associate', destination: { host: '127.0.0.1', port: udp.address().port }, timeout: 10_000 });
      const associated = new Promise<{ socket: net.Socket; relay: { host: string; port: number } }>((resolve, reject) => {
        assoc.once('established', (info) => resolve({ socket: info.socket, relay: info.remoteHost! }));
        assoc.once('error', reject);
      });
      assoc.connect();
      let control: net.Socket | undefined;
      try {
        const { socket, relay } = await withTimeout('the UDP ASSOCIATE reply', 10_000, () => associated);
        control = socket;
        const relayHost = relay.host === '0.0.0.0' || relay.host === '::' ? '127.0.0.1' : relay.host;
        const answer = new Promise<Buffer>((resolve) => udp.once('message', (m) => resolve(m)));
        const payload = Buffer.from(`ping-${Date.now()}`);
        udp.send(SocksClient.createUDPFrame({ remoteHost: { host: '127.0.0.1', port: udpEcho.port }, data: payload }), relay.port, relayHost);
        const frame = SocksClient.parseUDPFrame(await withTimeout('the UDP echo through the relay', 10_000, () => answer));
        assert.equal(frame.data.toString(), `echo:${payload.toString()}`);
        assert.equal(frame.remoteHost.port, udpEcho.port);
        assert.deepEqual(udpEcho.received, [payload.toString()]);
        // The association is listed in the Connections view while it lasts.
        await page
          .locator(`${VIEW_CONTAINER} .monaco-list-row`)
          .filter({ has: page.locator('.label-name', { hasText: /^UDP relay / }) })
          .first()
          .waitFor({ state: 'visible', timeout: 15_000 });
      } finally {
        udp.close();
        control?.destroy();
      }

      // BIND: the proxy listens for one inbound connection; a peer connects; data both ways.
      const client = new SocksClient({ proxy, command: 'bind', destination: { host: '127.0.0.1', port: 0 }, timeout: 10_000 });
      const bound = new Promise<{ host: string; port: number }>((resolve, reject) => {
        client.once('bound', (info) => resolve(info.remoteHost!));
        client.once('error', reject);
      });
      const established = new Promise<net.Socket>((resolve, reject) => {
        client.once('established', (info) => resolve(info.socket));
        client.once('error', reject);
      });
      client.connect();
      const listen = await withTimeout('the BIND first reply', 10_000, () => bound);
      const peerHost = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
      const peer = net.connect({ host: peerHost, port: listen.port });
      try {
        const sock = await withTimeout('the BIND second reply', 10_000, () => established);
        try {
          const fromPeer = new Promise<string>((resolve) => sock.once('data', (d) => resolve(d.toString())));
          const fromClient = new Promise<string>((resolve) => peer.once('data', (d) => resolve(d.toString())));
          peer.write('hello from the peer');
          sock.write('hello from the client');
          assert.equal(await withTimeout('peer → client data', 10_000, () => fromPeer), 'hello from the peer');
          assert.equal(await withTimeout('client → peer data', 10_000, () => fromClient), 'hello from the client');
          const bindRow = page.locator(`${VIEW_CONTAINER} .monaco-list-row[aria-label^="SOCKS5 BIND "]`).first();
          await bindRow.waitFor({ state: 'visible', timeout: 15_000 });
        } finally {
          sock.destroy();
        }
      } finally {
        peer.destroy();
      }
    });
  });
});
