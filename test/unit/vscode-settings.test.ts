// Host-free settings validation and the start / live-apply decisions of the VS Code layer.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  DEFAULT_SETTINGS,
  isLoopbackHost,
  isValidHost,
  isWildcardHost,
  passwordKey,
  passwordProblem,
  planApply,
  restoreSettings,
  settingValueText,
  toRawSettings,
  planStart,
  summarizeProblems,
  timeoutsToMs,
  userFromPasswordKey,
  usernameProblem,
  validateSettings,
  type ProxySettings,
  type RawSettings,
} from '../../src/vscode/settings';

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

describe('validateSettings', () => {
  it('gives the defaults for an empty object and for nulls', () => {
    assert.deepEqual(valid({}), DEFAULT_SETTINGS);
    assert.deepEqual(valid({ host: null, port: null, 'auth.users': null }), DEFAULT_SETTINGS);
  });

  it('accepts every documented key', () => {
    const s = valid({
      host: '0.0.0.0',
      port: 0,
      autoStart: true,
      'auth.users': ['alice', 'bob'],
      'commands.connect': true,
      'commands.bind': false,
      'commands.udpAssociate': false,
      'timeouts.handshake': 5,
      'timeouts.connect': 2.5,
      'timeouts.idle': 0,
      'timeouts.bind': 120,
      maxConnections: 10,
      allowUnauthenticatedRemote: true,
    });
    assert.equal(s.host, '0.0.0.0');
    assert.equal(s.port, 0);
    assert.equal(s.autoStart, true);
    assert.deepEqual(s.users, ['alice', 'bob']);
    assert.deepEqual(s.commands, { connect: true, bind: false, udpAssociate: false });
    assert.deepEqual(s.timeoutsSeconds, { handshake: 5, connect: 2.5, idle: 0, bind: 120 });
    assert.equal(s.maxConnections, 10);
    assert.equal(s.allowUnauthenticatedRemote, true);
  });

  it('names the setting and the allowed range for a bad port', () => {
    for (const port of [-1, 65536, 1.5, '1080', true, NaN]) {
      const errs = errorsOf({ port });
      assert.equal(errs.length, 1);
      assert.match(errs[0], /^socks5\.port must be an integer 0–65535/);
    }
    assert.equal(valid({ port: 65535 }).port, 65535);
  });

  it('rejects bad hosts with the setting name, strips brackets and spaces', () => {
    assert.match(errorsOf({ host: '' })[0], /^socks5\.host must not be empty/);
    assert.match(errorsOf({ host: '   ' })[0], /^socks5\.host must not be empty/);
    assert.match(errorsOf({ host: 42 })[0], /^socks5\.host must be a string/);
    assert.match(errorsOf({ host: 'not a host' })[0], /^socks5\.host must be an IPv4 or IPv6 address or a host name/);
    assert.match(errorsOf({ host: '999.1.1.1' })[0], /^socks5\.host/);
    assert.equal(valid({ host: '[::1]' }).host, '::1');
    assert.equal(valid({ host: ' 127.0.0.2 ' }).host, '127.0.0.2');
    assert.equal(valid({ host: 'my-box.example.com' }).host, 'my-box.example.com');
  });

  it('checks users: list of distinct, non-empty, ≤255-byte names', () => {
    assert.match(errorsOf({ 'auth.users': 'alice' })[0], /^socks5\.auth\.users must be a list/);
    assert.match(errorsOf({ 'auth.users': ['alice', ''] })[0], /^socks5\.auth\.users entry 2 must not be empty/);
    assert.match(errorsOf({ 'auth.users': [7] })[0], /^socks5\.auth\.users entry 1 must be a string/);
    assert.match(errorsOf({ 'auth.users': ['a', 'a'] })[0], /lists "a" more than once/);
    assert.match(errorsOf({ 'auth.users': [' bob'] })[0], /must not start or end with a space/);
    assert.match(errorsOf({ 'auth.users': ['x'.repeat(256)] })[0], /at most 255 bytes/);
    // 255 bytes of 2-byte characters is 127 characters, not 255.
    assert.match(errorsOf({ 'auth.users': ['é'.repeat(128)] })[0], /at most 255 bytes/);
    assert.deepEqual(valid({ 'auth.users': ['x'.repeat(255), 'ü'] }).users.length, 2);
  });

  it('checks timeouts (seconds, ranges) and converts them to ms', () => {
    assert.match(errorsOf({ 'timeouts.handshake': 0 })[0], /^socks5\.timeouts\.handshake must be a number of seconds 1–86400/);
    assert.match(errorsOf({ 'timeouts.idle': -1 })[0], /^socks5\.timeouts\.idle .*0 = no idle timeout/);
    assert.match(errorsOf({ 'timeouts.bind': Infinity })[0], /^socks5\.timeouts\.bind/);
    assert.match(errorsOf({ 'timeouts.connect': '10' })[0], /^socks5\.timeouts\.connect/);
    assert.deepEqual(timeoutsToMs({ handshake: 10, connect: 2.5, idle: 0, bind: 60 }), {
      handshakeMs: 10_000,
      connectMs: 2_500,
      idleMs: 0,
      bindMs: 60_000,
    });
  });

  it('checks booleans and maxConnections', () => {
    assert.match(errorsOf({ 'commands.bind': 'yes' })[0], /^socks5\.commands\.bind must be true or false/);
    assert.match(errorsOf({ autoStart: 1 })[0], /^socks5\.autoStart must be true or false/);
    assert.match(errorsOf({ maxConnections: 0 })[0], /^socks5\.maxConnections must be an integer 1–100000/);
    assert.match(errorsOf({ allowUnauthenticatedRemote: 'true' })[0], /^socks5\.allowUnauthenticatedRemote/);
  });

  it('reports every problem at once and summarizes them', () => {
    const r = validateSettings({ port: 70000, host: '', maxConnections: -3 });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.errors.map((e) => e.setting),
      ['socks5.host', 'socks5.port', 'socks5.maxConnections'],
    );
    assert.match(summarizeProblems(r.errors).english, /^socks5\.host must not be empty.* \(and 2 more problems\)\.$/);
    assert.match(summarizeProblems(r.errors.slice(1, 2)).english, /^socks5\.port .*\.$/);
  });

  it('warns when every command is off', () => {
    const r = validateSettings({ 'commands.connect': false, 'commands.bind': false, 'commands.udpAssociate': false });
    assert.ok(r.ok);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0].message, /every request will be refused/);
  });

  it('reads the protocol switches (all on by default), checks their type, warns when all are off', () => {
    assert.deepEqual(valid({}).protocols, { socks5: true, socks4: true, http: true });
    assert.deepEqual(valid({ 'protocols.socks4': false }).protocols, { socks5: true, socks4: false, http: true });
    const bad = validateSettings({ 'protocols.http': 'no' });
    assert.ok(!bad.ok);
    assert.match(bad.errors[0].message, /^socks5\.protocols\.http must be true or false/);
    const off = validateSettings({ 'protocols.socks5': false, 'protocols.socks4': false, 'protocols.http': false });
    assert.ok(off.ok);
    assert.match(off.warnings[0].message, /every connection will be closed/);
    const p = planStart(valid({ 'protocols.http': false }), new Map());
    assert.ok(p.ok);
    assert.deepEqual(p.options.protocols, { socks5: true, socks4: true, http: false });
  });
});

describe('hosts', () => {
  it('detects loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.9.8.7', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '0::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', '::2', 'example.com', '128.0.0.1', '::ffff:10.0.0.1', 'localhost.example']) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });

  it('detects wildcard listeners', () => {
    for (const h of ['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '[::]']) assert.equal(isWildcardHost(h), true, h);
    for (const h of ['127.0.0.1', '::1', 'localhost']) assert.equal(isWildcardHost(h), false, h);
  });

  it('validates host syntax', () => {
    for (const h of ['127.0.0.1', '::', 'fe80::1%eth0', 'localhost', 'a.b-c.d', 'host.']) assert.equal(isValidHost(h), true, h);
    for (const h of ['a b', '-x', 'x..y', '1.2.3', 'http://x', '_bad']) assert.equal(isValidHost(h), false, h);
  });
});

describe('credentials', () => {
  it('validates usernames and passwords without echoing the password', () => {
    assert.equal(usernameProblem('alice'), undefined);
    assert.match(usernameProblem('a\nb')!, /control characters/);
    assert.equal(passwordProblem('s3cret'), undefined);
    assert.match(passwordProblem('')!, /must not be empty/);
    const long = 'p'.repeat(256);
    const msg = passwordProblem(long)!;
    assert.match(msg, /255 bytes/);
    assert.ok(!msg.includes(long));
  });

  it('maps users to SecretStorage keys and back', () => {
    assert.equal(passwordKey('alice'), 'socks5.password.alice');
    assert.equal(userFromPasswordKey(passwordKey('a.b@c')), 'a.b@c');
    assert.equal(userFromPasswordKey('other.key'), undefined);
  });
});

describe('planStart', () => {
  const pw = (entries: [string, string | undefined][]) => new Map(entries);

  it('builds engine options (ms timeouts, users map) on loopback without auth', () => {
    const p = planStart(valid({ port: 1234, 'timeouts.idle': 30 }), pw([]));
    assert.ok(p.ok);
    assert.equal(p.options.host, '127.0.0.1');
    assert.equal(p.options.port, 1234);
    assert.equal(p.options.users.size, 0);
    assert.equal(p.options.timeouts.idleMs, 30_000);
    assert.deepEqual(p.warnings, []);
  });

  it('refuses a non-loopback host without users unless allowUnauthenticatedRemote, then warns', () => {
    const refused = planStart(valid({ host: '0.0.0.0' }), pw([]));
    assert.ok(!refused.ok);
    assert.equal(refused.fix, 'openSettings');
    assert.match(refused.reason.english, /socks5\.host is "0\.0\.0\.0".*socks5\.auth\.users is empty/);
    assert.match(refused.reason.english, /socks5\.allowUnauthenticatedRemote/);

    const allowed = planStart(valid({ host: '0.0.0.0', allowUnauthenticatedRemote: true }), pw([]));
    assert.ok(allowed.ok);
    assert.equal(allowed.warnings.length, 1);
    assert.match(allowed.warnings[0].english, /without authentication/);
  });

  it('allows a non-loopback host with a user that has a password', () => {
    const p = planStart(valid({ host: '0.0.0.0', 'auth.users': ['alice'] }), pw([['alice', 'pw']]));
    assert.ok(p.ok);
    assert.deepEqual([...p.options.users], [['alice', 'pw']]);
    assert.deepEqual(p.warnings, []);
  });

  it('refuses when users are configured but none has a password (auth would silently be off)', () => {
    const p = planStart(valid({ 'auth.users': ['alice'] }), pw([['alice', undefined]]));
    assert.ok(!p.ok);
    assert.equal(p.fix, 'setPassword');
    assert.deepEqual(p.usersWithoutPassword, ['alice']);
    assert.match(p.reason.english, /"alice".*no password/);
  });

  it('starts with the users that have a password and names the others', () => {
    const p = planStart(valid({ 'auth.users': ['alice', 'bob', 'carol'] }), pw([['alice', 'a'], ['bob', '']]));
    assert.ok(p.ok);
    assert.deepEqual([...p.options.users.keys()], ['alice']);
    assert.deepEqual(p.usersWithoutPassword, ['bob', 'carol']);
    assert.match(p.warnings.map((w) => w.english).join(' '), /Users "bob", "carol" have no password yet/);
    // The refusal/warning text never contains a password.
    assert.ok(!p.warnings.map((w) => w.english).join(' ').includes('"a"'));
  });
});

describe('planApply', () => {
  const opts = (raw: RawSettings, pw: [string, string][] = []) => {
    const p = planStart(valid(raw), new Map(pw));
    assert.ok(p.ok);
    return p.options;
  };

  it('does nothing when nothing changed', () => {
    assert.deepEqual(planApply(opts({}), opts({})), { kind: 'none' });
    assert.deepEqual(planApply(opts({ host: '::1' }), opts({ host: '[::1]' })), { kind: 'none' });
  });

  it('restarts the listener when host or port changes', () => {
    assert.deepEqual(planApply(opts({}), opts({ port: 1081 })), { kind: 'restart', changed: ['socks5.port'] });
    const p = planApply(opts({}), opts({ host: '127.0.0.2', 'timeouts.idle': 5 }));
    assert.deepEqual(p, { kind: 'restart', changed: ['socks5.host'] });
  });

  it('applies users, timeouts, commands and maxConnections live', () => {
    const p = planApply(
      opts({}),
      opts({ 'auth.users': ['alice'], 'timeouts.idle': 5, 'commands.bind': false, maxConnections: 5 }, [['alice', 'pw']]),
    );
    assert.equal(p.kind, 'live');
    if (p.kind !== 'live') return;
    assert.deepEqual(p.changed, ['socks5.auth.users', 'socks5.timeouts', 'socks5.commands', 'socks5.maxConnections']);
    assert.deepEqual([...p.live.users!], [['alice', 'pw']]);
    assert.equal(p.live.timeouts!.idleMs, 5000);
    assert.equal(p.live.commands!.bind, false);
    assert.equal(p.live.maxConnections, 5);
  });

  it('applies the protocol switches live', () => {
    const p = planApply(opts({}), opts({ 'protocols.socks4': false }));
    assert.deepEqual(p.kind === 'live' && p.changed, ['socks5.protocols']);
    assert.deepEqual(p.kind === 'live' && p.live.protocols, { socks5: true, socks4: false, http: true });
  });

  it('treats a changed password as a users change', () => {
    const p = planApply(opts({ 'auth.users': ['a'] }, [['a', '1']]), opts({ 'auth.users': ['a'] }, [['a', '2']]));
    assert.equal(p.kind, 'live');
    if (p.kind === 'live') assert.deepEqual(p.changed, ['socks5.auth.users']);
  });
});

describe('the last valid configuration', () => {
  const last: ProxySettings = {
    ...DEFAULT_SETTINGS,
    port: 1081,
    users: ['alice'],
    maxConnections: 2048,
    timeoutsSeconds: { ...DEFAULT_SETTINGS.timeoutsSeconds, idle: 30 },
  };

  it('an invalid key takes its last valid value; the valid keys take theirs', () => {
    const r = validateSettings({ port: 99_999_999, maxConnections: 500, 'timeouts.idle': -1 }, last);
    assert.ok(!r.ok);
    assert.deepEqual(r.errors.map((e) => e.setting), ['socks5.port', 'socks5.timeouts.idle']);
    assert.equal(r.effective.port, 1081, 'the bad port is ignored: the last valid one stays');
    assert.equal(r.effective.timeoutsSeconds.idle, 30);
    assert.equal(r.effective.maxConnections, 500, 'a valid change applies');
    assert.deepEqual(r.effective.users, [], 'an unset key is its default, not the last value');
  });

  it('a half-valid user list keeps the whole last valid list', () => {
    const r = validateSettings({ 'auth.users': ['alice', 'bob', ''] }, last);
    assert.ok(!r.ok);
    assert.deepEqual(r.effective.users, ['alice']);
  });

  it('without a last valid configuration the defaults stand in for invalid keys only', () => {
    const r = validateSettings({ port: 'x', maxConnections: 9 });
    assert.ok(!r.ok);
    assert.equal(r.effective.port, DEFAULT_SETTINGS.port);
    assert.equal(r.effective.maxConnections, 9);
  });

  it('round-trips through toRawSettings / restoreSettings, and rejects damaged stored values', () => {
    assert.deepEqual(restoreSettings(JSON.parse(JSON.stringify(toRawSettings(last)))), last);
    assert.equal(restoreSettings({ ...toRawSettings(last), port: -1 }), undefined);
    assert.equal(restoreSettings('1080'), undefined);
    assert.equal(restoreSettings(null), undefined);
    assert.equal(settingValueText(last, 'socks5.port'), '1081');
    assert.equal(settingValueText(last, 'socks5.auth.users'), '["alice"]');
  });
});
