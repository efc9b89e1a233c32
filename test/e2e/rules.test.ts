// Issue 14's rules in real VS Code (code-server 4.100.3 = VS Code 1.100.3, the packaged VSIX,
// headless Chromium driving the workbench), as a user would use them:
//   1. a deny rule added with the Settings editor's "Add Item" (machine-scoped: the Remote tab)
//      applies at once to new connections: curl gets SOCKS5 0x02, and the Recently closed row of the
//      Connections view (and its tooltip) names the rule that denied;
//   2. an invalid rule added next to it is reported with a notification naming it, and the last
//      valid rules keep running (curl is still denied; the allowed page still loads).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { addListItemInUI, findVsix, freePort, log, runCommand, VSCode, waitFor, waitForNotification } from './harness';
import { hoverText, scenario as runScenario, statusItem, VIEW_CONTAINER, waitForPort, waitForStatusLabel } from './extensionUi';
import { curlViaProxy, startHttpServer, type TestHttpServer } from './fixtures';

const MACHINE_TAB = 'remote' as const;
const scenario = (vs: VSCode, name: string, fn: () => Promise<void>): Promise<void> => runScenario(vs, name, fn, 'rules-');

/** The Connections view's "Recently closed" group, expanded. */
async function recentlyClosed(page: Page): Promise<void> {
  await runCommand(page, 'SOCKS5: Show Connections');
  await page.locator(VIEW_CONTAINER).waitFor({ state: 'visible', timeout: 10_000 });
  const recent = page.locator(`${VIEW_CONTAINER} .monaco-list-row`).filter({ hasText: 'Recently closed' }).first();
  await recent.waitFor({ state: 'visible', timeout: 10_000 });
  if ((await recent.getAttribute('aria-expanded')) !== 'true') await recent.click();
}

describe('SOCKS5 rules in VS Code (code-server)', { timeout: 420_000 }, () => {
  let vs: VSCode;
  let page: Page;
  let web: TestHttpServer;
  let denied: TestHttpServer;
  let port: number;

  before(async () => {
    [web, denied] = await Promise.all([startHttpServer(), startHttpServer()]);
    port = await freePort();
    vs = await VSCode.launch({ vsix: findVsix(), prefix: 'socks5-e2e-rules-', settings: { 'socks5.port': port, 'socks5.autoStart': false } });
    page = vs.page;
    await statusItem(page).waitFor({ state: 'visible', timeout: 60_000 });
    await waitForStatusLabel(page, /stopped/);
  });

  after(async () => {
    await vs?.close();
    await Promise.all([web?.close(), denied?.close()]);
  });

  test('1. a deny rule added in the Settings editor: curl gets 0x02 and Recently closed names the rule', async () => {
    await scenario(vs, 'deny rule via settings', async () => {
      await runCommand(page, 'SOCKS5: Start Proxy');
      await waitForPort(port, true, 20_000);
      const before = await curlViaProxy(port, `http://localhost:${denied.port}/`);
      assert.equal(before.code, 0, before.stderr);
      assert.ok(before.body.includes(denied.token));

      const rule = `deny localhost:${denied.port}`;
      await addListItemInUI(page, vs.dirs, 'socks5.rules.destinations', rule, MACHINE_TAB);
      // Applied live (no restart): the next curl is refused with "not allowed" (SOCKS5 reply 2).
      await waitFor(
        'curl to be refused by the rule',
        async () => {
          const r = await curlViaProxy(port, `http://localhost:${denied.port}/`, { timeoutS: 5 });
          log(`curl: exit ${r.code}, ${r.stderr.trim()}`);
          return r.code !== 0 && /\(2\)|not allowed/i.test(r.stderr);
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      // Another destination is not affected.
      const other = await curlViaProxy(port, `http://localhost:${web.port}/`);
      assert.equal(other.code, 0, other.stderr);

      await recentlyClosed(page);
      const row = page
        .locator(`${VIEW_CONTAINER} .monaco-list-row`)
        .filter({ hasText: `localhost:${denied.port}` })
        .filter({ hasText: `denied by rule 1: ${rule}` })
        .first();
      await row.waitFor({ state: 'visible', timeout: 10_000 });
      const tip = await hoverText(page, row, /denied by rule 1/);
      assert.match(tip, new RegExp(`denied by rule 1: ${rule}`));
    });
  });

  test('2. an invalid rule is reported by name; the last valid rules keep running', async () => {
    await scenario(vs, 'invalid rule keeps the last valid', async () => {
      await addListItemInUI(page, vs.dirs, 'socks5.rules.destinations', 'alow *.example', MACHINE_TAB);
      await waitForNotification(page, /rule 2: "alow \*\.example" must start with allow or deny/, { timeoutMs: 15_000 });
      const still = await curlViaProxy(port, `http://localhost:${denied.port}/`, { timeoutS: 5 });
      assert.notEqual(still.code, 0, 'the deny rule still applies');
      const ok = await curlViaProxy(port, `http://localhost:${web.port}/`);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(ok.body.includes(web.token));
    });
  });
});
