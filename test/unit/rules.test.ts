// The rules module (src/engine/rules): patterns, rule lines, the first-match evaluator with its
// name + every-address check, the client allow-list, the block-private preset and host-name
// validation. Examples first, then fast-check properties.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ClientList,
  compilePatterns,
  DestinationPolicy,
  invalidHostName,
  parseCidr,
  parseIp,
  parsePattern,
  parseRules,
  PrivateNetworks,
  PRIVATE_RANGES,
  cidrContains,
  type Cidr,
} from '../../src/engine/rules';

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);

function pattern(text: string) {
  const p = parsePattern(text);
  assert.ok(p.ok, `${text}: ${p.ok ? '' : p.error}`);
  return p.value;
}
function bypass(...texts: string[]) {
  const { list, errors } = compilePatterns(texts);
  assert.deepEqual(errors, []);
  return list;
}
function policy(lines: string[], blockPrivate = false, own: string[] = []) {
  const { rules, errors } = parseRules(lines);
  assert.deepEqual(errors, []);
  return new DestinationPolicy({ rules, blockPrivate, interfaceAddresses: () => own });
}
/** The verdict for host:port (resolving to `addresses`), as the engine asks: check, then checkResolved. */
function verdict(p: DestinationPolicy, host: string, port: number, addresses: string[] = [], user?: string): string {
  let v = p.check(host, port, user);
  if (v === 'resolve') v = p.checkResolved(host, addresses, port, user);
  return v.allowed ? 'allow' : v.reason;
}

describe('patterns', () => {
  it('host names: exact, *.suffix (not the apex), .suffix (with the apex), globs; case and trailing dot ignored', () => {
    const l = bypass('example.com');
    assert.ok(l.matches('Example.COM.', 80));
    assert.ok(!l.matches('www.example.com', 80));
    const star = bypass('*.corp.example');
    assert.ok(star.matches('a.corp.example', 1));
    assert.ok(star.matches('a.b.corp.example', 1));
    assert.ok(!star.matches('corp.example', 1));
    assert.ok(!star.matches('evilcorp.example', 1));
    const dot = bypass('.corp.example');
    assert.ok(dot.matches('corp.example', 1));
    assert.ok(dot.matches('x.corp.example', 1));
    assert.ok(!dot.matches('xcorp.example', 1));
    const glob = bypass('api-*.example.com');
    assert.ok(glob.matches('api-eu.example.com', 1));
    assert.ok(!glob.matches('api-eu.x.example.com', 1));
    assert.ok(!glob.matches('web.example.com', 1));
  });

  it('IDN names are compared as punycode', () => {
    const l = bypass('*.bücher.example');
    assert.ok(l.matches('www.xn--bcher-kva.example', 443));
    assert.ok(l.matches('www.BÜCHER.example', 443));
  });

  it('addresses and CIDRs, IPv4 and IPv6, IPv4-mapped IPv6 on either side', () => {
    const l = bypass('10.0.0.0/8');
    assert.ok(l.matches('10.20.30.40', 80));
    assert.ok(l.matches('::ffff:10.0.0.1', 80));
    assert.ok(l.matches('::ffff:a00:1', 80));
    assert.ok(!l.matches('11.0.0.1', 80));
    assert.ok(!l.matches('ten.example', 80), 'an address pattern never matches a name by itself');
    const v6 = bypass('fe80::/10', '[::1]:22', '::ffff:192.168.0.0/112');
    assert.ok(v6.matches('fe80::1%eth0', 1));
    assert.ok(v6.matches('[::1]', 22));
    assert.ok(!v6.matches('::1', 23));
    assert.ok(v6.matches('192.168.4.5', 1));
    assert.ok(!v6.matches('192.169.0.1', 1));
    assert.equal(pattern('[fc00::/7]:443').text, '[fc00::/7]:443');
    assert.ok(bypass('[fc00::]/7:443').matches('fd00::5', 443));
    assert.ok(!bypass('[fc00::]/7:443').matches('fd00::5', 80));
  });

  it('ports: one, a range, a list, *; any host with *: or :', () => {
    const l = bypass('*:8000-8999', ':22', 'x.example:80,443', 'y.example:*');
    assert.ok(l.matches('anything.example', 8000));
    assert.ok(l.matches('1.2.3.4', 8999));
    assert.ok(!l.matches('1.2.3.4', 9000));
    assert.ok(l.matches('[::2]', 22));
    assert.ok(l.matches('x.example', 443));
    assert.ok(!l.matches('x.example', 444));
    assert.ok(l.matches('y.example', 1));
  });

  it('users: user:alice, user:a,b and "user: alice"', () => {
    assert.deepEqual(pattern('* user:alice,bob').users, ['alice', 'bob']);
    assert.deepEqual(pattern('*  user:  alice').users, ['alice']);
    const l = bypass('* user:alice');
    assert.ok(l.matches('x', 1, 'alice'));
    assert.ok(!l.matches('x', 1, 'Alice'));
    assert.ok(!l.matches('x', 1));
  });

  it('errors say what is wrong', () => {
    const bad: [string, RegExp][] = [
      ['10.0.0.0/33', /prefix length must be 0 to 32/],
      ['fe80::/129', /0 to 128/],
      ['a..b', /empty label/],
      ['x.example:70000', /not a port/],
      ['x.example:9-1', /backwards/],
      ['10.*', /CIDR/],
      ['a b', /unexpected "b"/],
      ['user:bob', /no destination/],
      ['* user:', /needs a user name/],
      ['ex ample/x', /unexpected/],
      ['exa$mple.com', /not a host name/],
      ['', /empty/],
    ];
    for (const [text, re] of bad) {
      const p = parsePattern(text);
      assert.ok(!p.ok, text);
      assert.match(p.error, re, text);
    }
    const { list, errors } = compilePatterns(['ok.example', '10.0.0.0/33', '', 'x..y']);
    assert.equal(list.size, 1);
    assert.deepEqual(errors.map((e) => e.split(':')[0]), ['pattern 2', 'pattern 4']);
  });
});

describe('rules', () => {
  it('parse: allow/deny any case, errors numbered from 1, blank lines keep their number', () => {
    const { rules, errors } = parseRules(['ALLOW *.example.com:443', '', 'alow *', 'deny', 'deny 10.0.0.0/8']);
    assert.deepEqual(rules.map((r) => [r.index, r.text]), [
      [1, 'allow *.example.com:443'],
      [5, 'deny 10.0.0.0/8'],
    ]);
    assert.deepEqual(errors, ['rule 3: "alow *" must start with allow or deny', 'rule 4: "deny" needs a destination (use * for any)']);
  });

  it('no rules: everything allowed without a lookup', () => {
    const p = policy([]);
    assert.equal(p.active, false);
    assert.deepEqual(p.check('x.example', 1), { allowed: true });
  });

  it('first match wins, default allow', () => {
    const p = policy(['allow *.example.com:443', 'deny *.example.com', 'deny * user:bob']);
    assert.equal(verdict(p, 'www.example.com', 443), 'allow');
    assert.equal(verdict(p, 'www.example.com', 80), 'rule 2: deny *.example.com');
    assert.equal(verdict(p, 'other.example', 80), 'allow');
    assert.equal(verdict(p, 'other.example', 80, [], 'bob'), 'rule 3: deny * user:bob');
    assert.equal(verdict(p, 'www.example.com', 443, [], 'bob'), 'allow');
  });

  it('a name denied by a name rule is denied before any lookup', () => {
    const p = policy(['deny 10.0.0.0/8', 'deny *.corp.example']);
    const v = p.check('git.corp.example', 22);
    assert.ok(v !== 'resolve' && !v.allowed && v.reason === 'rule 2: deny *.corp.example');
    // …but an address allow before it means the addresses decide.
    assert.equal(policy(['allow 192.0.2.0/24', 'deny *.corp.example']).check('git.corp.example', 22), 'resolve');
  });

  it('a name resolving into a denied range is denied (DNS rebinding), if any of its addresses is', () => {
    const p = policy(['deny 10.0.0.0/8', 'deny fd00::/8']);
    assert.equal(p.check('rebind.example', 80), 'resolve');
    assert.equal(verdict(p, 'rebind.example', 80, ['203.0.113.5']), 'allow');
    assert.equal(verdict(p, 'rebind.example', 80, ['203.0.113.5', '10.1.1.1']), 'rule 1: deny 10.0.0.0/8');
    assert.equal(verdict(p, 'rebind.example', 80, ['::ffff:10.1.1.1']), 'rule 1: deny 10.0.0.0/8');
    assert.equal(verdict(p, 'rebind.example', 80, ['fd00::1']), 'rule 2: deny fd00::/8');
    const v = p.checkResolved('rebind.example', ['10.1.1.1'], 80);
    assert.ok(!v.allowed && v.address === '10.1.1.1');
  });

  it('a name allowed by name is allowed whatever it resolves to (the rule came first)', () => {
    const p = policy(['allow intranet.example', 'deny 10.0.0.0/8']);
    assert.equal(verdict(p, 'intranet.example', 80, ['10.0.0.5']), 'allow');
    assert.equal(verdict(p, 'other.example', 80, ['10.0.0.5']), 'rule 2: deny 10.0.0.0/8');
  });

  it('an allow-list: allow what you list, deny * last', () => {
    const p = policy(['allow *.github.com:443', 'allow 192.0.2.7', 'deny *']);
    assert.equal(verdict(p, 'api.github.com', 443, ['140.82.112.6']), 'allow');
    assert.equal(verdict(p, '192.0.2.7', 8080), 'allow');
    assert.equal(verdict(p, 'example.org', 443, ['93.184.215.14']), 'rule 3: deny *');
    assert.equal(verdict(p, '192.0.2.8', 80), 'rule 3: deny *');
  });
});

describe('block-private', () => {
  const p = policy([], true, ['203.0.113.9', 'fe80::1%eth0', 'not-an-ip']);
  it('denies RFC 1918, CGNAT, link-local, loopback, ULA, unspecified, multicast, mapped and embedded forms', () => {
    for (const a of [
      '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '169.254.169.254', '127.0.0.1',
      '127.9.9.9', '0.0.0.0', '::', '::1', 'fe80::abcd', 'fc00::1', 'fd12:3456::1', '::ffff:192.168.0.1',
      '::ffff:7f00:1', '64:ff9b::10.0.0.1', '2002:c0a8:0101::1', '224.0.0.251', '255.255.255.255', 'ff02::1',
    ]) {
      assert.match(verdict(p, a, 80), /^block-private: /, a);
    }
  });
  it("denies the machine's own addresses, the listener's, and names resolving to them", () => {
    assert.equal(verdict(p, '203.0.113.9', 1), "block-private: 203.0.113.9 (this machine's own address)");
    assert.match(verdict(p, 'me.example', 1, ['198.51.100.1', '203.0.113.9']), /own address/);
    const l = new DestinationPolicy({ blockPrivate: true, listenerAddresses: () => ['198.51.100.77'], interfaceAddresses: () => [] });
    assert.match(verdict(l, '198.51.100.77', 1080), /own address/);
  });
  it('allows public addresses and names resolving only to them', () => {
    for (const a of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2001:db8::1', '64:ff9b::8.8.8.8']) assert.equal(verdict(p, a, 443), 'allow', a);
    assert.equal(verdict(p, 'public.example', 443, ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c']), 'allow');
  });
  it('comes before the rules: an allow rule does not open a private address', () => {
    const q = policy(['allow 10.0.0.5'], true);
    assert.match(verdict(q, '10.0.0.5', 80), /^block-private: 10\.0\.0\.0\/8/);
  });
  it('re-reads the interface addresses after 30 s', () => {
    let now = 0;
    let own = ['198.51.100.1'];
    const n = new PrivateNetworks(() => [], () => own, () => now);
    assert.ok(n.match(parseIp('198.51.100.1')!));
    own = ['198.51.100.2'];
    assert.ok(n.match(parseIp('198.51.100.1')!), 'cached');
    now = 30_000;
    assert.equal(n.match(parseIp('198.51.100.1')!), undefined);
    assert.ok(n.match(parseIp('198.51.100.2')!));
  });
  it('every documented range parses', () => {
    for (const r of PRIVATE_RANGES) assert.equal(typeof parseCidr(r.range), 'object', r.range);
  });
});

describe('client allow-list', () => {
  it('empty allows everyone; otherwise only the listed addresses and ranges', () => {
    assert.ok(new ClientList().allows('198.51.100.1'));
    const { list, errors } = ClientList.parse(['127.0.0.1', '192.168.0.0/16', '[::1]', 'fd00::/8', '']);
    assert.deepEqual(errors, []);
    assert.deepEqual(list.texts, ['127.0.0.1', '192.168.0.0/16', '::1', 'fd00::/8']);
    for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '192.168.7.7', '::1', 'fd00::9']) assert.ok(list.allows(a), a);
    for (const a of ['127.0.0.2', '10.0.0.1', 'fe80::1', undefined]) assert.ok(!list.allows(a), String(a));
  });
  it('errors name the entry', () => {
    assert.deepEqual(ClientList.parse(['10.0.0.0/8', 'localhost', '1.2.3.4/40']).errors, [
      'client 2: "localhost" is not an IP address or CIDR range',
      'client 3: "1.2.3.4/40": the prefix length must be 0 to 32',
    ]);
  });
});

describe('host-name validation', () => {
  it('refuses NUL and control bytes, empty labels, over 253 bytes, a label over 63', () => {
    assert.equal(invalidHostName('example.com'), undefined);
    assert.equal(invalidHostName('example.com.'), undefined);
    assert.equal(invalidHostName('_srv.bücher.example'), undefined);
    assert.equal(invalidHostName(`${'a'.repeat(63)}.example`), undefined);
    assert.equal(invalidHostName(Array(4).fill('a'.repeat(62)).join('.') + '.a'), undefined); // 253
    assert.match(invalidHostName('evil\u0000.example')!, /control/);
    assert.match(invalidHostName('a\r\nb')!, /control/);
    assert.match(invalidHostName('a\u007fb')!, /control/);
    assert.match(invalidHostName('a..b')!, /empty label/);
    assert.match(invalidHostName('.a')!, /empty label/);
    assert.match(invalidHostName('.')!, /empty name/);
    assert.match(invalidHostName('')!, /empty name/);
    assert.match(invalidHostName(Array(4).fill('a'.repeat(62)).join('.') + '.ab')!, /over 253/);
    assert.match(invalidHostName(`${'a'.repeat(64)}.example`)!, /label over 63/);
    assert.match(invalidHostName(`${'ü'.repeat(32)}.example`)!, /label over 63/, 'bytes, not characters');
  });
});

describe('properties', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
  const v6 = fc.ipV6();
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => `${l.join('.')}.example`);

  it('an address is in its own /N range for every N, and in a range iff the masked bits agree', () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, (a, n, b) => {
        const c = parseCidr(`${a}/${n}`) as Cidr;
        const ipA = parseIp(a)!;
        const ipB = parseIp(b)!;
        assert.ok(cidrContains(c, ipA));
        assert.ok(cidrContains(c, parseIp(`::ffff:${a}`)!));
        const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
        const [na, nb] = [(ipA as { n: number }).n, (ipB as { n: number }).n];
        assert.equal(cidrContains(c, ipB), ((na & mask) >>> 0) === ((nb & mask) >>> 0));
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(v6, fc.integer({ min: 0, max: 128 }), (a, n) => {
        const c = parseCidr(`${a}/${n}`);
        assert.equal(typeof c, 'object');
        assert.ok(cidrContains(c as Cidr, parseIp(a)!));
        // the canonical text parses to the same range
        const again = parseCidr((c as Cidr).text) as Cidr;
        assert.deepEqual(again.base, (c as Cidr).base);
      }),
      { numRuns: RUNS },
    );
  });

  it('*.D matches exactly the names strictly below D; .D also D itself', () => {
    fc.assert(
      fc.property(name, label, name, (d, sub, other) => {
        const star = bypass(`*.${d}`);
        const dot = bypass(`.${d}`);
        assert.ok(star.matches(`${sub}.${d}`, 1));
        assert.ok(!star.matches(d, 1));
        assert.ok(dot.matches(d, 1) && dot.matches(`${sub}.${d}`, 1));
        const below = other === d || other.endsWith(`.${d}`);
        assert.equal(dot.matches(other, 1), below);
      }),
      { numRuns: RUNS },
    );
  });

  it('a deny rule on a range denies every name resolving to any address in it, whatever else it resolves to', () => {
    fc.assert(
      fc.property(name, fc.array(v4, { maxLength: 4 }), fc.nat(255), fc.nat(255), (n, others, x, y) => {
        const p = policy(['allow *.public.example', 'deny 10.0.0.0/8']);
        const addrs = [...others, `10.${x}.${y}.1`];
        assert.equal(verdict(p, n, 443, addrs), 'rule 2: deny 10.0.0.0/8');
      }),
      { numRuns: RUNS },
    );
  });

  it('rule parsing never throws and an accepted rule re-parses to the same text', () => {
    const piece = fc.constantFrom('allow', 'deny', 'DENY', '*', '*.', '.', 'a', '1', '10.0.0.0/8', ':', '::', '[', ']', '/', '-', ',', ' ', 'user:', 'x', '443', '\u0000', 'ü');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }).map((a) => a.join('')), (line) => {
        const { rules, errors } = parseRules([line]);
        assert.equal(rules.length + errors.length, line.trim() === '' ? 0 : 1);
        for (const r of rules) assert.deepEqual(parseRules([r.text]).rules[0].text, r.text);
        for (const e of errors) assert.match(e, /^rule 1: /);
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('host-name validation matches its definition', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: fc.constantFrom('a', 'b', '.', '-', '\u0000', '\n', 'ü', '9') }), (s) => {
        const n = s.endsWith('.') ? s.slice(0, -1) : s;
        const ok =
          !/[\u0000-\u001f]/.test(s) &&
          n !== '' &&
          Buffer.byteLength(n) <= 253 &&
          n.split('.').every((l) => l !== '' && Buffer.byteLength(l) <= 63);
        assert.equal(invalidHostName(s) === undefined, ok, JSON.stringify(s));
      }),
      { numRuns: RUNS * 4 },
    );
  });
});
