// RFC 1929 credential check. Constant-time: the time taken does not depend on where a guess
// differs, on the password's length, or on whether the username exists.

import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (b: Buffer | string) => createHash('sha256').update(b).digest();
const DUMMY = digest('socks5-proxy: no such user');

export class UserTable {
  private readonly digests = new Map<string, Buffer>();

  constructor(users: ReadonlyMap<string, string>) {
    for (const [name, password] of users) this.digests.set(name, digest(Buffer.from(password, 'utf8')));
  }

  get size(): number {
    return this.digests.size;
  }

  /** True when `username` exists and `password` matches. Never logs, never throws. */
  verify(username: string, password: Buffer): boolean {
    const expected = this.digests.get(username);
    const ok = timingSafeEqual(digest(password), expected ?? DUMMY);
    return ok && expected !== undefined;
  }
}
