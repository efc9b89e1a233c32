// The command handlers a server runs, by command name. A handler owns the connection from the
// request on: it reports success or a FailureKind through its CommandContext (./context) and relays
// or closes. The server passes this registry to its sessions; front doors name commands, never
// handlers. A new command is one handler file and one entry here.

import { handleBind } from './bind';
import { handleConnect } from './connect';
import type { CommandRegistry } from './context';
import { handleUdpAssociate } from './udp';

export const COMMANDS: CommandRegistry = Object.freeze({
  connect: { label: 'CONNECT', handler: handleConnect },
  bind: { label: 'BIND', handler: handleBind },
  udpAssociate: { label: 'UDP ASSOCIATE', handler: handleUdpAssociate },
});
