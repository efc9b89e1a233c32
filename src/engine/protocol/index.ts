// The front doors a server serves (see ./door). A new protocol is a folder beside ./socks5 and one
// entry here.

import type { Door } from './door';
import { httpDoor } from './http/door';
import { socks4Door } from './socks4/door';
import { socks5Door } from './socks5/door';

export const DOORS: readonly Door[] = [socks5Door, socks4Door, httpDoor];
