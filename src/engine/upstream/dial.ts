// Opening a tunnel to a target through an upstream proxy: TCP to the upstream (through the
// direct route, so a name of the upstream gets every address tried), then its handshake. One
// deadline covers both. Every failure is an UpstreamError naming the upstream (never its password).

import { isIP, type Socket } from 'node:net';
import { errorCode } from '../commands/context';
import type { Endpoint } from '../types';
import { CMD, type Reply } from '../protocol/socks5/wire';
import { UpstreamError } from './errors';
import { ProtocolError } from './exchange';
import { httpConnect } from './httpConnect';
import { socks5Open } from './socks5';
import { describeUpstream, type UpstreamProxy } from './url';

export interface UpstreamDeps {
  /** TCP to the upstream itself (the direct route). Rejects with the connect error. */
  connect(host: string, port: number, timeoutMs: number): Promise<Socket>;
  /** Name resolution for socks5:// (names are resolved here, addresses sent). */
  resolve(host: string): Promise<string[]>;
  /** The whole dial: connect + handshake + reply. 0 = no deadline. */
  timeoutMs: number;
}

export interface Tunnel {
  socket: Socket;
  /** What the socket read that was the upstream's handshake (bytes after it are the destination's). */
  handshakeBytes: number;
  /** SOCKS5 upstreams: their reply's BND (for BIND the address the upstream listens on). */
  reply?: Reply;
}

/**
 * Connects to the upstream, greets it and sends `cmd` for `target` (SOCKS5), or CONNECT (HTTP;
 * only `cmd` CONNECT). On failure the socket is destroyed and the promise rejects with an
 * UpstreamError.
 */
export async function openTunnel(proxy: UpstreamProxy, cmd: number, target: Endpoint, deps: UpstreamDeps): Promise<Tunnel> {
  const name = describeUpstream(proxy);
  if (proxy.scheme === 'http' && cmd !== CMD.CONNECT) {
    throw new UpstreamError(`upstream ${name} is an HTTP proxy: it carries CONNECT only`, 'unsupported-command');
  }
  const started = Date.now();
  let to = target;
  if (proxy.scheme === 'socks5' && isIP(target.host) === 0) {
    let addresses: string[];
    try {
      addresses = await deps.resolve(target.host);
    } catch (err) {
      throw new UpstreamError(`cannot resolve ${target.host} (${errorCode(err) ?? 'error'})`, 'host-unreachable');
    }
    if (addresses.length === 0) throw new UpstreamError(`cannot resolve ${target.host} (ENOTFOUND)`, 'host-unreachable');
    to = { host: addresses[0], port: target.port };
  }
  const left = deps.timeoutMs > 0 ? Math.max(1, deps.timeoutMs - (Date.now() - started)) : 0;
  let socket: Socket;
  try {
    socket = await deps.connect(proxy.host, proxy.port, left);
  } catch (err) {
    throw new UpstreamError(`upstream ${name} is unreachable: ${describeConnectError(err)}`, 'general');
  }
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const remaining = deps.timeoutMs > 0 ? deps.timeoutMs - (Date.now() - started) : 0;
  if (deps.timeoutMs > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, Math.max(1, remaining));
  }
  try {
    if (proxy.scheme === 'http') {
      await httpConnect(socket, proxy, to);
      return { socket, handshakeBytes: handshakeBytes(socket) };
    }
    const reply = await socks5Open(socket, proxy, cmd, to);
    return { socket, reply, handshakeBytes: handshakeBytes(socket) };
  } catch (err) {
    socket.destroy();
    if (timedOut) throw new UpstreamError(`upstream ${name} did not answer within ${deps.timeoutMs} ms`, 'timeout');
    if (err instanceof UpstreamError) throw err;
    if (err instanceof ProtocolError) throw new UpstreamError(`upstream ${name}: ${err.message}`, 'general');
    throw new UpstreamError(`upstream ${name} failed: ${describeConnectError(err)}`, 'general');
  } finally {
    clearTimeout(timer);
  }
}

/** Read so far minus what was put back for the next reader. */
export function handshakeBytes(socket: Socket): number {
  return socket.bytesRead - socket.readableLength;
}

function describeConnectError(err: unknown): string {
  const code = errorCode(err);
  const text = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET':
      return 'connection reset (ECONNRESET)';
    case 'ETIMEDOUT':
      return 'connect timed out (ETIMEDOUT)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve its name (${code})`;
    default:
      return code && !text.includes(code) ? `${text} (${code})` : text;
  }
}
