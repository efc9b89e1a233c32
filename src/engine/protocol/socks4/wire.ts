// The SOCKS4 wire format (Ying-Da Lee, "SOCKS: A protocol for TCP proxy across firewalls") and the
// SOCKS4a extension (a name resolved by the proxy). Pure functions over bytes; parsers follow
// ../parse (done / more / error).
//
// Request:
//   +----+----+----+----+----+----+----+----+----+----+....+----+
//   | VN | CD | DSTPORT |      DSTIP        | USERID       |NULL|
//   +----+----+----+----+----+----+----+----+----+----+....+----+
//      1    1      2              4           variable       1
// SOCKS4a: DSTIP 0.0.0.x (x ≠ 0), and after USERID's NUL the host name and a NUL.
//
// Reply (VN is 0, not 4):
//   +----+----+----+----+----+----+----+----+
//   | VN | CD | DSTPORT |      DSTIP        |
//   +----+----+----+----+----+----+----+----+

import { isIPv4 } from 'node:net';
import { hex, toIPv4 } from '../../address';
import { done, error, MORE, type Parse } from '../parse';

export const SOCKS4_VERSION = 0x04;

/** CD values of a request. */
export const CD = { CONNECT: 0x01, BIND: 0x02 } as const;

/** CD values of a reply. */
export const REPLY4 = {
  GRANTED: 0x5a,
  REJECTED: 0x5b,
  /** 0x5C/0x5D are identd failures: this server never asks identd. */
} as const;

/** Longest USERID and SOCKS4a host name accepted (bytes, without the NUL). */
export const MAX_USERID = 255;
export const MAX_HOSTNAME = 255;

export interface Socks4Request {
  cmd: number;
  port: number;
  /** An IPv4 address (SOCKS4) or a name (SOCKS4a). */
  host: string;
  type: 'ipv4' | 'domain';
  /** The USERID field (not a credential: SOCKS4 has none). */
  userid: string;
}

/** Index of the first NUL at or after `from`, within `max` bytes; -1 = not yet; -2 = none within the bound. */
function nul(buf: Buffer, from: number, max: number): number {
  const end = Math.min(buf.length, from + max + 1);
  for (let i = from; i < end; i++) if (buf[i] === 0) return i;
  return buf.length >= from + max + 1 ? -2 : -1;
}

export function parseSocks4Request(buf: Buffer): Parse<Socks4Request> {
  if (buf.length < 1) return MORE;
  if (buf[0] !== SOCKS4_VERSION) return error(`not SOCKS4 (version byte 0x${hex(buf[0])})`);
  if (buf.length < 8) return MORE;
  const cmd = buf[1];
  const port = buf.readUInt16BE(2);
  const a = buf[4], b = buf[5], c = buf[6], d = buf[7];
  const u = nul(buf, 8, MAX_USERID);
  if (u === -2) return error(`SOCKS4 user id longer than ${MAX_USERID} bytes (no NUL)`, REPLY4.REJECTED);
  if (u === -1) return MORE;
  const userid = buf.toString('utf8', 8, u);
  if (a === 0 && b === 0 && c === 0 && d !== 0) {
    const h = nul(buf, u + 1, MAX_HOSTNAME);
    if (h === -2) return error(`SOCKS4a host name longer than ${MAX_HOSTNAME} bytes (no NUL)`, REPLY4.REJECTED);
    if (h === -1) return MORE;
    if (h === u + 1) return error('SOCKS4a empty host name', REPLY4.REJECTED);
    return done({ cmd, port, host: buf.toString('utf8', u + 1, h), type: 'domain', userid }, h + 1);
  }
  return done({ cmd, port, host: `${a}.${b}.${c}.${d}`, type: 'ipv4', userid }, u + 1);
}

/** An 8-byte reply. `host` must be IPv4 (or IPv4-mapped) to be named; anything else is sent as 0.0.0.0. */
export function encodeSocks4Reply(cd: number, host = '0.0.0.0', port = 0): Buffer {
  const b = Buffer.alloc(8);
  b[1] = cd;
  b.writeUInt16BE(port, 2);
  const v4 = toIPv4(host);
  if (v4 !== undefined && isIPv4(v4)) {
    const p = v4.split('.');
    for (let i = 0; i < 4; i++) b[4 + i] = Number(p[i]);
  }
  return b;
}

/** The client's side (tests): VN CD PORT IP USERID NUL [HOST NUL]. */
export function encodeSocks4Request(cmd: number, host: string, port: number, userid = ''): Buffer {
  const head = Buffer.alloc(8);
  head[0] = SOCKS4_VERSION;
  head[1] = cmd;
  head.writeUInt16BE(port, 2);
  const uid = Buffer.concat([Buffer.from(userid, 'utf8'), Buffer.from([0])]);
  if (isIPv4(host)) {
    const p = host.split('.');
    for (let i = 0; i < 4; i++) head[4 + i] = Number(p[i]);
    return Buffer.concat([head, uid]);
  }
  head[7] = 1; // 0.0.0.1: SOCKS4a
  return Buffer.concat([head, uid, Buffer.from(host, 'utf8'), Buffer.from([0])]);
}

export interface Socks4Reply {
  cd: number;
  port: number;
  host: string;
}

/** The client's side (tests). */
export function parseSocks4Reply(buf: Buffer): Parse<Socks4Reply> {
  if (buf.length < 8) return MORE;
  if (buf[0] !== 0) return error(`bad SOCKS4 reply version 0x${hex(buf[0])}`);
  return done({ cd: buf[1], port: buf.readUInt16BE(2), host: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}` }, 8);
}
