// The engine's public API: the only module the VS Code layer and the CLI import.
export * from './types';
export { Socks5Server, StartError, resolveOptions } from './server';
export { formatHostPort, REP, REPLY_NAMES } from './wire';
export { replyText } from './replies';
export { isLoopbackHost, isWildcardHost } from './loopback';
