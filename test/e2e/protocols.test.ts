// Each front door's connections in the Connections view, in real VS Code (code-server): a held
// download through the proxy with a real client, and the row that shows it while it runs, naming
// its protocol (row description, accessible label, tooltip).
//
// To add a protocol's case: one more `test(…)` calling heldConnectionShows() with the client's
// command line and the row it should make (see the SOCKS4a case).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { findVsix, freePort, isListening, log, runCommand, startProcess, VSCode, waitFor, type Proc } from './harness';
import { connectionRow, EXTENSION_ID, hoverText, scenario, statusItem, VIEW_CONTAINER, waitForStatusLabel } from './extensionUi';
import { startHttpServer, type TestHttpServer } from './fixtures';

/** What a held connection must look like in the view. */
interface HeldConnection {
  /** Scenario name (also names the failure screenshot). */
  name: string;
  /** The client: a command and its arguments that open one long-lived connection through the proxy. */
  client: [cmd: string, ...args: string[]];
  /** The row's label (the destination as the client asked for it). */
  label: string;
  /** The protocol's display name (PROTOCOL_NAMES) and the command, as the row names them. */
  protocol: string;
  command: string;
}

/** curl with no proxy from the environment, only the one given in `args`. */
const curl = (...args: string[]): [string, ...string[]] => ['curl', '-sS', '--max-time', '60', '--noproxy', '', '-o', '/dev/null', ...args];

describe(`front doors in the Connections view — ${EXTENSION_ID}`, { timeout: 300_000 }, () => {
  let vs: VSCode;
  let page: Page;
  let web: TestHttpServer;
  /** A second server: each case's row has a label of its own (no stale row of an earlier case matches). */
  let web2: TestHttpServer;
  let port: number;
  const procs: Proc[] = [];

  before(async () => {
    const vsix = findVsix();
    [web, web2] = await Promise.all([startHttpServer(), startHttpServer()]);
    port = await freePort();
    log(`ports: proxy ${port}; http ${web.port}`);
    vs = await VSCode.launch({ vsix, prefix: 'socks5-e2e-protocols-', settings: { 'socks5.port': port, 'socks5.autoStart': false } });
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
    await Promise.all([web?.close(), web2?.close()]);
    if (port !== undefined) assert.equal(await isListening(port), false, `port ${port} still open after teardown`);
  });

  /**
   * Starts the client, waits for its row, checks that the row names the protocol while the
   * connection runs, then stops the client and waits for the row to go.
   */
  async function heldConnectionShows(c: HeldConnection): Promise<void> {
    await scenario(
      vs,
      c.name,
      async () => {
        const [cmd, ...args] = c.client;
        const proc = startProcess(c.name, cmd, args);
        procs.push(proc);
        try {
          const row = connectionRow(page, c.label);
          await row.waitFor({ state: 'visible', timeout: 20_000 });
          const description = await waitFor(
            `the row of ${c.label} to say established with bytes`,
            async () => {
              const aria = (await row.getAttribute('aria-label')) ?? '';
              return aria.includes(', established,') ? await row.locator('.label-description').innerText() : undefined;
            },
            { timeoutMs: 15_000 },
          );
          // Destination first (the label), then bytes, then the protocol and the client.
          assert.ok(description.includes(` · ${c.protocol} · 127.0.0.1:`), `description names ${c.protocol}: ${JSON.stringify(description)}`);
          const aria = (await row.getAttribute('aria-label')) ?? '';
          const named = [c.protocol, c.command, c.label].filter((x) => x !== '').join(' ');
          assert.ok(aria.startsWith(`${named}, established, from 127.0.0.1:`), `accessible label: ${JSON.stringify(aria)}`);
          // The tooltip (hover) names it too.
          // The view re-renders rows while bytes move, which can close a hover: one more round of tries.
          await hoverText(page, row, `Protocol: ${c.protocol}`).catch(() => hoverText(page, row, `Protocol: ${c.protocol}`));
          assert.ok(proc.running, `${c.name}: the client is still running (${proc.output.trim()})`);
          await page.mouse.move(900, 500);
          await proc.stop();
          await row.waitFor({ state: 'detached', timeout: 15_000 });
        } finally {
          // A failed case must not leave its row for the next one.
          await proc.stop();
        }
      },
      'protocols-',
    );
  }

  test('a SOCKS4a download shows as SOCKS4a CONNECT while it runs', async () => {
    await heldConnectionShows({
      name: 'socks4a held connection',
      client: curl('--socks4a', `127.0.0.1:${port}`, `http://localhost:${web.port}/slow`),
      label: `localhost:${web.port}`,
      protocol: 'SOCKS4a',
      command: 'CONNECT',
    });
  });

  test('a SOCKS4 download (by address) shows as SOCKS4 CONNECT', async () => {
    await heldConnectionShows({
      name: 'socks4 held connection',
      client: curl('--socks4', `127.0.0.1:${port}`, `http://127.0.0.1:${web.port}/slow`),
      label: `127.0.0.1:${web.port}`,
      protocol: 'SOCKS4',
      command: 'CONNECT',
    });
  });

  test('a SOCKS5 download shows as SOCKS5 CONNECT', async () => {
    await heldConnectionShows({
      name: 'socks5 held connection',
      client: curl('--socks5-hostname', `127.0.0.1:${port}`, `http://localhost:${web2.port}/slow`),
      label: `localhost:${web2.port}`,
      protocol: 'SOCKS5',
      command: 'CONNECT',
    });
  });

  test('an HTTP CONNECT download (curl -p -x http://…) shows as HTTP CONNECT with its destination', async () => {
    await heldConnectionShows({
      name: 'http connect held connection',
      client: curl('-p', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${web2.port}/slow`),
      label: `127.0.0.1:${web2.port}`,
      protocol: 'HTTP CONNECT',
      // The protocol's name says it.
      command: '',
    });
  });

  test('an HTTP forwarding download (curl -x http://…) shows as HTTP, its row as GET host:port', async () => {
    await heldConnectionShows({
      name: 'http forwarding held connection',
      client: curl('-x', `http://127.0.0.1:${port}`, `http://localhost:${web.port}/slow`),
      label: `GET localhost:${web.port}`,
      protocol: 'HTTP',
      command: '',
    });
  });
});
