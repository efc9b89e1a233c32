// The relay's bulk path: a direction that shows bulk traffic switches from 'data' events to reading
// into its own large buffer (src/engine/relay.ts, src/engine/readBuffer.ts). These tests prove that
// path carries every byte, in order, with backpressure and half-close, within its memory budget,
// and that the fallback without it still works. Real sockets, the `socks` npm client.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SocksClient } from 'socks';
import type { Socks5Server } from '../../src/engine';
import { canReadIntoBuffer } from '../../src/engine/readBuffer';
import { RELAY_BUFFER_BUDGET, RELAY_BUFFER_SIZE, relayBufferStats } from '../../src/engine/relay';
import { close, eventually, listen, readN, run, startProxy, within } from '../support/net';

const ROOT = join(__dirname, '..', '..');
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A target that sends `payload` (then FIN) as soon as a client connects, and hashes what it
 * receives; `received` resolves with that hash at the client's FIN.
 */
async function sourceSink(payload: Buffer): Promise<{ server: Server; port: number; received: () => Promise<{ hash: string; length: number }> }> {
  const results: Array<{ hash: string; length: number }> = [];
  const waiting: Array<(r: { hash: string; length: number }) => void> = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    const h = createHash('sha256');
    let length = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      length += d.length;
    });
    s.on('end', () => {
      const r = { hash: h.digest('hex'), length };
      const w = waiting.shift();
      if (w) w(r);
      else results.push(r);
    });
    s.end(payload);
  });
  const port = await listen(server);
  return {
    server,
    port,
    received: () => {
      const r = results.shift();
      return r ? Promise.resolve(r) : new Promise((res) => waiting.push(res));
    },
  };
}

/** A CONNECT through the proxy on a socket of our own: half-open allowed, so a test decides when it ends. */
async function socksConnect(proxyPort: number, port: number): Promise<Socket> {
  const own = connect({ host: '127.0.0.1', port: proxyPort, allowHalfOpen: true });
  await once(own, 'connect');
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port },
    timeout: 5000,
    existing_socket: own,
  });
  return socket;
}

/** Reads everything until the peer's FIN, pausing `pauseMs` after every `every` bytes (a slow reader). */
function readAll(socket: Socket, every = 0, pauseMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sinceLastPause = 0;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      sinceLastPause += d.length;
      if (every > 0 && sinceLastPause >= every) {
        sinceLastPause = 0;
        socket.pause();
        setTimeout(() => socket.resume(), pauseMs);
      }
    });
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

describe('relay: the bulk path', () => {
  let proxy: Socks5Server;
  let proxyPort: number;

  before(async () => {
    ({ server: proxy, port: proxyPort } = await startProxy());
  });
  after(async () => {
    await proxy.stop();
  });

  it('is available on this Node (else bulk transfers run at the slow path’s speed)', () => {
    assert.equal(canReadIntoBuffer(), true);
  });

  it('32 MiB each way at once, byte-exact, through a reader that keeps pausing; both directions switch', async () => {
    const down = randomBytes(32 * MiB);
    const up = randomBytes(32 * MiB);
    const target = await sourceSink(down);
    try {
      const before = relayBufferStats().switches;
      const socket = await socksConnect(proxyPort, target.port);
      const got = readAll(socket, 4 * MiB, 30);
      socket.end(up);
      const back = await within(got, 'the whole download', 30_000);
      assert.equal(back.length, down.length);
      assert.equal(sha(back), sha(down), 'download byte-exact');
      const sent = await within(target.received(), 'the whole upload', 30_000);
      assert.equal(sent.length, up.length);
      assert.equal(sent.hash, sha(up), 'upload byte-exact');
      assert.ok(relayBufferStats().switches - before >= 2, 'both directions read into their own buffer');
      await eventually(() => proxy.recentlyClosed().some((c) => c.destination?.port === target.port), 5000, 'the session to close');
      const info = proxy.recentlyClosed().find((c) => c.destination?.port === target.port)!;
      assert.equal(info.bytesDown, down.length, 'bytes counted on the bulk path');
      assert.equal(info.bytesUp, up.length);
      await eventually(() => relayBufferStats().inUse === 0, 5000, 'the buffers to be released');
    } finally {
      await close(target.server);
    }
  });

  it('small exchanges: a direction moves to the shared buffer at its second chunk, not its first; every byte arrives in order', async () => {
    const echo = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const echoPort = await listen(echo);
    try {
      const before = relayBufferStats().shared;
      const socket = await socksConnect(proxyPort, echoPort);
      socket.setNoDelay(true);
      const ask = async (msg: Buffer): Promise<Buffer> => {
        const back = readN(socket, msg.length);
        socket.write(msg);
        return back;
      };
      const first = randomBytes(100);
      assert.deepEqual(await ask(first), first);
      assert.equal(relayBufferStats().shared - before, 0, 'one chunk each way: no switch yet');
      for (let i = 0; i < 50; i++) {
        const m = randomBytes(1 + ((i * 977) % 4000));
        assert.deepEqual(await ask(m), m, `message ${i + 2}`);
      }
      assert.equal(relayBufferStats().shared - before, 2, 'both directions read into the shared buffer');
      socket.end();
    } finally {
      await close(echo);
    }
  });

  it('after a bulk download, small exchanges on the same connection give its buffer back', async () => {
    const big = randomBytes(8 * MiB);
    // "big" → 8 MiB; anything else is echoed.
    const target = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => s.write(d.toString() === 'big' ? big : d));
      s.on('end', () => s.end());
    });
    const port = await listen(target);
    try {
      const before = relayBufferStats();
      const socket = await socksConnect(proxyPort, port);
      const receive = (n: number): Promise<Buffer> => readN(socket, n, 20_000);
      const download = receive(big.length);
      socket.write('big');
      assert.equal(sha(await download), sha(big));
      assert.equal(relayBufferStats().inUse, before.inUse + 1, 'the download read into a buffer of its own');
      for (let i = 0; i < 12; i++) {
        const m = randomBytes(200 + i);
        const back = receive(m.length);
        socket.write(m);
        assert.deepEqual(await back, m, `exchange ${i + 1}`);
      }
      assert.equal(relayBufferStats().inUse, before.inUse, 'given back while the connection is still open');
      const again = receive(big.length);
      socket.write('big');
      assert.equal(sha(await again), sha(big), 'a second download after the give-back is byte-exact');
      socket.end();
    } finally {
      await close(target);
    }
  });

  for (const mode of ['bulk', 'small'] as const) {
    it(`a target that resets after ${mode === 'bulk' ? '8 MiB (own buffer)' : 'many small chunks (shared buffer)'}: the client gets a reset, never a clean end`, async () => {
      const before = relayBufferStats();
      const target = createServer((s) => {
        s.on('error', () => {});
        if (mode === 'bulk') {
          s.write(randomBytes(8 * MiB), () => setTimeout(() => s.resetAndDestroy(), 50));
          return;
        }
        let n = 0;
        const tick = setInterval(() => {
          if (s.destroyed) return clearInterval(tick);
          if (n++ < 20) s.write(randomBytes(100));
          else {
            clearInterval(tick);
            s.resetAndDestroy();
          }
        }, 5);
      });
      const port = await listen(target);
      try {
        const socket = await socksConnect(proxyPort, port);
        let got = 0;
        let ended = false;
        socket.on('data', (d: Buffer) => (got += d.length));
        socket.on('end', () => (ended = true));
        const err = await within(
          new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve)),
          'the reset to reach the client',
          20_000,
        );
        assert.equal(err.code, 'ECONNRESET');
        assert.equal(ended, false, 'no FIN before the reset');
        assert.ok(got > 0, 'data went through before the reset');
        const after = relayBufferStats();
        if (mode === 'bulk') assert.ok(after.switches > before.switches, 'the download read into its own buffer');
        else assert.ok(after.shared > before.shared, 'the chunks went through the shared buffer');
      } finally {
        await close(target);
      }
    });
  }

  it('half-close after bulk: the target’s FIN reaches the client, which can still send', async () => {
    const down = randomBytes(8 * MiB);
    const target = await sourceSink(down);
    try {
      const socket = await socksConnect(proxyPort, target.port);
      const back = await within(readAll(socket), 'the download and its FIN', 20_000);
      assert.equal(sha(back), sha(down));
      socket.end('still here after your FIN');
      const sent = await within(target.received(), 'the client’s late bytes', 10_000);
      assert.equal(sent.hash, sha(Buffer.from('still here after your FIN')));
    } finally {
      await close(target.server);
    }
  });

  it(`at most ${RELAY_BUFFER_BUDGET / RELAY_BUFFER_SIZE} directions hold a buffer of their own; the rest share one, concurrently and just as exact`, async () => {
    const cap = RELAY_BUFFER_BUDGET / RELAY_BUFFER_SIZE;
    const chunk = randomBytes(4 * MiB);
    const BIG = 6;
    // Sends 4 MiB (in one write, so the proxy's reads find its receive queue full) per "go" (24 per "GO"), and
    // stays open: a direction that switched keeps its buffer while its connection lives.
    const target = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        for (let i = d.toString() === 'go' ? 1 : BIG; i > 0; i--) s.write(chunk);
      });
      s.on('end', () => s.end());
    });
    const targetPort = await listen(target);
    const sockets: Socket[] = [];
    const download = async (slow: boolean, times = 1): Promise<Buffer> => {
      const s = await socksConnect(proxyPort, targetPort);
      sockets.push(s);
      const chunks: Buffer[] = [];
      let got = 0;
      let sincePause = 0;
      const all = new Promise<Buffer>((resolve) =>
        s.on('data', (d: Buffer) => {
          chunks.push(d);
          got += d.length;
          sincePause += d.length;
          if (got === chunk.length * times) resolve(Buffer.concat(chunks));
          else if (slow && sincePause >= 512 * 1024) {
            // A slow reader: the proxy's writes to it back up while other connections read on.
            sincePause = 0;
            s.pause();
            setTimeout(() => s.resume(), 20);
          }
        }),
      );
      s.write(times === 1 ? 'go' : 'GO');
      return all;
    };
    try {
      const before = relayBufferStats().switches;
      for (let i = 0; i < cap; i++) {
        assert.equal(sha(await within(download(false), `download ${i + 1}`, 20_000)), sha(chunk), `download ${i + 1} byte-exact`);
      }
      assert.equal(relayBufferStats().inUse, cap, 'the budget is used');
      assert.ok(relayBufferStats().switches - before >= cap);
      // Over the budget: 8 more at once, half of them slow (more than the kernel's socket buffers
      // hold, so writes to them back up), all reading through the shared buffer.
      const more = await within(Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => download(i % 2 === 0, BIG))), '8 concurrent downloads', 30_000);
      assert.equal(relayBufferStats().inUse, cap, 'never above the budget');
      const whole = sha(Buffer.concat(Array<Buffer>(BIG).fill(chunk)));
      more.forEach((b, i) => assert.equal(sha(b), whole, `concurrent download ${i + 1} byte-exact`));
      for (const s of sockets) s.end();
      await eventually(() => relayBufferStats().inUse === 0, 10_000, 'every buffer to be released');
    } finally {
      for (const s of sockets) s.destroy();
      await close(target);
    }
  });
});

describe('relay: without the bulk path (SOCKS5_NO_READ_BUFFER=1)', () => {
  it('the switch is off', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', '-e', "console.log(require('./src/engine/readBuffer').canReadIntoBuffer())"], 15_000, {
      ...process.env,
      SOCKS5_NO_READ_BUFFER: '1',
    });
    assert.equal(r.stdout.trim(), 'false', r.stderr);
  });

  it('the CLI still relays 16 MiB each way byte-exact', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), '--port', '0'], {
      env: { ...process.env, SOCKS5_NO_READ_BUFFER: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const down = randomBytes(16 * MiB);
    const up = randomBytes(16 * MiB);
    const target = await sourceSink(down);
    try {
      const [line] = (await within(once(child.stdout, 'data'), 'the CLI to start', 10_000)) as [Buffer];
      const port = Number(/:(\d+)/.exec(line.toString())?.[1]);
      assert.ok(port > 0, `port in: ${line.toString()}`);
      const socket = await socksConnect(port, target.port);
      const got = readAll(socket, 4 * MiB, 30);
      socket.end(up);
      assert.equal(sha(await within(got, 'the download', 30_000)), sha(down));
      assert.equal((await within(target.received(), 'the upload', 30_000)).hash, sha(up));
    } finally {
      child.kill('SIGTERM');
      await close(target.server);
    }
  });
});
