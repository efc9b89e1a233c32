// What the end-to-end scenarios share about this extension's UI in the workbench: its ids and
// selectors, the status item and its label, connection rows, port checks, and the scenario
// wrapper that keeps a screenshot and the extension host's log when a scenario fails.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { isListening, log, REPO_ROOT, runCommand, SCREENSHOTS, screenshot, SEL, statusTexts, waitFor, type VSCode } from './harness';

const PKG = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; publisher: string };
export const EXTENSION_ID = `${PKG.publisher}.${PKG.name}`;
/** The status bar item's DOM id: `<extension id>.<item id>` (createStatusBarItem('socks5.status')). */
export const STATUS_ITEM = `[id="${EXTENSION_ID}.socks5.status"]`;
/** The view container contributed as `socks5` in the activity bar. */
export const VIEW_CONTAINER = '[id="workbench.view.extension.socks5"]';
/** Where a failed scenario leaves its screenshot and log. */
export const FAILURES = path.join(REPO_ROOT, 'test-results', 'e2e');

export const statusItem = (page: Page): Locator => page.locator(STATUS_ITEM);

export async function statusLabel(page: Page): Promise<string> {
  return (await statusItem(page).getAttribute('aria-label', { timeout: 5_000 })) ?? '';
}

export async function waitForStatusLabel(page: Page, re: RegExp, timeoutMs = 20_000): Promise<void> {
  await waitFor(`the status bar item's label to match ${re}`, async () => re.test(await statusLabel(page)), { timeoutMs }).catch(
    async (e: Error) => {
      throw new Error(`${e.message}; it is ${JSON.stringify(await statusLabel(page).catch(() => null))}`);
    },
  );
}

/**
 * Right-clicks `row` and clicks `action` in its context menu. The menu sometimes ignores the first
 * click while the tree re-renders under it (the view refreshes every second while connections are
 * open); then the menu stays open, and the click is repeated (bounded).
 */
export async function contextMenuAction(page: Page, row: Locator, action: string): Promise<void> {
  const menu = page.locator('.monaco-menu').filter({ has: page.locator('.action-label', { hasText: action }) }).first();
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (!(await menu.isVisible())) {
      await row.click({ button: 'right' });
      await menu.waitFor({ state: 'visible', timeout: 10_000 });
    }
    await menu.locator('.action-item .action-label', { hasText: new RegExp(`^${action}$`) }).first().click();
    try {
      await menu.waitFor({ state: 'hidden', timeout: 3_000 });
      return;
    } catch {
      log(`the context menu is still open after clicking "${action}" (attempt ${attempt})`);
    }
  }
  throw new Error(`clicking "${action}" in the context menu did nothing (3 attempts)`);
}

/** The Connections view row whose label is exactly `label`. */
export function connectionRow(page: Page, label: string): Locator {
  return page
    .locator(`${VIEW_CONTAINER} .monaco-list-row`)
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) }) })
    .first();
}

export async function waitForPort(port: number, listening: boolean, timeoutMs = 10_000): Promise<void> {
  await waitFor(`127.0.0.1:${port} to be ${listening ? 'listening' : 'closed'}`, async () => (await isListening(port)) === listening, {
    timeoutMs,
    intervalMs: 250,
  });
}

/** Runs a scenario; on failure keeps a screenshot and the extension's log (named `<prefix><name>`) for the report. */
export async function scenario(vs: VSCode, name: string, fn: () => Promise<void>, prefix = ''): Promise<void> {
  const t0 = Date.now();
  try {
    await fn();
    log(`scenario "${name}" passed in ${Date.now() - t0} ms`);
  } catch (err) {
    const slug = `${prefix}${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 60)}`;
    try {
      mkdirSync(FAILURES, { recursive: true });
      await screenshot(vs.page, FAILURES, slug);
      writeFileSync(path.join(FAILURES, `${slug}.log`), vs.cs.extensionHostLogs(60_000));
      log(`scenario "${name}" failed after ${Date.now() - t0} ms; screenshot and logs in ${FAILURES}`);
      log(`status bar: ${JSON.stringify(await statusTexts(vs.page))}`);
    } catch (e) {
      log(`could not save failure evidence: ${(e as Error).message}`);
    }
    throw err;
  }
}

/** Hover widgets of the workbench (tooltips of tree rows and status items). */
export const HOVER = '.monaco-hover, .workbench-hover';

/** Hovers `target` and returns the text of the hover that appears and matches `expect`. */
export async function hoverText(page: Page, target: Locator, expect: string | RegExp): Promise<string> {
  const hover = page.locator(HOVER).filter({ hasText: expect }).first();
  for (let attempt = 1; attempt <= 5; attempt++) {
    await page.mouse.move(5, 5);
    await target.hover({ timeout: 10_000 });
    // A row that re-renders (bytes moving) can take its hover down before it shows: rest on it,
    // nudging the pointer a pixel now and then as a hand would.
    const box = await target.boundingBox();
    for (let i = 0; i < 8; i++) {
      try {
        await hover.waitFor({ state: 'visible', timeout: 500 });
        return (await hover.innerText()).replace(/\s+/g, ' ').trim();
      } catch {
        if (box) await page.mouse.move(box.x + box.width / 2 + (i % 2), box.y + box.height / 2);
      }
    }
    log(`no hover matching ${String(expect)} yet (attempt ${attempt})`);
  }
  const shown = await page.locator(HOVER).allInnerTexts().catch(() => []);
  throw new Error(`no hover matching ${String(expect)}; shown: ${JSON.stringify(shown)}`);
}

/** The status item's text (codicons are icons, not text: `SOCKS5 :1080 · 0`). */
export async function statusItemText(page: Page): Promise<string> {
  return ((await statusItem(page).innerText({ timeout: 5_000 })) ?? '').replace(/\s+/g, ' ').trim();
}

/** Opens the Connections view (SOCKS5: Show Connections) and returns its container. */
export async function showConnections(page: Page): Promise<Locator> {
  await runCommand(page, 'SOCKS5: Show Connections');
  const container = page.locator(VIEW_CONTAINER);
  await container.waitFor({ state: 'visible', timeout: 10_000 });
  return container;
}

/** Bytes shown in a row description `… ↑ 83 B ↓ 240 KiB · 3s`, as numbers. */
export function parseTraffic(description: string): { up: number; down: number } | undefined {
  const m = /↑\s*([\d.]+)\s*(B|KiB|MiB|GiB)\s*↓\s*([\d.]+)\s*(B|KiB|MiB|GiB)/.exec(description);
  if (!m) return undefined;
  const mult: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
  return { up: Number(m[1]) * mult[m[2]], down: Number(m[3]) * mult[m[4]] };
}

/** Screenshot of the top of the side bar (the view), `height` pixels tall, for the README. */
export async function sidebarShot(page: Page, name: string, height: number): Promise<void> {
  const box = await page.locator(SEL.sidebar).boundingBox();
  if (!box) throw new Error('the side bar is not visible');
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({
    path: path.join(SCREENSHOTS, `${name}.png`),
    clip: { x: box.x, y: box.y, width: box.width, height: Math.min(height, box.height) },
  });
}
