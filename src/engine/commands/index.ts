// The command handlers a server runs, by command name. A handler owns the connection from the
// request on: it reports success or a FailureKind through its CommandContext (./context) and relays
// or closes. The server passes this registry to its sessions; front doors name commands, never
// handlers. A new command is one handler file and one entry here.

import { handleBind } from './bind';
import { handleConnect } from './connect';
import { guarded } from '../rules/gate';
import { COMMAND_NAMES } from '../types';
import type { CommandRegistry } from './context';
import { handleResolve, handleResolvePtr } from './resolve';
import { handleUdpAssociate } from './udp';

// Every handler runs behind the host-name check; BIND and RESOLVE behind the rules' verdict on
// their name or address too (CONNECT gets the rules from the server's dialer, as HTTP does; UDP
// ASSOCIATE's DST is the client's own address, its datagrams are checked one by one). See ../rules/gate.
export const COMMANDS: CommandRegistry = Object.freeze({
  connect: { label: COMMAND_NAMES.connect, handler: guarded(handleConnect, false), switch: 'connect' },
  bind: { label: COMMAND_NAMES.bind, handler: guarded(handleBind, true), switch: 'bind' },
  udpAssociate: { label: COMMAND_NAMES.udpAssociate, handler: guarded(handleUdpAssociate, false), switch: 'udpAssociate' },
  // A name lookup serves CONNECT (torsocks resolves, then connects to the address): same switch.
  resolve: { label: COMMAND_NAMES.resolve, handler: guarded(handleResolve, true), switch: 'connect' },
  resolvePtr: { label: COMMAND_NAMES.resolvePtr, handler: guarded(handleResolvePtr, false), switch: 'connect' },
});
