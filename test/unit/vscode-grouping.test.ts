// Host-free grouping of the Connections view: by destination host, client, user; counts, bytes,
// order; 10,000 connections.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ConnectionInfo } from '../../src/engine';
import {
  GROUP_BY_MODES,
  NO_DESTINATION,
  NO_USER,
  UDP_RELAYS,
  groupConnections,
  groupKey,
  groupLabel,
  isGroupBy,
  nextGroupBy,
} from '../../src/vscode/grouping';

const T0 = 1_700_000_000_000;
const t = (m: string, ...a: (string | number)[]): string => m.replace(/\{(\d+)\}/g, (_, i: string) => String(a[Number(i)]));

function conn(id: number, over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    id,
    client: { host: '127.0.0.1', port: 40_000 + id },
    command: 'connect',
    destination: { type: 'domain', host: 'example.com', port: 443 },
    bytesUp: 10,
    bytesDown: 100,
    startedAt: T0 + id,
    state: 'established',
    ...over,
  };
}

describe('groupConnections', () => {
  it('groups by destination host (ports together, case-insensitive), with counts and bytes', () => {
    const infos = [
      conn(1, { destination: { type: 'domain', host: 'Example.com', port: 443 } }),
      conn(2, { destination: { type: 'domain', host: 'example.com', port: 80 } }),
      conn(3, { destination: { type: 'ipv4', host: '10.0.0.1', port: 22 }, bytesUp: 5, bytesDown: 7 }),
      conn(4, { destination: undefined, command: undefined, state: 'handshake' }),
      conn(5, { command: 'udpAssociate', destination: { type: 'ipv4', host: '0.0.0.0', port: 0 } }),
    ];
    const g = groupConnections(infos, 'destination');
    assert.deepEqual(
      g.map((x) => [x.key, x.count, x.bytesUp, x.bytesDown]),
      [
        ['example.com', 2, 20, 200],
        [NO_DESTINATION, 1, 10, 100],
        ['10.0.0.1', 1, 5, 7],
        [UDP_RELAYS, 1, 10, 100],
      ].sort((a, b) => (b[1] as number) - (a[1] as number) || ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    );
    assert.deepEqual(g[0].members.map((m) => m.id), [1, 2], 'members keep the input order');
  });

  it('groups by client address (ports together, IPv4-mapped shown as IPv4) and by user', () => {
    const infos = [
      conn(1, { client: { host: '::ffff:127.0.0.2', port: 1 }, user: 'alice' }),
      conn(2, { client: { host: '127.0.0.2', port: 2 }, user: 'bob' }),
      conn(3, { client: { host: '::1', port: 3 }, user: 'alice' }),
      conn(4, { client: { host: '::1', port: 4 } }),
    ];
    assert.deepEqual(
      groupConnections(infos, 'client').map((x) => [x.key, x.count]),
      [
        ['127.0.0.2', 2],
        ['::1', 2],
      ],
    );
    assert.deepEqual(
      groupConnections(infos, 'user').map((x) => [x.key, x.count]),
      [
        ['alice', 2],
        [NO_USER, 1],
        ['bob', 1],
      ].sort((a, b) => (b[1] as number) - (a[1] as number) || ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    );
  });

  it('10,000 connections to 3 destinations: 3 groups with the right counts and byte sums', () => {
    const hosts = ['a.example', 'b.example', 'c.example'];
    const infos = Array.from({ length: 10_000 }, (_, i) =>
      conn(i, { destination: { type: 'domain', host: hosts[i % 3], port: 443 }, bytesUp: i, bytesDown: 2 * i }),
    );
    const g = groupConnections(infos, 'destination');
    assert.equal(g.length, 3);
    assert.deepEqual(
      g.map((x) => [x.key, x.count]),
      [
        ['a.example', 3334],
        ['b.example', 3333],
        ['c.example', 3333],
      ],
    );
    const sumUp = (r: number): number => infos.filter((x) => x.id % 3 === r).reduce((s, x) => s + x.bytesUp, 0);
    assert.equal(g[0].bytesUp, sumUp(0));
    assert.equal(g[1].bytesDown, 2 * sumUp(1));
    assert.equal(g.reduce((s, x) => s + x.members.length, 0), 10_000);
  });

  it('10,000 connections from 10,000 clients: one group each, the order stable', () => {
    const infos = Array.from({ length: 10_000 }, (_, i) => conn(i, { client: { host: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 1 } }));
    const a = groupConnections(infos, 'client');
    const b = groupConnections([...infos].reverse(), 'client');
    assert.equal(a.length, 10_000);
    assert.deepEqual(
      a.map((x) => x.key),
      b.map((x) => x.key),
    );
  });
});

describe('grouping modes', () => {
  it('cycles flat → destination → client → user → flat', () => {
    assert.deepEqual(GROUP_BY_MODES.map(nextGroupBy), ['destination', 'client', 'user', 'flat']);
    assert.ok(isGroupBy('user'));
    assert.ok(!isGroupBy('host'));
    assert.ok(!isGroupBy(undefined));
  });

  it('labels the groups without a name', () => {
    assert.equal(groupLabel(NO_DESTINATION, t), '(no destination yet)');
    assert.equal(groupLabel(UDP_RELAYS, t), 'UDP relays');
    assert.equal(groupLabel(NO_USER, t), '(no user)');
    assert.equal(groupLabel('example.com', t), 'example.com');
    assert.equal(groupKey(conn(1), 'destination'), 'example.com');
  });
});
