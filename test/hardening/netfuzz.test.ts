// Network fuzz: thousands of random and mutated handshakes, split into random segments and ended
// every way a client can end, against live in-process servers (one open, one with users). The
// process must see no uncaught exception and no unhandled rejection; a normal CONNECT is checked
// all along; with users, not one fuzzed client may reach a target.
//
// Every destination a fuzzed request could reach is rewritten to a loopback "canary" listener
// before sending (the test predicts what the server will parse with the engine's own parsers), so
// the fuzz never makes the proxy connect, listen or resolve anywhere but 127.0.0.1.
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Socks5Server, type ConnectionInfo, type Outcome } from '../../src/engine';
import { HeadReader } from '../../src/engine/protocol/http/head';
import { parseRequestHead } from '../../src/engine/protocol/http/request';
import { parseSocks4Request } from '../../src/engine/protocol/socks4/wire';
import { parseAuthRequest, parseGreeting, parseRequest, parseUdpHeader } from '../../src/engine/protocol/socks5/wire';
import { close, echoServer, listen } from '../support/net';
import {
  echoThrough,
  fdCount,
  guardProcess,
  ipv4Address,
  knob,
  pool,
  settledFdCount,
  sleep,
  socksCommand,
  tcpConnect,
  udpFrame,
  waitFor,
  type Creds,
} from './support';

const CASES = knob('FUZZ_CASES', 10_000);
const PARALLEL = knob('FUZZ_PARALLEL', 100);
const SEED = knob('FUZZ_SEED', Date.now() % 1_000_000_007);
const HANDSHAKE_MS = 300;
const CREDS: Creds = { user: 'alice', pass: 'correct horse battery staple' };

// --- a seeded PRNG (mulberry32), so a failing run can be replayed with FUZZ_SEED ------------------

function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  return {
    next,
    int,
    pick: <T>(a: readonly T[]): T => a[int(0, a.length - 1)],
    bytes: (n: number) => Array.from({ length: n }, () => int(0, 255)),
  };
}
type Rng = ReturnType<typeof rng>;

// --- inputs ---------------------------------------------------------------------------------------

function validHandshake(r: Rng, withAuth: boolean): number[] {
  const out: number[] = [];
  // Greeting: the right method somewhere among others (or sometimes not).
  const methods = r.bytes(r.int(0, 6));
  if (r.next() < 0.9) methods.splice(r.int(0, methods.length), 0, withAuth ? 2 : 0);
  out.push(5, methods.length, ...methods);
  if (withAuth) {
    // Plausible but wrong credentials: a real user with a wrong password, or a stranger.
    const u = Buffer.from(r.pick(['alice', 'bob', 'root', 'x'.repeat(r.int(1, 255))]));
    const p = Buffer.from(r.pick(['wrong', 'correct horse battery stapl', '', 'p'.repeat(r.int(1, 255))]));
    out.push(1, u.length, ...u, p.length, ...p);
  }
  const cmd = r.pick([1, 1, 1, 2, 3, r.int(0, 255)]);
  out.push(5, cmd, r.pick([0, 0, r.int(0, 255)]));
  const atyp = r.pick([1, 3, 4, r.int(0, 255)]);
  if (atyp === 1) out.push(1, 127, 0, 0, 1);
  else if (atyp === 4) out.push(4, ...r.bytes(16));
  else if (atyp === 3) {
    const name = r.pick(['localhost', 'example.invalid', 'x'.repeat(r.int(0, 255)), String.fromCharCode(...r.bytes(r.int(1, 40)))]);
    const b = Buffer.from(name, 'latin1').subarray(0, 255);
    out.push(3, b.length, ...b);
  } else out.push(atyp, ...r.bytes(r.int(0, 20)));
  out.push(r.int(0, 255), r.int(0, 255));
  if (r.next() < 0.3) out.push(...r.bytes(r.int(1, 200))); // early payload
  return out;
}

/** SOCKS4 / SOCKS4a requests: user ids with and without their NUL (up to 64 KiB), names, early data. */
function validSocks4(r: Rng): number[] {
  const cmd = r.pick([1, 1, 1, 2, r.int(0, 255)]);
  const port = r.int(0, 65535);
  const out = [4, cmd, port >> 8, port & 0xff];
  const socks4a = r.next() < 0.4;
  out.push(...(socks4a ? [0, 0, 0, r.int(1, 255)] : [127, 0, 0, 1]));
  const uid = r.pick([0, 0, 5, r.int(0, 300), 64 * 1024]);
  for (let i = 0; i < uid; i++) out.push(r.int(1, 255));
  if (uid === 64 * 1024) return out; // a user id without NUL: must get 0x5B and a close
  out.push(0);
  if (socks4a) {
    const name = Buffer.from(r.pick(['localhost', 'example.invalid', 'x'.repeat(r.int(0, 300))]));
    out.push(...name);
    if (r.next() < 0.9) out.push(0);
  }
  if (r.next() < 0.3) out.push(...r.bytes(r.int(1, 200))); // early payload
  return out;
}

/**
 * HTTP proxy requests (an ASCII letter first): CONNECT, absolute-URI forwarding and requests to the
 * proxy itself, with wrong or odd credentials, framing (Content-Length, chunked, both), many or
 * long header fields, bodies and pipelined followers. `PORT` is replaced by confine().
 */
function validHttp(r: Rng, withAuth: boolean): number[] {
  const method = r.pick(['GET', 'GET', 'POST', 'CONNECT', 'CONNECT', 'HEAD', 'PUT', 'OPTIONS', 'BREW']);
  const target =
    method === 'CONNECT'
      ? r.pick(['127.0.0.1:PORT', 'localhost:PORT', '[::1]:PORT', '127.0.0.1'])
      : r.pick(['http://127.0.0.1:PORT/x?y=1', 'http://localhost:PORT/', '/proxy.pac', '/', '*', 'https://127.0.0.1:PORT/', 'http://u:p@127.0.0.1:PORT/']);
  const lines = [`${method} ${target} ${r.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x'])}`];
  if (r.next() < 0.9) lines.push(`Host: ${r.pick(['127.0.0.1:PORT', 'localhost', '', 'a b'])}`);
  if (withAuth || r.next() < 0.2) {
    const creds = r.pick(['alice:wrong', 'bob:correct horse battery staple', 'alice:', ':', 'alice']);
    lines.push(`Proxy-Authorization: ${r.pick(['Basic ', 'basic ', 'Bearer ', ''])}${r.pick([Buffer.from(creds).toString('base64'), '!!!', ''])}`);
  }
  const body = r.next() < 0.4 ? 'x'.repeat(r.int(0, 300)) : '';
  const framing = r.int(0, 5);
  if (framing === 1) lines.push(`Content-Length: ${body.length}`);
  else if (framing === 2) lines.push('Transfer-Encoding: chunked');
  else if (framing === 3) lines.push(`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked');
  else if (framing === 4) lines.push(`Content-Length: ${r.int(0, 10)}`, `Content-Length: ${r.int(0, 10)}`);
  const many = r.pick([0, 0, 3, 99, 150]);
  for (let i = 0; i < many; i++) lines.push(`X-F${i}: ${r.pick(['v', '', ' folded'])}`);
  if (r.next() < 0.1) lines.push(`X-Long: ${'l'.repeat(r.pick([100, 16 * 1024, 70 * 1024]))}`);
  if (r.next() < 0.2) lines.push('Connection: keep-alive, X-F1', 'Expect: 100-continue');
  let text = `${lines.join(r.next() < 0.9 ? '\r\n' : '\n')}\r\n\r\n`;
  text += framing === 2 || framing === 3 ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : body;
  if (r.next() < 0.3) text += 'GET http://127.0.0.1:PORT/next HTTP/1.1\r\nHost: x\r\n\r\n'; // pipelined
  return [...Buffer.from(text, 'latin1')];
}

function mutate(r: Rng, a: number[]): number[] {
  const b = a.slice();
  const edits = r.int(1, 4);
  for (let k = 0; k < edits; k++) {
    const i = b.length === 0 ? 0 : r.int(0, b.length - 1);
    switch (r.int(0, 6)) {
      case 0: b[i] = (b[i] ?? 0) ^ (1 << r.int(0, 7)); break; // bit flip
      case 1: b[i] = r.pick([0, 1, 2, 3, 4, 5, 0x7f, 0x80, 0xfe, 0xff]); break; // interesting byte
      case 2: b.splice(i, 0, ...r.bytes(r.int(1, 8))); break; // insert
      case 3: b.splice(i, r.int(1, 8)); break; // delete
      case 4: b.length = i; break; // truncate
      case 5: b.push(...b.slice(i, i + r.int(1, 64))); break; // duplicate a run
      default: b.push(...r.bytes(r.int(1, 300))); // append junk
    }
  }
  return b;
}

function input(r: Rng, withAuth: boolean): { bytes: number[]; kind: string } {
  const x = r.next();
  if (x < 0.25) return { bytes: r.bytes(r.int(0, 600)), kind: 'random' };
  if (x < 0.35) return { bytes: [5, ...r.bytes(r.int(0, 300))], kind: 'random-v5' };
  if (x < 0.45) return { bytes: validHandshake(r, withAuth), kind: 'valid' };
  if (x < 0.55) return { bytes: validSocks4(r), kind: 'socks4' };
  if (x < 0.65) return { bytes: mutate(r, validSocks4(r)), kind: 'socks4-mutated' };
  if (x < 0.72) return { bytes: validHttp(r, withAuth), kind: 'http' };
  if (x < 0.8) return { bytes: mutate(r, validHttp(r, withAuth)), kind: 'http-mutated' };
  return { bytes: mutate(r, validHandshake(r, withAuth)), kind: 'mutated' };
}

/**
 * Predicts what the server will parse (with the engine's own parsers) and, if the bytes reach a
 * request for a known command, points its address at 127.0.0.1:`port`.
 */
function confine(bytes: number[], withAuth: boolean, port: number): Buffer {
  const buf = Buffer.from(bytes);
  if ((buf[0] | 0x20) >= 0x61 && (buf[0] | 0x20) <= 0x7a) return confineHttp(buf, port);
  if (buf[0] === 4) {
    // SOCKS4: CONNECT/BIND to 127.0.0.1:`port`, a 4a name replaced by that address.
    const q = parseSocks4Request(buf);
    if (q.status !== 'done' || ![1, 2].includes(q.value.cmd)) return buf;
    const head = Buffer.from([4, q.value.cmd, port >> 8, port & 0xff, 127, 0, 0, 1]);
    return Buffer.concat([head, Buffer.from(q.value.userid), Buffer.from([0]), buf.subarray(q.length)]);
  }
  const g = parseGreeting(buf);
  if (g.status !== 'done' || !g.value.methods.includes(withAuth ? 2 : 0)) return buf;
  let off = g.length;
  if (withAuth) {
    const a = parseAuthRequest(buf.subarray(off));
    if (a.status !== 'done') return buf;
    if (a.value.username === CREDS.user && a.value.password.toString() === CREDS.pass) throw new Error('the fuzz generated valid credentials');
    off += a.length; // the server refuses these credentials and never reads on; if it did, it still goes nowhere but `port`
  }
  const q = parseRequest(buf.subarray(off));
  if (q.status !== 'done' || ![1, 2, 3].includes(q.value.cmd)) return buf;
  const fixed = [1, 127, 0, 0, 1, port >> 8, port & 0xff];
  return Buffer.concat([buf.subarray(0, off + 3), Buffer.from(fixed), buf.subarray(off + q.length)]);
}

/**
 * HTTP: what the door will read as its first request (its own reader and parser); a CONNECT or
 * absolute-URI target becomes 127.0.0.1:`port`. Only the first request ever dials: the canary
 * never answers in HTTP, so no exchange completes and no pipelined follower is reached.
 */
function confineHttp(buf: Buffer, port: number): Buffer {
  const text = Buffer.from(buf.toString('latin1').replaceAll('PORT', String(port)), 'latin1');
  const head = new HeadReader().push(text);
  if (head.status !== 'done') return text;
  const req = parseRequestHead(head.lines);
  if ('code' in req || (req.target.form !== 'authority' && req.target.form !== 'absolute')) return text;
  const to = req.target.form === 'authority' ? `127.0.0.1:${port}` : `http://127.0.0.1:${port}${req.target.path}`;
  const lines = [`${req.method} ${to} HTTP/1.${req.minor}`, ...head.lines.slice(1)];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head.rest]);
}

// --- one fuzzed client ----------------------------------------------------------------------------

async function fuzzOne(r: Rng, proxyPort: number, bytes: Buffer): Promise<void> {
  const s: Socket = await tcpConnect(proxyPort);
  let closed = false;
  s.on('close', () => (closed = true));
  s.on('end', () => {
    if (r.next() < 0.8) s.end(); // most clients close when the server does; some linger half-open
  });
  s.resume();
  // Random segmentation, sometimes with a pause between segments.
  for (let off = 0; off < bytes.length && !closed; ) {
    const n = r.pick([1, 1, 2, 3, 7, 16, 64, 1000]);
    s.write(bytes.subarray(off, off + n));
    off += n;
    if (r.next() < 0.1) await sleep(r.int(0, 5));
  }
  const end = r.int(0, 9);
  if (end <= 2) s.end(); // FIN
  else if (end === 3) s.destroy(); // close
  else if (end === 4) s.resetAndDestroy(); // RST
  // Otherwise (or after FIN) wait for the server to finish with us; bounded.
  const deadline = Date.now() + HANDSHAKE_MS + 700;
  while (!closed && Date.now() < deadline) await sleep(10);
  s.destroy();
}

// --- the test -------------------------------------------------------------------------------------

describe('network fuzz', () => {
  let guard: ReturnType<typeof guardProcess>;
  let open: Socks5Server;
  let auth: Socks5Server;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  // Where fuzzed requests point: one listener per server, counting who reached it.
  let canary: Server;
  let canaryPort: number;
  let canaryHits = 0;
  let authCanary: Server;
  let authCanaryPort: number;
  let authCanaryHits = 0;

  before(async () => {
    guard = guardProcess();
    const timeouts = { handshakeMs: HANDSHAKE_MS, connectMs: 2000, idleMs: 0, bindMs: 1000 };
    open = new Socks5Server({ port: 0, timeouts, maxConnections: 4 * PARALLEL });
    auth = new Socks5Server({ port: 0, timeouts, maxConnections: 4 * PARALLEL, users: new Map([[CREDS.user, CREDS.pass]]) });
    await open.start();
    await auth.start();
    echo = await echoServer();
    let k = 0;
    // Half the sessions that get through are echoed, half reset by the target at once.
    canary = createServer({ allowHalfOpen: true }, (c) => {
      canaryHits++;
      c.on('error', () => {});
      if (k++ % 2 === 0) c.pipe(c);
      else c.resetAndDestroy();
    });
    canaryPort = await listen(canary);
    authCanary = createServer((c) => {
      authCanaryHits++;
      c.destroy();
    });
    authCanaryPort = await listen(authCanary);
  });

  after(async () => {
    await open.stop();
    await auth.stop();
    await close(echo.server);
    await close(canary);
    await close(authCanary);
    guard.dispose();
  });

  it(`${CASES} random and mutated handshakes: no crash, no auth bypass, CONNECT keeps working`, async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED}`);
    const outcomes = new Map<string, number>();
    const internal: string[] = [];
    const tally = (server: string) => (info: { outcome: Outcome }) => {
      const k = `${server}:${info.outcome.kind}`;
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      if (/internal error/.test(info.outcome.message)) internal.push(info.outcome.message);
    };
    open.on('close', tally('open'));
    auth.on('close', tally('auth'));
    const bypass: ConnectionInfo[] = [];
    auth.on('update', (info) => {
      if (info.command !== undefined && info.user === undefined) bypass.push(info);
    });

    const fdBase = await settledFdCount();
    // A prober: a normal CONNECT (and one with the right password) every 100 ms while the fuzz runs.
    let fuzzing = true;
    let probes = 0;
    const prober = (async () => {
      while (fuzzing) {
        await echoThrough(open.address!.port, echo.port);
        await echoThrough(auth.address!.port, echo.port, CREDS);
        probes++;
        await sleep(100);
      }
    })();
    prober.catch(() => (fuzzing = false));

    const r = rng(SEED);
    const kinds = new Map<string, number>();
    // Inputs are drawn up front so the sequence depends on the seed only, not on scheduling.
    const cases = Array.from({ length: CASES }, (_, i) => {
      const withAuth = i % 2 === 1;
      const { bytes, kind } = input(r, withAuth);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      return { withAuth, bytes: confine(bytes, withAuth, withAuth ? authCanaryPort : canaryPort), seed: r.int(0, 2 ** 31) };
    });
    try {
      await pool(CASES, PARALLEL, async (i) => {
        if (!fuzzing) throw new Error('the prober failed: the server stopped serving normal CONNECTs');
        const c = cases[i];
        await fuzzOne(rng(c.seed), (c.withAuth ? auth : open).address!.port, c.bytes);
      });
    } finally {
      fuzzing = false;
    }
    await prober; // rethrows a prober failure
    // And once more after the storm.
    await echoThrough(open.address!.port, echo.port);
    await echoThrough(auth.address!.port, echo.port, CREDS);

    await waitFor(
      () => open.stats().active === 0 && auth.stats().active === 0,
      10_000,
      () => `sessions to end; left: ${JSON.stringify([...open.connections(), ...auth.connections()].slice(0, 5))}`,
    );
    t.diagnostic(`inputs: ${[...kinds].map(([k, v]) => `${k} ${v}`).join(', ')}; ${probes} probe rounds passed`);
    t.diagnostic(`outcomes: ${[...outcomes].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
    t.diagnostic(`fuzzed sessions reached the target ${canaryHits} times through the open server, ${authCanaryHits} through the one with users`);

    assert.deepEqual(guard.errors, [], 'no uncaught exception or unhandled rejection');
    assert.deepEqual(internal, [], 'no handler threw (the session catch-all never fired)');
    assert.deepEqual(bypass, [], 'with users, no session got a command without authenticating');
    assert.equal(authCanaryHits, 0, 'with users, no fuzzed client reached a target');
    assert.ok(probes > 0, 'the prober ran');
    assert.ok(canaryHits > 0, 'some fuzzed requests were well-formed enough to connect (the fuzz reaches the commands)');
    // Back to the fds we started with: nothing leaked by any path.
    await waitFor(() => fdCount() <= fdBase, 10_000, () => `fds back to ${fdBase} (now ${fdCount()})`);
  });
});

// --- UDP datagrams -------------------------------------------------------------------------------

const DATAGRAMS = knob('FUZZ_UDP_DATAGRAMS', 10_000);

function validDatagram(r: Rng): number[] {
  const out = [r.pick([0, 0, 0, r.int(0, 255)]), r.pick([0, 0, 0, r.int(0, 255)]), r.pick([0, 0, 0, 0, 1, r.int(0, 255)])];
  const atyp = r.pick([1, 1, 3, 4, r.int(0, 255)]);
  if (atyp === 1) out.push(1, 127, 0, 0, 1);
  else if (atyp === 4) out.push(4, ...r.bytes(16));
  else if (atyp === 3) {
    const b = Buffer.from(r.pick(['localhost', 'example.invalid', String.fromCharCode(...r.bytes(r.int(0, 40)))]), 'latin1');
    out.push(3, b.length, ...b);
  } else out.push(atyp, ...r.bytes(r.int(0, 20)));
  out.push(r.int(0, 255), r.int(0, 255), ...r.bytes(r.int(0, 100)));
  return out;
}

/**
 * Confines a datagram the relay would forward (FRAG 0, port ≠ 0, a parseable header) to
 * 127.0.0.1:`port` (the name `localhost` is kept: it resolves from /etc/hosts), and tags its DATA
 * with who sent it so the target can tell.
 */
function confineDatagram(bytes: number[], port: number, tag: string): Buffer {
  const buf = Buffer.from(bytes);
  const h = parseUdpHeader(buf);
  if (!h.ok || h.value.frag !== 0 || h.value.port === 0) return buf;
  const data = Buffer.concat([Buffer.from(`${tag}|`), buf.subarray(h.value.dataOffset)]);
  if (h.value.type === 'domain' && h.value.host === 'localhost') {
    return Buffer.concat([buf.subarray(0, h.value.dataOffset - 2), Buffer.from([port >> 8, port & 0xff]), data]);
  }
  return Buffer.concat([Buffer.from([buf[0], buf[1], 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]), data]);
}

describe('UDP datagram fuzz', () => {
  it(`${DATAGRAMS} random and mutated datagrams from the client and from strangers: only the client's reach a target`, async (t) => {
    const guard = guardProcess();
    const SEED2 = (SEED + 1) % 1_000_000_007;
    t.diagnostic(`FUZZ_SEED=${SEED} (datagrams: ${SEED2})`);
    const r = rng(SEED2);
    const server = new Socks5Server({ port: 0 });
    const port = (await server.start()).port;
    const echo = await echoServer();
    // The target: echoes every datagram back to its sender, and records whose it was.
    const target = createSocket('udp4');
    const fromTags = new Map<string, number>();
    target.on('message', (msg, rinfo) => {
      const tag = msg.toString('latin1', 0, msg.indexOf(0x7c));
      fromTags.set(tag, (fromTags.get(tag) ?? 0) + 1);
      target.send(msg, rinfo.port, rinfo.address);
    });
    await new Promise<void>((res) => target.bind(0, '127.0.0.1', () => res()));
    const targetPort = target.address().port;
    // The client's own UDP socket, and strangers: same IP other port, another loopback IP, IPv6.
    const open = async (type: 'udp4' | 'udp6', host: string) => {
      const s = createSocket(type);
      await new Promise<void>((res) => s.bind(0, host, () => res()));
      return s;
    };
    const client = await open('udp4', '127.0.0.1');
    const strangers = { 'same-ip': await open('udp4', '127.0.0.1'), 'other-ip': await open('udp4', '127.0.0.2'), ipv6: await open('udp6', '::1') };
    let clientGot = 0;
    client.on('message', () => clientGot++);
    const strangerGot: Record<string, number> = {};
    for (const [name, s] of Object.entries(strangers)) s.on('message', () => (strangerGot[name] = (strangerGot[name] ?? 0) + 1));
    const controls: Socket[] = [];
    try {
      // Two associations: one names the client's port, one leaves it to the first datagram.
      const pinned = await socksCommand(port, 3, ipv4Address('127.0.0.1', client.address().port));
      const unpinned = await socksCommand(port, 3, ipv4Address('0.0.0.0', 0));
      controls.push(pinned.socket, unpinned.socket);
      assert.equal(pinned.rep, 0);
      assert.equal(unpinned.rep, 0);
      // The unpinned one is pinned by the client's first datagram, before any stranger speaks.
      client.send(udpFrame('127.0.0.1', targetPort, 'client|hello'), unpinned.port, '127.0.0.1');
      await waitFor(() => clientGot >= 1, 5000, 'the first round trip');

      const relays = [pinned.port, unpinned.port];
      const senders: Array<[string, UdpSocket]> = [['client', client], ...Object.entries(strangers)];
      for (let i = 0; i < DATAGRAMS; i++) {
        const [name, sock] = r.next() < 0.6 ? senders[0] : r.pick(senders.slice(1));
        const raw = r.next() < 0.2 ? r.bytes(r.int(0, 300)) : r.next() < 0.3 ? validDatagram(r) : mutate(r, validDatagram(r));
        const dgram = confineDatagram(raw, targetPort, name);
        const relayPort = r.pick(relays);
        sock.send(dgram, relayPort, name === 'ipv6' ? '::1' : '127.0.0.1');
        if (i % 200 === 199) {
          await sleep(5); // let the loopback queues drain: this is a fuzz, not a flood
          if (i % 2000 === 1999) await echoThrough(port, echo.port); // TCP keeps being served
        }
      }
      // And the associations still relay for their client.
      const before = clientGot;
      client.send(udpFrame('127.0.0.1', targetPort, 'client|final'), pinned.port, '127.0.0.1');
      await waitFor(() => clientGot > before, 5000, 'a round trip after the fuzz');
      await sleep(200);

      const infos = server.connections().filter((c) => c.command === 'udpAssociate');
      const dropped = infos.reduce((n, c) => n + (c.datagramsDropped ?? 0), 0);
      const up = infos.reduce((n, c) => n + (c.datagramsUp ?? 0), 0);
      t.diagnostic(`target got ${[...fromTags].map(([k, v]) => `${v} from ${k}`).join(', ')}; relays forwarded ${up}, dropped ${dropped}; strangers got back ${JSON.stringify(strangerGot)}`);
      assert.deepEqual([...fromTags.keys()].filter((k) => k !== 'client'), [], 'no stranger’s datagram reached the target');
      assert.deepEqual(strangerGot, {}, 'no stranger got anything back from a relay');
      assert.ok((fromTags.get('client') ?? 0) > 10, 'the client’s well-formed datagrams did get through');
      assert.ok(dropped > DATAGRAMS / 10, 'malformed and foreign datagrams were dropped and counted');
      assert.equal(pinned.socket.closed || unpinned.socket.closed, false, 'both associations are still up');
      await echoThrough(port, echo.port);
    } finally {
      for (const c of controls) c.destroy();
      await waitFor(() => server.stats().active === 0, 5000, 'the associations to end').catch(() => {});
      for (const s of [client, ...Object.values(strangers), target]) s.close();
      await server.stop();
      await close(echo.server);
      guard.dispose();
    }
    assert.deepEqual(guard.errors, [], 'no uncaught exception or unhandled rejection');
  });
});
