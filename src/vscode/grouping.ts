// Host-free (no `vscode` import): the Connections view's grouping (by destination host, by client
// address, by user, or flat), with each group's count and bytes. One pass over the sessions and a
// Map: linear in the number of connections (10,000 in a few milliseconds).
import type { ConnectionInfo } from '../engine';
import { displayHost } from './format';
import type { Translate } from './l10n';

export type GroupBy = 'flat' | 'destination' | 'client' | 'user';
/** In the order the view-title toggle cycles through them. */
export const GROUP_BY_MODES: readonly GroupBy[] = ['flat', 'destination', 'client', 'user'];

/** Keys of the groups that have no host or user to name them. */
export const NO_DESTINATION = '\u0000none';
export const UDP_RELAYS = '\u0000udp';
export const NO_USER = '\u0000nouser';

export interface ConnectionGroup {
  key: string;
  count: number;
  bytesUp: number;
  bytesDown: number;
  /** Newest first (as `infos` was ordered). */
  members: ConnectionInfo[];
}

export function isGroupBy(v: unknown): v is GroupBy {
  return typeof v === 'string' && (GROUP_BY_MODES as readonly string[]).includes(v);
}

export function nextGroupBy(by: GroupBy): GroupBy {
  return GROUP_BY_MODES[(GROUP_BY_MODES.indexOf(by) + 1) % GROUP_BY_MODES.length];
}

/** The group a session belongs to. */
export function groupKey(info: ConnectionInfo, by: Exclude<GroupBy, 'flat'>): string {
  switch (by) {
    case 'destination':
      if (info.command === 'udpAssociate') return UDP_RELAYS;
      return info.destination ? displayHost(info.destination.host).toLowerCase() : NO_DESTINATION;
    case 'client':
      return displayHost(info.client.host);
    case 'user':
      return info.user ?? NO_USER;
  }
}

/** What a group's row shows as its label. */
export function groupLabel(key: string, t: Translate): string {
  switch (key) {
    case NO_DESTINATION:
      return t('(no destination yet)');
    case UDP_RELAYS:
      return t('UDP relays');
    case NO_USER:
      return t('(no user)');
    default:
      return key;
  }
}

/**
 * Groups `infos` (keeping their order inside each group). Groups are sorted by count, largest
 * first, then by key, so the busiest destinations lead and the order is stable between refreshes.
 */
export function groupConnections(infos: readonly ConnectionInfo[], by: Exclude<GroupBy, 'flat'>): ConnectionGroup[] {
  const groups = new Map<string, ConnectionGroup>();
  for (const info of infos) {
    const key = groupKey(info, by);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, count: 0, bytesUp: 0, bytesDown: 0, members: [] }));
    g.count++;
    g.bytesUp += info.bytesUp;
    g.bytesDown += info.bytesDown;
    g.members.push(info);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
