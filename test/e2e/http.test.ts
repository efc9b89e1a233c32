// The HTTP door in real VS Code (code-server): a held HTTP CONNECT download and a held HTTP
// forwarding download (curl -x http://…), each shown in the Connections view while it runs; the
// forwarding row names the request's method and URL host, its tooltip the request count.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { findVsix, freePort, isListening, log, runCommand, startProcess, VSCode, waitFor, type Proc } from './harness';
import { connectionRow, EXTENSION_ID, hoverText, scenario, statusItem, VIEW_CONTAINER, waitForStatusLabel } from './extensionUi';
import { startHttpServer, type TestHttpServer } from './fixtures';

/** curl with no proxy from the environment, only the one given in `args`. */
const curl = (...args: string[]): [string, ...string[]] => ['curl', '-sS', '--max-time', '60', '--noproxy', '', '-o', '/dev/null', ...args];

describe(`the HTTP door in the Connections view — ${EXTENSION_ID}`, { timeout: 300_000 }, () => {
  let vs: VSCode;
  let page: Page;
  let web: TestHttpServer;
  let port: number;
  const procs: Proc[] = [];

  before(async () => {
    const vsix = findVsix();
    web = await startHttpServer();
    port = await freePort();
    log(`ports: proxy ${port}; http ${web.port}`);
    vs = await VSCode.launch({ vsix, prefix: 'socks5-e2e-http-', settings: { 'socks5.port': port, 'socks5.autoStart': false } });
    page = vs.page;
    await statusItem(page).waitFor({ state: 'visible', timeout: 60_000 });
    await runCommand(page, 'SOCKS5: Start Proxy');
    await waitForStatusLabel(page, new RegExp(`running on port ${port}`));
    await runCommand(page, 'SOCKS5: Show Connections');
    await page.locator(VIEW_CONTAINER).waitFor({ state: 'visible', timeout: 10_000 });
  });

  after(async () => {
    for (const p of procs) await p.stop().catch(() => undefined);
    await vs?.close();
    await web?.close();
    if (port !== undefined) assert.equal(await isListening(port), false, `port ${port} still open after teardown`);
  });

  /** Starts the client, waits for its row to be established, runs `check`, stops the client, waits for the row to go. */
  async function held(name: string, client: [string, ...string[]], label: string, check: (row: ReturnType<typeof connectionRow>) => Promise<void>): Promise<void> {
    await scenario(
      vs,
      name,
      async () => {
        const [cmd, ...args] = client;
        const proc = startProcess(name, cmd, args);
        procs.push(proc);
        try {
          const row = connectionRow(page, label);
          await row.waitFor({ state: 'visible', timeout: 20_000 });
          await waitFor(`the row of ${label} to say established`, async () => ((await row.getAttribute('aria-label')) ?? '').includes(', established,') || undefined, {
            timeoutMs: 15_000,
          });
          await check(row);
          assert.ok(proc.running, `${name}: the client is still running (${proc.output.trim()})`);
          await page.mouse.move(900, 500);
          await proc.stop();
          await row.waitFor({ state: 'detached', timeout: 15_000 });
        } finally {
          await proc.stop();
        }
      },
      'http-',
    );
  }

  test('an HTTP CONNECT download (curl -p -x http://…) shows with its destination while it runs', async () => {
    await held('http connect held connection', curl('-p', '-x', `http://127.0.0.1:${port}`, `http://localhost:${web.port}/slow`), `localhost:${web.port}`, async (row) => {
      const text = await hoverText(page, row, /Resolved: 127\.0\.0\.1/);
      assert.match(text, /CONNECT/);
    });
  });

  test('an HTTP forwarding download (curl -x http://…) shows as GET host:port, its tooltip counts the request', async () => {
    await held('http forwarding held connection', curl('-x', `http://127.0.0.1:${port}`, `http://localhost:${web.port}/slow`), `GET localhost:${web.port}`, async (row) => {
      const text = await hoverText(page, row, /HTTP request: GET/);
      assert.match(text, /HTTP request: GET \(1 on this connection\)/);
    });
  });
});
