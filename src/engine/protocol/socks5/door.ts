// The SOCKS5 front door (RFC 1928 with RFC 1929 auth): greeting → auth → request, then the
// command's handler takes over; its success or failure becomes a §6 reply.

import { hex } from '../../address';
import type { Session } from '../../session';
import type { Command } from '../../types';
import type { Door } from '../door';
import { REP_FOR_FAILURE, replyText } from './replies';
import {
  AUTH_STATUS,
  CMD,
  encodeAuthStatus,
  encodeMethodSelection,
  encodeReply,
  METHOD,
  parseAuthRequest,
  parseGreeting,
  parseRequest,
  REP,
  SOCKS_VERSION,
} from './wire';

// session.step
const GREETING = 0;
const AUTH = 1;
const REQUEST = 2;

const COMMANDS: Readonly<Record<number, Command>> = {
  [CMD.CONNECT]: 'connect',
  [CMD.BIND]: 'bind',
  [CMD.UDP_ASSOCIATE]: 'udpAssociate',
  [CMD.RESOLVE]: 'resolve',
  [CMD.RESOLVE_PTR]: 'resolvePtr',
};

export const socks5Door: Door = {
  name: 'socks5',
  accepts: (byte) => byte === SOCKS_VERSION,

  advance(session: Session): void {
    // Consumes as many complete handshake messages as the input holds.
    while (session.inHandshake) {
      const buf = session.input;
      if (session.step === GREETING) {
        session.protocol = 'socks5';
        const r = parseGreeting(buf);
        if (r.status === 'more') return;
        if (r.status === 'error') return session.protocolError(r.reason, r.reply === undefined ? undefined : encodeMethodSelection(r.reply));
        session.consume(r.length);
        const wantAuth = session.config.users.size > 0;
        const method = wantAuth ? METHOD.USERNAME_PASSWORD : METHOD.NO_AUTH;
        if (!r.value.methods.includes(method)) {
          session.write(encodeMethodSelection(METHOD.NO_ACCEPTABLE));
          const offered = r.value.methods.map((m) => `0x${hex(m)}`).join(', ');
          return session.close(
            {
              kind: 'no-acceptable-method',
              message: wantAuth ? `no acceptable method: client offered ${offered}, username/password required` : `no acceptable method: client offered ${offered}`,
            },
            true,
          );
        }
        session.write(encodeMethodSelection(method));
        session.step = wantAuth ? AUTH : REQUEST;
      } else if (session.step === AUTH) {
        const r = parseAuthRequest(buf);
        if (r.status === 'more') return;
        if (r.status === 'error') return session.protocolError(r.reason, encodeAuthStatus(AUTH_STATUS.FAILURE));
        session.consume(r.length);
        const { username, password } = r.value;
        if (!session.config.users.verify(username, password)) {
          password.fill(0);
          session.write(encodeAuthStatus(AUTH_STATUS.FAILURE));
          session.logger.warn(`${session.tag} authentication failed for user "${username}"`);
          return session.close({ kind: 'auth-failed', message: `auth failed for "${username}"` }, true);
        }
        password.fill(0);
        session.write(encodeAuthStatus(AUTH_STATUS.SUCCESS));
        session.step = REQUEST;
        session.authenticated(username);
      } else {
        const r = parseRequest(buf);
        if (r.status === 'more') return;
        if (r.status === 'error') return session.protocolError(r.reason, r.reply === undefined ? undefined : encodeReply(r.reply));
        session.consume(r.length);
        const command = COMMANDS[r.value.cmd];
        session.startCommand(
          command,
          { type: r.value.type, host: r.value.host, port: r.value.port },
          command ? undefined : `unknown command 0x${hex(r.value.cmd)}`,
        );
      }
    }
  },

  succeed(session, bound): void {
    session.write(encodeReply(REP.SUCCEEDED, bound.host, bound.port));
  },

  fail(session, kind, detail, upstreamReply): void {
    const rep = upstreamReply !== undefined && upstreamReply > 0 && upstreamReply <= 0xff ? upstreamReply : REP_FOR_FAILURE[kind];
    const text = replyText(rep);
    session.write(encodeReply(rep));
    session.close({ kind: 'reply', reply: rep, failure: kind, message: detail ? `${text}: ${detail}` : text }, true);
  },
};

