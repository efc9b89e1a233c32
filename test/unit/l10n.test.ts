// Every user-visible string of the extension is localizable, and the Simplified Chinese bundles are
// complete and have nothing stale:
// - runtime strings: every message passed to t(), localized(), tPlural() (src/vscode/l10n.ts) or
//   vscode.l10n.t() anywhere in the VS Code layer is a string literal with an entry in
//   l10n/bundle.l10n.zh-cn.json, and every entry there is used;
// - the manifest: every %key% in package.json has an entry in package.nls.json and
//   package.nls.zh-cn.json, and both have no other keys.
// Translations keep the message's {N} placeholders and, outside code and names, read as Chinese.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { formatMessage, localized, setTranslator, t, tPlural } from '../../src/vscode/l10n';

const root = path.resolve(__dirname, '..', '..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(root, p), 'utf8'));

/** The VS Code layer's source files (where user-visible strings live). */
function sourceFiles(): string[] {
  const out = [path.join(root, 'src', 'extension.ts')];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  walk(path.join(root, 'src', 'vscode'));
  return out;
}

/** Callee → which arguments are messages. */
const MESSAGE_ARGS: Record<string, number[]> = { t: [0], localized: [0], tPlural: [1, 2], 'l10n.t': [0] };

interface Extracted {
  messages: Map<string, string>; // message → first place it is used
  problems: string[];
}

function calleeName(e: ts.Expression): string | undefined {
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression) && e.expression.text === 'l10n' && e.name.text === 't') return 'l10n.t';
  if (ts.isPropertyAccessExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'l10n' && e.name.text === 't') return 'l10n.t';
  return undefined;
}

function extract(): Extracted {
  const messages = new Map<string, string>();
  const problems: string[] = [];
  for (const file of sourceFiles()) {
    if (file.endsWith(`${path.sep}l10n.ts`)) continue; // the definitions themselves
    const text = readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      // setTranslator((message, ...args) => vscode.l10n.t(message, ...args)): the one place that forwards.
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'setTranslator') return;
      if (ts.isCallExpression(node)) {
        const name = calleeName(node.expression);
        const which = name ? MESSAGE_ARGS[name] : undefined;
        if (which) {
          for (const i of which) {
            const arg = node.arguments[i];
            const where = `${path.relative(root, file)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
            if (arg && (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg))) {
              if (!messages.has(arg.text)) messages.set(arg.text, where);
            } else {
              problems.push(`${where}: ${name}() needs a string literal message (use {0} for values), got ${arg?.getText(sf) ?? 'nothing'}`);
            }
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return { messages, problems };
}

const placeholders = (s: string): string => [...s.matchAll(/\{(\d+)\}/g)].map((m) => m[1]).sort().join(',');
/** Strips what stays as written in any language: code spans, setting ids, URLs, command links, codicons, placeholders. */
const prose = (s: string): string =>
  s
    .replace(/`[^`]*`/g, '')
    .replace(/\$\([\w~-]+\)/g, '')
    .replace(/\(command:[^)]*\)/g, '')
    .replace(/https?:\/\/\S+/g, '')
    .replace(/#?socks5\.[\w.]+#?/g, '')
    .replace(/\{\d+\}/g, '');
const hasCjk = (s: string): boolean => /[\u3400-\u9fff]/.test(s);
/** Messages made only of names, protocol words and symbols need no Chinese (SOCKS5, CONNECT, ↑ {0} ↓ {1}). */
const needsChinese = (s: string): boolean => /[a-z]{2,}/.test(prose(s));

function checkBundle(kind: string, keys: Map<string, string>, bundle: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [k, where] of keys) {
    const v = bundle[k];
    if (typeof v !== 'string' || v.trim() === '') {
      problems.push(`${kind}: no zh-cn entry for ${JSON.stringify(k)} (${where})`);
      continue;
    }
    if (placeholders(v) !== placeholders(k)) problems.push(`${kind}: placeholders differ in ${JSON.stringify(k)} → ${JSON.stringify(v)}`);
    if (needsChinese(k) && !hasCjk(v)) problems.push(`${kind}: ${JSON.stringify(k)} is not translated (${JSON.stringify(v)})`);
  }
  for (const k of Object.keys(bundle)) if (!keys.has(k)) problems.push(`${kind}: stale zh-cn entry ${JSON.stringify(k)} (nothing uses it)`);
  return problems;
}

/** Where text reaches the user: a literal here is English that can never be translated. */
const UI_CALLS = new Set(['showInformationMessage', 'showWarningMessage', 'showErrorMessage', 'setStatusBarMessage']);
const UI_PROPS = new Set(['title', 'placeHolder', 'prompt', 'tooltip', 'label', 'description', 'detail', 'message', 'name']);

/** Plain English literals handed to the UI (a notification, a quick pick, a tree item …) instead of t(). */
function untranslatedUiText(): string[] {
  const out: string[] = [];
  for (const file of sourceFiles()) {
    if (file.endsWith(`${path.sep}l10n.ts`)) continue;
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const where = (n: ts.Node): string => `${path.relative(root, file)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
    const literal = (e: ts.Expression | undefined): string | undefined => {
      if (!e) return undefined;
      if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
      if (ts.isTemplateExpression(e)) return e.head.text + e.templateSpans.map((x) => x.literal.text).join(' ');
      return undefined;
    };
    const check = (e: ts.Expression | undefined, what: string): void => {
      const text = literal(e);
      // One word (an example such as 'alice', an id) is not prose.
      if (text !== undefined && /\s/.test(text.trim()) && needsChinese(text)) out.push(`${where(e!)}: ${what} ${JSON.stringify(text.slice(0, 60))}`);
    };
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && UI_CALLS.has(node.expression.name.text)) {
        for (const a of node.arguments) check(a, `${node.expression.name.text}()`);
      }
      if (ts.isNewExpression(node) && ts.isPropertyAccessExpression(node.expression) && ['TreeItem', 'MarkdownString'].includes(node.expression.name.text)) {
        check(node.arguments?.[0], `new ${node.expression.name.text}()`);
      }
      if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) && UI_PROPS.has(node.name.text)) {
        check(node.initializer, `${node.name.text}:`);
      }
      if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isPropertyAccessExpression(node.left) && UI_PROPS.has(node.left.name.text)) {
        check(node.right, `.${node.left.name.text} =`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

describe('l10n: runtime strings', () => {
  it('no plain English literal goes to a notification, quick pick, input box, tree item or tooltip', () => {
    const found = untranslatedUiText();
    assert.deepEqual(found, [], `\n${found.join('\n')}`);
  });

  it('every message is a literal with a zh-cn translation, and no entry is stale', () => {
    const { messages, problems } = extract();
    assert.ok(messages.size > 50, `only ${messages.size} messages found: the extractor is broken`);
    const bundle = readJson('l10n/bundle.l10n.zh-cn.json');
    problems.push(...checkBundle('runtime', messages, bundle));
    assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
  });

  it('the manifest points VS Code at the bundles', () => {
    assert.equal(readJson('package.json').l10n, './l10n');
  });

  it('formats placeholders, and the translator can be swapped', () => {
    assert.equal(formatMessage('{0} of {1}, {0} again, {2} kept', [1, 'two']), '1 of two, 1 again, {2} kept');
    assert.equal(t('Copied {0}', 'x'), 'Copied x');
    const prev = setTranslator((m, ...a) => `<${formatMessage(m, a)}>`);
    try {
      assert.equal(t('Copied {0}', 'x'), '<Copied x>');
      assert.equal(tPlural(1, '{0} user', '{0} users'), '<1 user>');
      assert.equal(tPlural(2, '{0} user', '{0} users'), '<2 users>');
      assert.deepEqual(localized('Stopped {0}', 3), { english: 'Stopped 3', text: '<Stopped 3>' });
    } finally {
      setTranslator(prev);
    }
  });
});

/** The manifest's %key% references, wherever they are. */
function manifestKeys(value: unknown, out = new Map<string, string>(), at = ''): Map<string, string> {
  if (typeof value === 'string') {
    const m = /^%([^%\s]+)%$/.exec(value);
    if (m) out.set(m[1], at);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => manifestKeys(v, out, `${at}[${i}]`));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) manifestKeys(v, out, at ? `${at}.${k}` : k);
  }
  return out;
}

/** Manifest fields a user reads: they must be %key% references, not plain text. */
const LOCALIZABLE = /(^|\.)(title|description|markdownDescription|enumDescriptions\[\d+\]|markdownEnumDescriptions\[\d+\]|contents|name|contextualTitle|displayName|altText|shortTitle)$/;

function plainManifestText(value: unknown, at = '', out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (LOCALIZABLE.test(at) && !/^%[^%\s]+%$/.test(value)) out.push(`${at}: ${JSON.stringify(value.slice(0, 60))}`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => plainManifestText(v, `${at}[${i}]`, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) plainManifestText(v, at ? `${at}.${k}` : k, out);
  }
  return out;
}

describe('l10n: manifest', () => {
  const pkg = readJson('package.json');
  const keys = manifestKeys(pkg);

  it('every text a user reads in contributes is a %key%', () => {
    const plain = plainManifestText(pkg.contributes, 'contributes');
    assert.deepEqual(plain, [], `\n${plain.join('\n')}`);
  });

  it('package.nls.json has exactly the keys package.json uses', () => {
    const nls = readJson('package.nls.json');
    const missing = [...keys.keys()].filter((k) => typeof nls[k] !== 'string' || (nls[k]).trim() === '');
    const stale = Object.keys(nls).filter((k) => !keys.has(k));
    assert.deepEqual({ missing, stale }, { missing: [], stale: [] });
  });

  it('package.nls.zh-cn.json translates every key, and no more', () => {
    const nls = readJson('package.nls.json') as Record<string, string>;
    const zh = readJson('package.nls.zh-cn.json');
    const problems: string[] = [];
    for (const k of keys.keys()) {
      const v = zh[k];
      const en = nls[k] ?? '';
      if (typeof v !== 'string' || v.trim() === '') problems.push(`manifest: no zh-cn entry for ${k}`);
      else if (placeholders(v) !== placeholders(en)) problems.push(`manifest: placeholders differ in ${k}`);
      else if (needsChinese(en) && !hasCjk(v)) problems.push(`manifest: ${k} is not translated (${JSON.stringify(v.slice(0, 40))})`);
    }
    for (const k of Object.keys(zh)) if (!keys.has(k)) problems.push(`manifest: stale zh-cn entry ${k}`);
    assert.ok(keys.size > 20, `only ${keys.size} manifest keys found: the collector is broken`);
    assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
  });
});
