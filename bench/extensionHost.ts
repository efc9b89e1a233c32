// The extension host's CPU with many connections and the Connections view visible: the packaged
// extension in code-server 4.100.3 (as bench/activation.ts), the proxy started by autoStart, the
// view shown, N tunnels through it (this process's own sockets, SOCKS5 CONNECT by hand) to a
// loopback echo server here, each echoing 64 bytes once a second (so every row's bytes change and
// the view has rows to refresh), then the extension host process's CPU time over a window.
//
//   node --import tsx bench/extensionHost.ts [VSIX] [--connections N] [--seconds S] [--rounds R]
//
// Also called by bench/run.ts (`--only exthost`).

import { readFileSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import { freePort, runCommand, VSCode, waitFor } from '../test/e2e/harness';
import { cpuSeconds, processTree } from './proc';

export interface ExtensionHostCpu {
  /** Share of one core, per round (0.28 = 28 %). */
  samples: number[];
  connections: number;
  seconds: number;
  note?: string;
}

/** The pid of code-server's extension host (a node process started with --type=extensionHost). */
function extensionHostPid(root: number): number | undefined {
  for (const pid of processTree(root)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
      if (/--type=extensionHost/.test(cmd)) return pid;
    } catch {
      /* gone */
    }
  }
  return undefined;
}

function socksConnect(proxyPort: number, port: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: proxyPort });
    let buf = Buffer.alloc(0);
    let greeted = false;
    const timer = setTimeout(() => finish(false), 15_000);
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      sock.removeAllListeners('data');
      if (ok) resolve(sock);
      else {
        sock.destroy();
        resolve(undefined);
      }
    };
    sock.on('error', () => finish(false));
    sock.on('connect', () => sock.write(Buffer.from([5, 1, 0])));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!greeted && buf.length >= 2) {
        greeted = true;
        buf = buf.subarray(2);
        sock.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 255]));
      }
      if (greeted && buf.length >= 10) finish(buf[1] === 0);
    });
  });
}

export async function measureExtensionHostCpu(
  vsix: string,
  {
    connections = 3_000,
    seconds = 20,
    rounds = 3,
    log = (m: string): void => void process.stderr.write(`[exthost] ${m}\n`),
  }: { connections?: number; seconds?: number; rounds?: number; log?: (m: string) => void } = {},
): Promise<ExtensionHostCpu> {
  const echoSockets = new Set<net.Socket>();
  const echo = net.createServer((s) => {
    echoSockets.add(s);
    s.on('close', () => echoSockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen({ host: '127.0.0.1', port: 0, backlog: 2_048 }, r));
  const echoPort = (echo.address() as net.AddressInfo).port;
  const port = await freePort();
  const vs = await VSCode.launch({
    vsix,
    prefix: 'socks5-bench-exthost-',
    settings: { 'socks5.port': port, 'socks5.autoStart': true, 'socks5.maxConnections': connections + 100 },
  });
  const tunnels: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const page = vs.page;
    await page.locator('.statusbar-item', { hasText: `SOCKS5 :${port}` }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await runCommand(page, 'SOCKS5: Show Connections');
    const host = extensionHostPid(vs.cs.proc.pid);
    if (host === undefined) return { samples: [], connections, seconds, note: 'n/a: no extension host process found' };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < connections) {
        next++;
        const s = await socksConnect(port, echoPort);
        if (s) {
          s.on('data', () => undefined);
          s.on('error', () => undefined);
          tunnels.push(s);
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    log(`${tunnels.length} tunnels open (extension host pid ${host})`);
    // 64 bytes each way per connection per second, spread over the second.
    const payload = Buffer.alloc(64, 0x61);
    const slices = 20;
    for (let k = 0; k < slices; k++) {
      timers.push(
        setInterval(() => {
          for (let i = k; i < tunnels.length; i += slices) tunnels[i].write(payload);
        }, 1_000),
      );
    }
    await waitFor('the view to list the connections', async () => (await page.locator('[id="workbench.view.extension.socks5"] .monaco-list-row').count()) > 5, {
      timeoutMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 5_000)); // settle
    const samples: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const c0 = cpuSeconds(host, false);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, seconds * 1_000));
      const share = (cpuSeconds(host, false) - c0) / ((Date.now() - t0) / 1_000);
      samples.push(share);
      log(`round ${round + 1}: extension host ${(share * 100).toFixed(1)}% of a core`);
    }
    return { samples, connections: tunnels.length, seconds };
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of tunnels) s.destroy();
    await vs.close();
    for (const s of echoSockets) s.destroy();
    await new Promise<void>((r) => echo.close(() => r()));
  }
}

// Run on its own: node --import tsx bench/extensionHost.ts [VSIX] [--connections N] [--seconds S] [--rounds R]
if (require.main === module) {
  const argv = process.argv.slice(2);
  const opt = (k: string, d: number): number => {
    const i = argv.indexOf(k);
    return i === -1 ? d : Number(argv[i + 1]);
  };
  const vsix = argv[0] && !argv[0].startsWith('--') ? argv[0] : readdirSync('.').find((f) => f.endsWith('.vsix'));
  if (!vsix) throw new Error('no VSIX: run npm run package first or name one');
  measureExtensionHostCpu(vsix, { connections: opt('--connections', 3_000), seconds: opt('--seconds', 20), rounds: opt('--rounds', 3) })
    .then((r) => {
      const sorted = [...r.samples].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
      process.stdout.write(`${JSON.stringify({ ...r, median })}\n`);
    })
    .catch((e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    });
}
