// The rules settings (socks5.rules.*) in the VS Code layer's host-free validation and live-apply plan.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { statusTooltip, type StatusModel } from '../../src/vscode/format';
import { MACHINE_KEYS, planApply, planStart, validateSettings, type RawSettings } from '../../src/vscode/settings';

const plan = (raw: RawSettings) => {
  const v = validateSettings(raw);
  assert.ok(v.ok, JSON.stringify(v));
  const p = planStart(v.settings, new Map());
  assert.ok(p.ok);
  return p.options;
};

describe('socks5.rules.* settings', () => {
  it('are machine-scoped security settings', () => {
    for (const k of ['rules.clients', 'rules.destinations', 'rules.blockPrivate'] as const) assert.ok(MACHINE_KEYS.includes(k), k);
  });

  it('reach the engine options as given', () => {
    const o = plan({ 'rules.clients': ['10.0.0.0/8'], 'rules.destinations': ['deny *.corp.example', 'allow *'], 'rules.blockPrivate': true });
    assert.deepEqual(o.rules, { clients: ['10.0.0.0/8'], destinations: ['deny *.corp.example', 'allow *'], blockPrivate: true });
  });

  it('an invalid rule is an error naming the setting and the rule', () => {
    const v = validateSettings({ 'rules.destinations': ['deny 10.0.0.0/8', 'alow *'], 'rules.clients': ['127.0.0.1', 'bogus'] });
    assert.ok(!v.ok);
    assert.deepEqual(
      v.errors.map((e) => e.message),
      [
        'socks5.rules.clients client 2: "bogus" is not an IP address or CIDR range',
        'socks5.rules.destinations rule 2: "alow *" must start with allow or deny',
      ],
    );
    assert.deepEqual(v.errors.map((e) => e.setting), ['socks5.rules.clients', 'socks5.rules.destinations']);
  });

  it('wrong types are errors', () => {
    const v = validateSettings({ 'rules.destinations': 'deny *', 'rules.clients': [3], 'rules.blockPrivate': 'yes' });
    assert.ok(!v.ok);
    assert.equal(v.errors.length, 3);
  });

  it('a changed rule set applies live; the same one is no change', () => {
    const a = plan({ 'rules.destinations': ['deny *.corp.example'] });
    const b = plan({ 'rules.destinations': ['deny *.corp.example', 'deny 10.0.0.0/8'] });
    assert.deepEqual(planApply(a, a), { kind: 'none' });
    const change = planApply(a, b);
    assert.equal(change.kind, 'live');
    assert.deepEqual(change.kind === 'live' && change.live.rules, b.rules);
    assert.deepEqual(change.kind === 'live' && change.changed, ['socks5.rules']);
    assert.equal(planApply(a, plan({ 'rules.destinations': ['deny *.corp.example'], 'rules.blockPrivate': true })).kind, 'live');
  });
});

describe('the status tooltip', () => {
  const base: StatusModel = {
    state: 'running',
    address: { host: '127.0.0.1', port: 1080 },
    configured: { host: '127.0.0.1', port: 1080 },
    authUsers: 0,
    commands: { connect: true, bind: true, udpAssociate: true },
  };
  it('says which rules are in force and how many clients the allow-list refused; nothing without rules', () => {
    assert.match(
      statusTooltip({ ...base, rules: { destinations: 3, clients: 1, blockPrivate: true, clientsRefused: 2 } }),
      /Rules: 3 destination rules, private networks blocked, 1 allowed client range \(2 clients refused\)/,
    );
    assert.match(statusTooltip({ ...base, rules: { destinations: 1, clients: 0, blockPrivate: false, clientsRefused: 0 } }), /Rules: 1 destination rule\n/);
    assert.doesNotMatch(statusTooltip({ ...base, rules: { destinations: 0, clients: 0, blockPrivate: false, clientsRefused: 0 } }), /Rules:/);
    assert.doesNotMatch(statusTooltip(base), /Rules:/);
  });
});
