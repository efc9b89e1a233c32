// Per-server caps on the costlier commands, inside maxConnections: BIND requests waiting for their
// peer (a listening socket each) and UDP associations (a relay socket and up to two outbound
// sockets each). One Slots object lives as long as its server, across live option changes.

export type SlotKind = 'pendingBinds' | 'udpAssociations';

/** The default cap for each: a quarter of maxConnections (at least 1). */
export function defaultSlotCap(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 4));
}

/** The default budget of connections still in their handshake: half of maxConnections (at least 1). */
export function defaultHandshakeCap(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 2));
}

/**
 * Under load (the handshake budget full) a handshake gets this long at most,
 * however long timeouts.handshakeMs is: a prompt client needs a few round trips.
 */
export const PRESSURE_HANDSHAKE_MS = 2000;

/**
 * The listen queue (connections the kernel completed, not accepted yet): Node's default is 511;
 * under a reconnecting flood a full queue makes the kernel drop a real client's SYN, which then
 * waits a second for its retry. Linux caps it at net.core.somaxconn (4096 by default).
 */
export const LISTEN_BACKLOG = 4096;

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
