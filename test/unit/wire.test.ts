import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserTable } from '../../src/engine/auth';
import { failureForError } from '../../src/engine/commands/context';
import { REP_FOR_FAILURE, replyText } from '../../src/engine/protocol/socks5/replies';

/** An errno → the SOCKS5 reply a CONNECT that met it sends. */
const replyForError = (err: unknown): number => REP_FOR_FAILURE[failureForError(err)];
import {
  encodeAddress,
  encodeAuthStatus,
  encodeMethodSelection,
  encodeReply,
  encodeUdpHeader,
  parseAuthRequest,
  parseGreeting,
  parseReply,
  parseRequest,
  parseUdpHeader,
  type Parse,
} from '../../src/engine/protocol/socks5/wire';
import { formatHostPort, formatIPv6, writeIPv6 } from '../../src/engine/address';

const greeting = Buffer.from([0x05, 0x02, 0x00, 0x02]);
const auth = Buffer.from([0x01, 0x05, ...Buffer.from('alice'), 0x06, ...Buffer.from('s3cret')]);
const reqV4 = Buffer.from([0x05, 0x01, 0x00, 0x01, 10, 1, 2, 3, 0x01, 0xbb]);
const reqDomain = Buffer.from([0x05, 0x01, 0x00, 0x03, 11, ...Buffer.from('example.com'), 0x00, 0x50]);
const reqV6 = Buffer.from([0x05, 0x01, 0x00, 0x04, ...Array(15).fill(0), 1, 0x1f, 0x90]);

/** Every strict prefix parses as 'more'; the whole parses as 'done' with the whole length. */
function everySplit<T>(parse: (b: Buffer) => Parse<T>, msg: Buffer): T {
  for (let i = 0; i < msg.length; i++) {
    assert.equal(parse(msg.subarray(0, i)).status, 'more', `prefix of ${i} bytes`);
  }
  const r = parse(msg);
  assert.equal(r.status, 'done');
  if (r.status !== 'done') throw new Error('unreachable');
  assert.equal(r.length, msg.length);
  // Trailing bytes (the next message in the same segment) are not consumed.
  const r2 = parse(Buffer.concat([msg, Buffer.from([0xaa, 0xbb])]));
  assert.equal(r2.status === 'done' && r2.length, msg.length);
  return r.value;
}

describe('greeting (RFC 1928 §3)', () => {
  it('parses across every split', () => {
    assert.deepEqual(everySplit(parseGreeting, greeting), { methods: [0x00, 0x02] });
  });
  it('rejects a non-5 version without a reply', () => {
    const r = parseGreeting(Buffer.from([0x04, 0x01, 0x00]));
    assert.equal(r.status, 'error');
    assert.equal(r.status === 'error' && r.reply, undefined);
  });
  it('answers NMETHODS 0 with NO ACCEPTABLE METHODS', () => {
    const r = parseGreeting(Buffer.from([0x05, 0x00]));
    assert.equal(r.status === 'error' && r.reply, 0xff);
  });
  it('encodes method selection', () => {
    assert.deepEqual([...encodeMethodSelection(0x02)], [0x05, 0x02]);
  });
});

describe('username/password (RFC 1929)', () => {
  it('parses across every split', () => {
    const v = everySplit(parseAuthRequest, auth);
    assert.equal(v.username, 'alice');
    assert.equal(v.password.toString(), 's3cret');
  });
  it('rejects a wrong subnegotiation version, ULEN 0 and PLEN 0 with status failure', () => {
    for (const bad of [[0x05, 0x01, 0x61, 0x01, 0x62], [0x01, 0x00], [0x01, 0x01, 0x61, 0x00]]) {
      const r = parseAuthRequest(Buffer.from(bad));
      assert.equal(r.status, 'error', JSON.stringify(bad));
      assert.equal(r.status === 'error' && r.reply, 0x01);
    }
  });
  it('encodes the status', () => {
    assert.deepEqual([...encodeAuthStatus(0)], [0x01, 0x00]);
  });
  it('checks credentials by value, for existing users only', () => {
    const t = new UserTable(new Map([['alice', 's3cret'], ['bob', '']]));
    assert.equal(t.verify('alice', Buffer.from('s3cret')), true);
    assert.equal(t.verify('alice', Buffer.from('s3cret!')), false);
    assert.equal(t.verify('alice', Buffer.from('s3cre')), false);
    assert.equal(t.verify('carol', Buffer.from('s3cret')), false);
    assert.equal(t.size, 2);
  });
});

describe('request (RFC 1928 §4/§5)', () => {
  it('parses IPv4, domain and IPv6 across every split', () => {
    assert.deepEqual(everySplit(parseRequest, reqV4), { cmd: 1, type: 'ipv4', host: '10.1.2.3', port: 443 });
    assert.deepEqual(everySplit(parseRequest, reqDomain), { cmd: 1, type: 'domain', host: 'example.com', port: 80 });
    assert.deepEqual(everySplit(parseRequest, reqV6), { cmd: 1, type: 'ipv6', host: '::1', port: 8080 });
  });
  it('keeps unknown commands for the caller to refuse', () => {
    const r = parseRequest(Buffer.from([0x05, 0x09, 0x00, 0x01, 1, 2, 3, 4, 0, 1]));
    assert.equal(r.status === 'done' && r.value.cmd, 0x09);
  });
  it('answers an unknown ATYP with 0x08', () => {
    const r = parseRequest(Buffer.from([0x05, 0x01, 0x00, 0x05, 1, 2, 3, 4, 0, 1]));
    assert.equal(r.status === 'error' && r.reply, 0x08);
  });
  it('rejects an empty domain name and a wrong version', () => {
    assert.equal(parseRequest(Buffer.from([0x05, 0x01, 0x00, 0x03, 0x00, 0, 80])).status, 'error');
    assert.equal(parseRequest(Buffer.from([0x04, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0, 1])).status, 'error');
  });
  it('parses greeting + auth + request coalesced in one segment', () => {
    let buf = Buffer.concat([greeting, auth, reqDomain, Buffer.from('GET /')]);
    const g = parseGreeting(buf);
    assert.equal(g.status, 'done');
    buf = buf.subarray(g.status === 'done' ? g.length : 0);
    const a = parseAuthRequest(buf);
    assert.equal(a.status, 'done');
    buf = buf.subarray(a.status === 'done' ? a.length : 0);
    const r = parseRequest(buf);
    assert.equal(r.status === 'done' && r.value.host, 'example.com');
    assert.equal(buf.subarray(r.status === 'done' ? r.length : 0).toString(), 'GET /');
  });
});

describe('replies (RFC 1928 §6)', () => {
  it('are 10 bytes for IPv4 and 22 for IPv6, and round-trip', () => {
    const v4 = encodeReply(0, '127.0.0.1', 1080);
    assert.equal(v4.length, 10);
    assert.deepEqual([...v4], [5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38]);
    const v6 = encodeReply(0, '2001:db8::7', 443);
    assert.equal(v6.length, 22);
    const p = parseReply(v6);
    assert.deepEqual(p.status === 'done' && p.value, { rep: 0, type: 'ipv6', host: '2001:db8::7', port: 443 });
  });
  it('sends IPv4-mapped IPv6 as IPv4 and strips zone ids', () => {
    assert.equal(encodeReply(0, '::ffff:127.0.0.1', 1).length, 10);
    assert.equal(encodeReply(0, 'fe80::1%eth0', 1).length, 22);
  });
  it('failure replies carry 0.0.0.0:0', () => {
    assert.deepEqual([...encodeReply(5)], [5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
  });
  it('encodes domain names', () => {
    assert.deepEqual([...encodeAddress('ab', 1)], [3, 2, 0x61, 0x62, 0, 1]);
  });
});

describe('IPv6 text', () => {
  const cases = ['::', '::1', '2001:db8::1', 'fe80::1:2', '1:2:3:4:5:6:7:8', '1::', '1:0:0:2::3', '2001:db8:0:0:1::1'];
  it('round-trips through 16 bytes in RFC 5952 form', () => {
    const expected: Record<string, string> = { '2001:db8:0:0:1::1': '2001:db8::1:0:0:1' };
    for (const c of cases) {
      const b = Buffer.alloc(16);
      writeIPv6(b, 0, c);
      assert.equal(formatIPv6(b, 0), expected[c] ?? c, c);
    }
  });
  it('handles an embedded IPv4 tail', () => {
    const b = Buffer.alloc(16);
    writeIPv6(b, 0, '::ffff:1.2.3.4');
    assert.equal(formatIPv6(b, 0), '::ffff:102:304');
  });
  it('formats host:port with brackets for IPv6', () => {
    assert.equal(formatHostPort('::1', 1080), '[::1]:1080');
    assert.equal(formatHostPort('127.0.0.1', 1080), '127.0.0.1:1080');
  });
});

describe('UDP header (RFC 1928 §7)', () => {
  it('round-trips', () => {
    const h = encodeUdpHeader('10.0.0.1', 53);
    const d = Buffer.concat([h, Buffer.from('payload')]);
    const p = parseUdpHeader(d);
    assert.ok(p.ok);
    if (!p.ok) return;
    assert.deepEqual({ ...p.value }, { frag: 0, type: 'ipv4', host: '10.0.0.1', port: 53, dataOffset: 10 });
    assert.equal(d.subarray(p.value.dataOffset).toString(), 'payload');
  });
  it('rejects short and malformed datagrams without throwing', () => {
    for (const bad of [[], [0, 0, 0], [0, 0, 0, 1, 1, 2], [0, 0, 0, 9, 1, 2, 3, 4, 0, 1], [0, 0, 0, 3, 0, 0, 1]]) {
      assert.equal(parseUdpHeader(Buffer.from(bad)).ok, false, JSON.stringify(bad));
    }
  });
});

describe('errno → REP (as Dante maps them)', () => {
  const table: Array<[string, number]> = [
    ['ENETUNREACH', 0x03],
    ['ENETDOWN', 0x03],
    ['EHOSTUNREACH', 0x04],
    ['EHOSTDOWN', 0x04],
    ['ENOTFOUND', 0x04],
    ['EAI_AGAIN', 0x04],
    ['EAI_FAIL', 0x04],
    ['ECONNREFUSED', 0x05],
    ['ETIMEDOUT', 0x06],
    ['EPIPE', 0x01],
    ['ECONNRESET', 0x01],
  ];
  for (const [code, rep] of table) {
    it(`${code} → 0x0${rep}`, () => {
      assert.equal(replyForError(Object.assign(new Error(code), { code })), rep);
    });
  }
  it('anything without a code is a general failure', () => {
    assert.equal(replyForError(new Error('x')), 0x01);
    assert.equal(replyForError(undefined), 0x01);
  });
  it('reads as text', () => {
    assert.equal(replyText(0x05), 'refused (0x05)');
  });
});
