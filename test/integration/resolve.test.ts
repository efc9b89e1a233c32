// Tor's RESOLVE (0xF0) and RESOLVE_PTR (0xF1) SOCKS5 extensions, with torsocks as the real client
// (it resolves names through the proxy, and sends .onion names to it for CONNECT), and raw bytes.
// torsocks is pointed at the proxy by a TORSOCKS_CONF_FILE; AllowOutboundLocalhost lets it reach a
// loopback address it was given (by the proxy's RESOLVE answer) directly, as it does for Tor.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Socks5Server } from '../../src/engine';
import { parseReply, type Reply } from '../../src/engine/protocol/socks5/wire';
import { RawClient, close, eventually, httpServer, run, startProxy, WAIT_MS } from '../support/net';

/** Names only this proxy knows: the test's `resolve` maps them to loopback. */
const KNOWN = /\.(test|onion)$/;

async function request(port: number, cmd: number, addr: number[]): Promise<{ reply: Reply; c: RawClient }> {
  const c = await RawClient.open(port);
  c.write([0x05, 0x01, 0x00, 0x05, cmd, 0x00, ...addr]);
  assert.deepEqual([...(await c.read(2))], [0x05, 0x00]);
  const all = await c.readToEnd();
  const r = parseReply(all);
  assert.equal(r.status, 'done', `a complete reply (${all.toString('hex')})`);
  return { reply: (r as { value: Reply }).value, c };
}
const domain = (name: string) => [0x03, name.length, ...Buffer.from(name), 0, 0];

describe('RESOLVE / RESOLVE_PTR', () => {
  let proxy: Socks5Server;
  let port: number;
  let http: Awaited<ReturnType<typeof httpServer>>;
  let dir: string;
  let conf: string;
  const asked: string[] = [];
  before(async () => {
    ({ server: proxy, port } = await startProxy({
      resolve: async (host) => {
        asked.push(host);
        if (KNOWN.test(host)) return ['127.0.0.1'];
        throw Object.assign(new Error(`no ${host}`), { code: 'ENOTFOUND' });
      },
    }));
    http = await httpServer('hello through torsocks\n');
    dir = mkdtempSync(join(tmpdir(), 'torsocks-'));
    conf = join(dir, 'torsocks.conf');
    writeFileSync(conf, `TorAddress 127.0.0.1\nTorPort ${port}\nAllowOutboundLocalhost 1\n`);
  });
  after(async () => {
    await proxy.stop();
    await close(http.server);
    rmSync(dir, { recursive: true, force: true });
  });
  const torsocks = (args: string[]) => run('torsocks', args, 15_000, { ...process.env, TORSOCKS_CONF_FILE: conf });

  it('RESOLVE answers a name with its address, then closes', async () => {
    const { reply } = await request(port, 0xf0, domain('svc.test'));
    assert.equal(reply.rep, 0x00);
    assert.equal(reply.type, 'ipv4');
    assert.equal(reply.host, '127.0.0.1');
    await eventually(() => proxy.recentlyClosed().some((c) => c.command === 'resolve'), WAIT_MS, 'the close');
    const c = proxy.recentlyClosed().find((x) => x.command === 'resolve')!;
    assert.equal(c.outcome.kind, 'closed');
    assert.equal(c.outcome.message, 'resolved svc.test to 127.0.0.1');
  });

  it('RESOLVE of an unknown name is host unreachable (0x04)', async () => {
    const { reply } = await request(port, 0xf0, domain('nowhere.invalid'));
    assert.equal(reply.rep, 0x04);
  });

  it('RESOLVE_PTR answers an address with its name (ATYP 3)', async () => {
    const { reply } = await request(port, 0xf1, [0x01, 127, 0, 0, 1, 0, 0]);
    assert.equal(reply.rep, 0x00);
    assert.equal(reply.type, 'domain');
    assert.equal(reply.host, 'localhost');
  });

  it('RESOLVE is off with CONNECT (0x07)', async () => {
    proxy.setOptions({ commands: { connect: false } });
    try {
      const { reply } = await request(port, 0xf0, domain('svc.test'));
      assert.equal(reply.rep, 0x07);
    } finally {
      proxy.setOptions({ commands: { connect: true } });
    }
  });

  it('torsocks curl http://NAME:PORT/: the name is resolved by the proxy (RESOLVE)', async () => {
    asked.length = 0;
    const r = await torsocks(['curl', '-sS', '--max-time', '10', `http://web.test:${http.port}/`]);
    assert.equal(r.stdout, 'hello through torsocks\n', r.stderr);
    assert.deepEqual(asked, ['web.test'], 'only the proxy knows web.test');
    assert.ok(proxy.recentlyClosed().some((c) => c.command === 'resolve' && c.destination?.host === 'web.test'));
  });

  it('torsocks curl http://NAME.onion:PORT/: CONNECT by name through the proxy', async () => {
    const r = await torsocks(['curl', '-sS', '--max-time', '10', `http://site.onion:${http.port}/`]);
    assert.equal(r.stdout, 'hello through torsocks\n', r.stderr);
    await eventually(() => proxy.recentlyClosed().some((c) => c.destination?.host === 'site.onion'), WAIT_MS, 'the CONNECT to close');
    const c = proxy.recentlyClosed().find((x) => x.destination?.host === 'site.onion')!;
    assert.equal(c.command, 'connect');
    assert.ok(c.bytesDown > 0, 'the page came through the proxy');
  });

  it('torsocks: gethostbyaddr goes through RESOLVE_PTR', async () => {
    const r = await torsocks(['python3', '-c', "import socket; print(socket.gethostbyaddr('127.0.0.1')[0])"]);
    assert.equal(r.stdout.trim(), 'localhost', r.stderr);
    assert.ok(proxy.recentlyClosed().some((c) => c.command === 'resolvePtr'));
  });
});
