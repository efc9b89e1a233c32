// Activation time of the packaged extension in a real VS Code: code-server 4.100.3 (installed for
// the end-to-end tests by test/e2e/setup.sh) with its workbench open in headless Chromium. VS Code
// measures it itself: "Developer: Show Running Extensions" shows, per extension, the time to load
// its code plus the synchronous part of activate() ("Activation: N ms"). Read once after start-up
// (the extension activates on onStartupFinished), then after each "Developer: Reload Window" (a
// new extension host each time).

import { existsSync } from 'node:fs';
import { CHROMIUM_BIN, CODE_SERVER_BIN, runCommand, VSCode, waitFor } from '../test/e2e/harness';

/** The row's name: the marketplace display name when there is one, else the manifest's displayName. */
const EXTENSION_NAME = 'SOCKS5 Proxy';

export interface Activation {
  samples: number[];
  /** The other extensions' figures read at the same times (built-ins activating in the same host), by name. */
  others: Record<string, number[]>;
  note?: string;
}

export async function measureActivation(vsix: string, samples: number): Promise<Activation> {
  if (!existsSync(CODE_SERVER_BIN)) return { samples: [], others: {}, note: 'n/a: code-server is not installed (bash test/e2e/setup.sh installs it)' };
  if (!existsSync(CHROMIUM_BIN)) return { samples: [], others: {}, note: `n/a: no Chromium at ${CHROMIUM_BIN}` };
  const vs = await VSCode.launch({ vsix, prefix: 'socks5-bench-activation-' });
  const out: number[] = [];
  const others: Record<string, number[]> = {};
  try {
    const page = vs.page;
    const row = page.locator('.runtime-extensions-editor .extension', { hasText: EXTENSION_NAME });
    const read = async (): Promise<number> => {
      let ms: number | undefined;
      await waitFor(
        'the extension’s activation time in Running Extensions',
        async () => {
          const text = (await row.locator('.activation-time').textContent({ timeout: 1_000 }).catch(() => null)) ?? '';
          const m = /Activation: (\d+(?:\.\d+)?)ms/.exec(text);
          ms = m ? Number(m[1]) : undefined;
          return ms !== undefined;
        },
        { timeoutMs: 30_000 },
      );
      // Every row reads "NAME VERSION HOST [Startup ]Activation: N ms".
      for (const text of await page.locator('.runtime-extensions-editor .extension').allTextContents()) {
        const m = /^(.+?)\d+\.\d+\.\d+.*Activation: (\d+(?:\.\d+)?)ms/.exec(text.trim());
        if (m && m[1] !== EXTENSION_NAME) (others[m[1]] ??= []).push(Number(m[2]));
      }
      return ms!;
    };
    await runCommand(page, 'Developer: Show Running Extensions');
    out.push(await read());
    for (let i = 1; i < samples; i++) {
      // A new extension host: reload the window (code-server's palette has no "Restart Extension
      // Host"), wait for the page to load and the extension to show its status item again.
      const loaded = page.waitForEvent('load', { timeout: 30_000 });
      await runCommand(page, 'Developer: Reload Window');
      await loaded;
      await page.locator('.statusbar-item', { hasText: 'SOCKS5' }).first().waitFor({ state: 'visible', timeout: 60_000 });
      await runCommand(page, 'Developer: Show Running Extensions');
      out.push(await read());
    }
    return { samples: out, others };
  } finally {
    await vs.close();
  }
}
