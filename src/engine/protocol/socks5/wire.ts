// The SOCKS5 wire format, next to its RFCs. Pure functions over bytes: no sockets, no state.
//
// RFC 1928 (SOCKS Protocol Version 5) and RFC 1929 (Username/Password Authentication for SOCKS V5).
// Every parser follows ../parse (done / more / error), so any split of the handshake across TCP
// segments, and any coalescing, parses the same.

import { isIPv6 } from 'node:net';
import { formatIPv6, hex, stripZone, toIPv4, writeIPv4, writeIPv6 } from '../../address';
import { done, error, MORE, type Parse } from '../parse';

export type { Parse } from '../parse';

export const SOCKS_VERSION = 0x05;

/** RFC 1928 §3: METHOD values. */
export const METHOD = {
  NO_AUTH: 0x00,
  GSSAPI: 0x01,
  USERNAME_PASSWORD: 0x02,
  NO_ACCEPTABLE: 0xff,
} as const;

/** RFC 1928 §4: CMD values. */
export const CMD = {
  CONNECT: 0x01,
  BIND: 0x02,
  UDP_ASSOCIATE: 0x03,
  /** Tor's extensions (torsocks): resolve a name, resolve an address's name. */
  RESOLVE: 0xf0,
  RESOLVE_PTR: 0xf1,
} as const;

/** RFC 1928 §4/§5: ATYP values. */
export const ATYP = {
  IPV4: 0x01,
  DOMAIN: 0x03,
  IPV6: 0x04,
} as const;

/** RFC 1928 §6: REP values. */
export const REP = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

/** RFC 1929 §2: the subnegotiation's own version, and its statuses. */
export const AUTH_VERSION = 0x01;
export const AUTH_STATUS = { SUCCESS: 0x00, FAILURE: 0x01 } as const;

export const REPLY_NAMES: Readonly<Record<number, string>> = {
  0x00: 'succeeded',
  0x01: 'general failure',
  0x02: 'not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable',
  0x05: 'connection refused',
  0x06: 'TTL expired',
  0x07: 'command not supported',
  0x08: 'address type not supported',
};


// ---------------------------------------------------------------------------------------------
// §3 Method selection
//   +----+----------+----------+
//   |VER | NMETHODS | METHODS  |
//   +----+----------+----------+
//   | 1  |    1     | 1 to 255 |
//   +----+----------+----------+

export interface Greeting {
  methods: number[];
}

export function parseGreeting(buf: Buffer): Parse<Greeting> {
  if (buf.length < 1) return MORE;
  if (buf[0] !== SOCKS_VERSION) return error(`not SOCKS5 (version byte 0x${hex(buf[0])})`);
  if (buf.length < 2) return MORE;
  const n = buf[1];
  if (n === 0) return error('greeting offers no methods (NMETHODS 0)', METHOD.NO_ACCEPTABLE);
  if (buf.length < 2 + n) return MORE;
  return done({ methods: Array.from(buf.subarray(2, 2 + n)) }, 2 + n);
}

/**   +----+--------+
 *    |VER | METHOD |
 *    +----+--------+   */
export function encodeMethodSelection(method: number): Buffer {
  return Buffer.from([SOCKS_VERSION, method]);
}

// ---------------------------------------------------------------------------------------------
// RFC 1929 §2 Username/password request
//   +----+------+----------+------+----------+
//   |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
//   +----+------+----------+------+----------+
//   | 1  |  1   | 1 to 255 |  1   | 1 to 255 |
//   +----+------+----------+------+----------+

export interface Credentials {
  username: string;
  /** Raw bytes: compared as bytes, never logged. */
  password: Buffer;
}

export function parseAuthRequest(buf: Buffer): Parse<Credentials> {
  if (buf.length < 1) return MORE;
  if (buf[0] !== AUTH_VERSION) return error(`bad auth version 0x${hex(buf[0])}`, AUTH_STATUS.FAILURE);
  if (buf.length < 2) return MORE;
  const ulen = buf[1];
  if (ulen === 0) return error('empty username (ULEN 0)', AUTH_STATUS.FAILURE);
  if (buf.length < 2 + ulen + 1) return MORE;
  const plen = buf[2 + ulen];
  if (plen === 0) return error('empty password (PLEN 0)', AUTH_STATUS.FAILURE);
  const total = 3 + ulen + plen;
  if (buf.length < total) return MORE;
  return done(
    {
      username: buf.toString('utf8', 2, 2 + ulen),
      password: Buffer.from(buf.subarray(3 + ulen, total)),
    },
    total,
  );
}

/**   +----+--------+
 *    |VER | STATUS |
 *    +----+--------+   */
export function encodeAuthStatus(status: number): Buffer {
  return Buffer.from([AUTH_VERSION, status]);
}

// ---------------------------------------------------------------------------------------------
// §4 Requests
//   +----+-----+-------+------+----------+----------+
//   |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
//   +----+-----+-------+------+----------+----------+
//   | 1  |  1  | X'00' |  1   | Variable |    2     |
//   +----+-----+-------+------+----------+----------+

export interface Address {
  type: 'ipv4' | 'ipv6' | 'domain';
  host: string;
  port: number;
}

export interface Request extends Address {
  /** The raw CMD byte: the caller decides what it supports (unknown → REP 0x07). */
  cmd: number;
}

/** §5 Addressing: ATYP, DST.ADDR, DST.PORT starting at `offset`. Shared by requests and UDP headers. */
export function parseAddress(buf: Buffer, offset: number): Parse<Address> {
  if (buf.length < offset + 1) return MORE;
  const atyp = buf[offset];
  let host: string;
  let type: Address['type'];
  let end: number;
  switch (atyp) {
    case ATYP.IPV4:
      end = offset + 1 + 4;
      if (buf.length < end + 2) return MORE;
      host = `${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}.${buf[offset + 4]}`;
      type = 'ipv4';
      break;
    case ATYP.IPV6:
      end = offset + 1 + 16;
      if (buf.length < end + 2) return MORE;
      host = formatIPv6(buf, offset + 1);
      type = 'ipv6';
      break;
    case ATYP.DOMAIN: {
      if (buf.length < offset + 2) return MORE;
      const len = buf[offset + 1];
      if (len === 0) return error('empty domain name', REP.GENERAL_FAILURE);
      end = offset + 2 + len;
      if (buf.length < end + 2) return MORE;
      host = buf.toString('utf8', offset + 2, end);
      type = 'domain';
      break;
    }
    default:
      return error(`unknown address type 0x${hex(atyp)}`, REP.ADDRESS_TYPE_NOT_SUPPORTED);
  }
  const port = buf.readUInt16BE(end);
  return done({ type, host, port }, end + 2 - offset);
}

export function parseRequest(buf: Buffer): Parse<Request> {
  if (buf.length < 1) return MORE;
  if (buf[0] !== SOCKS_VERSION) return error(`bad request version 0x${hex(buf[0])}`, REP.GENERAL_FAILURE);
  if (buf.length < 3) return MORE; // VER CMD RSV (RSV is not checked: be liberal in what you accept)
  const addr = parseAddress(buf, 3);
  if (addr.status !== 'done') return addr;
  return done({ cmd: buf[1], ...addr.value }, 3 + addr.length);
}

// ---------------------------------------------------------------------------------------------
// §6 Replies
//   +----+-----+-------+------+----------+----------+
//   |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
//   +----+-----+-------+------+----------+----------+
// Always the full form: 10 bytes for an IPv4 BND, 22 for IPv6.

/** Encodes ATYP + ADDR + PORT for an IP address (IPv4-mapped IPv6 is sent as IPv4). Domain names are encoded as ATYP 0x03. */
export function encodeAddress(host: string, port: number): Buffer {
  const v4 = toIPv4(host);
  if (v4 !== undefined) {
    const b = Buffer.allocUnsafe(7);
    b[0] = ATYP.IPV4;
    writeIPv4(b, 1, v4);
    b.writeUInt16BE(port, 5);
    return b;
  }
  if (isIPv6(host)) {
    const b = Buffer.allocUnsafe(19);
    b[0] = ATYP.IPV6;
    writeIPv6(b, 1, host);
    b.writeUInt16BE(port, 17);
    return b;
  }
  const name = Buffer.from(host, 'utf8');
  if (name.length < 1 || name.length > 255) throw new RangeError(`domain name length ${name.length} is not 1..255`);
  const b = Buffer.allocUnsafe(4 + name.length);
  b[0] = ATYP.DOMAIN;
  b[1] = name.length;
  name.copy(b, 2);
  b.writeUInt16BE(port, 2 + name.length);
  return b;
}

export function encodeReply(rep: number, host = '0.0.0.0', port = 0): Buffer {
  return Buffer.concat([Buffer.from([SOCKS_VERSION, rep, 0x00]), encodeAddress(stripZone(host), port)]);
}

export interface Reply extends Address {
  rep: number;
}

/** Parses a reply (the client's side of §6; used by tests and by anything that chains proxies). */
export function parseReply(buf: Buffer): Parse<Reply> {
  if (buf.length < 1) return MORE;
  if (buf[0] !== SOCKS_VERSION) return error(`bad reply version 0x${hex(buf[0])}`);
  if (buf.length < 3) return MORE;
  const addr = parseAddress(buf, 3);
  if (addr.status !== 'done') return addr;
  return done({ rep: buf[1], ...addr.value }, 3 + addr.length);
}

// ---------------------------------------------------------------------------------------------
// §7 UDP request header
//   +----+------+------+----------+----------+----------+
//   |RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
//   +----+------+------+----------+----------+----------+
//   | 2  |  1   |  1   | Variable |    2     | Variable |
//   +----+------+------+----------+----------+----------+

export interface UdpHeader extends Address {
  frag: number;
  /** Offset of DATA in the datagram. */
  dataOffset: number;
}

/** A datagram is complete or malformed: there is no 'more' for UDP, a short datagram is an error. */
export function parseUdpHeader(buf: Buffer): { ok: true; value: UdpHeader } | { ok: false; reason: string } {
  if (buf.length < 4) return { ok: false, reason: 'datagram shorter than a header' };
  const addr = parseAddress(buf, 3);
  if (addr.status === 'more') return { ok: false, reason: 'datagram header truncated' };
  if (addr.status === 'error') return { ok: false, reason: addr.reason };
  return { ok: true, value: { frag: buf[2], ...addr.value, dataOffset: 3 + addr.length } };
}

/** RSV RSV FRAG=0 ATYP ADDR PORT: prepend to DATA. */
export function encodeUdpHeader(host: string, port: number): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0x00, 0x00]), encodeAddress(stripZone(host), port)]);
}

