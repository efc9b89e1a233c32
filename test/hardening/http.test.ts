// Hostile input for the HTTP door: header floods (too many fields), 64 KiB header lines, slow
// headers (a first request and a kept-alive connection's next one), pipelined floods that never
// read their answers. Each gets its status (431 / 408) and a close, or is cut when it leaves;
// ordinary HTTP and SOCKS5 clients are served throughout; no fd or memory growth once it is over.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Socks5Server, type ClosedConnectionInfo } from '../../src/engine';
import { originServer } from '../support/http';
import { close, echoServer } from '../support/net';
import { closedWithin, echoThrough, guardProcess, knob, pool, rssBytes, settledFdCount, sleep, tcpConnect, waitFor } from './support';

const HANDSHAKE_MS = 1000;
const EACH = knob('HTTP_HOSTILE_CLIENTS', 40);

/** Collects what a socket receives; resolves `closed` when the server closes it. */
function collect(s: Socket): { text: () => string; closed: Promise<void> } {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return { text: () => Buffer.concat(parts).toString('latin1'), closed: closedWithin(s, HANDSHAKE_MS + 15_000) };
}

/** One plain GET through the proxy on a fresh connection: the answer's status line. */
async function plainGet(proxyPort: number, originPort: number): Promise<string> {
  const s = await tcpConnect(proxyPort);
  const c = collect(s);
  s.write(`GET http://127.0.0.1:${originPort}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  await c.closed;
  return c.text().split('\r\n')[0];
}

describe('HTTP door under hostile input', () => {
  let guard: ReturnType<typeof guardProcess>;
  let origin: Awaited<ReturnType<typeof originServer>>;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: Socks5Server;
  let port: number;
  const closed: ClosedConnectionInfo[] = [];

  before(async () => {
    guard = guardProcess();
    origin = await originServer();
    echo = await echoServer();
    proxy = new Socks5Server({ port: 0, maxConnections: 2000, timeouts: { handshakeMs: HANDSHAKE_MS, connectMs: 5000, idleMs: 0, bindMs: 5000 } });
    port = (await proxy.start()).port;
    proxy.on('close', (i) => closed.push(i));
  });
  after(async () => {
    await proxy.stop();
    await Promise.all([close(origin.server), close(echo.server)]);
    guard.dispose();
  });

  it(`${EACH} header floods, ${EACH} 64 KiB header lines, ${EACH} slow heads: 431 / 408 and a close each, others served, nothing left behind`, async (t) => {
    // Warm up (first-use allocations), then the baseline.
    assert.equal(await plainGet(port, origin.port), 'HTTP/1.1 200 OK');
    const fds = await settledFdCount();
    const rss = rssBytes();

    const floods = await Promise.all(
      Array.from({ length: EACH }, async () => {
        const s = await tcpConnect(port);
        const c = collect(s);
        s.write(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n`);
        // Fields until the server has had enough: 10,000 at most, each write small.
        void (async () => {
          for (let i = 0; i < 10_000 && !s.destroyed && !s.writableEnded && !s.readableEnded; i += 50) {
            s.write(Array.from({ length: 50 }, (_, j) => `X-F${i + j}: v\r\n`).join(''));
            await sleep(1);
          }
        })().catch(() => {});
        return c;
      }),
    );
    const lines = await Promise.all(
      Array.from({ length: EACH }, async () => {
        const s = await tcpConnect(port);
        const c = collect(s);
        s.on('error', () => {});
        s.write(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
        return c;
      }),
    );
    const slow = await Promise.all(
      Array.from({ length: EACH }, async () => {
        const s = await tcpConnect(port);
        const c = collect(s);
        const head = `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(40)}\r\n\r\n`;
        void (async () => {
          for (let i = 0; i < head.length && !s.destroyed && !s.readableEnded; i++) {
            s.write(head[i]);
            await sleep(100);
          }
        })().catch(() => {});
        return c;
      }),
    );

    // Ordinary clients, HTTP and SOCKS5, are served while all of that is under way.
    assert.equal(await plainGet(port, origin.port), 'HTTP/1.1 200 OK');
    await echoThrough(port, echo.port);

    await Promise.all([...floods, ...lines, ...slow].map((c) => c.closed));
    for (const c of floods) assert.match(c.text(), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[^]*Connection: close\r\n/);
    for (const c of lines) assert.match(c.text(), /^HTTP\/1\.1 431 /);
    for (const c of slow) assert.match(c.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.equal(origin.seen.length, 2, 'only the ordinary requests reached the origin');

    await waitFor(() => proxy.stats().active === 0, 10_000, 'every session to close');
    const after = await settledFdCount();
    t.diagnostic(`fds ${fds} → ${after}; rss ${(rss / 1048576).toFixed(1)} → ${(rssBytes() / 1048576).toFixed(1)} MiB`);
    assert.ok(after <= fds + 2, `fds back to where they were (${fds} → ${after})`);
    assert.ok(rssBytes() - rss < 64 * 1024 * 1024, 'memory did not run away');
    assert.deepEqual(guard.errors, []);
  });

  it(`${EACH} pipelined floods that never read their answers are held back and cut when they leave; ordered answers for one that reads`, async () => {
    const fds = await settledFdCount();
    const o = `127.0.0.1:${origin.port}`;
    const one = `GET http://${o}/big?n=20000 HTTP/1.1\r\nHost: ${o}\r\n\r\n`;
    const greedy = await Promise.all(
      Array.from({ length: EACH }, async () => {
        const s = await tcpConnect(port);
        s.on('error', () => {});
        s.pause(); // never reads: the proxy must stop reading the requests it cannot answer
        let written = 0;
        for (let i = 0; i < 20 && s.writable; i++) {
          if (!s.write(one.repeat(100))) await Promise.race([new Promise((r) => s.once('drain', r)), sleep(200)]);
          written += 100;
        }
        return { s, written };
      }),
    );
    await sleep(500);
    const seen = origin.seen.length;
    // What reached the origin is bounded by what the answers' buffers hold, not what was sent.
    assert.ok(seen < (EACH * 2000) / 4, `the origin saw ${seen} of ${EACH * 2000} requests`);
    for (const g of greedy) g.s.destroy();
    await waitFor(() => proxy.stats().active === 0, 10_000, 'the greedy sessions to close');

    // One that reads gets every answer, in order.
    const s = await tcpConnect(port);
    const c = collect(s);
    const paths = Array.from({ length: 50 }, (_, i) => `/status/${200 + (i % 5)}`);
    s.write(paths.map((p) => `GET http://${o}${p} HTTP/1.1\r\nHost: ${o}\r\n\r\n`).join('') + `GET http://${o}/ HTTP/1.1\r\nHost: ${o}\r\nConnection: close\r\n\r\n`);
    await c.closed;
    const statuses = [...c.text().matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [...paths.map((p) => Number(p.slice(8))), 200]);

    await pool(20, 10, async () => assert.equal(await plainGet(port, origin.port), 'HTTP/1.1 200 OK'));
    await waitFor(() => proxy.stats().active === 0, 10_000, 'every session to close');
    const after = await settledFdCount();
    assert.ok(after <= fds + 2, `fds back to where they were (${fds} → ${after})`);
    assert.deepEqual(guard.errors, []);
  });

  it('a kept-alive connection that dribbles its next head gets a 408 at the deadline', async () => {
    const s = await tcpConnect(port);
    const c = collect(s);
    const o = `127.0.0.1:${origin.port}`;
    s.write(`GET http://${o}/ HTTP/1.1\r\nHost: ${o}\r\n\r\n`);
    await waitFor(() => c.text().includes('hello\n'), 5000, 'the first answer');
    const t0 = Date.now();
    const next = `GET http://${o}/ HTTP/1.1\r\nHost: ${o}\r\nX: ${'y'.repeat(60)}\r\n\r\n`;
    for (let i = 0; i < next.length && !s.readableEnded; i++) {
      s.write(next[i]);
      await sleep(50);
    }
    await c.closed;
    assert.match(c.text(), /hello\n\r\n0\r\n\r\nHTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(Date.now() - t0 < HANDSHAKE_MS + 2000, 'at the deadline');
  });
});
