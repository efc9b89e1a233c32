// Backpressure: a fast source and a slow reader, both ways, through the proxy running as its own
// process (the CLI). If the proxy read from the fast side regardless of the slow side, it would
// buffer the difference — hundreds of MiB a second on loopback. It must not: its resident memory
// stays within 64 MiB of its idle baseline, and end to end the bytes in flight stay bounded.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { close, listen } from '../support/net';
import { echoThrough, knob, rssBytes, sleep, socksConnect, spawnEcho, spawnProxy, type Child } from './support';

const MiB = 1024 * 1024;
const SECONDS = knob('BACKPRESSURE_SECONDS', 6);
const SESSIONS = knob('BACKPRESSURE_SESSIONS', 4); // each way
const CHUNK = Buffer.alloc(256 * 1024, 0x5a);
const SLOW_READ = 64 * 1024; // bytes per tick
const TICK_MS = 100;

/** Writes CHUNK as fast as the socket takes it (respecting its own drain), counting bytes. */
function flood(s: Socket, count: { n: number }): () => void {
  let stopped = false;
  const pump = () => {
    while (!stopped && !s.destroyed) {
      count.n += CHUNK.length;
      if (!s.write(CHUNK)) return;
    }
  };
  s.on('drain', pump);
  pump();
  return () => {
    stopped = true;
  };
}

/** Reads at most SLOW_READ bytes per tick from a paused socket, counting bytes. */
function trickleRead(s: Socket, count: { n: number }): () => void {
  s.pause();
  const t = setInterval(() => {
    let budget = SLOW_READ;
    let b: Buffer | null;
    while (budget > 0 && (b = s.read(Math.min(budget, s.readableLength || budget)) as Buffer | null) !== null) {
      count.n += b.length;
      budget -= b.length;
    }
  }, TICK_MS);
  return () => clearInterval(t);
}

describe('backpressure', () => {
  let proxy: Child;
  let echo: Child;
  let source: Server;
  let sourcePort: number;
  let sink: Server;
  let sinkPort: number;
  const sourceWritten = { n: 0 };
  const sinkRead = { n: 0 };
  const stops: Array<() => void> = [];
  const sockets: Socket[] = [];

  before(async () => {
    proxy = await spawnProxy(['--max-connections', '100', '-q']);
    echo = await spawnEcho();
    // A target that sends as fast as it can…
    source = createServer((s) => {
      s.on('error', () => {});
      sockets.push(s);
      stops.push(flood(s, sourceWritten));
    });
    sourcePort = await listen(source);
    // …and one that reads slowly.
    sink = createServer((s) => {
      s.on('error', () => {});
      sockets.push(s);
      stops.push(trickleRead(s, sinkRead));
    });
    sinkPort = await listen(sink);
  });

  after(async () => {
    for (const stop of stops) stop();
    for (const s of sockets) s.destroy();
    await close(source);
    await close(sink);
    await echo.stop();
    await proxy.stop();
  });

  it(`${SESSIONS} slow readers of fast sources and ${SESSIONS} fast writers to slow readers: proxy RSS grows < 64 MiB`, async (t) => {
    // Warm up: move some data through so buffers and code are in place, then take the baseline.
    for (let i = 0; i < 20; i++) await echoThrough(proxy.port, echo.port, undefined, 'w'.repeat(64 * 1024));
    await sleep(500);
    const base = rssBytes(proxy.pid);

    const clientRead = { n: 0 };
    const clientWritten = { n: 0 };
    for (let i = 0; i < SESSIONS; i++) {
      const down = await socksConnect(proxy.port, sourcePort);
      assert.equal(down.rep, 0);
      sockets.push(down.socket);
      stops.push(trickleRead(down.socket, clientRead));
      const up = await socksConnect(proxy.port, sinkPort);
      assert.equal(up.rep, 0);
      sockets.push(up.socket);
      stops.push(flood(up.socket, clientWritten));
    }

    let peak = base;
    const deadline = Date.now() + SECONDS * 1000;
    while (Date.now() < deadline) {
      await sleep(100);
      peak = Math.max(peak, rssBytes(proxy.pid));
    }
    const growth = peak - base;
    t.diagnostic(
      `proxy RSS ${(base / MiB).toFixed(1)} MiB → peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)}); ` +
        `down: source wrote ${(sourceWritten.n / MiB).toFixed(1)} MiB, clients read ${(clientRead.n / MiB).toFixed(1)} MiB; ` +
        `up: clients wrote ${(clientWritten.n / MiB).toFixed(1)} MiB, sink read ${(sinkRead.n / MiB).toFixed(1)} MiB`,
    );
    assert.ok(clientRead.n > 0 && sinkRead.n > 0, 'data moved both ways');
    assert.ok(growth < 64 * MiB, `proxy RSS grew ${(growth / MiB).toFixed(1)} MiB (limit 64)`);
    // Every byte the fast side wrote is either read or held in bounded buffers (kernel + proxy).
    assert.ok(sourceWritten.n - clientRead.n < 64 * MiB * 2, 'the fast source was held back (download)');
    assert.ok(clientWritten.n - sinkRead.n < 64 * MiB * 2, 'the fast client was held back (upload)');
    assert.equal(proxy.child.exitCode, null, 'the proxy is still running');
  });
});
