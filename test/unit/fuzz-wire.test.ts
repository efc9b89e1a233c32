// Property tests for the wire parsers and encoders (fast-check). What wire.test.ts shows for a few
// hand-picked messages, these show for any bytes: every parser answers done / more / error and
// never throws, whatever the bytes and however they are split into segments; a 'more' is only
// ever answered for a true prefix; and every encoder round-trips through its parser.
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodeAddress,
  encodeReply,
  encodeUdpHeader,
  parseAddress,
  parseAuthRequest,
  parseGreeting,
  parseReply,
  parseRequest,
  parseUdpHeader,
  type Parse,
} from '../../src/engine/protocol/socks5/wire';
import { encodeSocks4Request, MAX_HOSTNAME, MAX_USERID, parseSocks4Request } from '../../src/engine/protocol/socks4/wire';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const opts = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

type Parser = (b: Buffer) => Parse<unknown>;

// --- generators ---------------------------------------------------------------------------------

const byte = fc.integer({ min: 0, max: 255 });
const bytes = (max = 600) => fc.uint8Array({ minLength: 0, maxLength: max });

/** ATYP + DST.ADDR, well-formed (a non-empty domain name). */
const goodAddressBytes = fc.oneof(
  fc.tuple(fc.constant(1), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([t, a]) => [t, ...a]),
  fc.tuple(fc.constant(4), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([t, a]) => [t, ...a]),
  fc.uint8Array({ minLength: 1, maxLength: 255 }).map((d) => [3, d.length, ...d]),
);
/** ...and near misses: an empty domain name, any ATYP byte with any bytes after it. */
const addressBytes = fc.oneof(
  goodAddressBytes,
  fc.constant<number[]>([3, 0]),
  fc.tuple(byte, bytes(20)).map(([t, a]) => [t, ...a]),
);
const port = fc.integer({ min: 0, max: 65535 });

/** Well-formed messages (with random fields) — the interesting inputs are near these. */
const validGreeting = fc.uint8Array({ minLength: 1, maxLength: 255 }).map((m) => [5, m.length, ...m]);
const validAuth = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 255 }), fc.uint8Array({ minLength: 1, maxLength: 255 }))
  .map(([u, p]) => [1, u.length, ...u, p.length, ...p]);
const request = (addr: fc.Arbitrary<number[]>) =>
  fc.tuple(byte, byte, addr, port).map(([cmd, rsv, a, p]) => [5, cmd, rsv, ...a, p >> 8, p & 0xff]);
const validRequest = request(goodAddressBytes);
const nearRequest = fc.oneof(validRequest, request(addressBytes));

/** SOCKS4 (DSTIP not 0.0.0.x) and SOCKS4a (0.0.0.x, x ≠ 0, then a host name) requests. */
const noNul = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => [...a].map((b) => b || 1));
const validSocks4 = fc.oneof(
  fc
    .tuple(byte, port, fc.uint8Array({ minLength: 4, maxLength: 4 }).filter((a) => !(a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] !== 0)), noNul(0, MAX_USERID))
    .map(([cd, p, ip, uid]) => [4, cd, p >> 8, p & 0xff, ...ip, ...uid, 0]),
  fc
    .tuple(byte, port, fc.integer({ min: 1, max: 255 }), noNul(0, MAX_USERID), noNul(1, MAX_HOSTNAME))
    .map(([cd, p, x, uid, host]) => [4, cd, p >> 8, p & 0xff, 0, 0, 0, x, ...uid, 0, ...host, 0]),
);
/** ...and near misses: a user id or host name with no NUL in reach, an empty host name. */
const nearSocks4 = fc.oneof(
  validSocks4,
  fc.tuple(port, noNul(MAX_USERID + 1, MAX_USERID + 40)).map(([p, uid]) => [4, 1, p >> 8, p & 0xff, 1, 2, 3, 4, ...uid]),
  fc.tuple(noNul(0, 20), noNul(MAX_HOSTNAME + 1, MAX_HOSTNAME + 40)).map(([uid, h]) => [4, 1, 0, 80, 0, 0, 0, 9, ...uid, 0, ...h]),
  fc.constant<number[]>([4, 1, 0, 80, 0, 0, 0, 1, 0, 0]),
);

/** Mutations that break framing: flip, overwrite, insert, delete, truncate, append. */
function mutated(base: fc.Arbitrary<number[]>): fc.Arbitrary<Buffer> {
  const edit = fc.tuple(fc.integer({ min: 0, max: 5 }), fc.nat(), byte);
  return fc.tuple(base, fc.array(edit, { maxLength: 4 }), bytes(40)).map(([b, edits, tail]) => {
    const a = b.slice();
    for (const [op, at, v] of edits) {
      const i = a.length === 0 ? 0 : at % a.length;
      if (op === 0) a[i] = (a[i] ?? 0) ^ (1 << (v & 7));
      else if (op === 1) a[i] = v;
      else if (op === 2) a.splice(i, 0, v);
      else if (op === 3) a.splice(i, 1);
      else if (op === 4) a.length = i;
      else a.push(...tail);
    }
    return Buffer.from(a);
  });
}

const anyInput = (valid: fc.Arbitrary<number[]>) =>
  fc.oneof(bytes().map((b) => Buffer.from(b)), valid.map((b) => Buffer.from(b)), mutated(valid));

/** Segment sizes: how the bytes arrive from TCP (1-byte dribbles to everything at once). */
const cuts = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 0, maxLength: 40 });

// --- properties ---------------------------------------------------------------------------------

/** The result is one of the three shapes, with a sane length; never anything else. */
function checkShape(r: Parse<unknown>, buf: Buffer): void {
  assert.ok(r && typeof r === 'object', 'a result object');
  if (r.status === 'done') {
    assert.ok(Number.isInteger(r.length) && r.length >= 1 && r.length <= buf.length, `length ${r.length} of ${buf.length}`);
  } else if (r.status === 'error') {
    assert.equal(typeof r.reason, 'string');
    assert.ok(r.reply === undefined || (Number.isInteger(r.reply) && r.reply >= 0 && r.reply <= 255));
  } else {
    assert.equal(r.status, 'more');
  }
}

/** Feeds `buf` the way a socket delivers it, stopping at the first answer that is not 'more'. */
function streamed(parse: Parser, buf: Buffer, sizes: number[]): Parse<unknown> {
  let have = 0;
  let i = 0;
  for (;;) {
    const step = sizes.length > 0 ? sizes[i++ % sizes.length] : buf.length;
    have = Math.min(buf.length, have + step);
    const r = parse(Buffer.from(buf.subarray(0, have))); // a copy: the parser may not keep views into it
    checkShape(r, buf.subarray(0, have));
    if (r.status !== 'more' || have === buf.length) return r;
  }
}

function propertiesOf(name: string, parse: Parser, valid: fc.Arbitrary<number[]>, near = valid): void {
  describe(`${name}: any bytes, any segmentation`, () => {
    it('answers done / more / error and never throws', () => {
      fc.assert(
        fc.property(anyInput(near), (buf) => {
          checkShape(parse(buf), buf);
        }),
        opts,
      );
    });

    it('answers the same whole or streamed in any segments', () => {
      fc.assert(
        fc.property(anyInput(near), cuts, (buf, sizes) => {
          assert.deepEqual(streamed(parse, buf, sizes), parse(buf));
        }),
        opts,
      );
    });

    it("'done' depends only on the message's own bytes; 'more' only for a true prefix", () => {
      fc.assert(
        fc.property(anyInput(near), bytes(30), (buf, extra) => {
          const r = parse(buf);
          const longer = parse(Buffer.concat([buf, Buffer.from(extra)]));
          if (r.status === 'done') {
            assert.deepEqual(parse(buf.subarray(0, r.length)), r, 'the message alone parses the same');
            assert.deepEqual(longer, r, 'trailing bytes are not consumed');
            if (r.length > 0) assert.equal(parse(buf.subarray(0, r.length - 1)).status, 'more', 'one byte short is more');
          } else if (r.status === 'error') {
            assert.deepEqual(longer, r, 'more bytes do not undo an error');
          } else if (extra.length === 0) {
            assert.equal(longer.status, 'more');
          }
        }),
        opts,
      );
    });

    it('parses every well-formed message in full', () => {
      fc.assert(
        fc.property(valid, (msg) => {
          const buf = Buffer.from(msg);
          const r = parse(buf);
          assert.equal(r.status, 'done');
          assert.equal(r.status === 'done' && r.length, buf.length);
        }),
        opts,
      );
    });
  });
}

propertiesOf('parseGreeting', parseGreeting, validGreeting);
propertiesOf('parseAuthRequest', parseAuthRequest, validAuth);
propertiesOf('parseRequest', parseRequest, validRequest, nearRequest);
propertiesOf('parseReply', parseReply, validRequest, nearRequest);
propertiesOf('parseSocks4Request', parseSocks4Request, validSocks4, nearSocks4);

describe('parseSocks4Request: bounds', () => {
  it('a user id or host name without a NUL in reach is an error with a 0x5B reply, never a wait', () => {
    fc.assert(
      fc.property(nearSocks4, fc.integer({ min: 0, max: 64 * 1024 }), (msg, pad) => {
        const buf = Buffer.concat([Buffer.from(msg), Buffer.alloc(pad, 0x41)]);
        const r = parseSocks4Request(buf);
        if (r.status === 'more') assert.ok(buf.length < 8 + MAX_USERID + 1 + 1 + MAX_HOSTNAME + 1, `'more' after ${buf.length} bytes`);
        if (r.status === 'error') assert.equal(r.reply ?? 0x5b, 0x5b);
        if (r.status === 'done') {
          assert.ok(!r.value.userid.includes('\0'));
          if (r.value.type === 'domain') assert.ok(r.value.host.length > 0 && !r.value.host.includes('\0'));
        }
      }),
      opts,
    );
  });

  it('64 KiB of user id is an error at once', () => {
    const r = parseSocks4Request(Buffer.concat([Buffer.from([4, 1, 0, 80, 127, 0, 0, 1]), Buffer.alloc(64 * 1024, 0x41)]));
    assert.equal(r.status, 'error');
    assert.equal(r.status === 'error' && r.reply, 0x5b);
  });

  it('encodeSocks4Request → parseSocks4Request (SOCKS4 and 4a)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4().filter((ip) => !/^0\.0\.0\.[1-9]/.test(ip)), fc.domain()), // 0.0.0.x is the 4a marker
        port,
        fc.string({ maxLength: 40 }).filter((u) => !u.includes('\0')),
        (host, p, uid) => {
          const r = parseSocks4Request(encodeSocks4Request(1, host, p, uid));
          assert.equal(r.status, 'done');
          if (r.status !== 'done') return;
          assert.deepEqual({ host: r.value.host, port: r.value.port, userid: r.value.userid }, { host, port: p, userid: uid });
          assert.equal(r.value.type, /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ipv4' : 'domain');
        },
      ),
      opts,
    );
  });
});

describe('structure of what the parsers accept', () => {
  it('greeting: the methods are exactly the NMETHODS bytes', () => {
    fc.assert(
      fc.property(anyInput(validGreeting), (buf) => {
        const r = parseGreeting(buf);
        if (r.status !== 'done') return;
        assert.equal(buf[0], 5);
        assert.equal(r.value.methods.length, buf[1]);
        assert.equal(r.length, 2 + buf[1]);
        assert.deepEqual(r.value.methods, [...buf.subarray(2, r.length)]);
      }),
      opts,
    );
  });

  it('auth: ULEN/PLEN are ≥ 1 and the password is exactly its bytes (a copy)', () => {
    fc.assert(
      fc.property(anyInput(validAuth), (buf) => {
        const r = parseAuthRequest(buf);
        if (r.status !== 'done') {
          if (r.status === 'error') assert.equal(r.reply, 0x01, 'every auth error answers status failure');
          return;
        }
        const ulen = buf[1];
        const plen = buf[2 + ulen];
        assert.ok(ulen >= 1 && plen >= 1);
        assert.equal(r.length, 3 + ulen + plen);
        assert.deepEqual(r.value.password, buf.subarray(3 + ulen, 3 + ulen + plen));
        r.value.password.fill(0); // zeroing the copy must not touch the input
        assert.deepEqual([...buf.subarray(3 + ulen, 3 + ulen + plen)], [...Buffer.from(buf).subarray(3 + ulen, 3 + ulen + plen)]);
      }),
      opts,
    );
  });

  it('request: a known address type, a port in range, errors carry a SOCKS reply', () => {
    fc.assert(
      fc.property(anyInput(nearRequest), (buf) => {
        const r = parseRequest(buf);
        if (r.status === 'error') {
          assert.ok(r.reply === 0x01 || r.reply === 0x08, `reply ${r.reply}`);
          return;
        }
        if (r.status !== 'done') return;
        assert.ok(['ipv4', 'ipv6', 'domain'].includes(r.value.type));
        assert.ok(r.value.port >= 0 && r.value.port <= 65535);
        assert.equal(r.value.cmd, buf[1]);
        if (r.value.type === 'ipv6') assert.ok(isIPv6(r.value.host), r.value.host);
        if (r.value.type === 'domain') assert.ok(r.value.host.length >= 1);
      }),
      opts,
    );
  });
});

describe('parseUdpHeader: any datagram', () => {
  const validDatagram = fc
    .tuple(byte, byte, byte, addressBytes, port, bytes(64))
    .map(([r1, r2, frag, addr, p, data]) => [r1, r2, frag, ...addr, p >> 8, p & 0xff, ...data]);
  it('answers ok or not-ok, never throws; DATA starts inside the datagram', () => {
    fc.assert(
      fc.property(anyInput(validDatagram), (buf) => {
        const r = parseUdpHeader(buf);
        if (!r.ok) {
          assert.equal(typeof r.reason, 'string');
          return;
        }
        assert.ok(r.value.dataOffset >= 8 && r.value.dataOffset <= buf.length, `dataOffset ${r.value.dataOffset}`); // 8: a 1-byte name
        assert.equal(r.value.frag, buf[2]);
        assert.ok(r.value.port >= 0 && r.value.port <= 65535);
      }),
      opts,
    );
  });
});

// --- encoders round-trip ------------------------------------------------------------------------

/** What a parsed IPv6 host must read: RFC 5952 text (the WHATWG URL serializer agrees), IPv4-mapped as IPv4. */
function expectedIPv6(host: string): string {
  const canonical = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return canonical;
  const hi = parseInt(mapped[1], 16);
  const lo = parseInt(mapped[2], 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** Domain names: real ones, ones with a '%' (not a zone id), and any UTF-8 text of 1..255 bytes that is not an IP literal. */
const domainName = fc.oneof(
  fc.domain(),
  fc.tuple(fc.domain(), fc.domain()).map(([a, b]) => `${a}%${b}`),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 120 })
    .filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s)
    .filter((s) => {
      const n = Buffer.byteLength(s);
      return n >= 1 && n <= 255 && !isIPv6(s) && !/^\d+\.\d+\.\d+\.\d+$/.test(s) && !/^::ffff:/i.test(s);
    }),
);

const host = fc.oneof(
  fc.ipV4().map((h) => ({ h, type: 'ipv4' as const, want: h })),
  fc.ipV6().map((h) => ({ h, type: (/^\d+\.\d+\.\d+\.\d+$/.test(expectedIPv6(h)) ? 'ipv4' : 'ipv6'), want: expectedIPv6(h) })),
  domainName.map((h) => ({ h, type: 'domain' as const, want: h })),
);

describe('encoders round-trip through the parsers', () => {
  it('encodeReply → parseReply (IPv4, IPv6, IPv4-mapped, domain)', () => {
    fc.assert(
      fc.property(byte, host, port, (rep, { h, type, want }, p) => {
        const wire = encodeReply(rep, h, p);
        const r = parseReply(wire);
        assert.equal(r.status, 'done');
        if (r.status !== 'done') return;
        assert.equal(r.length, wire.length);
        assert.deepEqual(r.value, { rep, type, host: want, port: p });
        // And the parsed form encodes to the same bytes.
        assert.deepEqual(encodeReply(rep, r.value.host, r.value.port), wire);
      }),
      opts,
    );
  });

  it('encodeAddress → parseAddress at any offset', () => {
    fc.assert(
      fc.property(bytes(8), host, port, ({ length }, { h, type, want }, p) => {
        const enc = encodeAddress(h, p);
        const buf = Buffer.concat([Buffer.alloc(length, 0xee), enc]);
        const r = parseAddress(buf, length);
        assert.deepEqual(r, { status: 'done', value: { type, host: want, port: p }, length: enc.length });
      }),
      opts,
    );
  });

  it('encodeUdpHeader + DATA → parseUdpHeader', () => {
    fc.assert(
      fc.property(host, port, bytes(512), ({ h, type, want }, p, data) => {
        const header = encodeUdpHeader(h, p);
        const dgram = Buffer.concat([header, Buffer.from(data)]);
        const r = parseUdpHeader(dgram);
        assert.ok(r.ok);
        if (!r.ok) return;
        assert.deepEqual({ ...r.value }, { frag: 0, type, host: want, port: p, dataOffset: header.length });
        assert.deepEqual(dgram.subarray(r.value.dataOffset), Buffer.from(data));
      }),
      opts,
    );
  });

  it('domain names longer than 255 bytes are refused by the encoder, not truncated', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 256, maxLength: 400 }).filter((s) => !s.includes('%')), port, (h, p) => {
        assert.throws(() => encodeAddress(h, p), RangeError);
      }),
      { ...opts, numRuns: Math.min(RUNS, 200) },
    );
  });
});
