// The command registry: CMD byte → handler. A handler owns the session from the request on:
// it sends the reply (session.replySuccess / session.fail) and relays or closes.
// New commands (or a second front-door protocol reusing these handlers) plug in here.

import { handleBind } from './bind';
import { handleConnect } from './connect';
import type { Session } from './session';
import type { Command } from './types';
import { handleUdpAssociate } from './udp';
import { CMD, type Request } from './wire';

export type CommandHandler = (session: Session, request: Request) => void;

export interface CommandEntry {
  name: Command;
  /** For log lines: `CONNECT`, `BIND`, `UDP ASSOCIATE`. */
  label: string;
  handler: CommandHandler;
}

const REGISTRY: Readonly<Record<number, CommandEntry>> = {
  [CMD.CONNECT]: { name: 'connect', label: 'CONNECT', handler: handleConnect },
  [CMD.BIND]: { name: 'bind', label: 'BIND', handler: handleBind },
  [CMD.UDP_ASSOCIATE]: { name: 'udpAssociate', label: 'UDP ASSOCIATE', handler: handleUdpAssociate },
};

export function commandFor(cmd: number): CommandEntry | undefined {
  return REGISTRY[cmd];
}
