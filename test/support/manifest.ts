// package.json as VS Code shows it in English: every %key% text resolved through package.nls.json
// (scripts/l10n-manifest.mjs moves the texts there). Tests that read titles, descriptions or
// welcome content read it through this.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

function resolveNls(v: unknown, nls: Record<string, string>): unknown {
  if (typeof v === 'string') return /^%[^%\s]+%$/.test(v) ? (nls[v.slice(1, -1)] ?? v) : v;
  if (Array.isArray(v)) return v.map((x) => resolveNls(x, nls));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveNls(x, nls)]));
  return v;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the manifest is JSON the tests walk freely
type Manifest = Record<string, any>;

export function readManifest(): Manifest {
  const nls = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.nls.json'), 'utf8')) as Record<string, string>;
  return resolveNls(JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')), nls) as Manifest;
}
