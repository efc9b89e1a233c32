// socks5.upstream.* in the VS Code layer (host-free): validation naming the setting, "vscode"
// following http.proxy / http.noProxy, the password kept apart, the live-apply plan, the tooltip.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { vscodeProxy } from '../../src/engine';
import { connectionTooltip, routeText } from '../../src/vscode/format';
import { MACHINE_KEYS, planApply, planStart, planUpstream, upstreamPasswordKey, validateSettings, type ProxySettings, type RawSettings } from '../../src/vscode/settings';

function valid(raw: RawSettings): ProxySettings {
  const r = validateSettings(raw);
  assert.ok(r.ok, `expected valid, got ${JSON.stringify(r)}`);
  return r.settings;
}

function errorsOf(raw: RawSettings): string[] {
  const r = validateSettings(raw);
  assert.ok(!r.ok, `expected invalid: ${JSON.stringify(raw)}`);
  return r.errors.map((e) => e.message);
}

const none = new Map<string, string | undefined>();

describe('socks5.upstream settings', () => {
  it('are machine-scoped (never from a workspace)', () => {
    assert.ok(MACHINE_KEYS.includes('upstream.url'));
    assert.ok(MACHINE_KEYS.includes('upstream.bypass'));
  });

  it('accept empty, "vscode" and the three schemes; refuse the rest naming the setting', () => {
    assert.equal(valid({}).upstream.url, '');
    assert.equal(valid({ 'upstream.url': 'vscode' }).upstream.url, 'vscode');
    assert.equal(valid({ 'upstream.url': ' socks5h://alice@proxy.example:1080 ' }).upstream.url, 'socks5h://alice@proxy.example:1080');
    assert.match(errorsOf({ 'upstream.url': 'https://proxy:443' })[0], /^socks5\.upstream\.url is invalid: https:\/\/ upstreams \(TLS to the proxy\) are not supported/);
    assert.match(errorsOf({ 'upstream.url': 'proxy:1080' })[0], /^socks5\.upstream\.url is invalid: .*not a URL/);
    assert.match(errorsOf({ 'upstream.url': 'socks5://u:pw@h' })[0], /password apart from the URL/);
    assert.match(errorsOf({ 'upstream.url': 42 })[0], /^socks5\.upstream\.url must be a URL/);
    assert.match(errorsOf({ 'upstream.bypass': ['10.0.0.0/33'] })[0], /^socks5\.upstream\.bypass bypass pattern 1: /);
    assert.match(errorsOf({ 'upstream.bypass': ['*.corp user:alice'] })[0], /cannot name users/);
  });

  it('planStart: the upstream option, with the password kept apart', () => {
    const s = valid({ 'upstream.url': 'socks5h://alice@127.0.0.1:1080', 'upstream.bypass': ['.corp.example'] });
    const p = planStart(s, none, { password: 'pw' });
    assert.ok(p.ok);
    assert.deepEqual(p.options.upstream, { url: 'socks5h://alice@127.0.0.1:1080', bypass: ['.corp.example'], password: 'pw' });
  });

  it('planStart: a SOCKS user without a password refuses to start (never a silent direct route)', () => {
    const p = planStart(valid({ 'upstream.url': 'socks5h://alice@127.0.0.1:1080' }), none);
    assert.ok(!p.ok);
    assert.equal(p.fix, 'setUpstreamPassword');
    assert.equal(p.setting, 'socks5.upstream.url');
    assert.match(p.reason.english, /needs the password of alice@127\.0\.0\.1:1080.*Set Upstream Password/);
  });

  it('"vscode" follows http.proxy (its password may be in it) and adds http.noProxy to the bypass list', () => {
    const s = valid({ 'upstream.url': 'vscode', 'upstream.bypass': ['10.0.0.0/8'] });
    const vsc = vscodeProxy({ proxy: 'http://bob:secret@corp-proxy:3128', noProxy: ['intranet.example'], proxyAuthorization: null });
    const p = planUpstream(s.upstream, { vscode: vsc });
    assert.ok(p.ok);
    assert.deepEqual(p.options, { url: 'http://bob:secret@corp-proxy:3128', bypass: ['.intranet.example', '10.0.0.0/8'], allowPasswordInUrl: true });
    // VS Code with no proxy: no upstream (direct), which the controller logs.
    const direct = planUpstream(s.upstream, { vscode: vscodeProxy({ proxy: '', env: {} }) });
    assert.deepEqual(direct, { ok: true, options: undefined });
    // An http.proxy this proxy cannot speak names http.proxy.
    const bad = planUpstream(s.upstream, { vscode: vscodeProxy({ proxy: 'https://corp:443' }) });
    assert.ok(!bad.ok);
    assert.equal(bad.setting, 'http.proxy');
    assert.match(bad.reason.english, /^http\.proxy \(socks5\.upstream\.url is "vscode"\): https:\/\//);
  });

  it('planApply: a new upstream, password or bypass applies live; removing it sends null', () => {
    const a = planStart(valid({ 'upstream.url': 'socks5h://alice@h:1' }), none, { password: 'one' });
    const b = planStart(valid({ 'upstream.url': 'socks5h://alice@h:1' }), none, { password: 'two' });
    const c = planStart(valid({}), none);
    assert.ok(a.ok && b.ok && c.ok);
    const changed = planApply(a.options, b.options);
    assert.equal(changed.kind, 'live');
    assert.ok(changed.kind === 'live' && changed.live.upstream && changed.live.upstream.password === 'two');
    const removed = planApply(a.options, c.options);
    assert.ok(removed.kind === 'live' && removed.live.upstream === null && removed.changed.includes('socks5.upstream'));
    assert.equal(planApply(a.options, a.options).kind, 'none');
  });

  it('keeps upstream passwords apart from user passwords, per user and address', () => {
    assert.equal(upstreamPasswordKey('alice@h:1080'), 'socks5.upstreamPassword.alice@h:1080');
  });
});

describe('the route in the Connections view', () => {
  it('says direct or names the upstream, escaped', () => {
    assert.equal(routeText('direct'), 'Route: direct (upstream bypassed)');
    assert.equal(routeText('socks5h://a_b@h:1'), 'Route: via upstream socks5h://a\\_b@h:1');
    const tip = connectionTooltip(
      { id: 1, client: { host: '127.0.0.1', port: 5 }, bytesUp: 0, bytesDown: 0, startedAt: 0, state: 'established', command: 'connect', route: 'http://127.0.0.1:3128' },
      1000,
    );
    assert.match(tip, /Route: via upstream http:\/\/127\\\.0\\\.0\\\.1:3128/);
  });
});
