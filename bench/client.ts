// The benchmark's load generator: one job per process (JSON in argv[2]), one JSON line out.
// Speaks just enough SOCKS5 (no auth, CONNECT / UDP ASSOCIATE to IPv4) and reads every socket into
// one shared buffer (`onread`), so the client costs as little CPU per byte as Node allows.
// It samples the CPU of the proxy and of the targets itself, at the edges of its measuring window.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { cpuSeconds, memory } from './proc';

export interface Endpoint {
  host: string;
  port: number;
}
export interface Watch {
  pid: number;
  tree: boolean;
}
export type Job =
  | ({ kind: 'tput'; dir: 'down' | 'up'; streams: number } & Common)
  | ({ kind: 'connrate'; concurrency: number; hosts: string[] } & Common)
  | ({ kind: 'rtt'; size: number } & Common)
  | ({ kind: 'idle'; count: number; parallel: number; settleMs: number } & Common)
  | ({ kind: 'udp'; inflight: number; size: number } & Common);
interface Common {
  proxy: Endpoint | null;
  target: Endpoint;
  warmMs: number;
  measureMs: number;
  proxyWatch: Watch | null;
  targetWatch: Watch;
}

export interface Result {
  ok: boolean;
  error?: string;
  /** tput: bytes/s; connrate: connections/s; rtt/udp: round trips (or packets) per second. */
  rate: number;
  p50us?: number;
  p99us?: number;
  /** CPU seconds per second (1 = one core busy) in the window. */
  clientCpu: number;
  proxyCpu: number;
  targetCpu: number;
  /** connrate: proxy CPU µs per completed connection. */
  proxyCpuPerConnUs?: number;
  /** idle: per-connection memory growth of the proxy, bytes; open time. */
  rssPerConn?: number;
  pssPerConn?: number;
  openMs?: number;
  processes?: number;
  errors: number;
  count: number;
}

const RBUF = Buffer.allocUnsafe(1 << 20);
const WBUF = Buffer.alloc(1 << 20, 0x62);
const GREETING = Buffer.from([5, 1, 0]);

function ipv4Request(cmd: number, dest: Endpoint): Buffer {
  const parts = dest.host.split('.').map(Number);
  return Buffer.from([5, cmd, 0, 1, ...parts, dest.port >> 8, dest.port & 0xff]);
}

interface Handlers {
  /** Tunnel ready (after the SOCKS reply, or on connect when direct). */
  ready(sock: Socket): void;
  /** Relayed bytes: buf[0..n). */
  data(buf: Buffer, n: number, sock: Socket): void;
  fail(err: Error, sock: Socket): void;
}

/** Opens a TCP tunnel to `dest`, through `proxy` when given. */
function open(proxy: Endpoint | null, dest: Endpoint, h: Handlers): Socket {
  let mode = proxy ? 0 : 2; // 0 method selection, 1 reply, 2 data
  let hs = Buffer.alloc(0);
  const request = proxy ? ipv4Request(1, dest) : undefined;
  const at = proxy ?? dest;
  const sock: Socket = connect({
    host: at.host,
    port: at.port,
    noDelay: true,
    onread: {
      buffer: RBUF,
      callback: (n: number, buf: Uint8Array): boolean => {
        if (mode === 2) {
          h.data(buf as Buffer, n, sock);
          return true;
        }
        hs = Buffer.concat([hs, (buf as Buffer).subarray(0, n)]);
        if (mode === 0) {
          if (hs.length < 2) return true;
          if (hs[0] !== 5 || hs[1] !== 0) {
            h.fail(new Error(`method selection ${hs[0]},${hs[1]}`), sock);
            return false;
          }
          hs = hs.subarray(2);
          mode = 1;
          sock.write(request!);
        }
        if (hs.length < 5) return true;
        const atyp = hs[3];
        const len = atyp === 1 ? 10 : atyp === 4 ? 22 : 7 + hs[4]!;
        if (hs.length < len) return true;
        if (hs[1] !== 0) {
          h.fail(new Error(`reply 0x${hs[1]!.toString(16)}`), sock);
          return false;
        }
        mode = 2;
        const rest = hs.subarray(len);
        hs = Buffer.alloc(0);
        h.ready(sock);
        if (rest.length > 0) h.data(rest, rest.length, sock);
        return true;
      },
    },
  });
  sock.on('error', (err) => h.fail(err, sock));
  sock.on('connect', () => {
    if (proxy) sock.write(GREETING);
    else h.ready(sock);
  });
  return sock;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Window {
  private t0 = 0n;
  private c0 = process.cpuUsage();
  private p0 = 0;
  private g0 = 0;
  constructor(private readonly job: Job) {}
  start(): void {
    this.p0 = this.job.proxyWatch ? cpuSeconds(this.job.proxyWatch.pid, this.job.proxyWatch.tree) : 0;
    this.g0 = cpuSeconds(this.job.targetWatch.pid, this.job.targetWatch.tree);
    this.c0 = process.cpuUsage();
    this.t0 = process.hrtime.bigint();
  }
  /** Seconds elapsed; CPU fractions. */
  stop(): { secs: number; clientCpu: number; proxyCpu: number; targetCpu: number; proxyCpuSecs: number } {
    const secs = Number(process.hrtime.bigint() - this.t0) / 1e9;
    const c = process.cpuUsage(this.c0);
    const p = this.job.proxyWatch ? cpuSeconds(this.job.proxyWatch.pid, this.job.proxyWatch.tree) - this.p0 : 0;
    const g = cpuSeconds(this.job.targetWatch.pid, this.job.targetWatch.tree) - this.g0;
    return { secs, clientCpu: (c.user + c.system) / 1e6 / secs, proxyCpu: p / secs, targetCpu: g / secs, proxyCpuSecs: p };
  }
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function tput(job: Extract<Job, { kind: 'tput' }>): Promise<Result> {
  let received = 0;
  let errors = 0;
  const socks: Socket[] = [];
  let readyCount = 0;
  const allReady = new Promise<void>((resolve, reject) => {
    for (let i = 0; i < job.streams; i++) {
      socks.push(
        open(job.proxy, job.target, {
          ready(sock) {
            if (job.dir === 'up') {
              const pump = (): void => {
                while (!sock.destroyed && sock.write(WBUF));
              };
              sock.on('drain', pump);
              pump();
            }
            if (++readyCount === job.streams) resolve();
          },
          data(_buf, n) {
            received += n;
          },
          fail(err, sock) {
            errors++;
            sock.destroy();
            reject(err);
          },
        }),
      );
    }
  });
  await allReady;
  const sent = (): number => socks.reduce((a, s) => a + s.bytesWritten - s.writableLength, 0);
  const moved = (): number => (job.dir === 'down' ? received : sent());
  await sleep(job.warmMs);
  const w = new Window(job);
  const b0 = moved();
  w.start();
  await sleep(job.measureMs);
  const b1 = moved();
  const m = w.stop();
  for (const s of socks) s.destroy();
  return { ok: errors === 0, rate: (b1 - b0) / m.secs, ...cpu(m), errors, count: b1 - b0 };
}

function cpu(m: ReturnType<Window['stop']>): Pick<Result, 'clientCpu' | 'proxyCpu' | 'targetCpu'> {
  return { clientCpu: m.clientCpu, proxyCpu: m.proxyCpu, targetCpu: m.targetCpu };
}

async function connrate(job: Extract<Job, { kind: 'connrate' }>): Promise<Result> {
  let running = true;
  let completed = 0;
  let errors = 0;
  const ONE = Buffer.from('x');
  const slot = (i: number, round: number): void => {
    if (!running) return;
    const dest = { host: job.hosts[(i + round) % job.hosts.length]!, port: job.target.port };
    let done = false;
    open(job.proxy, dest, {
      ready(sock) {
        sock.write(ONE);
      },
      data(_buf, n, sock) {
        if (done || n < 1) return;
        done = true;
        completed++;
        sock.destroy();
        slot(i, round + 1);
      },
      fail(_err, sock) {
        if (done) return;
        done = true;
        errors++;
        sock.destroy();
        if (errors < 10_000) setTimeout(() => slot(i, round + 1), 1);
      },
    });
  };
  for (let i = 0; i < job.concurrency; i++) slot(i, 0);
  await sleep(job.warmMs);
  const w = new Window(job);
  const n0 = completed;
  w.start();
  await sleep(job.measureMs);
  const n1 = completed;
  const m = w.stop();
  running = false;
  const n = n1 - n0;
  return {
    ok: n > 0,
    rate: n / m.secs,
    ...cpu(m),
    proxyCpuPerConnUs: n > 0 ? (m.proxyCpuSecs / n) * 1e6 : NaN,
    errors,
    count: n,
  };
}

async function rtt(job: Extract<Job, { kind: 'rtt' }>): Promise<Result> {
  const payload = Buffer.alloc(job.size, 0x63);
  const lat = new Float64Array(4_000_000);
  let recording = false;
  let nLat = 0;
  let got = 0;
  let t = 0n;
  let errors = 0;
  let sock: Socket | undefined;
  await new Promise<void>((resolve, reject) => {
    sock = open(job.proxy, job.target, {
      ready(s) {
        resolve();
        t = process.hrtime.bigint();
        s.write(payload);
      },
      data(_buf, n, s) {
        got += n;
        if (got < job.size) return;
        got -= job.size;
        const now = process.hrtime.bigint();
        if (recording && nLat < lat.length) lat[nLat++] = Number(now - t) / 1000;
        t = now;
        s.write(payload);
      },
      fail(err) {
        errors++;
        reject(err);
      },
    });
  });
  await sleep(job.warmMs);
  const w = new Window(job);
  recording = true;
  w.start();
  await sleep(job.measureMs);
  recording = false;
  const m = w.stop();
  sock!.destroy();
  const sorted = lat.slice(0, nLat).sort();
  return { ok: nLat > 0, rate: nLat / m.secs, p50us: percentile(sorted, 0.5), p99us: percentile(sorted, 0.99), ...cpu(m), errors, count: nLat };
}

async function idle(job: Extract<Job, { kind: 'idle' }>): Promise<Result> {
  const watch = job.proxyWatch;
  const before = watch ? memory(watch.pid, watch.tree) : { rss: 0, pss: 0, processes: 0 };
  const ONE = Buffer.from('i');
  const socks: Socket[] = [];
  let opened = 0;
  let errors = 0;
  let next = 0;
  const t0 = Date.now();
  await new Promise<void>((resolve) => {
    const launch = (): void => {
      if (next >= job.count) return;
      next++;
      let done = false;
      socks.push(
        open(job.proxy, job.target, {
          ready(sock) {
            sock.write(ONE);
          },
          data() {
            if (done) return;
            done = true;
            if (++opened + errors === job.count) resolve();
            else launch();
          },
          fail(_err, sock) {
            sock.destroy();
            if (done) return;
            done = true;
            errors++;
            if (opened + errors === job.count) resolve();
            else launch();
          },
        }),
      );
    };
    for (let i = 0; i < job.parallel; i++) launch();
  });
  const openMs = Date.now() - t0;
  await sleep(job.settleMs);
  const after = watch ? memory(watch.pid, watch.tree) : before;
  for (const s of socks) s.destroy();
  return {
    ok: opened > 0 && errors === 0,
    ...(errors > 0 ? { error: `${errors} of ${job.count} connections failed` } : {}),
    rate: 0,
    rssPerConn: (after.rss - before.rss) / Math.max(1, opened),
    pssPerConn: (after.pss - before.pss) / Math.max(1, opened),
    processes: after.processes,
    openMs,
    clientCpu: 0,
    proxyCpu: 0,
    targetCpu: 0,
    errors,
    count: opened,
  };
}

async function udp(job: Extract<Job, { kind: 'udp' }>): Promise<Result> {
  const sock: UdpSocket = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  let header = Buffer.alloc(0);
  let control: Socket | undefined;
  let relay: Endpoint = job.target;
  if (job.proxy) {
    const local = { host: '127.0.0.1', port: sock.address().port };
    relay = await new Promise<Endpoint>((resolve, reject) => {
      let hs = Buffer.alloc(0);
      let mode = 0;
      const c = connect({ host: job.proxy!.host, port: job.proxy!.port, noDelay: true });
      control = c;
      c.on('error', reject);
      c.on('connect', () => c.write(GREETING));
      c.on('data', (d: Buffer) => {
        hs = Buffer.concat([hs, d]);
        if (mode === 0 && hs.length >= 2) {
          if (hs[1] !== 0) return reject(new Error('method refused'));
          hs = hs.subarray(2);
          mode = 1;
          c.write(ipv4Request(3, local));
        }
        if (mode === 1 && hs.length >= 10) {
          if (hs[1] !== 0) return reject(new Error(`UDP ASSOCIATE reply 0x${hs[1]!.toString(16)}`));
          if (hs[3] !== 1) return reject(new Error('relay address is not IPv4'));
          const host = `${hs[4]}.${hs[5]}.${hs[6]}.${hs[7]}`;
          mode = 2;
          resolve({ host: host === '0.0.0.0' ? job.proxy!.host : host, port: hs.readUInt16BE(8) });
        }
      });
    });
    header = Buffer.from([0, 0, 0, 1, ...job.target.host.split('.').map(Number), job.target.port >> 8, job.target.port & 0xff]);
  }
  await new Promise<void>((r) => sock.connect(relay.port, relay.host, () => r()));
  const dgram = Buffer.concat([header, Buffer.alloc(job.size, 0x64)]);
  const expect = dgram.length;
  const lat = new Float64Array(4_000_000);
  const sentAt = new Float64Array(job.inflight);
  let nLat = 0;
  let recording = false;
  let received = 0;
  let errors = 0;
  let stalls = 0;
  const t0 = process.hrtime.bigint();
  const now = (): number => Number(process.hrtime.bigint() - t0) / 1000;
  let seq = 0;
  const send = (): void => {
    sentAt[seq++ % job.inflight] = now();
    sock.send(dgram);
  };
  sock.on('error', () => errors++);
  sock.on('message', (msg) => {
    if (msg.length !== expect) {
      errors++;
      return;
    }
    received++;
    if (recording && job.inflight === 1 && nLat < lat.length) lat[nLat++] = now() - sentAt[0]!;
    send();
  });
  // A lost datagram would shrink the window for good: refill when nothing arrived for 20 ms.
  let lastSeen = -1;
  const refill = setInterval(() => {
    if (received === lastSeen) {
      stalls++;
      for (let i = 0; i < job.inflight; i++) send();
    }
    lastSeen = received;
  }, 20);
  for (let i = 0; i < job.inflight; i++) send();
  await sleep(job.warmMs);
  const w = new Window(job);
  const r0 = received;
  recording = true;
  w.start();
  await sleep(job.measureMs);
  const r1 = received;
  recording = false;
  const m = w.stop();
  clearInterval(refill);
  sock.close();
  control?.destroy();
  const sorted = lat.slice(0, nLat).sort();
  const res: Result = { ok: r1 > r0, rate: (r1 - r0) / m.secs, ...cpu(m), errors: errors + stalls, count: r1 - r0 };
  if (job.inflight === 1) {
    res.p50us = percentile(sorted, 0.5);
    res.p99us = percentile(sorted, 0.99);
  }
  return res;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as Job;
  const limit = setTimeout(() => {
    process.stdout.write(JSON.stringify({ ok: false, error: 'client timed out', rate: 0, clientCpu: 0, proxyCpu: 0, targetCpu: 0, errors: 1, count: 0 }) + '\n');
    process.exit(0);
  }, job.warmMs + job.measureMs + 60_000);
  limit.unref();
  let res: Result;
  try {
    switch (job.kind) {
      case 'tput':
        res = await tput(job);
        break;
      case 'connrate':
        res = await connrate(job);
        break;
      case 'rtt':
        res = await rtt(job);
        break;
      case 'idle':
        res = await idle(job);
        break;
      case 'udp':
        res = await udp(job);
        break;
    }
  } catch (err) {
    res = { ok: false, error: (err as Error).message, rate: 0, clientCpu: 0, proxyCpu: 0, targetCpu: 0, errors: 1, count: 0 };
  }
  process.stdout.write(JSON.stringify(res) + '\n', () => process.exit(0));
}

main();
