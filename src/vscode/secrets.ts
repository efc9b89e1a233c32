// Passwords live only in VS Code's SecretStorage, one entry per user (`socks5.password.<user>`).
import type * as vscode from 'vscode';
import { passwordKey, upstreamPasswordKey, userFromPasswordKey } from './settings';
import type { Log } from './log';
import { errorMessage } from './log';

export class Secrets {
  constructor(
    private readonly storage: vscode.SecretStorage,
    private readonly log: Log,
  ) {}

  /** The stored password, or undefined (none stored, or the secret store failed: logged). */
  async get(user: string): Promise<string | undefined> {
    try {
      return await this.storage.get(passwordKey(user));
    } catch (err) {
      this.log.error(`Cannot read the password of "${user}" from SecretStorage: ${errorMessage(err)}`);
      return undefined;
    }
  }

  async has(user: string): Promise<boolean> {
    const p = await this.get(user);
    return p !== undefined && p !== '';
  }

  async set(user: string, password: string): Promise<void> {
    await this.storage.store(passwordKey(user), password);
  }

  async delete(user: string): Promise<void> {
    await this.storage.delete(passwordKey(user));
  }

  /** user → password (undefined when none is stored) for each user. */
  async passwords(users: readonly string[]): Promise<Map<string, string | undefined>> {
    const entries = await Promise.all(users.map(async (u) => [u, await this.get(u)] as const));
    return new Map(entries);
  }

  /** The upstream password stored for `id` (`alice@proxy:1080`), or undefined. */
  async upstreamPassword(id: string): Promise<string | undefined> {
    try {
      return await this.storage.get(upstreamPasswordKey(id));
    } catch (err) {
      this.log.error(`Cannot read the upstream password of ${id} from SecretStorage: ${errorMessage(err)}`);
      return undefined;
    }
  }

  async setUpstreamPassword(id: string, password: string): Promise<void> {
    await this.storage.store(upstreamPasswordKey(id), password);
  }

  /** Fires when an upstream password entry changes. */
  onDidChangeUpstream(listener: () => void): vscode.Disposable {
    const prefix = upstreamPasswordKey('');
    return this.storage.onDidChange((e) => {
      if (e.key.startsWith(prefix)) listener();
    });
  }

  /** Fires with the user name when one of our password entries changes. */
  onDidChange(listener: (user: string) => void): vscode.Disposable {
    return this.storage.onDidChange((e) => {
      const user = userFromPasswordKey(e.key);
      if (user !== undefined) listener(user);
    });
  }
}
