// The client side of SOCKS5 (RFC 1928) with username/password (RFC 1929), for a SOCKS5 upstream:
// method selection, authentication, then one request (CONNECT, BIND or UDP ASSOCIATE) and its
// reply; for BIND, the second reply too. Bytes are encoded and parsed by ../wire (the server's own
// codec); each answer is read with ./exchange, bounded by its format (a reply is at most 262 bytes).

import type { Socket } from 'node:net';
import { formatHostPort } from '../address';
import { replyText } from '../protocol/socks5/replies';
import type { Endpoint } from '../types';
import {
  AUTH_STATUS,
  AUTH_VERSION,
  encodeAddress,
  METHOD,
  parseReply,
  REP,
  SOCKS_VERSION,
  type Parse,
  type Reply,
} from '../protocol/socks5/wire';
import { kindForSocksReply, UpstreamError } from './errors';
import { readMessage } from './exchange';
import { describeUpstream, type UpstreamProxy } from './url';

/**
 * Greeting, authentication when the upstream asks for it, one request and its (first) reply. A
 * reply other than success becomes an UpstreamError carrying the upstream's code.
 * `target.host`: an IP address or a name (sent as ATYP domain, for the upstream to resolve).
 *
 * The request goes out with the last handshake message instead of one round trip later (with the
 * greeting when no password is offered, with the credentials otherwise): a SOCKS5 server reads
 * its input in order (RFC 1928 does not make a client wait), so this saves a round trip and, for
 * the proxy, a write and a read per connection. Dante, this project and the `socks` servers take it.
 */
export async function socks5Open(socket: Socket, proxy: UpstreamProxy, cmd: number, target: Endpoint): Promise<Reply> {
  const name = describeUpstream(proxy);
  let address: Buffer;
  try {
    address = encodeAddress(target.host, target.port);
  } catch {
    throw new UpstreamError(`the name ${target.host} is too long for a SOCKS5 request`, 'unsupported-address');
  }
  const request = Buffer.concat([Buffer.from([SOCKS_VERSION, cmd, 0x00]), address]);
  const withPassword = proxy.username !== undefined && proxy.password !== undefined;
  if (!withPassword) {
    socket.write(Buffer.concat([NO_AUTH_GREETING, request]));
    // Both answers in one read when they arrive together (they usually do).
    const answer = await readMessage(socket, parseMethodAndReply);
    if (answer.method !== METHOD.NO_AUTH) throw methodError(name, answer.method, false);
    return checkReply(answer.reply!, proxy, target);
  }
  socket.write(PASSWORD_GREETING);
  const method = await readMessage(socket, parseMethodSelection);
  if (method === METHOD.NO_AUTH) {
    socket.write(request);
    return nextReply(socket, proxy, target);
  }
  if (method !== METHOD.USERNAME_PASSWORD) throw methodError(name, method, true);
  const user = Buffer.from(proxy.username!, 'utf8');
  const pass = Buffer.from(proxy.password!, 'utf8');
  const msg = Buffer.concat([Buffer.from([AUTH_VERSION, user.length]), user, Buffer.from([pass.length]), pass, request]);
  socket.write(msg);
  msg.fill(0);
  pass.fill(0);
  const status = await readMessage(socket, parseAuthStatus);
  if (status !== AUTH_STATUS.SUCCESS) throw new UpstreamError(`upstream ${name} rejected the user name and password`, 'general');
  return nextReply(socket, proxy, target);
}

const NO_AUTH_GREETING = Buffer.from([SOCKS_VERSION, 1, METHOD.NO_AUTH]);
const PASSWORD_GREETING = Buffer.from([SOCKS_VERSION, 2, METHOD.NO_AUTH, METHOD.USERNAME_PASSWORD]);

function methodError(name: string, method: number, offeredPassword: boolean): UpstreamError {
  if (method === METHOD.NO_ACCEPTABLE) {
    return new UpstreamError(
      offeredPassword
        ? `upstream ${name} accepted none of the offered methods (no authentication, username/password)`
        : `upstream ${name} requires authentication: give a user in the URL and its password`,
      'general',
    );
  }
  return new UpstreamError(`upstream ${name} chose method 0x${hex(method)}, which was not offered`, 'general');
}

/** The next reply on the control connection (BIND's second one: the peer that connected). */
export async function nextReply(socket: Socket, proxy: UpstreamProxy, target: Endpoint): Promise<Reply> {
  return checkReply(await readMessage(socket, parseReply), proxy, target);
}

function checkReply(reply: Reply, proxy: UpstreamProxy, target: Endpoint): Reply {
  if (reply.rep === REP.SUCCEEDED) return reply;
  throw new UpstreamError(
    `upstream ${describeUpstream(proxy)} answered ${replyText(reply.rep)} for ${formatHostPort(target.host, target.port)}`,
    kindForSocksReply(reply.rep),
    reply.rep,
  );
}

/** The method selection, then (when it is "no authentication") the reply that follows it. */
function parseMethodAndReply(buf: Buffer): Parse<{ method: number; reply?: Reply }> {
  const m = parseMethodSelection(buf);
  if (m.status !== 'done') return m;
  if (m.value !== METHOD.NO_AUTH) return { status: 'done', value: { method: m.value }, length: 2 };
  const r = parseReply(buf.subarray(2));
  if (r.status !== 'done') return r;
  return { status: 'done', value: { method: m.value, reply: r.value }, length: 2 + r.length };
}

function parseMethodSelection(buf: Buffer): Parse<number> {
  if (buf.length < 2) return { status: 'more' };
  if (buf[0] !== SOCKS_VERSION) return { status: 'error', reason: `not a SOCKS5 server (answered 0x${hex(buf[0])})` };
  return { status: 'done', value: buf[1], length: 2 };
}

/** RFC 1929 says VER 0x01; some servers answer with 0x05: either is taken. */
function parseAuthStatus(buf: Buffer): Parse<number> {
  if (buf.length < 2) return { status: 'more' };
  if (buf[0] !== AUTH_VERSION && buf[0] !== SOCKS_VERSION) return { status: 'error', reason: `bad authentication reply (0x${hex(buf[0])})` };
  return { status: 'done', value: buf[1], length: 2 };
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
