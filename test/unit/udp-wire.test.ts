// The pieces of UDP ASSOCIATE and BIND that need no socket: address comparison, the §7 header
// both ways, and the resolver cache that keeps a hot name from being looked up per datagram.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalIp, formatIPv6, isUnspecifiedIp } from '../../src/engine/address';
import { DnsCache } from '../../src/engine/net/resolver';
import { encodeUdpHeader, parseUdpHeader } from '../../src/engine/protocol/socks5/wire';
import type { Resolver } from '../../src/engine/types';

describe('canonicalIp / isUnspecifiedIp', () => {
  it('gives one spelling per address', () => {
    const same: Array<[string, string]> = [
      ['127.0.0.1', '127.0.0.1'],
      ['::ffff:127.0.0.1', '127.0.0.1'],
      ['::FFFF:7f00:1', '127.0.0.1'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['::1', '::1'],
      ['fe80::1%lo', 'fe80::1'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ];
    for (const [input, want] of same) assert.equal(canonicalIp(input), want, input);
    assert.equal(canonicalIp('localhost'), undefined);
    assert.equal(canonicalIp(''), undefined);
  });

  it('knows the all-zero addresses of a BIND / UDP ASSOCIATE request', () => {
    for (const h of ['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0']) assert.equal(isUnspecifiedIp(h), true, h);
    for (const h of ['127.0.0.1', '::1', '0', 'localhost']) assert.equal(isUnspecifiedIp(h), false, h);
  });
});

describe('UDP header (RFC 1928 §7) round trip', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(Buffer.from(b), 0)).filter((h) => canonicalIp(h) === h);
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,40}(\.[a-z][a-z0-9-]{0,20}){0,3}$/);

  it('parse(encode(host, port) + data) gives back host, port, FRAG 0 and the data', () => {
    fc.assert(
      fc.property(fc.oneof(v4, v6, name), fc.integer({ min: 1, max: 65535 }), fc.uint8Array({ maxLength: 64 }), (host, port, data) => {
        const d = Buffer.concat([encodeUdpHeader(host, port), data]);
        const p = parseUdpHeader(d);
        assert.ok(p.ok);
        assert.equal(p.value.host, host);
        assert.equal(p.value.port, port);
        assert.equal(p.value.frag, 0);
        assert.deepEqual(d.subarray(p.value.dataOffset), Buffer.from(data));
      }),
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const p = parseUdpHeader(Buffer.from(bytes));
        if (p.ok) assert.ok(p.value.dataOffset <= bytes.length);
      }),
    );
  });
});

describe('DnsCache', () => {
  /** A resolver that answers by hand (answer() settles what was asked, then lets callbacks run), counting calls. */
  function fakeResolver() {
    const calls: string[] = [];
    const pending: Array<() => void> = [];
    const table: Record<string, string | undefined> = { 'a.test': '10.0.0.1', 'b.test': 'fd00::1' };
    const resolver: Resolver = {
      resolve: (n) =>
        new Promise<string[]>((resolve, reject) => {
          calls.push(n);
          pending.push(() => {
            const hit = table[n];
            if (hit) resolve([hit, '10.9.9.9']);
            else reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
          });
        }),
    };
    const answer = async (): Promise<void> => {
      pending.splice(0).forEach((f) => f());
      await new Promise((r) => setImmediate(r));
    };
    return { calls, resolver, answer };
  }

  it('looks a hot name up once; concurrent misses share the lookup', async () => {
    const r = fakeResolver();
    const cache = new DnsCache(r.resolver, 30_000, 5_000, 16, 64);
    const got: unknown[] = [];
    assert.equal(cache.get('a.test'), undefined);
    for (let i = 0; i < 10; i++) cache.resolve('a.test', (x) => got.push(x));
    assert.deepEqual(r.calls, ['a.test']);
    await r.answer();
    assert.equal(got.length, 10);
    for (const x of got) assert.deepEqual(x, { address: '10.0.0.1', family: 4 });
    for (let i = 0; i < 1000; i++) assert.deepEqual(cache.get('a.test'), { address: '10.0.0.1', family: 4 });
    assert.deepEqual(r.calls, ['a.test'], 'no further lookups while fresh');
  });

  it('remembers failures (negative caching) and reports IPv6 answers as family 6', async () => {
    const r = fakeResolver();
    const cache = new DnsCache(r.resolver, 30_000, 5_000, 16, 64);
    let bad: unknown = 'unset';
    cache.resolve('nope.test', (x) => (bad = x));
    cache.resolve('b.test', () => {});
    await r.answer();
    assert.equal(bad, null);
    assert.equal(cache.get('nope.test'), null);
    assert.deepEqual(cache.get('b.test'), { address: 'fd00::1', family: 6 });
  });

  it('expires entries after the TTL', async () => {
    const r = fakeResolver();
    const cache = new DnsCache(r.resolver, 0, 0, 16, 64); // TTL 0: stale at once
    cache.resolve('a.test', () => {});
    await r.answer();
    assert.equal(cache.get('a.test'), undefined);
    cache.resolve('a.test', () => {});
    assert.equal(r.calls.length, 2);
  });

  it('is bounded: the oldest entry goes first', async () => {
    const r = fakeResolver();
    const cache = new DnsCache(r.resolver, 30_000, 30_000, 3, 64);
    for (const n of ['n1', 'n2', 'n3', 'n4', 'n5']) cache.resolve(n, () => {});
    await r.answer();
    assert.equal(cache.size, 3);
    assert.equal(cache.get('n1'), undefined);
    assert.equal(cache.get('n2'), undefined);
    assert.equal(cache.get('n5'), null);
  });

  it('bounds the datagrams waiting for one lookup', async () => {
    const r = fakeResolver();
    const cache = new DnsCache(r.resolver, 30_000, 5_000, 16, 4);
    const results: unknown[] = [];
    for (let i = 0; i < 10; i++) cache.resolve('a.test', (x) => results.push(x));
    assert.equal(results.length, 6, 'beyond 4 waiting, the rest are answered "unresolved" at once');
    assert.ok(results.every((x) => x === null));
    await r.answer();
    assert.equal(results.filter((x) => x !== null).length, 4);
  });
});
