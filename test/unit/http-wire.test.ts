// The HTTP proxy's wire format (src/engine/protocol/http): heads read incrementally and bounded,
// request targets and framing (with the request-smuggling cases), response framing, the chunked
// coding, the heads it forwards, its own answers, Basic credentials, the PAC file and status page.
// Hand-picked cases first, then properties (fast-check) for any split and any bytes.
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { ChunkedReader, encodeChunk, LAST_CHUNK } from '../../src/engine/protocol/http/chunked';
import { DEFAULT_HEAD_LIMITS, HeadReader, type HeadResult } from '../../src/engine/protocol/http/head';
import {
  answer,
  basicCredentials,
  clientFraming,
  endToEndFields,
  errorAnswer,
  forwardedRequestHead,
  forwardedResponseHead,
} from '../../src/engine/protocol/http/message';
import { pacFile, pacProxyList, pageAddress, statusPage, type PageContext } from '../../src/engine/protocol/http/pac';
import { parseRequestHead, type RequestError, type RequestHead } from '../../src/engine/protocol/http/request';
import { parseResponseHead, type ResponseHead } from '../../src/engine/protocol/http/response';

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const opts = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function readHead(text: string | Buffer, limits = DEFAULT_HEAD_LIMITS): HeadResult {
  return new HeadReader(limits).push(typeof text === 'string' ? b(text) : text);
}

function request(text: string): RequestHead | RequestError {
  const r = readHead(text);
  assert.equal(r.status, 'done', JSON.stringify(r));
  if (r.status !== 'done') throw new Error('unreachable');
  return parseRequestHead(r.lines);
}

function ok(text: string): RequestHead {
  const r = request(text);
  assert.ok(!('code' in r), `expected a request, got ${JSON.stringify(r)}`);
  return r;
}

function refused(text: string, code = 400): string {
  const r = request(text);
  assert.ok('code' in r, `expected ${code}, got a request`);
  assert.equal((r).code, code, (r).reason);
  return (r).reason;
}

function response(text: string, method = 'GET'): ResponseHead {
  const r = readHead(text);
  if (r.status !== 'done') throw new Error(`head: ${JSON.stringify(r)}`);
  const res = parseResponseHead(r.lines, method);
  if (typeof res === 'string') throw new Error(res);
  return res;
}

describe('HeadReader', () => {
  it('reads a head split anywhere, and leaves the bytes after it', () => {
    const head = 'GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\nX-A:  1 \r\n\r\n';
    const whole = b(head + 'NEXT');
    for (let cut = 0; cut <= whole.length; cut++) {
      const r = new HeadReader();
      const first = r.push(whole.subarray(0, cut));
      const out = first.status === 'done' ? first : r.push(whole.subarray(cut));
      assert.equal(out.status, 'done', `cut at ${cut}`);
      if (out.status !== 'done') continue;
      assert.deepEqual(out.lines, ['GET http://a.test/ HTTP/1.1', 'Host: a.test', 'X-A:  1 ']);
      const rest = first.status === 'done' ? Buffer.concat([out.rest, whole.subarray(cut)]) : out.rest;
      assert.equal(rest.toString(), 'NEXT');
    }
  });

  it('takes bare LF line ends and skips empty lines before the request line', () => {
    const r = readHead('\r\n\nGET / HTTP/1.0\nHost: x\n\n');
    assert.equal(r.status, 'done');
    if (r.status === 'done') assert.deepEqual(r.lines, ['GET / HTTP/1.0', 'Host: x']);
  });

  it('refuses a bare CR, a NUL and other control characters', () => {
    for (const bad of ['GET / HTTP/1.1\rHost: x\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\0\r\n\r\n', 'GET / HTTP/1.1\r\nX: \x01\r\n\r\n']) {
      const r = readHead(bad);
      assert.equal(r.status, 'error', JSON.stringify(bad));
      if (r.status === 'error') assert.equal(r.code, 400);
    }
  });

  it('bounds the header section: total size, line length, field count (431), request line (414)', () => {
    const limits = { maxHeadBytes: 1000, maxLineBytes: 200, maxHeaders: 5 };
    const long = (n: number) => 'GET / HTTP/1.1\r\nX: ' + 'a'.repeat(n) + '\r\n\r\n';
    assert.equal(readHead(long(197), limits).status, 'done'); // 'X: ' + 197 = 200 bytes
    const over = readHead(long(198), limits);
    assert.equal(over.status === 'error' && over.code, 431);
    const lineEnd = new HeadReader(limits);
    // An over-long line is refused as soon as it is over, before its end arrives.
    assert.equal(lineEnd.push(b('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(300))).status, 'error');
    const reqLine = readHead('GET /' + 'a'.repeat(300) + ' HTTP/1.1\r\n\r\n', limits);
    assert.equal(reqLine.status === 'error' && reqLine.code, 414);
    const many = 'GET / HTTP/1.1\r\n' + Array.from({ length: 6 }, (_, i) => `X${i}: y\r\n`).join('') + '\r\n';
    const m = readHead(many, limits);
    assert.equal(m.status === 'error' && m.code, 431);
    assert.equal(readHead('GET / HTTP/1.1\r\n' + Array.from({ length: 5 }, (_, i) => `X${i}: y\r\n`).join('') + '\r\n', limits).status, 'done');
    const total = 'GET / HTTP/1.1\r\n' + Array.from({ length: 5 }, () => `X: ${'b'.repeat(196)}\r\n`).join('') + '\r\n';
    const t = readHead(total, limits);
    assert.equal(t.status === 'error' && t.code, 431);
  });

  it('a 64 KiB header line fed one byte at a time is refused at the line limit, holding no more', () => {
    const r = new HeadReader();
    r.push(b('GET / HTTP/1.1\r\nX: '));
    let res: HeadResult = { status: 'more' };
    let fed = 0;
    for (; fed < 64 * 1024 && res.status === 'more'; fed++) res = r.push(b('a'));
    assert.equal(res.status === 'error' && res.code, 431);
    assert.ok(fed <= DEFAULT_HEAD_LIMITS.maxLineBytes + 1, `refused after ${fed} bytes`);
    assert.ok(r.bytes <= DEFAULT_HEAD_LIMITS.maxLineBytes + 100);
  });
});

describe('request heads', () => {
  it('absolute form: host, port, path; Host from the URL', () => {
    const r = ok('GET http://Example.TEST:8080/a/b?c=d#frag HTTP/1.1\r\nHost: wrong.test\r\n\r\n');
    assert.deepEqual(r.target, { form: 'absolute', host: 'example.test', type: 'domain', port: 8080, path: '/a/b?c=d' });
    assert.deepEqual(ok('GET http://[::1]/ HTTP/1.1\r\nHost: x\r\n\r\n').target, { form: 'absolute', host: '::1', type: 'ipv6', port: 80, path: '/' });
    assert.deepEqual(ok('GET http://127.0.0.1?q HTTP/1.0\r\n\r\n').target, { form: 'absolute', host: '127.0.0.1', type: 'ipv4', port: 80, path: '/?q' });
  });

  it('authority form for CONNECT; origin form and * for the proxy itself', () => {
    assert.deepEqual(ok('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n').target, { form: 'authority', host: 'example.test', type: 'domain', port: 443 });
    assert.deepEqual(ok('CONNECT [2001:db8::1]:22 HTTP/1.1\r\nHost: x\r\n\r\n').target, { form: 'authority', host: '2001:db8::1', type: 'ipv6', port: 22 });
    assert.deepEqual(ok('GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1:1080\r\n\r\n').target, { form: 'origin', path: '/proxy.pac' });
    assert.deepEqual(ok('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n').target, { form: 'asterisk' });
  });

  it('refuses bad targets', () => {
    refused('CONNECT example.test HTTP/1.1\r\nHost: x\r\n\r\n'); // no port
    refused('CONNECT example.test:0 HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('CONNECT example.test:65536 HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('CONNECT [::1:443 HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('GET https://example.test/ HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('GET ftp://example.test/ HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('GET http://user:pw@example.test/ HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('GET http:///path HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('GET example.test/ HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('GET * HTTP/1.1\r\nHost: x\r\n\r\n');
  });

  it('request line and version', () => {
    refused('GET  / HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n');
    refused('G(T / HTTP/1.1\r\nHost: x\r\n\r\n');
    refused('GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505);
    refused('GET / HTTP/1.1\r\n\r\n'); // 1.1 without Host
    refused('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    refused('GET / HTTP/1.1\r\nHost: a b\r\n\r\n');
    assert.equal(ok('GET / HTTP/1.0\r\n\r\n').minor, 0);
  });

  it('header fields: no whitespace before the colon, no folding, token names', () => {
    refused('GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n');
    refused('GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n');
    refused('GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n');
    refused('GET / HTTP/1.1\r\nHost: x\r\n: empty name\r\n\r\n');
    assert.deepEqual(ok('GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-B:\t v \t\r\n\r\n').fields, [['Host', 'x'], ['X-Empty', ''], ['X-B', 'v']]);
  });

  it('framing: none, Content-Length, chunked', () => {
    assert.deepEqual(ok('GET / HTTP/1.1\r\nHost: x\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(ok('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(ok('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 42\r\n\r\n').framing, { kind: 'length', length: 42 });
    assert.deepEqual(ok('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n').framing, { kind: 'chunked' });
  });

  it('request smuggling: both framings, repeated or odd Content-Length, odd Transfer-Encoding → 400', () => {
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n');
    refused('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 501);
    refused('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501);
    refused('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n');
    refused('CONNECT a.test:443 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\n');
  });

  it('keep-alive and Expect', () => {
    assert.equal(ok('GET / HTTP/1.1\r\nHost: x\r\n\r\n').keepAlive, true);
    assert.equal(ok('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').keepAlive, false);
    assert.equal(ok('GET / HTTP/1.1\r\nHost: x\r\nProxy-Connection: Close\r\n\r\n').keepAlive, false);
    assert.equal(ok('GET / HTTP/1.0\r\n\r\n').keepAlive, false);
    assert.equal(ok('GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n').keepAlive, true);
    assert.equal(ok('PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n').expectContinue, true);
  });
});

describe('response heads', () => {
  it('framing by status, method and fields', () => {
    assert.deepEqual(response('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n').framing, { kind: 'length', length: 10 });
    assert.deepEqual(response('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD').framing, { kind: 'none' });
    assert.deepEqual(response('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(response('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(response('HTTP/1.1 100 Continue\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n').framing, { kind: 'chunked' });
    assert.deepEqual(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n').framing, { kind: 'close' });
    assert.deepEqual(response('HTTP/1.0 200 OK\r\n\r\n').framing, { kind: 'close' });
    assert.deepEqual(response('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n').framing, { kind: 'length', length: 7 });
    assert.throws(() => response('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n'));
    assert.throws(() => response('HTTP/1.1 2000 OK\r\n\r\n'));
    assert.throws(() => response('HTTP/1.1 099 Low\r\n\r\n'));
    assert.throws(() => response('ICY 200 OK\r\n\r\n'));
  });

  it('keep-alive', () => {
    assert.equal(response('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n').keepAlive, true);
    assert.equal(response('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n').keepAlive, false);
    assert.equal(response('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n').keepAlive, false);
    assert.equal(response('HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n').keepAlive, true);
    assert.equal(response('HTTP/1.1 200 OK\r\n\r\n').keepAlive, false); // close-delimited
  });
});

describe('chunked coding', () => {
  function readAll(body: Buffer, splits: number[] = []): { used: number; data: Buffer; done: boolean; failure?: string } {
    const r = new ChunkedReader();
    const parts: Buffer[] = [];
    let used = 0;
    const cuts = [...new Set(splits.map((s) => Math.min(s, body.length)))].sort((x, y) => x - y);
    let from = 0;
    for (const cut of [...cuts, body.length]) {
      const piece = body.subarray(from, cut);
      from = cut;
      if (r.done) break;
      const n = r.push(piece, 0, (s, e) => parts.push(piece.subarray(s, e)));
      if (n < 0) return { used, data: Buffer.concat(parts), done: false, failure: r.failure! };
      used += n;
    }
    return { used, data: Buffer.concat(parts), done: r.done };
  }

  it('finds the end, takes the data out, stops before the next message', () => {
    const body = b('5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1\r\n');
    const r = readAll(body);
    assert.equal(r.done, true);
    assert.equal(r.data.toString(), 'hello 0123456789');
    assert.equal(body.subarray(r.used).toString(), 'GET / HTTP/1.1\r\n');
  });

  it('refuses what two readers could read differently', () => {
    for (const bad of ['5 \r\nhello\r\n0\r\n\r\n', '+5\r\nhello\r\n0\r\n\r\n', '5\nhello\r\n0\r\n\r\n', '5\r\nhelloX\r\n0\r\n\r\n', '\r\n', 'fffffffffffffff\r\n', '0\r\nX: y\n\r\n', '0x5\r\nhello\r\n0\r\n\r\n']) {
      const r = readAll(b(bad));
      assert.equal(r.done, false, JSON.stringify(bad));
      assert.ok(r.failure, JSON.stringify(bad));
    }
  });

  it('any chunking of any data, split anywhere, reads back whole (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 10 }),
        fc.array(fc.nat({ max: 4000 }), { maxLength: 6 }),
        fc.boolean(),
        (data, sizes, splits, trailer) => {
          const pieces: Buffer[] = [];
          let at = 0;
          for (const s of sizes) {
            if (at >= data.length) break;
            pieces.push(...encodeChunk(Buffer.from(data.subarray(at, at + s))));
            at += s;
          }
          if (at < data.length) pieces.push(...encodeChunk(Buffer.from(data.subarray(at))));
          pieces.push(trailer ? b('0;x=1\r\nX-T: 1\r\n\r\n') : LAST_CHUNK);
          const body = Buffer.concat([...pieces, b('NEXT')]);
          const r = readAll(body, splits);
          assert.equal(r.done, true);
          assert.deepEqual(r.data, Buffer.from(data));
          assert.equal(body.subarray(r.used).toString(), 'NEXT');
        },
      ),
      opts,
    );
  });

  it('never throws on any bytes, and never claims more than it was given (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat({ max: 2000 }), { maxLength: 5 }), (bytes, splits) => {
        const r = readAll(Buffer.from(bytes), splits);
        assert.ok(r.used <= bytes.length);
      }),
      opts,
    );
  });
});

describe('forwarded heads', () => {
  it('request: origin form, Host from the URL, hop-by-hop removed (Connection-listed too), Via added', () => {
    const req = ok(
      'POST http://a.test:8080/p?q HTTP/1.1\r\nHost: evil.test\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nProxy-Authorization: Basic YTpi\r\n' +
        'Proxy-Connection: keep-alive\r\nKeep-Alive: 300\r\nTE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\nVia: 1.0 other\r\nX-Keep: yes\r\n\r\n',
    );
    const head = forwardedRequestHead(req, 'a.test', 8080, '/p?q').toString('latin1');
    assert.equal(
      head,
      'POST /p?q HTTP/1.1\r\nHost: a.test:8080\r\nVia: 1.0 other\r\nX-Keep: yes\r\nVia: 1.1 socks5-proxy\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const v6 = ok('GET http://[::1]:80/ HTTP/1.0\r\n\r\n');
    assert.equal(forwardedRequestHead(v6, '::1', 80, '/').toString(), 'GET / HTTP/1.1\r\nHost: [::1]\r\nVia: 1.0 socks5-proxy\r\n\r\n');
  });

  it('end-to-end fields never keep a hop-by-hop one (property)', () => {
    const names = fc.constantFrom('Connection', 'keep-alive', 'Proxy-Connection', 'TE', 'Trailer', 'Upgrade', 'X-A', 'X-B', 'Content-Length', 'Proxy-Authorization', 'Transfer-Encoding');
    fc.assert(
      fc.property(fc.array(fc.tuple(names, fc.constantFrom('x-a', 'X-B, close', 'keep-alive', '1')), { maxLength: 12 }), (fields) => {
        const kept = endToEndFields(fields);
        const listed = new Set(fields.filter(([n]) => /^(proxy-)?connection$/i.test(n)).flatMap(([, v]) => v.toLowerCase().split(',').map((s) => s.trim())));
        for (const [n] of kept) {
          assert.ok(!/^(connection|keep-alive|proxy-connection|te|trailer|upgrade|proxy-authorization|transfer-encoding)$/i.test(n), n);
          assert.ok(!listed.has(n.toLowerCase()), n);
        }
      }),
      opts,
    );
  });

  it('response: framing restated for the client, Connection: close when closing', () => {
    const chunked = response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nX: 1\r\n\r\n');
    assert.equal(clientFraming(chunked.framing, 1), 'same');
    assert.equal(forwardedResponseHead(chunked, 1, 'same', false).toString(), 'HTTP/1.1 200 OK\r\nX: 1\r\nVia: 1.1 socks5-proxy\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(clientFraming(chunked.framing, 0), 'dechunk');
    assert.equal(forwardedResponseHead(chunked, 0, 'dechunk', true).toString(), 'HTTP/1.1 200 OK\r\nX: 1\r\nVia: 1.1 socks5-proxy\r\nConnection: close\r\n\r\n');
    const closeDelimited = response('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n');
    assert.equal(clientFraming(closeDelimited.framing, 1), 'chunk');
    assert.equal(
      forwardedResponseHead(closeDelimited, 1, 'chunk', false).toString(),
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVia: 1.0 socks5-proxy\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const len = response('HTTP/1.1 404 \r\nContent-Length: 3\r\n\r\n');
    assert.equal(forwardedResponseHead(len, 0, 'same', false).toString(), 'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nVia: 1.1 socks5-proxy\r\nConnection: keep-alive\r\n\r\n');
  });
});

describe('own answers and credentials', () => {
  it('a status, a short text body with its length, Connection: close where it closes', () => {
    const a = errorAnswer(502, 'a.test:80 refused the connection', { close: true }).toString();
    assert.equal(
      a,
      'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 50\r\nConnection: close\r\n\r\n502 Bad Gateway: a.test:80 refused the connection\n',
    );
    const h = answer(200, 'hi', { close: false, headOnly: true }).toString();
    assert.ok(h.endsWith('Content-Length: 3\r\nConnection: keep-alive\r\n\r\n'), h);
  });

  it('Basic credentials: decoded, or undefined for anything else', () => {
    const creds = (v: string | string[]) => basicCredentials((Array.isArray(v) ? v : [v]).map((x) => ['Proxy-Authorization', x] as const));
    const c = creds('Basic ' + Buffer.from('alice:pa:ss wörd').toString('base64'));
    assert.equal(c?.username, 'alice');
    assert.equal(c?.password.toString(), 'pa:ss wörd');
    assert.equal(creds('basic ' + Buffer.from('bob:').toString('base64'))?.password.length, 0);
    assert.equal(creds('Basic ' + Buffer.from('nocolon').toString('base64')), undefined);
    assert.equal(creds('Bearer abc'), undefined);
    assert.equal(creds('Basic !!!'), undefined);
    assert.equal(creds('Basic'), undefined);
    assert.equal(creds(['Basic YTpi', 'Basic YTpi']), undefined);
    // ISO-8859-1 bytes (Python requests): not UTF-8, so a second reading is offered.
    const latin = creds('Basic ' + Buffer.from('jörg:wörd', 'latin1').toString('base64'));
    assert.equal(latin?.latin1, 'jörg');
    assert.equal(Buffer.from(latin.password.toString('latin1'), 'utf8').toString(), 'wörd');
    assert.equal(creds('Basic ' + Buffer.from('jörg:wörd').toString('base64'))?.latin1, undefined);
    assert.equal(basicCredentials([]), undefined);
  });

  it('Basic credentials round-trip for any user name without a colon and any password (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }).filter((u) => !u.includes(':')), fc.string({ maxLength: 40 }), (user, pass) => {
        const c = basicCredentials([['Proxy-Authorization', `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`]]);
        assert.equal(c?.username, Buffer.from(user).toString());
        assert.equal(c?.password.toString(), Buffer.from(pass).toString());
      }),
      opts,
    );
  });
});

describe('PAC file and status page', () => {
  const doors = { socks5: true, socks4: true, http: true };
  it('names every open door, SOCKS5 first, never DIRECT', () => {
    assert.equal(pacProxyList('127.0.0.1', 1080, doors), 'SOCKS5 127.0.0.1:1080; SOCKS 127.0.0.1:1080; PROXY 127.0.0.1:1080');
    assert.equal(pacProxyList('::1', 1080, { socks5: true, socks4: false, http: true }), 'SOCKS5 [::1]:1080; PROXY [::1]:1080');
    const pac = pacFile('127.0.0.1', 1080, doors);
    assert.match(pac, /function FindProxyForURL\(url, host\) \{\n {2}return "SOCKS5 127\.0\.0\.1:1080; SOCKS 127\.0\.0\.1:1080; PROXY 127\.0\.0\.1:1080";\n\}/);
    assert.doesNotMatch(pac, /DIRECT/);
    // It is JavaScript: it runs, and answers the list for any URL.
    const find = runInNewContext(`${pac}; FindProxyForURL`) as (u: string, h: string) => string;
    assert.equal(find('http://a.test/', 'a.test'), pacProxyList('127.0.0.1', 1080, doors));
  });

  const ctx = (over: Partial<PageContext>): PageContext => ({
    hostHeader: undefined,
    localAddress: '127.0.0.1',
    localPort: 1080,
    clientIsLoopback: true,
    machineAddresses: ['127.0.0.1', '192.0.2.5', '::1'],
    listenerHost: '127.0.0.1',
    ...over,
  });

  it('the PAC names an address the client can reach', () => {
    assert.deepEqual(pageAddress(ctx({})), { host: '127.0.0.1', port: 1080 });
    assert.deepEqual(pageAddress(ctx({ hostHeader: '127.0.0.1:1080' })), { host: '127.0.0.1', port: 1080 });
    // A forwarded port: the client reached localhost:5555, which leads here.
    assert.deepEqual(pageAddress(ctx({ hostHeader: 'localhost:5555' })), { host: 'localhost', port: 5555 });
    // Names are not echoed; nor are addresses that are not the proxy's.
    assert.deepEqual(pageAddress(ctx({ hostHeader: 'evil.test:80' })), { host: '127.0.0.1', port: 1080 });
    assert.deepEqual(pageAddress(ctx({ hostHeader: '192.0.2.5:1080' })), { host: '127.0.0.1', port: 1080 });
    assert.deepEqual(pageAddress(ctx({ hostHeader: '"><script>' })), { host: '127.0.0.1', port: 1080 });
    assert.deepEqual(pageAddress(ctx({ hostHeader: 'localhost', clientIsLoopback: false, localAddress: '192.0.2.5', listenerHost: '0.0.0.0' })), { host: '192.0.2.5', port: 1080 });
    // A wildcard listener: any of the machine's addresses the client named, else where it connected (never 0.0.0.0).
    const wild = ctx({ listenerHost: '0.0.0.0', localAddress: '::ffff:192.0.2.5', clientIsLoopback: false });
    assert.deepEqual(pageAddress({ ...wild }), { host: '192.0.2.5', port: 1080 });
    assert.deepEqual(pageAddress({ ...wild, hostHeader: '192.0.2.5:1080' }), { host: '192.0.2.5', port: 1080 });
    assert.deepEqual(pageAddress({ ...wild, hostHeader: '[::1]:1080' }), { host: '::1', port: 1080 });
    assert.deepEqual(pageAddress({ ...wild, hostHeader: '0.0.0.0:1080' }), { host: '192.0.2.5', port: 1080 });
  });

  it('the status page says the name, the address and the PAC URL, escaped', () => {
    const page = statusPage('::1', 1080, doors);
    assert.match(page, /socks5-proxy/);
    assert.match(page, /http:\/\/\[::1\]:1080\/proxy\.pac/);
    assert.match(page, /SOCKS5, SOCKS4\/4a, HTTP/);
  });
});

describe('request heads: properties', () => {
  const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
  const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/);
  const host = fc.oneof(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}$/), fc.ipV4());
  const fieldsArb = fc.array(fc.tuple(token, value), { maxLength: 20 }).map((fs) => fs.filter(([n]) => !/^(host|content-length|transfer-encoding|connection|proxy-connection|expect)$/i.test(n)));

  it('a generated request reads back the same, however it is split (property)', () => {
    fc.assert(
      fc.property(token, host, fc.integer({ min: 1, max: 65535 }), fc.stringMatching(/^(\/[a-z0-9._~%-]{0,10}){1,4}(\?[a-z0-9=&]{0,10})?$/), fieldsArb, fc.array(fc.nat({ max: 2000 }), { maxLength: 5 }), (method, h, port, path, fields, splits) => {
        fc.pre(method !== 'CONNECT');
        const head = `${method} http://${h}:${port}${path} HTTP/1.1\r\nHost: ${h}\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
        const bytes = b(head + 'rest');
        const r = new HeadReader();
        let out: HeadResult = { status: 'more' };
        let from = 0;
        for (const cut of [...new Set(splits.map((s) => Math.min(s, bytes.length)))].sort((x, y) => x - y).concat(bytes.length)) {
          if (out.status !== 'more') break;
          out = r.push(bytes.subarray(from, cut));
          from = cut;
        }
        assert.equal(out.status, 'done');
        if (out.status !== 'done') return;
        const req = parseRequestHead(out.lines);
        assert.ok(!('code' in req), JSON.stringify(req));
        const q = req;
        assert.equal(q.method, method);
        assert.deepEqual(q.target, { form: 'absolute', host: h, type: isIP(h) === 4 ? 'ipv4' : 'domain', port, path });
        assert.deepEqual(q.fields.slice(1), fields);
      }),
      opts,
    );
  });

  it('any bytes: the reader answers more, done or error and never throws or holds more than its limits (property)', () => {
    const limits = { maxHeadBytes: 2048, maxLineBytes: 300, maxHeaders: 10 };
    const near = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)),
      fc.array(fc.constantFrom('GET ', 'http://', 'a', ':', ' ', '\r\n', '\n', '\r', 'Host: x', 'Content-Length: 1', 'Transfer-Encoding: chunked', '\0', '\x7f', 'HTTP/1.1'), { maxLength: 400 }).map((p) => b(p.join(''))),
    );
    fc.assert(
      fc.property(near, fc.array(fc.nat({ max: 3000 }), { maxLength: 6 }), (bytes, splits) => {
        const r = new HeadReader(limits);
        let out: HeadResult = { status: 'more' };
        let from = 0;
        for (const cut of [...new Set(splits.map((s) => Math.min(s, bytes.length)))].sort((x, y) => x - y).concat(bytes.length)) {
          out = r.push(bytes.subarray(from, cut));
          from = cut;
          assert.ok(r.bytes <= limits.maxHeadBytes);
          if (out.status !== 'more') break;
        }
        if (out.status === 'done') {
          assert.ok(out.lines.length <= limits.maxHeaders + 1);
          const req = parseRequestHead(out.lines);
          if ('code' in req) assert.ok([400, 414, 431, 501, 505].includes(req.code));
        } else if (out.status === 'error') assert.ok([400, 414, 431].includes(out.code));
      }),
      opts,
    );
  });
});
