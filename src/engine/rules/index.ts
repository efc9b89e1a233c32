// Rules and patterns (issue 14): the one module that parses and matches destination patterns, for
// the destination rules, the client allow-list, the block-private preset and the upstream's bypass.
export { compilePatterns, parsePattern, matchesPattern, targetOf, normalizeName, PatternList, type Pattern, type Target } from './pattern';
export { parseRule, parseRules, DestinationPolicy, ClientList, type Rule, type Verdict, type Action, type DestinationPolicyOptions } from './rules';
export { invalidHostName } from './hostname';
export { PRIVATE_RANGES, PrivateNetworks, interfaceAddresses } from './private';
export { parseCidr, parseIp, cidrContains, type Cidr, type Ip } from './ip';
export { compileRules, rulesProblems, DEFAULT_RULES, NO_RULES, type RulesOptions, type CompiledRules } from './config';
