// Host-free text of the VS Code layer: sizes, ages, rates, URLs, tree items, status bar.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ClosedConnectionInfo, ConnectionInfo } from '../../src/engine';
import {
  RateTracker,
  buildProxyUrl,
  closedDescription,
  connectionDescription,
  connectionIcon,
  connectionLabel,
  requestText,
  connectionTooltip,
  destinationText,
  escapeMarkdown,
  formatAge,
  formatBytes,
  formatDuration,
  formatEndpoint,
  formatRate,
  outcomeText,
  printable,
  stateLabel,
  statusText,
  statusTooltip,
  type StatusModel,
  enabledProtocolsText,
  proxySchemes,
} from '../../src/vscode/format';

const T0 = 1_700_000_000_000;

function conn(over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    id: 1,
    client: { host: '127.0.0.1', port: 53422 },
    command: 'connect',
    destination: { type: 'domain', host: 'example.com', port: 443 },
    bytesUp: 1234,
    bytesDown: 3 * 1024 * 1024 + 400 * 1024,
    startedAt: T0,
    state: 'established',
    ...over,
  };
}

function closed(outcome: ClosedConnectionInfo['outcome'], over: Partial<ConnectionInfo> = {}): ClosedConnectionInfo {
  return { ...conn(over), state: 'closed', endedAt: T0 + 5000, outcome };
}

describe('numbers', () => {
  it('formats bytes in binary units', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1.2 * 1024 * 1024), '1.2 MiB');
    assert.equal(formatBytes(12.34 * 1024 * 1024), '12.3 MiB');
    assert.equal(formatBytes(123.4 * 1024 ** 3), '123 GiB');
    assert.equal(formatBytes(1024 * 1024 - 1), '1024 KiB');
    assert.equal(formatBytes(5 * 1024 ** 5), '5.0 PiB');
    assert.equal(formatBytes(-5), '0 B');
    assert.equal(formatBytes(NaN), '0 B');
  });

  it('formats coarse row ages', () => {
    assert.equal(formatAge(0), '<1m');
    assert.equal(formatAge(59_999), '<1m');
    assert.equal(formatAge(60_000), '1m');
    assert.equal(formatAge((3 * 60 + 12) * 1000), '3m');
    assert.equal(formatAge((65 * 60 + 59) * 1000), '1h 5m');
    assert.equal(formatAge(51 * 3600 * 1000), '2d 3h');
  });

  it('formats ages', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(999), '0s');
    assert.equal(formatDuration(42_000), '42s');
    assert.equal(formatDuration((3 * 60 + 12) * 1000), '3m 12s');
    assert.equal(formatDuration((65 * 60 + 59) * 1000), '1h 5m');
    assert.equal(formatDuration(51 * 3600 * 1000), '2d 3h');
    assert.equal(formatDuration(-10), '0s');
  });

  it('formats rates', () => {
    assert.equal(formatRate(0), '0 B/s');
    assert.equal(formatRate(1.5 * 1024 * 1024), '1.5 MiB/s');
  });
});

describe('addresses and URLs', () => {
  it('brackets IPv6 and unmaps IPv4-mapped addresses', () => {
    assert.equal(formatEndpoint({ host: '127.0.0.1', port: 1080 }), '127.0.0.1:1080');
    assert.equal(formatEndpoint({ host: '::1', port: 1080 }), '[::1]:1080');
    assert.equal(formatEndpoint({ host: '::ffff:10.0.0.7', port: 80 }), '10.0.0.7:80');
  });

  it('builds socks5h://[user@]host:port', () => {
    assert.equal(buildProxyUrl({ host: '127.0.0.1', port: 1080 }), 'socks5h://127.0.0.1:1080');
    assert.equal(buildProxyUrl({ host: '::1', port: 1081 }), 'socks5h://[::1]:1081');
    assert.equal(buildProxyUrl({ host: '127.0.0.1', port: 1080 }, 'alice'), 'socks5h://alice@127.0.0.1:1080');
    assert.equal(buildProxyUrl({ host: 'h', port: 1 }, 'a@b:c d'), 'socks5h://a%40b%3Ac%20d@h:1');
    // A wildcard listener is dialled on loopback.
    assert.equal(buildProxyUrl({ host: '0.0.0.0', port: 1080 }), 'socks5h://127.0.0.1:1080');
    assert.equal(buildProxyUrl({ host: '::', port: 1080 }), 'socks5h://[::1]:1080');
    assert.equal(buildProxyUrl({ host: 'my.host', port: 9 }), 'socks5h://my.host:9');
  });

  it('builds http://[user@]host:port, and offers the forms the protocols serve', () => {
    assert.equal(buildProxyUrl({ host: '127.0.0.1', port: 1080 }, 'alice', 'http'), 'http://alice@127.0.0.1:1080');
    assert.equal(buildProxyUrl({ host: '::', port: 8 }, undefined, 'http'), 'http://[::1]:8');
    assert.deepEqual(proxySchemes({ socks5: true, socks4: true, http: true }), ['socks5h', 'http']);
    assert.deepEqual(proxySchemes({ socks5: true, socks4: true, http: false }), ['socks5h']);
    assert.deepEqual(proxySchemes({ socks5: false, socks4: true, http: true }), ['http']);
    assert.equal(enabledProtocolsText({ socks5: true, socks4: true, http: true }), 'SOCKS5, SOCKS4/4a, HTTP');
    assert.equal(enabledProtocolsText({ socks5: false, socks4: false, http: false }), 'none (every connection is closed)');
  });
});

describe('text safety', () => {
  it('neutralizes control characters and markdown', () => {
    assert.equal(printable('a\nb\u0007c'), 'a\uFFFDb\uFFFDc');
    const evil = '[x](command:socks5.stop)';
    const e = escapeMarkdown(evil);
    assert.ok(!e.includes('](command'), e);
    assert.equal(e, '\\[x\\]\\(command:socks5\\.stop\\)');
  });
});

describe('sessions', () => {
  it('labels a CONNECT session by its requested destination', () => {
    assert.equal(connectionLabel(conn()), 'example.com:443');
    assert.equal(connectionLabel(conn({ destination: { type: 'ipv6', host: '2001:db8::1', port: 80 } })), '[2001:db8::1]:80');
    assert.equal(connectionLabel(conn({ command: undefined, destination: undefined, state: 'handshake' })), 'handshake…');
    assert.equal(
      connectionLabel(conn({ command: 'udpAssociate', bound: { host: '127.0.0.1', port: 40000 } })),
      'UDP relay 127.0.0.1:40000',
    );
    assert.equal(destinationText(conn()), 'example.com:443');
    assert.equal(destinationText(conn({ destination: undefined })), undefined);
  });

  it('names the request before the destination: protocol and command, HTTP CONNECT alone, HTTP alone for forwarding', () => {
    assert.equal(requestText(conn({ protocol: 'socks5' })), 'SOCKS5 CONNECT');
    assert.equal(requestText(conn({ protocol: 'socks4a', command: 'bind' })), 'SOCKS4a BIND');
    assert.equal(requestText(conn({ protocol: 'http-connect' })), 'HTTP CONNECT');
    assert.equal(requestText(conn({ protocol: 'http', http: { method: 'GET', requests: 1 } })), 'HTTP');
    assert.equal(requestText(conn({ protocol: undefined })), 'CONNECT');
    assert.match(connectionTooltip(conn({ protocol: 'http', http: { method: 'POST', requests: 1 } }), T0), /^\*\*POST\*\* /);
  });

  it('labels an HTTP-forwarding session by method and URL host, and its tooltip counts its requests', () => {
    const http = conn({ protocol: 'http', http: { method: 'GET', requests: 3 }, destination: { type: 'domain', host: 'example.com', port: 80 } });
    assert.equal(connectionLabel(http), 'GET example.com:80');
    assert.equal(destinationText(http), 'example.com:80');
    assert.match(connectionTooltip(http, T0), /HTTP request: GET \(3 on this connection\)/);
    const evil = connectionTooltip(conn({ http: { method: '[x](command:y)', requests: 1 } }), T0);
    assert.ok(!evil.includes('](command'), evil);
  });

  it('describes traffic, then client, then age (the destination is the label)', () => {
    assert.equal(connectionDescription(conn(), T0 + 192_000), '↑1.2 KiB ↓3.4 MiB · 127.0.0.1:53422 · 3m');
    assert.equal(
      connectionDescription(conn({ state: 'bind-waiting', command: 'bind', bytesUp: 0, bytesDown: 0 }), T0),
      'waiting for BIND peer · ↑0 B ↓0 B · 127.0.0.1:53422 · <1m',
    );
    // Coarse on purpose: the text of an idle row does not change every second.
    assert.equal(connectionDescription(conn(), T0 + 1_000), connectionDescription(conn(), T0 + 59_000));
  });

  it('names the protocol once the first bytes told it (rows and tooltips)', () => {
    assert.equal(connectionDescription(conn({ protocol: 'socks4a' }), T0 + 192_000), '↑1.2 KiB ↓3.4 MiB · SOCKS4a · 127.0.0.1:53422 · 3m');
    assert.equal(connectionDescription(conn({ protocol: 'http-connect' }), T0 + 192_000), '↑1.2 KiB ↓3.4 MiB · HTTP CONNECT · 127.0.0.1:53422 · 3m');
    assert.match(connectionTooltip(conn({ protocol: 'socks5' }), T0), /\nProtocol: SOCKS5\n/);
    assert.doesNotMatch(connectionTooltip(conn(), T0), /Protocol:/);
    assert.match(closedDescription({ ...closed({ kind: 'reply', reply: 0x5b, message: 'refused (0x5b)' }), protocol: 'socks4' }), /^refused \(0x5b\) · SOCKS4 · 127\.0\.0\.1:53422 · /);
  });

  it('describes outcomes', () => {
    assert.equal(outcomeText({ kind: 'reply', reply: 5, message: '' }), 'refused (0x05)');
    assert.equal(outcomeText({ kind: 'reply', reply: 7, message: '' }), 'command not supported (0x07)');
    assert.equal(outcomeText({ kind: 'auth-failed', message: '' }), 'auth failed');
    assert.equal(outcomeText({ kind: 'closed-by-client', message: '' }), 'closed by client');
    assert.equal(outcomeText({ kind: 'auth-failed', message: 'auth failed for "bob"' }), 'auth failed for "bob"');
    assert.match(
      closedDescription(closed({ kind: 'reply', reply: 5, message: 'refused (0x05)' })),
      /^refused \(0x05\) · 127\.0\.0\.1:53422 · \d\d:\d\d:\d\d$/,
    );
  });

  it('picks icons by command, state and outcome', () => {
    assert.equal(connectionIcon(conn()).id, 'arrow-swap');
    assert.equal(connectionIcon(conn({ command: 'bind' })).id, 'plug');
    assert.equal(connectionIcon(conn({ command: 'udpAssociate' })).id, 'broadcast');
    assert.equal(connectionIcon(conn({ state: 'connecting' })).id, 'sync~spin');
    assert.equal(connectionIcon(conn({ state: 'bind-waiting', command: 'bind' })).id, 'watch');
    assert.equal(connectionIcon(conn({ state: 'handshake' })).id, 'key');
    assert.equal(connectionIcon(closed({ kind: 'closed-by-client', message: '' })).id, 'pass');
    assert.equal(connectionIcon(closed({ kind: 'reply', reply: 5, message: '' })).id, 'error');
    assert.equal(connectionIcon(closed({ kind: 'closed-by-user', message: '' })).id, 'close');
    assert.equal(stateLabel({ state: 'established', command: 'udpAssociate' }), 'associated');
  });

  it('builds an escaped tooltip with resolved and bound addresses, user, start time and rates', () => {
    const info = conn({
      user: 'al_ice',
      remote: { host: '93.184.216.34', port: 443 },
      bound: { host: '10.0.0.2', port: 50000 },
    });
    const md = connectionTooltip(info, T0 + 1000, { up: 2048, down: 0 });
    assert.match(md, /^\*\*CONNECT\*\* example\\\.com:443 — established/);
    assert.match(md, /User: al\\_ice/);
    assert.match(md, /Resolved: 93\\\.184\\\.216\\\.34:443/);
    assert.match(md, /Bound: 10\\\.0\\\.0\\\.2:50000/);
    assert.match(md, /Started: \d\d:\d\d:\d\d \(1s ago\)/);
    assert.match(md, /now ↑ 2\\\.0 KiB\/s ↓ 0 B\/s/);
    const hostile = connectionTooltip(conn({ destination: { type: 'domain', host: '[a](command:x)', port: 1 } }), T0);
    assert.ok(!hostile.includes('](command:x)'));
    const c = connectionTooltip(closed({ kind: 'reply', reply: 5, message: 'refused (0x05)' }), T0 + 9000);
    assert.match(c, /Outcome: refused \\\(0x05\\\)/);
    assert.match(c, /lasted 5s/);
  });
});

describe('RateTracker', () => {
  it('turns successive counter snapshots into per-second rates and forgets closed sessions', () => {
    const r = new RateTracker();
    r.sample([conn({ id: 1, bytesUp: 0, bytesDown: 0 })], T0);
    assert.deepEqual(r.rate(1), { up: 0, down: 0 });
    r.sample([conn({ id: 1, bytesUp: 1000, bytesDown: 4000 })], T0 + 2000);
    assert.deepEqual(r.rate(1), { up: 500, down: 2000 });
    // A sample too close to the last keeps the previous rate.
    r.sample([conn({ id: 1, bytesUp: 999_999, bytesDown: 4000 })], T0 + 2050);
    assert.deepEqual(r.rate(1), { up: 500, down: 2000 });
    r.sample([], T0 + 3000);
    assert.equal(r.rate(1), undefined);
  });
});

describe('status bar', () => {
  const base: StatusModel = {
    state: 'running',
    address: { host: '127.0.0.1', port: 1080 },
    configured: { host: '127.0.0.1', port: 1080 },
    authUsers: 2,
    commands: { connect: true, bind: false, udpAssociate: true },
    stats: { active: 3, total: 10, bytesUp: 2048, bytesDown: 1024 * 1024 },
  };

  it('shows port and active count when running, an icon otherwise', () => {
    assert.equal(statusText(base), '$(radio-tower) SOCKS5 :1080 · 3');
    assert.equal(statusText({ ...base, stats: undefined }), '$(radio-tower) SOCKS5 :1080 · 0');
    assert.equal(statusText({ state: 'stopped' }), '$(circle-slash) SOCKS5');
    assert.equal(statusText({ state: 'error' }), '$(error) SOCKS5');
    assert.equal(statusText({ state: 'starting' }), '$(loading~spin) SOCKS5');
  });

  it('puts address, auth, commands, counts, traffic and links in the running tooltip', () => {
    const md = statusTooltip(base);
    assert.match(md, /Address: `127\.0\.0\.1:1080` \(this machine only\)/);
    assert.match(md, /Authentication: on \(2 users\)/);
    assert.match(md, /Commands: CONNECT, UDP ASSOCIATE/);
    assert.match(md, /Connections: 3 active \/ 10 total/);
    assert.match(md, /Traffic: ↑ 2\.0 KiB ↓ 1\.0 MiB/);
    assert.match(md, /\(command:socks5\.copyProxyUrl /);
    assert.match(md, /\(command:socks5\.showConnections /);
    assert.match(md, /\(command:socks5\.stop /);
    assert.match(statusTooltip({ ...base, authUsers: 0 }), /Authentication: off/);
  });

  it('puts the reason in the error tooltip', () => {
    const md = statusTooltip({ ...base, state: 'error', error: 'Port 1080 is already in use on 127.0.0.1' });
    assert.match(md, /failed to start/);
    assert.match(md, /Port 1080 is already in use on 127\\\.0\\\.0\\\.1/);
  });
});
