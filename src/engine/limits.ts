// Per-server caps on the costlier commands, inside maxConnections: BIND requests waiting for their
// peer (a listening socket each) and UDP associations (a relay socket and up to two outbound
// sockets each). One Slots object lives as long as its server, across live option changes.

export type SlotKind = 'pendingBinds' | 'udpAssociations';

/** The default cap for each: a quarter of maxConnections (at least 1). */
export function defaultSlotCap(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 4));
}

export class Slots {
  private readonly used: Record<SlotKind, number> = { pendingBinds: 0, udpAssociations: 0 };

  /** Takes a slot when fewer than `max` are taken: returns its release (safe to call twice), or undefined when full. */
  take(kind: SlotKind, max: number): (() => void) | undefined {
    if (this.used[kind] >= max) return undefined;
    this.used[kind]++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.used[kind]--;
    };
  }

  count(kind: SlotKind): number {
    return this.used[kind];
  }
}
