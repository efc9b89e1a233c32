// UDP ASSOCIATE (RFC 1928 §4 CMD 0x03, §7 UDP relay).
//
// The client gets a relay socket bound to the local address of its control connection (same
// family), ephemeral port; the reply names exactly that address and port. Each datagram it sends
// there carries an RFC header naming the destination; the relay strips it and sends DATA from an
// outbound socket (one udp4 and, lazily, one udp6 per association). Datagrams arriving on those
// outbound sockets go back to the client with a header naming their sender.
//
// The association belongs to the client:
// - client datagrams are accepted only from the control connection's peer IP;
// - a non-zero DST.PORT in the request pins the client's UDP port; with DST.PORT 0 the port is
//   pinned by the first well-formed datagram (RFC 1928 §7: the server MAY use DST to limit access);
// - a non-zero DST.ADDR must be the control connection's peer IP, else the request is refused
//   (0x02): an association that could never accept a datagram is better refused than silent.
// Everything else (foreign sender, FRAG≠0, malformed header, destination port 0, unresolvable
// name, send errors) is dropped and counted; nothing here throws per datagram.
// It ends when the control connection closes (its bytes are read and discarded) and, when
// timeouts.idleMs > 0, after that long without a datagram either way.

import { createSocket, type RemoteInfo, type Socket as UdpSocket, type SocketOptions } from 'node:dgram';
import { lookup } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { canonicalIp, formatHostPort, isUnspecifiedIp, toIPv4 } from '../address';
import { DnsCache } from '../net/resolver';
import { DatagramGate, invalidNameText } from '../rules/gate';
import { invalidHostName } from '../rules/hostname';
import { encodeUdpHeader, parseUdpHeader, type UdpHeader } from '../protocol/socks5/wire';
import { refuseUncarried, upstreamFailed } from '../upstream/bind';
import { bypasses } from '../upstream/route';
import { associateUpstream, type UpstreamUdp } from '../upstream/udp';
import type { Endpoint, Resolver } from '../types';
import type { CommandContext, DatagramCounters } from './context';

export function handleUdpAssociate(session: CommandContext): void {
  const req = session.destination;
  const client = session.client;
  const rawLocal = client.localAddress;
  const clientIp = canonicalIp(client.remoteAddress ?? '');
  if (!rawLocal || !clientIp) return session.fail('general', 'UDP ASSOCIATE: control connection has no address');
  if (req.type !== 'domain' && !isUnspecifiedIp(req.host) && canonicalIp(req.host) !== clientIp) {
    return session.fail(
      'not-allowed',
      `UDP ASSOCIATE: the client may only send from its own address ${clientIp}, not ${req.host}`,
    );
  }
  const { slots, maxUdpAssociations, upstream } = session.config;
  if (upstream && refuseUncarried(session, upstream, 'UDP ASSOCIATE')) return;
  const release = slots.take('udpAssociations', maxUdpAssociations);
  if (!release) {
    session.logger.warn(`${session.tag} UDP ASSOCIATE refused: ${maxUdpAssociations} associations already open (maxUdpAssociations)`);
    return session.fail('general', `UDP ASSOCIATE: ${maxUdpAssociations} already open (maxUdpAssociations)`);
  }
  void session.closed.then(release);
  const local = toIPv4(rawLocal) ?? rawLocal;
  const relaySocket = createSocket({ type: isIPv6(local) ? 'udp6' : 'udp4', lookup: ipLookup });
  session.own(relaySocket);
  const onBindError = (err: Error) =>
    session.fail('general', `UDP ASSOCIATE: cannot bind ${formatHostPort(local, 0)}: ${err.message}`);
  relaySocket.once('error', onBindError);
  relaySocket.bind({ address: local, port: 0 }, () => {
    relaySocket.removeListener('error', onBindError);
    if (session.isClosed) return;
    const a = relaySocket.address();
    const bound: Endpoint = { host: a.address, port: a.port };
    const counters: DatagramCounters = { bytesUp: 0, bytesDown: 0, datagramsUp: 0, datagramsDown: 0, datagramsDropped: 0 };
    const association = new Association(session, relaySocket, clientIp, req.port === 0 ? undefined : req.port, counters, dnsCacheFor(session.config.resolver));
    const associated = (via?: UpstreamUdp): void => {
      if (session.isClosed) return;
      association.via = via;
      session.update({ state: 'established', bound, datagrams: counters });
      session.succeed(bound);
      session.logger.debug(
        `${session.tag} UDP ASSOCIATE relay on ${formatHostPort(bound.host, bound.port)} for ` +
          `${formatHostPort(clientIp, req.port)}${req.port === 0 ? ' (port: first datagram)' : ''}` +
          (via ? `, through upstream ${upstream!.name} (its relay ${formatHostPort(via.relay.host, via.relay.port)})` : ''),
      );
      association.start();
      // The control connection carries nothing more, but its end is the association's end.
      session.takePending();
      client.on('data', discard);
      client.on('end', () => session.close({ kind: 'closed-by-client', message: 'control connection closed' }));
      client.resume();
    };
    if (!upstream) return associated();
    // The association at the upstream first: its failure is this request's reply.
    session.update({ route: upstream.name });
    associateUpstream(session, upstream, (datagram, dataLength) => association.fromUpstream(datagram, dataLength)).then(associated, (err: unknown) =>
      upstreamFailed(session, 'UDP ASSOCIATE', err),
    );
  });
}

function discard(): void {}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * The address lookup of the association's UDP sockets. dgram passes every send's address through
 * a lookup (by default dns.lookup, which answers even an IP literal on the next tick, through a
 * closure): the relay only ever sends to IP literals (names are resolved by DnsCache), so they are
 * answered at once. Anything else still goes to the OS resolver.
 */
const ipLookup = ((address: string, family: number, cb: LookupCallback): void => {
  const f = isIP(address);
  if (f !== 0) cb(null, address, f);
  else lookup(address, family, cb);
}) as unknown as SocketOptions['lookup'];

/** Upper bounds for the per-association cache of encoded reply headers. */
const MAX_HEADER_HOSTS = 256;
const MAX_HEADER_PORTS_PER_HOST = 256;

const enum Drop {
  ForeignSender = 1,
  Malformed = 2,
  Fragment = 4,
  BadPort = 8,
  Unresolved = 16,
  SendError = 32,
  ClientUnknown = 64,
  NotAllowed = 128,
  InvalidName = 256,
}

const DROP_TEXT: Record<Drop, string> = {
  [Drop.ForeignSender]: 'datagram from a sender other than the client',
  [Drop.Malformed]: 'malformed datagram header',
  [Drop.Fragment]: 'fragmented datagram (FRAG ≠ 0), fragmentation is not supported',
  [Drop.BadPort]: 'datagram for destination port 0',
  [Drop.Unresolved]: 'destination name does not resolve',
  [Drop.SendError]: 'send failed',
  [Drop.ClientUnknown]: 'reply before the client sent anything',
  [Drop.NotAllowed]: 'datagram to a destination the rules deny',
  [Drop.InvalidName]: 'datagram to an invalid host name',
};

/** Drops worth a line at info level (once per association): the user set the rules, or a client sent garbage names. */
const NOTABLE_DROPS = Drop.NotAllowed | Drop.InvalidName;

class Association {
  private out4: UdpSocket | undefined;
  private out6: UdpSocket | undefined;
  /** The client's source address exactly as dgram reports it (fast path), once seen. */
  private clientAddress: string | undefined;
  private clientPort: number | undefined;
  /** remote address → port → encoded header: no encoding per datagram for a known sender. */
  private readonly headers = new Map<string, Map<number, Buffer>>();
  /** Drop reasons already logged (each is logged once per association, at debug level). */
  private logged = 0;
  /** The rules' verdict per destination; undefined when no rule could deny. */
  private readonly gate: DatagramGate | undefined;

  /** The association at the upstream proxy, when one is configured: datagrams not bypassed go there. */
  via: UpstreamUdp | undefined;

  constructor(
    private readonly session: CommandContext,
    private readonly relay: UdpSocket,
    private readonly clientIp: string,
    pinnedPort: number | undefined,
    private readonly counters: DatagramCounters,
    private readonly dns: DnsCache,
  ) {
    this.clientPort = pinnedPort;
    const rules = session.config.rules;
    this.gate = rules.destinations.active ? new DatagramGate(rules, session.user) : undefined;
  }

  start(): void {
    this.relay.on('message', this.onClientDatagram);
    this.relay.on('error', (err) => this.drop(Drop.SendError, err.message));
    const idleMs = this.session.config.timeouts.idleMs;
    if (idleMs > 0) this.watchIdle(idleMs);
  }

  // --- client → remote ---------------------------------------------------------------------------

  private readonly onClientDatagram = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.address !== this.clientAddress) {
      if (canonicalIp(rinfo.address) !== this.clientIp) return this.drop(Drop.ForeignSender, rinfo.address);
    }
    if (this.clientPort !== undefined && rinfo.port !== this.clientPort) {
      return this.drop(Drop.ForeignSender, formatHostPort(rinfo.address, rinfo.port));
    }
    const parsed = parseUdpHeader(msg);
    if (!parsed.ok) return this.drop(Drop.Malformed, parsed.reason);
    const h = parsed.value;
    if (h.frag !== 0) return this.drop(Drop.Fragment);
    if (h.port === 0) return this.drop(Drop.BadPort);
    // A well-formed datagram from the client: this is where replies go from now on.
    this.clientAddress = rinfo.address;
    this.clientPort = rinfo.port;
    const data = msg.subarray(h.dataOffset);
    const gate = this.gate;
    // Through the upstream unless bypassed; the rules apply either way.
    const via = this.via && !bypasses(this.session.config.upstream!, h) ? this.via : undefined;
    if (h.type === 'domain') {
      const invalid = invalidHostName(h.host);
      if (invalid !== undefined) return this.drop(Drop.InvalidName, invalidNameText(h.host, invalid));
      const byName = gate?.denied(h.host, h.port);
      if (byName !== undefined) return this.drop(Drop.NotAllowed, byName);
      // A socks5h:// upstream resolves names itself: resolved here only when rules must see the addresses.
      if (via && this.session.config.upstream!.proxy.scheme !== 'socks5' && !gate) return this.toUpstream(via, msg, h);
      const hit = this.dns.get(h.host);
      if (hit === null) return this.drop(Drop.Unresolved, h.host);
      if (hit !== undefined) return this.sendResolved(h, msg, via, hit.family, data, hit.address);
      this.dns.resolve(h.host, (r) => {
        if (this.session.isClosed) return;
        if (!r) return this.drop(Drop.Unresolved, h.host);
        this.sendResolved(h, msg, via, r.family, data, r.address);
      });
      return;
    }
    if (gate) {
      const denied = gate.denied(h.host, h.port);
      if (denied !== undefined) return this.drop(Drop.NotAllowed, denied);
    }
    if (via) return this.toUpstream(via, msg, h);
    if (h.type === 'ipv4') return this.send(4, data, h.port, h.host);
    const mapped = h.host.startsWith('::ffff:') ? toIPv4(canonicalIp(h.host) ?? '') : undefined;
    if (mapped !== undefined) return this.send(4, data, h.port, mapped);
    this.send(6, data, h.port, h.host);
  };

  /**
   * A datagram to a name, once resolved: the address it goes to is checked too (no rebinding),
   * then out directly or to the upstream (socks5://: with the address in the header instead).
   */
  private sendResolved(h: UdpHeader, msg: Buffer, via: UpstreamUdp | undefined, family: 4 | 6, data: Buffer, address: string): void {
    const denied = this.gate?.denied(h.host, h.port, address);
    if (denied !== undefined) return this.drop(Drop.NotAllowed, denied);
    if (!via) return this.send(family, data, h.port, address);
    this.toUpstream(via, msg, h, this.session.config.upstream!.proxy.scheme === 'socks5' ? address : undefined);
  }

  /** To the upstream's relay, header and all (`address`: a name resolved here, written into the header). */
  private toUpstream(via: UpstreamUdp, msg: Buffer, h: UdpHeader, address?: string): void {
    if (!via.forward(msg, h, address)) return this.drop(Drop.SendError, `to upstream ${this.session.config.upstream!.name}`);
    this.counters.datagramsUp++;
    this.counters.bytesUp += msg.length - h.dataOffset;
  }

  /** A datagram from the upstream's relay (its header names the remote sender): to the client as it is. */
  fromUpstream(datagram: Buffer, dataLength: number): void {
    const address = this.clientAddress;
    const port = this.clientPort;
    if (address === undefined || port === undefined || this.session.isClosed) return this.drop(Drop.ClientUnknown);
    try {
      this.relay.send(datagram, port, address);
    } catch (err) {
      return this.drop(Drop.SendError, (err as Error).message);
    }
    this.counters.datagramsDown++;
    this.counters.bytesDown += dataLength;
  }

  private send(family: 4 | 6, data: Buffer, port: number, address: string): void {
    if (this.session.isClosed) return;
    try {
      this.outbound(family).send(data, port, address);
    } catch (err) {
      return this.drop(Drop.SendError, (err as Error).message);
    }
    this.counters.datagramsUp++;
    this.counters.bytesUp += data.length;
  }

  private outbound(family: 4 | 6): UdpSocket {
    const existing = family === 4 ? this.out4 : this.out6;
    if (existing) return existing;
    const s = createSocket(family === 4 ? { type: 'udp4', lookup: ipLookup } : { type: 'udp6', ipv6Only: true, lookup: ipLookup });
    this.session.own(s);
    s.on('message', this.onRemoteDatagram);
    // Without a send callback, dgram reports a failed send here (unreachable network, EMSGSIZE…).
    s.on('error', (err) => this.drop(Drop.SendError, err.message));
    s.bind(0); // sends issued before the bind completes are queued by dgram
    if (family === 4) this.out4 = s;
    else this.out6 = s;
    return s;
  }

  // --- remote → client ---------------------------------------------------------------------------

  private readonly onRemoteDatagram = (msg: Buffer, rinfo: RemoteInfo): void => {
    const address = this.clientAddress;
    const port = this.clientPort;
    if (address === undefined || port === undefined || this.session.isClosed) return this.drop(Drop.ClientUnknown);
    try {
      this.relay.send([this.headerFor(rinfo.address, rinfo.port), msg], port, address);
    } catch (err) {
      return this.drop(Drop.SendError, (err as Error).message);
    }
    this.counters.datagramsDown++;
    this.counters.bytesDown += msg.length;
  };

  private headerFor(address: string, port: number): Buffer {
    let byPort = this.headers.get(address);
    if (byPort === undefined) {
      if (this.headers.size >= MAX_HEADER_HOSTS) this.headers.clear();
      byPort = new Map();
      this.headers.set(address, byPort);
    }
    let header = byPort.get(port);
    if (header === undefined) {
      if (byPort.size >= MAX_HEADER_PORTS_PER_HOST) byPort.clear();
      header = encodeUdpHeader(address, port);
      byPort.set(port, header);
    }
    return header;
  }

  // --- bookkeeping -------------------------------------------------------------------------------

  private drop(reason: Drop, detail?: string): void {
    this.counters.datagramsDropped++;
    if ((this.logged & reason) === 0) {
      this.logged |= reason;
      const line = `${this.session.tag} UDP: dropped ${DROP_TEXT[reason]}${detail ? ` (${detail})` : ''}; further ones are only counted`;
      if (reason & NOTABLE_DROPS) this.session.logger.info(line);
      else this.session.logger.debug(line);
    }
  }

  /** Closes the association after `idleMs` without a datagram relayed either way (checked 4× per period). */
  private watchIdle(idleMs: number): void {
    const c = this.counters;
    let seen = -1;
    let quietSince = Date.now();
    const timer = setInterval(
      () => {
        const n = c.datagramsUp + c.datagramsDown;
        const now = Date.now();
        if (n !== seen) {
          seen = n;
          quietSince = now;
        } else if (now - quietSince >= idleMs) {
          this.session.close({ kind: 'idle-timeout', message: `UDP association idle for ${Math.round(idleMs / 1000)} s` });
        }
      },
      Math.max(10, Math.floor(idleMs / 4)),
    );
    this.relay.once('close', () => clearInterval(timer));
  }
}

// --- DNS for domain destinations ---------------------------------------------------------------

/**
 * One cache per resolver, shared by every association using it (a server's resolver lives as long
 * as the server's options): a hot name is resolved once per TTL, not per datagram.
 */
const caches = new WeakMap<Resolver, DnsCache>();
function dnsCacheFor(resolver: Resolver): DnsCache {
  let c = caches.get(resolver);
  if (c === undefined) caches.set(resolver, (c = new DnsCache(resolver)));
  return c;
}
