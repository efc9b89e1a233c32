// The engine's public API: the only module the VS Code layer and the CLI import.
export * from './types';
export { Socks5Server, StartError, resolveOptions } from './server';
export { formatHostPort } from './address';
export { REP, REPLY_NAMES } from './protocol/socks5/wire';
export { replyText } from './protocol/socks5/replies';
export { isLoopbackHost, isWildcardHost } from './loopback';
export { DEFAULT_OPTIONS, DEFAULT_TIMEOUTS, listenVerdict, type ListenVerdict } from './policy';
// Seams for rules and an upstream proxy (ServerOptions.resolver / .dialer).
export { systemResolver } from './net/resolver';
export { directDialer } from './net/dialer';
export { DialError, failureForError, type CommandContext, type CommandRegistry } from './commands/context';
// Rules (host-free: the extension validates its settings with the same compile the engine runs).
export { compileRules, rulesProblems, DEFAULT_RULES, type RulesOptions } from './rules/config';
export { hasDoor } from './protocol/available';
// The upstream (chained) proxy, ServerOptions.upstream: its checks (CLI, settings) and VS Code's own proxy.
export { UpstreamConfigError } from './server';
export { bypassProblems, compileUpstream, upstreamPasswordId, upstreamUrlProblems } from './upstream/config';
export { DIRECT_ROUTE } from './upstream/route';
export { vscodeProxy, type VsCodeProxy, type VsCodeProxyValues } from './upstream/vscodeProxy';
// Traffic: the sampler behind the Traffic panel and the CLI's --stats-interval, and its reports.
export { formatBytes, formatRate } from './units';
export {
  RateHistory,
  Ring,
  TrafficTable,
  TrafficTracker,
  WindowCounter,
  classifyOutcome,
  destinationKey,
  type ConnectionSummary,
  type LiveSession,
  type NowCounts,
  type OutcomeClass,
  type RatePoint,
  type RowKind,
  type TickResult,
  type TrafficOptions,
  type TrafficRow,
  type TrafficSource,
  type TrafficTotals,
} from './traffic';
export {
  CSV_COLUMNS,
  activeText,
  commandName,
  csvField,
  reportToCsv,
  reportToJson,
  rowName,
  summaryLine,
  tableText,
  trafficReport,
  type TrafficReport,
} from './trafficReport';
