// The Traffic panel in real VS Code (code-server + headless Chromium), used the way a user uses
// it: a 50 MiB download by curl through the proxy (to a loopback HTTP server), the connection's
// row in the Connections view → Show Traffic, the panel's chart and tables read from its page
// (a webview: nested iframes), a theme switch, and Export through the save dialog (code-server's
// simple file dialog: a path typed into the quick input). A screenshot of the panel goes to the
// README's folder with UPDATE_SCREENSHOTS=1.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { findVsix, freePort, log, runCommand, SCREENSHOTS, screenshot, SEL, VSCode, waitFor } from './harness';
import { connectionRow, contextMenuAction, scenario, VIEW_CONTAINER, waitForPort } from './extensionUi';

/** The browser's, in functions that run in the page (the project's TypeScript has no DOM types). */
declare const getComputedStyle: (el: unknown) => { stroke: string; backgroundColor: string };

const MiB = 1024 * 1024;
const SIZE = 50 * MiB;
/** The download is paced (1 MiB every 120 ms, ~8 MiB/s): a few seconds of curve, time to click its row. */
const CHUNK = MiB;
const PACE_MS = 120;

interface Target {
  port: number;
  close(): Promise<void>;
}

/** `GET /big`: 50 MiB of zeros, paced. Loopback only; ends by itself. */
async function startTarget(): Promise<Target> {
  const chunk = Buffer.alloc(CHUNK);
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    if (req.url !== '/big') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
    let sent = 0;
    const timer = setInterval(() => {
      if (res.destroyed || sent >= SIZE) {
        clearInterval(timer);
        timers.delete(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(chunk);
      sent += CHUNK;
    }, PACE_MS);
    timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The panel's page: the webview's outer iframe, then its active frame. */
const panelFrame = (page: Page): FrameLocator => page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');

const MULT: Record<string, number> = { B: 1, KiB: 1024, MiB: MiB, GiB: 1024 * MiB };
function bytesOf(text: string): number {
  const m = /([\d.]+)\s*(B|KiB|MiB|GiB)/.exec(text);
  assert.ok(m, `a size in ${JSON.stringify(text)}`);
  return Number(m[1]) * MULT[m[2]];
}

/** The cells of the destinations table row whose name is `name`. */
async function destinationRow(frame: FrameLocator, name: string): Promise<string[]> {
  const row = frame.locator('#destinations-rows tr').filter({ has: frame.locator('th', { hasText: name }) }).first();
  return (await row.locator('th, td').allInnerTexts()).map((t) => t.trim());
}

/** Types `file` into code-server's simple save dialog (a quick input holding a path) and saves. */
async function saveAs(page: Page, file: string): Promise<void> {
  const input = page.locator(SEL.quickInputBox);
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  // The dialog fills in the suggested file name first; type over it once it is there.
  await waitFor('the save dialog to suggest a file name', async () => /socks5-traffic-[\d-]+\.csv$/.test(await input.inputValue()), { timeoutMs: 15_000 });
  await input.fill(file);
  await waitFor('the typed path to stay', async () => (await input.inputValue()) === file, { timeoutMs: 5_000 });
  await input.press('Enter');
  await waitFor(`the export to write ${file}`, async () => existsSync(file), { timeoutMs: 15_000 });
}

describe('Traffic panel (code-server)', { timeout: 420_000 }, () => {
  let vs: VSCode | undefined;
  let target: Target | undefined;
  let curl: ChildProcess | undefined;
  let proxyPort = 0;

  before(async () => {
    target = await startTarget();
    proxyPort = await freePort();
    vs = await VSCode.launch({ vsix: findVsix(), prefix: 'socks5-e2e-traffic-', settings: { 'socks5.port': proxyPort, 'workbench.colorTheme': 'Default Dark Modern' } });
  });

  after(async () => {
    if (curl && curl.exitCode === null) curl.kill('SIGKILL');
    await vs?.close();
    await target?.close();
  });

  test('a 50 MiB download shows as a rate curve, the selected connection and the destination total; theme; export', async () => {
    const v = vs!;
    const page = v.page;
    await scenario(
      v,
      'traffic panel',
      async () => {
        await runCommand(page, 'SOCKS5: Start Proxy');
        await waitForPort(proxyPort, true, 20_000);
        await runCommand(page, 'SOCKS5: Show Connections');
        await page.locator(VIEW_CONTAINER).waitFor({ state: 'visible', timeout: 10_000 });

        // A real client downloads 50 MiB through the proxy.
        const dest = `localhost:${target!.port}`;
        let curlOut = '';
        const exited = new Promise<number | null>((resolve) => {
          curl = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download}', '--max-time', '120', '--socks5-hostname', `127.0.0.1:${proxyPort}`, `http://${dest}/big`], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          curl.stdout!.on('data', (d) => (curlOut += d));
          curl.stderr!.on('data', (d) => (curlOut += d));
          curl.on('exit', (code) => resolve(code));
        });

        // Its row → Show Traffic: the panel opens with that connection selected.
        const row = connectionRow(page, dest);
        await row.waitFor({ state: 'visible', timeout: 15_000 });
        await contextMenuAction(page, row, 'Show Traffic');
        const frame = panelFrame(page);
        await frame.locator('#total-chart').waitFor({ state: 'attached', timeout: 20_000 });
        await waitFor(
          'the selected connection in the panel',
          async () => ((await frame.locator('#selected-summary').innerText()) ?? '').includes(dest),
          { timeoutMs: 15_000 },
        );
        // The selected connection's chart: a curve with points, while it downloads.
        await waitFor(
          'the selected connection chart to draw',
          async () => ((await frame.locator('#selected-chart path.line.down').getAttribute('d')) ?? '').split('L').length >= 4,
          { timeoutMs: 15_000 },
        );
        assert.equal(await frame.locator('#pick').inputValue(), (await frame.locator('#pick option:checked').getAttribute('value')) ?? '');
        assert.match(await frame.locator('#pick option:checked').innerText(), new RegExp(`#\\d+ ${dest.replace('.', '\\.')}`));
        assert.match(await frame.locator('#selected-summary').innerText(), /now ↓ [\d.]+ (KiB|MiB)\/s/);

        assert.equal(await exited, 0, `curl: ${curlOut}`);
        assert.equal(curlOut.trim(), String(SIZE));

        // The destination's total (≥ 50 MiB), its connection count, from the panel's table.
        let cells: string[] = [];
        await waitFor(
          'the destination total to reach 50 MiB',
          async () => {
            cells = await destinationRow(frame, dest);
            return cells.length >= 5 && bytesOf(cells[1]) >= SIZE;
          },
          { timeoutMs: 15_000 },
        ).catch((e: Error) => {
          throw new Error(`${e.message}; row: ${JSON.stringify(cells)}`);
        });
        log(`destination row: ${JSON.stringify(cells)}`);
        assert.equal(cells[0], dest);
        assert.equal(cells[1], '50.0 MiB');
        assert.match(cells[3], /^1( \(\d+ open\))?$/);
        assert.equal(cells[4], '0');

        // The total rate curve: drawn, peaking at MiB/s, with the same figures as text.
        const d = (await frame.locator('#total-chart path.line.down').getAttribute('d')) ?? '';
        assert.ok(d.split('L').length >= 8, `a curve with points: ${d.slice(0, 200)}`);
        const summary = await frame.locator('#total-summary').innerText();
        log(`total summary: ${summary}`);
        const peak = /peak ↓ ([\d.]+ (?:B|KiB|MiB|GiB))\/s/.exec(summary);
        assert.ok(peak && bytesOf(peak[1]) >= 2 * MiB, summary);
        assert.match((await frame.locator('#total-chart').getAttribute('aria-label')) ?? '', /Total rate over the last 5 minutes\. Now ↓/);
        // The closed connection stays selected, marked closed.
        await waitFor('the selection to show it closed', async () => /; closed$/.test(await frame.locator('#selected-summary').innerText()), {
          timeoutMs: 10_000,
        });
        assert.match(await frame.locator('#counts').innerText(), /Active\s+0/);

        // For the README (media/screenshots only with UPDATE_SCREENSHOTS=1).
        const shot = await screenshot(page, SCREENSHOTS, 'traffic-panel', page.locator('.part.editor'));
        log(`screenshot: ${shot}`);

        // The panel follows a theme switch (its colours are the theme's variables).
        const stroke = (): Promise<string> =>
          frame.locator('#total-chart path.line.down').evaluate((el) => getComputedStyle(el).stroke);
        const background = (): Promise<string> => frame.locator('body').evaluate((el) => getComputedStyle(el).backgroundColor);
        const darkStroke = await stroke();
        const darkBackground = await background();
        assert.match((await frame.locator('body').getAttribute('class')) ?? '', /vscode-dark/);
        await runCommand(page, 'Preferences: Color Theme');
        await page.locator(SEL.quickInputBox).fill('Light Modern');
        await page.locator(SEL.quickInputRow).filter({ hasText: /Light Modern/ }).first().waitFor({ state: 'visible', timeout: 10_000 });
        await page.keyboard.press('Enter');
        await waitFor('the panel to turn light', async () => /vscode-light/.test((await frame.locator('body').getAttribute('class')) ?? ''), {
          timeoutMs: 15_000,
        });
        const lightStroke = await stroke();
        const lightBackground = await background();
        log(`theme: stroke ${darkStroke} → ${lightStroke}, background ${darkBackground} → ${lightBackground}`);
        assert.notEqual(lightStroke, darkStroke);
        assert.notEqual(lightBackground, darkBackground);

        // Export (the panel's button) → the save dialog → a JSON file whose numbers match.
        const jsonFile = path.join(v.dirs.workspace, 'traffic-export.json');
        await frame.locator('#export').click();
        await saveAs(page, jsonFile);
        const report = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
          totals: { bytesDown: number; connections: number };
          destinations: Array<{ key: string; bytesDown: number; connections: number; failures: number }>;
        };
        const entry = report.destinations.find((r) => r.key === dest);
        assert.ok(entry, JSON.stringify(report.destinations));
        // The response body and its headers came from the target.
        assert.ok(entry.bytesDown >= SIZE && entry.bytesDown < SIZE + 4096, String(entry.bytesDown));
        assert.equal(entry.connections, 1);
        assert.equal(entry.failures, 0);
        assert.ok(report.totals.bytesDown >= entry.bytesDown);
        // … and a CSV one (the command from the palette), same numbers.
        const csvFile = path.join(v.dirs.workspace, 'traffic-export.csv');
        await runCommand(page, 'SOCKS5: Export Traffic…');
        await saveAs(page, csvFile);
        const csv = readFileSync(csvFile, 'utf8').split('\r\n');
        assert.equal(csv[0], 'section,name,bytes_up,bytes_down,connections,active,failures,refusals');
        const line = csv.find((l) => l.startsWith(`destination,${dest},`));
        assert.ok(line, csv.join('\n'));
        assert.equal(line.split(',')[3], String(entry.bytesDown));
      },
      'traffic-',
    );
  });

  test('sampling stops while neither the panel nor the Connections view is visible', async () => {
    const v = vs!;
    const page = v.page;
    await scenario(
      v,
      'sampling only while visible',
      async () => {
        const costLines = (): string[] => v.cs.extensionHostLogs(200_000).match(/Traffic sampling cost: (\{.*\})/g) ?? [];
        const ticks = async (): Promise<number> => {
          // A new line each time: the log file may not have the one just asked for yet.
          const before = costLines().length;
          await runCommand(page, 'SOCKS5: Log Traffic Sampling Cost (Developer)');
          let n = -1;
          await waitFor(
            'a new cost line in the log',
            async () => {
              const lines = costLines();
              const last = lines.at(-1);
              if (!last || lines.length <= before) return false;
              n = (JSON.parse(last.slice(last.indexOf('{'))) as { ticks: number }).ticks;
              return true;
            },
            { timeoutMs: 10_000 },
          );
          return n;
        };
        // Panel open: ticks go on.
        const a = await ticks();
        await new Promise((r) => setTimeout(r, 3000));
        const b = await ticks();
        assert.ok(b >= a + 2, `ticks ${a} → ${b} with the panel open`);
        // Close the panel, show the Explorer instead of the Connections view.
        await runCommand(page, 'View: Close All Editors');
        await runCommand(page, 'View: Show Explorer');
        await new Promise((r) => setTimeout(r, 1500));
        const c = await ticks();
        await new Promise((r) => setTimeout(r, 3000));
        const d = await ticks();
        assert.ok(d - c <= 1, `ticks ${c} → ${d} with nothing visible`);
      },
      'traffic-',
    );
  });
});
