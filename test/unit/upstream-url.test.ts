import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectRequest, kindForHttpStatus, parseResponseHead } from '../../src/engine/upstream/httpConnect';
import { describeUpstream, parseUpstreamUrl, redactUrlText, type ParsedUpstream } from '../../src/engine/upstream/url';
import { noProxyPattern, vscodeProxy } from '../../src/engine/upstream/vscodeProxy';

const ok = (r: ParsedUpstream) => {
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.value;
};
const reason = (r: ParsedUpstream) => {
  assert.ok(!r.ok, 'expected a refusal');
  return r.reason;
};

describe('upstream URLs', () => {
  it('parses the three schemes with their default ports', () => {
    assert.deepEqual(ok(parseUpstreamUrl('socks5://127.0.0.1')), { scheme: 'socks5', host: '127.0.0.1', port: 1080 });
    assert.deepEqual(ok(parseUpstreamUrl('socks5h://Proxy.Example:9050')), { scheme: 'socks5h', host: 'proxy.example', port: 9050 });
    assert.deepEqual(ok(parseUpstreamUrl('http://[::1]:3128/')), { scheme: 'http', host: '::1', port: 3128 });
    assert.deepEqual(ok(parseUpstreamUrl('http://proxy')), { scheme: 'http', host: 'proxy', port: 80 });
    assert.equal(ok(parseUpstreamUrl('socks://h')).scheme, 'socks5h');
  });

  it('takes the user from the URL and the password apart', () => {
    const u = ok(parseUpstreamUrl('socks5h://al%40ice@h:1', { password: 'p@ss' }));
    assert.equal(u.username, 'al@ice');
    assert.equal(u.password, 'p@ss');
    assert.equal(describeUpstream(u), 'socks5h://al%40ice@h:1');
    assert.ok(!describeUpstream(u).includes('p@ss'));
  });

  it('refuses a password in the URL unless allowed (VS Code http.proxy)', () => {
    assert.match(reason(parseUpstreamUrl('http://u:secret@h:3128')), /password apart from the URL/);
    assert.doesNotMatch(reason(parseUpstreamUrl('http://u:secret@h:3128')), /secret/);
    const u = ok(parseUpstreamUrl('http://u:secret@h:3128', { allowPasswordInUrl: true }));
    assert.equal(u.password, 'secret');
  });

  it('refuses what it cannot speak, saying what to write instead', () => {
    assert.match(reason(parseUpstreamUrl('https://h:443')), /TLS to the proxy.*not supported/);
    assert.match(reason(parseUpstreamUrl('socks4://h')), /socks4:\/\/ upstreams are not supported/);
    assert.match(reason(parseUpstreamUrl('ftp://h')), /unsupported upstream scheme "ftp"/);
    assert.match(reason(parseUpstreamUrl('127.0.0.1:1080')), /not a URL/);
    assert.match(reason(parseUpstreamUrl('')), /empty/);
    assert.match(reason(parseUpstreamUrl('socks5://h:0')), /port/);
    assert.match(reason(parseUpstreamUrl('socks5://h:70000')), /not a valid URL|port/);
    assert.match(reason(parseUpstreamUrl('socks5://h/path')), /path, query or fragment/);
    assert.match(reason(parseUpstreamUrl('socks5://h?x=1')), /path, query or fragment/);
    assert.match(reason(parseUpstreamUrl('socks5://bad_-.-name')), /not a valid host name/);
    assert.match(reason(parseUpstreamUrl('socks5://a%0Ab:1')), /not a valid host name/);
  });

  it('checks SOCKS credentials against RFC 1929 limits', () => {
    assert.match(reason(parseUpstreamUrl('socks5://alice@h')), /no password for upstream user "alice"/);
    assert.match(reason(parseUpstreamUrl(`socks5://${'a'.repeat(256)}@h`, { password: 'x' })), /255 bytes/);
    assert.match(reason(parseUpstreamUrl('socks5://a@h', { password: 'x'.repeat(256) })), /255 bytes/);
    assert.deepEqual(ok(parseUpstreamUrl('socks5://h', { password: 'x' })), { scheme: 'socks5', host: 'h', port: 1080 });
    assert.match(reason(parseUpstreamUrl('http://:pw@h', { allowPasswordInUrl: true })), /password but no user name/);
    // HTTP Basic may have an empty password.
    assert.equal(ok(parseUpstreamUrl('http://bob@h')).username, 'bob');
  });

  it('redacts a password in text that did not parse', () => {
    assert.equal(redactUrlText('http://u:secret@h:x'), 'http://u:***@h:x');
  });
});

describe('HTTP CONNECT wire', () => {
  it('writes the request with Basic credentials or a given Proxy-Authorization', () => {
    assert.equal(connectRequest('h:443', { scheme: 'http', host: 'p', port: 1 }), 'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n');
    assert.equal(
      connectRequest('h:443', { scheme: 'http', host: 'p', port: 1, username: 'bob', password: 'pw' }),
      `CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nProxy-Authorization: Basic ${Buffer.from('bob:pw').toString('base64')}\r\n\r\n`,
    );
    assert.match(
      connectRequest('h:443', { scheme: 'http', host: 'p', port: 1, username: 'bob', authorization: 'Negotiate abc\r\nX: y' }),
      /Proxy-Authorization: Negotiate abcX: y\r\n\r\n$/,
    );
  });

  it('parses the response head in any split, with CRLF or LF, and leaves tunnel bytes alone', () => {
    const msg = Buffer.from('HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\nTUNNEL');
    const headLen = msg.length - 'TUNNEL'.length;
    for (let i = 0; i < headLen; i++) assert.equal(parseResponseHead(msg.subarray(0, i)).status, 'more', `prefix of ${i} bytes`);
    const r = parseResponseHead(msg);
    assert.ok(r.status === 'done');
    assert.equal(r.length, headLen);
    assert.equal(r.value.status, 200);
    assert.deepEqual(r.value.headers, [['proxy-agent', 'x']]);
    const lf = parseResponseHead(Buffer.from('HTTP/1.0 407 Proxy Authentication Required\nA: b\n\n'));
    assert.ok(lf.status === 'done' && lf.value.status === 407 && lf.value.reason === 'Proxy Authentication Required');
  });

  it('refuses what is not HTTP, and heads over 16 KiB, without waiting for more', () => {
    const socks = parseResponseHead(Buffer.from([0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
    assert.ok(socks.status === 'error' && /not an HTTP proxy/.test(socks.reason));
    const big = parseResponseHead(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), Buffer.alloc(16 * 1024, 'a')]));
    assert.ok(big.status === 'error' && /longer than 16384/.test(big.reason));
    const bad = parseResponseHead(Buffer.from('HTTP/2 200\r\n\r\n'));
    assert.ok(bad.status === 'error');
  });

  it('maps statuses to failure kinds', () => {
    assert.equal(kindForHttpStatus(403), 'not-allowed');
    assert.equal(kindForHttpStatus(504), 'timeout');
    assert.equal(kindForHttpStatus(407), 'general');
    assert.equal(kindForHttpStatus(502), 'general');
  });
});

describe('"vscode": VS Code\'s own proxy', () => {
  it('takes http.proxy, http.noProxy and http.proxyAuthorization', () => {
    assert.deepEqual(vscodeProxy({ proxy: ' http://corp:3128 ', noProxy: ['localhost', '.corp.example', '*.svc', '10.0.0.0/8', 'git.example:22', '::1', ''], proxyAuthorization: 'Basic eA==' }), {
      url: 'http://corp:3128',
      source: 'http.proxy',
      bypass: ['.localhost', '.corp.example', '*.svc', '10.0.0.0/8', '.git.example:22', '::1'],
      authorization: 'Basic eA==',
    });
  });

  it('falls back to the environment, as VS Code does: HTTPS_PROXY, HTTP_PROXY, NO_PROXY', () => {
    const r = vscodeProxy({ proxy: '', noProxy: [], env: { http_proxy: 'http://h:1', HTTPS_PROXY: 'http://s:2', no_proxy: 'a.example,127.0.0.1' } });
    assert.deepEqual(r, { url: 'http://s:2', source: 'HTTPS_PROXY', bypass: ['.a.example', '127.0.0.1'] });
    assert.equal(vscodeProxy({ env: { http_proxy: 'http://h:1' } }).source, 'http_proxy');
  });

  it('no proxy anywhere: no upstream', () => {
    assert.equal(vscodeProxy({ proxy: undefined, env: {} }).url, undefined);
  });

  it('maps NO_PROXY entries to patterns', () => {
    assert.equal(noProxyPattern('*'), '*');
    assert.equal(noProxyPattern('example.com'), '.example.com');
    assert.equal(noProxyPattern('[::1]:8080'), '[::1]:8080');
    assert.equal(noProxyPattern('192.168.1.1:80'), '192.168.1.1:80');
  });
});
