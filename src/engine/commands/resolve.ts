// Tor's RESOLVE (0xF0) and RESOLVE_PTR (0xF1) SOCKS5 extensions, as torsocks uses them: the
// request names a host (RESOLVE) or an address (RESOLVE_PTR); the success reply carries the
// answer in BND.ADDR (an address, or a name), and the connection closes. Names go through the
// server's Resolver like every other command's.

import { isIP } from 'node:net';
import { errorCode, type CommandContext } from './context';

export function handleResolve(ctx: CommandContext): void {
  const { host } = ctx.destination;
  if (isIP(host) !== 0) return answer(ctx, host, `${host} is an address`);
  ctx.update({ state: 'connecting' });
  ctx.config.resolver.resolve(host).then(
    (addresses) => {
      // Tor answers with one address, IPv4 first (what torsocks' callers expect of gethostbyname).
      const address = addresses.find((a) => isIP(a) === 4) ?? addresses[0];
      if (address === undefined) return failed(ctx, `cannot resolve ${host} (no address)`);
      answer(ctx, address, `resolved ${host} to ${address}`);
    },
    (err: unknown) => failed(ctx, `cannot resolve ${host} (${errorCode(err) ?? (err instanceof Error ? err.message : 'error')})`),
  );
}

export function handleResolvePtr(ctx: CommandContext): void {
  const { host, type } = ctx.destination;
  if (type === 'domain') return ctx.fail('unsupported-address', 'RESOLVE_PTR needs an address, not a name');
  const resolver = ctx.config.resolver;
  if (!resolver.reverse) return ctx.fail('unsupported-command', 'this resolver has no reverse lookup');
  ctx.update({ state: 'connecting' });
  resolver.reverse(host).then(
    (names) => {
      const name = names.find((n) => n.length > 0 && Buffer.byteLength(n) <= 255);
      if (name === undefined) return failed(ctx, `no name for ${host}`);
      answer(ctx, name, `${host} is ${name}`);
    },
    (err: unknown) => failed(ctx, `no name for ${host} (${errorCode(err) ?? 'error'})`),
  );
}

function answer(ctx: CommandContext, value: string, message: string): void {
  if (ctx.isClosed) return;
  ctx.succeed({ host: value, port: 0 });
  ctx.close({ kind: 'closed', message }, true);
}

function failed(ctx: CommandContext, detail: string): void {
  if (!ctx.isClosed) ctx.fail('host-unreachable', detail);
}
