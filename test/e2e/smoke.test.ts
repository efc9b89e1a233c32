// Proves the end-to-end machinery itself, with no extension installed: code-server starts from the
// cache, Chromium opens the workbench, a built-in palette command runs and changes what is shown,
// and every process is stopped afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isListening, runCommand, SEL, statusTexts, VSCode, waitFor } from './harness';

describe('e2e harness smoke (code-server, empty extensions folder)', { timeout: 180_000 }, () => {
  let vs: VSCode | undefined;

  before(async () => {
    vs = await VSCode.launch({ prefix: 'socks5-e2e-smoke-' });
  });

  after(async () => {
    const port = vs?.cs?.port;
    await vs?.close();
    if (port !== undefined) {
      assert.equal(await isListening(port), false, `code-server still listens on ${port} after teardown`);
    }
  });

  test('the workbench shows a status bar with items', async () => {
    const page = vs!.page;
    await waitFor('status bar items', async () => (await statusTexts(page)).length > 0, { timeoutMs: 20_000 });
    assert.ok(await page.locator(SEL.statusbar).isVisible());
  });

  test('a built-in palette command runs: View: Toggle Status Bar Visibility hides and shows it', async () => {
    const page = vs!.page;
    const bar = page.locator(SEL.statusbar);
    await runCommand(page, 'View: Toggle Status Bar Visibility');
    await bar.waitFor({ state: 'hidden', timeout: 10_000 });
    await runCommand(page, 'View: Toggle Status Bar Visibility');
    await bar.waitFor({ state: 'visible', timeout: 10_000 });
  });

  test('an unknown command title is reported, not silently ignored', async () => {
    await assert.rejects(runCommand(vs!.page, 'No Such Command: Really Not There', { timeoutMs: 2_000 }), /not in the palette/);
  });
});
