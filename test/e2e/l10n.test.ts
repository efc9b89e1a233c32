// The extension in Simplified Chinese, in real VS Code (code-server), the way a user gets there:
// install a Chinese language pack (Extensions: Install from VSIX…), switch the display language,
// restart. Then the palette command titles, the status bar item, the Connections view (its name,
// a live row and its screen-reader label) and a notification come from package.nls.zh-cn.json and
// l10n/bundle.l10n.zh-cn.json.
//
// The real language pack (MS-CEINTL.vscode-language-pack-zh-hans) comes from the Marketplace,
// which this machine cannot reach: the fixture in fixtures/zh-cn-language-pack is a language pack
// that translates nothing of VS Code itself. So the workbench stays English around us, and every
// Chinese word on screen is this extension's own.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { SocksClient } from 'socks';
import { connectionRow, EXTENSION_ID, scenario, statusItem, statusLabel, VIEW_CONTAINER, waitForPort, waitForStatusLabel } from './extensionUi';
import {
  Cleanup,
  CodeServer,
  findVsix,
  freePort,
  installVsix,
  launchBrowser,
  log,
  makeDirs,
  openWorkbench,
  removeDirs,
  REPO_ROOT,
  runCommand,
  runProcess,
  screenshot,
  SEL,
  sleep,
  waitFor,
  waitForNotification,
  writeUserSettings,
  type Dirs,
  type VSCode,
} from './harness';

const readJson = (...p: string[]): Record<string, string> => JSON.parse(readFileSync(path.join(REPO_ROOT, ...p), 'utf8'));
const zhRuntime = readJson('l10n', 'bundle.l10n.zh-cn.json');
const zhManifest = readJson('package.nls.zh-cn.json');
/** The Chinese of a runtime message, {N} filled in (fails when the bundle has none). */
const zh = (message: string, ...args: Array<string | number>): string => {
  const v = zhRuntime[message];
  assert.ok(v, `no zh-cn translation for ${JSON.stringify(message)}`);
  return v.replace(/\{(\d+)\}/g, (_, i: string) => String(args[Number(i)]));
};
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Screenshots for the README only when asked for; otherwise into the run's temp folder. */
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(REPO_ROOT, 'media', 'screenshots') : undefined;

async function packLanguagePack(dir: string): Promise<string> {
  const out = path.join(dir, 'zh-cn-language-pack.vsix');
  const fixture = path.join(REPO_ROOT, 'test', 'e2e', 'fixtures', 'zh-cn-language-pack');
  const vsce = path.join(REPO_ROOT, 'node_modules', '.bin', 'vsce');
  // vsce packages the folder it runs in.
  const r = await runProcess('vsce (fixture)', 'bash', [
    '-c',
    'cd "$1" && exec "$2" package --no-dependencies --allow-missing-repository --skip-license -o "$3"',
    'pack',
    fixture,
    vsce,
    out,
  ]);
  assert.equal(r.code, 0, `vsce package (fixture) failed:\n${r.stdout}${r.stderr}`);
  return out;
}

/** A TCP server on loopback that holds every connection open (the live row's destination). */
async function holdServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.write(Buffer.alloc(48 * 1024, 0x61)); // some traffic for the row to show
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe(`${EXTENSION_ID} in Simplified Chinese (language pack + --locale zh-cn)`, { timeout: 400_000 }, () => {
  const cleanup = new Cleanup();
  let dirs: Dirs;
  let page: Page;
  let cs: CodeServer;
  let proxyPort: number;
  let target: { port: number; close: () => Promise<void> };
  let tmp: string;

  before(async () => {
    proxyPort = await freePort();
    target = await holdServer();
    cleanup.add('stop the target', () => target.close());
    tmp = mkdtempSync(path.join(os.tmpdir(), 'socks5-e2e-langpack-'));
    cleanup.add('remove the fixture folder', () => rmSync(tmp, { recursive: true, force: true }));
    const languagePack = await packLanguagePack(tmp);

    dirs = makeDirs('socks5-e2e-l10n-');
    cleanup.add('remove temp folders', () => (process.env.SOCKS5_E2E_KEEP === '1' ? log(`kept ${dirs.root}`) : removeDirs(dirs)));
    writeUserSettings(dirs, { 'socks5.port': proxyPort });
    await installVsix(dirs, findVsix());
    const browser = await launchBrowser();
    cleanup.add('close Chromium', () => browser.close());

    // 1. English VS Code: install the language pack as a user does.
    cs = await CodeServer.start(dirs);
    let wb = await openWorkbench(browser, cs);
    await statusItem(wb.page).waitFor({ state: 'visible', timeout: 60_000 });
    await waitForStatusLabel(wb.page, /^SOCKS5 proxy stopped$/);
    // Extensions: Install from VSIX… opens VS Code's simple file dialog: type the path, Enter.
    // Done when VS Code has registered the language pack (its cache of language packs names it);
    // a busy machine can swallow the first try, so it is retried once.
    const languagePacks = path.join(dirs.userDataDir, 'languagepacks.json');
    const registered = (): boolean => existsSync(languagePacks) && readFileSync(languagePacks, 'utf8').includes('"zh-cn"');
    for (let attempt = 1; attempt <= 2 && !registered(); attempt++) {
      await runCommand(wb.page, 'Extensions: Install from VSIX...');
      const input = wb.page.locator(SEL.quickInputBox);
      await input.waitFor({ state: 'visible', timeout: 15_000 });
      await input.fill(languagePack);
      await sleep(500);
      await wb.page.keyboard.press('Enter');
      await waitFor('the language pack to be registered', async () => registered(), { timeoutMs: 60_000 }).catch((e: Error) =>
        log(`install attempt ${attempt}: ${e.message}`),
      );
    }
    assert.ok(registered(), `VS Code did not register the language pack (${languagePacks})`);
    // VS Code now offers the language.
    await runCommand(wb.page, 'Configure Display Language');
    await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: '中文(简体)' }).waitFor({ state: 'visible', timeout: 15_000 });
    await wb.page.keyboard.press('Escape');
    await wb.context.close();
    await cs.stop();

    // 2. Restart in Chinese (code-server takes the display language from --locale).
    cs = await CodeServer.start(dirs, { extraArgs: ['--locale', 'zh-cn'] });
    cleanup.add('stop code-server', () => cs.stop());
    wb = await openWorkbench(browser, cs);
    page = wb.page;
    await statusItem(page).waitFor({ state: 'visible', timeout: 60_000 });
  });

  after(async () => {
    await cleanup.run();
    assert.equal(await new Promise((r) => net.connect(proxyPort, '127.0.0.1').once('connect', () => r(true)).once('error', () => r(false))), false);
  });

  const vsLike = (): VSCode => ({ page, cs, dirs }) as unknown as VSCode;

  test('the status bar item speaks Chinese before the proxy starts', async () => {
    log(`status item label: ${await statusLabel(page)}`);
    await waitForStatusLabel(page, new RegExp(`^${escapeRe(zh('SOCKS5 proxy stopped'))}$`));
  });

  test('palette command in Chinese starts the proxy; status bar, Connections view, a row and a notification in Chinese', async () => {
    await scenario(vsLike(), 'zh-cn', async () => {
      // Stopped, the side bar's title names the container and its one view: "SOCKS5: 连接".
      await runCommand(page, `SOCKS5: ${zhManifest['command.showConnections.title']}`);
      const sidebar = page.locator('#workbench\\.parts\\.sidebar');
      const title = `${zhManifest['viewsContainer.activitybar.socks5.title']}: ${zhManifest['view.connections.name']}`;
      await waitFor(`the side bar title "${title}"`, async () => (await sidebar.innerText()).toUpperCase().includes(title.toUpperCase()), {
        timeoutMs: 10_000,
      });
      // The command palette shows the Chinese title from package.nls.zh-cn.json.
      await runCommand(page, `SOCKS5: ${zhManifest['command.start.title']}`);
      await waitForPort(proxyPort, true, 20_000);
      await waitForStatusLabel(page, new RegExp(`^${escapeRe(zh('SOCKS5 proxy running on port {0}, {1}', proxyPort, zh('{0} active connections', 0)))}$`));

      // A live CONNECT to a name (resolved by the proxy) shows as a row whose screen-reader label
      // is a Chinese sentence.
      const held = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
        command: 'connect',
        destination: { host: 'localhost', port: target.port },
        timeout: 10_000,
      });
      held.socket.on('data', () => {});
      try {
        await runCommand(page, `SOCKS5: ${zhManifest['command.showConnections.title']}`);
        const view = page.locator(VIEW_CONTAINER);
        await view.waitFor({ state: 'visible', timeout: 15_000 });

        const row = connectionRow(page, `localhost:${target.port}`);
        await row.waitFor({ state: 'visible', timeout: 15_000 });
        const label = (await row.getAttribute('aria-label')) ?? '';
        log(`row aria-label: ${label}`);
        assert.match(label, new RegExp(`^SOCKS5 CONNECT localhost:${target.port}，${escapeRe(zh('established'))}，来自 127\\.0\\.0\\.1:\\d+$`));
        await waitForStatusLabel(page, new RegExp(escapeRe(zh('{0} active connection', 1))));
        await waitFor('the row to show the download', async () => /48\.0 KiB/.test(await row.innerText()), { timeoutMs: 10_000 });
        // The status bar item's tooltip, in Chinese, for the picture.
        await statusItem(page).hover();
        await page
          .locator('.monaco-hover', { hasText: zh('SOCKS5 proxy: running') })
          .first()
          .waitFor({ state: 'visible', timeout: 10_000 })
          .catch(() => log('the status tooltip did not show (the screenshot goes without it)'));
        const file = await screenshot(page, SHOTS ?? tmp, 'zh-cn-connections', page.locator('.monaco-workbench'));
        log(`screenshot: ${file}`);
      } finally {
        held.socket.destroy();
      }

      // A notification: Close Connection with nothing open says so, in Chinese.
      await waitForStatusLabel(page, new RegExp(escapeRe(zh('{0} active connections', 0))));
      await runCommand(page, `SOCKS5: ${zhManifest['command.closeConnection.title']}`);
      await waitForNotification(page, zh('There are no active SOCKS5 connections.'), { timeoutMs: 15_000 });
    });
  });

  test('keyboard: Delete closes the selected connection, Ctrl+Alt+5 toggles the proxy', async () => {
    await scenario(vsLike(), 'keyboard', async () => {
      const held = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
        command: 'connect',
        destination: { host: '127.0.0.1', port: target.port },
        timeout: 10_000,
      });
      const closed = new Promise<void>((r) => held.socket.once('close', () => r()));
      held.socket.on('error', () => {});
      try {
        const row = connectionRow(page, `127.0.0.1:${target.port}`);
        await row.waitFor({ state: 'visible', timeout: 15_000 });
        await row.click(); // selects the row; the list has the keyboard focus
        await page.keyboard.press('Delete');
        await row.waitFor({ state: 'detached', timeout: 10_000 });
        await waitFor('the client to see its connection closed', async () => held.socket.destroyed || (await Promise.race([closed.then(() => true), sleep(200).then(() => false)])), {
          timeoutMs: 10_000,
        });
      } finally {
        held.socket.destroy();
      }
      await page.keyboard.press('Control+Alt+5');
      await waitForStatusLabel(page, new RegExp(`^${escapeRe(zh('SOCKS5 proxy stopped'))}$`));
      await waitForPort(proxyPort, false, 10_000);
      await page.keyboard.press('Control+Alt+5');
      await waitForPort(proxyPort, true, 20_000);
    });
  });
});
