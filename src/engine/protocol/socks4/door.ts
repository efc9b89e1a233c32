// The SOCKS4 / SOCKS4a front door: one request (CONNECT or BIND), then the command's handler takes
// over; its success is 0x5A, any failure 0x5B. SOCKS4 carries no password, so when users are
// configured every SOCKS4 request is refused (0x5B) and the log says why: a client with
// credentials must use SOCKS5 (or HTTP with Proxy-Authorization).

import { formatHostPort, hex } from '../../address';
import { FAILURE_TEXT } from '../../commands/context';
import type { Session } from '../../session';
import type { Command } from '../../types';
import type { Door } from '../door';
import { CD, encodeSocks4Reply, parseSocks4Request, REPLY4, SOCKS4_VERSION } from './wire';

const COMMANDS: Readonly<Record<number, Command>> = {
  [CD.CONNECT]: 'connect',
  [CD.BIND]: 'bind',
};

const REJECTED = encodeSocks4Reply(REPLY4.REJECTED);

export const socks4Door: Door = {
  name: 'socks4',
  accepts: (byte) => byte === SOCKS4_VERSION,

  advance(session: Session): void {
    session.protocol ??= 'socks4';
    const r = parseSocks4Request(session.input);
    if (r.status === 'more') return;
    if (r.status === 'error') return session.protocolError(r.reason, r.reply === undefined ? undefined : REJECTED);
    session.consume(r.length);
    const { cmd, host, port, type } = r.value;
    const destination = { type, host, port };
    if (type === 'domain') session.protocol = 'socks4a';
    if (session.config.users.size > 0) {
      session.destination = destination;
      session.write(REJECTED);
      session.logger.warn(
        `${session.tag} SOCKS4 request for ${formatHostPort(host, port)} refused: SOCKS4 carries no password and users are configured (use SOCKS5 with a username and password)`,
      );
      return session.close({ kind: 'auth-failed', reply: REPLY4.REJECTED, message: 'SOCKS4 refused: it has no password and users are configured' }, true);
    }
    const command = COMMANDS[cmd];
    session.startCommand(command, destination, command ? undefined : `unknown SOCKS4 command 0x${hex(cmd)}`);
  },

  succeed(session, bound): void {
    session.write(encodeSocks4Reply(REPLY4.GRANTED, bound.host, bound.port));
  },

  fail(session, kind, detail): void {
    session.write(REJECTED);
    const text = `${FAILURE_TEXT[kind]} (0x${hex(REPLY4.REJECTED)})`;
    session.close({ kind: 'reply', reply: REPLY4.REJECTED, failure: kind, message: detail ? `${text}: ${detail}` : text }, true);
  },
};
