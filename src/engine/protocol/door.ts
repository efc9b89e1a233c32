// Front doors: the protocols one port speaks, picked from a connection's first byte (0x05 SOCKS5,
// 0x04 SOCKS4/4a, an ASCII letter HTTP). A door parses its handshake from the session's input,
// hands the request to a command handler (session.startCommand) and turns the handler's success
// or FailureKind into its own reply. A door is registered in ./index: adding one is an addition.

import type { Session } from '../session';
import type { Endpoint, FailureKind, ProtocolSwitch, ProtocolSwitches } from '../types';

export interface Door {
  /** The switch that turns it off (ServerOptions.protocols). */
  readonly name: ProtocolSwitch;
  /** Whether a connection whose first byte is `byte` speaks this door's protocol. */
  accepts(byte: number): boolean;
  /**
   * Handshake bytes arrived: consume complete messages from `session.input` (session.consume),
   * answer them (session.write), and call session.startCommand once the request is complete.
   * `session.step` is the door's own state (0 at first).
   */
  advance(session: Session): void;
  /** The command succeeded: write the success reply naming `bound`. */
  succeed(session: Session, bound: Endpoint): void;
  /** The command failed: write the failure reply, then session.close(…, true). */
  fail(session: Session, kind: FailureKind, detail: string | undefined, upstreamReply: number | undefined): void;
  /** The handshake timed out: write what the protocol answers then, if anything (the session closes next). */
  timedOut?(session: Session): void;
}

/** First byte → the door that serves it (undefined: none, close at once). */
export type DoorTable = ReadonlyArray<Door | undefined>;

/** The table for the doors switched on: looked up once per connection, by index. */
export function doorTable(doors: readonly Door[], on: ProtocolSwitches): DoorTable {
  const table = new Array<Door | undefined>(256).fill(undefined);
  for (let b = 0; b < 256; b++) table[b] = doors.find((d) => on[d.name] && d.accepts(b));
  return table;
}
