// The HTTP front door (an ASCII letter first): HTTP/1.x proxy requests on the same port as SOCKS.
// - `CONNECT host:port`: the shared CONNECT handler dials (rules and an upstream apply), the door
//   answers 200 and the same relay as SOCKS carries the tunnel;
// - `GET http://host/path` (any method, absolute URI): forwarded by ./forward, keep-alive on both
//   sides;
// - `GET /proxy.pac` and `GET /` (origin form, to the proxy itself): the PAC file and the status
//   page (./pac), without credentials.
// With users configured, CONNECT and forwarding need `Proxy-Authorization: Basic` for one of them
// (the RFC 1929 table, checked in constant time); otherwise 407. Every error is an HTTP answer with a
// short text body, then a close.

import { networkInterfaces } from 'node:os';
import { isLoopbackHost } from '../../loopback';
import type { Session } from '../../session';
import type { Destination } from '../../types';
import type { Door } from '../door';
import { forwardHandler } from './forward';
import { DEFAULT_HEAD_LIMITS, HeadReader, printable } from './head';
import { answer, basicCredentials, CONNECT_ESTABLISHED, errorAnswer, PROXY_AUTHENTICATE, reasonPhrase } from './message';
import { PAC_CONTENT_TYPE, PAC_PATH, pacFile, pageAddress, statusPage, type PacDoors } from './pac';
import { parseRequestHead, type RequestHead } from './request';
import { STATUS_FOR_FAILURE } from './status';

/** What the door keeps on a session (one per HTTP connection). */
export interface HttpState {
  reader: HeadReader;
  /** Bytes of session.input already fed to the reader. */
  fed: number;
  /** The request being answered: its method (HEAD answers carry no body) and version. */
  method: string;
  minor: 0 | 1;
  mode: 'connect' | 'forward' | undefined;
  /** A response head already went to the client: a failure now can only cut the connection. */
  answered: boolean;
}

const STATE = Symbol('httpDoor');
type HttpSession = Session & { [STATE]?: HttpState };

export function httpState(session: Session): HttpState {
  const s = session as HttpSession;
  return (s[STATE] ??= { reader: new HeadReader(DEFAULT_HEAD_LIMITS), fed: 0, method: 'GET', minor: 1, mode: undefined, answered: false });
}

const isLetter = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

export const httpDoor: Door = {
  name: 'http',
  accepts: isLetter,

  advance(session: Session): void {
    const st = httpState(session);
    session.protocol ??= 'http';
    const r = st.reader.push(st.fed === 0 ? session.input : session.input.subarray(st.fed));
    st.fed = session.input.length;
    if (r.status === 'more') return;
    if (r.status === 'error') return refuse(session, r.code, r.reason);
    session.consume(st.reader.bytes);
    const req = parseRequestHead(r.lines);
    if ('code' in req) return refuse(session, req.code, req.reason);
    st.method = req.method;
    st.minor = req.minor;
    const t = req.target;
    if (t.form === 'origin' || t.form === 'asterisk') return servePage(session, req);
    if (!authorize(session, req)) return;
    const destination: Destination = { type: t.type, host: t.host, port: t.port };
    if (t.form === 'authority') {
      session.protocol = 'http-connect';
      st.mode = 'connect';
      session.startCommand('connect', destination);
    } else {
      st.mode = 'forward';
      session.startCommand('connect', destination, undefined, forwardHandler(req));
    }
  },

  succeed(session): void {
    const st = httpState(session);
    if (st.mode !== 'connect') return; // forwarding answers with the origin server's response
    st.answered = true;
    session.write(CONNECT_ESTABLISHED);
  },

  fail(session, kind, detail): void {
    const st = httpState(session);
    const status = STATUS_FOR_FAILURE[kind];
    const message = `${status} ${reasonPhrase(status)}${detail ? `: ${detail}` : ''}`;
    if (st.answered) return session.close({ kind: 'error', failure: kind, message });
    st.answered = true;
    session.write(errorAnswer(status, detail ?? reasonPhrase(status), { close: true, headOnly: st.method === 'HEAD' }));
    session.close({ kind: 'reply', failure: kind, message }, true);
  },

  timedOut(session): void {
    // A head that did not arrive in time (slowloris): 408, then close.
    session.write(errorAnswer(408, 'request header not complete in time', { close: true }));
  },
};

/** A request the door cannot take: its status and a line of text, then close. */
export function refuse(session: Session, status: number, reason: string): void {
  const st = httpState(session);
  st.answered = true;
  session.protocolError(reason, errorAnswer(status, reason, { close: true, headOnly: st.method === 'HEAD' }));
}

/**
 * Proxy-Authorization against the server's users (the RFC 1929 table, constant time). No users:
 * everyone. Otherwise a 407 with Proxy-Authenticate, then close. True when the request may go on.
 */
export function authorize(session: Session, req: RequestHead): boolean {
  const users = session.config.users;
  if (users.size === 0) return true;
  const creds = basicCredentials(req.fields);
  let ok = false;
  if (creds) {
    ok = users.verify(creds.username, creds.password);
    if (!ok && creds.latin1) {
      // Not UTF-8 (RFC 7617's charset): ISO-8859-1, as Python requests and older clients send it.
      const password = Buffer.from(creds.password.toString('latin1'), 'utf8');
      creds.username = creds.latin1;
      ok = users.verify(creds.username, password);
      password.fill(0);
    }
    creds.password.fill(0);
  }
  if (ok) {
    if (session.user !== creds!.username) session.authenticated(creds!.username);
    return true;
  }
  const st = httpState(session);
  st.answered = true;
  const why = creds ? `authentication failed for user "${printable(creds.username)}"` : 'proxy authentication required';
  if (creds) session.logger.warn(`${session.tag} ${why}`);
  session.write(errorAnswer(407, creds ? 'wrong user name or password' : 'this proxy needs a user name and password (Basic)', { close: true, fields: [PROXY_AUTHENTICATE], headOnly: req.method === 'HEAD' }));
  session.close({ kind: 'auth-failed', message: creds ? `auth failed for "${printable(creds.username)}"` : why }, true);
  return false;
}

/** Which doors the server has open (the PAC names them). */
function openDoors(session: Session): PacDoors {
  const on = (name: string): boolean => session.config.doors.some((d) => d?.name === name);
  return { socks5: on('socks5'), socks4: on('socks4'), http: true };
}

/**
 * A request to the proxy itself: `/proxy.pac`, `/` (GET or HEAD), anything else 404. No
 * credentials asked (browsers fetch PAC files without them); nothing told beyond the proxy's own
 * address and name. Then close.
 */
export function servePage(session: Session, req: RequestHead): void {
  const st = httpState(session);
  st.answered = true;
  const headOnly = req.method === 'HEAD';
  const path = req.target.form === 'origin' ? req.target.path.replace(/\?.*$/, '') : '*';
  let reply: Buffer;
  let served: string;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    reply = errorAnswer(405, `${printable(req.method)} is not served here (GET ${PAC_PATH} or GET /)`, { close: true, fields: [['Allow', 'GET, HEAD']] });
    served = `405 for ${printable(req.method)} ${printable(path)}`;
  } else if (path === PAC_PATH || path === '/') {
    const client = session.client;
    const at = pageAddress({
      hostHeader: req.fields.find(([n]) => n.toLowerCase() === 'host')?.[1],
      localAddress: client.localAddress ?? '127.0.0.1',
      localPort: client.localPort ?? 0,
      clientIsLoopback: isLoopbackHost(session.clientEndpoint.host),
      machineAddresses: machineAddresses(),
      listenerHost: session.config.listenHost,
    });
    const doors = openDoors(session);
    reply =
      path === PAC_PATH
        ? answer(200, pacFile(at.host, at.port, doors), { close: true, contentType: PAC_CONTENT_TYPE, headOnly, fields: [['Cache-Control', 'no-store']] })
        : answer(200, statusPage(at.host, at.port, doors), { close: true, contentType: 'text/html; charset=utf-8', headOnly, fields: [['Cache-Control', 'no-store']] });
    served = `served ${path === PAC_PATH ? 'the PAC file' : 'the status page'}`;
  } else {
    reply = errorAnswer(404, `nothing here; the PAC file is at ${PAC_PATH}`, { close: true, headOnly });
    served = `404 for ${printable(path)}`;
  }
  session.write(reply);
  session.close({ kind: 'closed', message: served }, true);
}

/** This machine's interface addresses (for a listener on 0.0.0.0 / ::). */
function machineAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address);
  return out;
}
