// Host-free (no `vscode` import): the translator every user-visible string of the extension goes
// through. At activation extension.ts passes in `vscode.l10n.t` (which reads l10n/bundle.l10n.*.json
// for the display language); unit tests and the English default use `formatMessage`.
//
// Rules (test/unit/l10n.test.ts enforces them):
// - the message is a plain string literal, `{0}`, `{1}` … for arguments, so it can be extracted;
// - every message has an entry in l10n/bundle.l10n.zh-cn.json, and every entry is used;
// - log lines are not translated (they get pasted into bug reports): a message that goes to both
//   is built once with `localized()` (its `english` for the log, its `text` for the UI).

export type TranslateArg = string | number;
export type Translate = (message: string, ...args: TranslateArg[]) => string;

/** Substitutes `{0}`, `{1}` … in `message`; an index without an argument stays as written. */
export function formatMessage(message: string, args: readonly TranslateArg[]): string {
  if (args.length === 0) return message;
  return message.replace(/\{(\d+)\}/g, (whole, i: string) => {
    const v = args[Number(i)];
    return v === undefined ? whole : String(v);
  });
}

const englishTranslate: Translate = (message, ...args) => formatMessage(message, args);
let current: Translate = englishTranslate;

/** Uses `translate` from now on (extension.ts: `vscode.l10n.t`). Returns the previous one. */
export function setTranslator(translate: Translate): Translate {
  const previous = current;
  current = translate;
  return previous;
}

/** The user-visible text of `message` in the display language. */
export function t(message: string, ...args: TranslateArg[]): string {
  return current(message, ...args);
}

/**
 * A message that goes both to the log (English) and to the UI (display language): build it once,
 * pass `{ english, text }` on.
 */
export interface Localized {
  /** For the log. */
  readonly english: string;
  /** For notifications, tooltips and rows. */
  readonly text: string;
}

/** Builds a Localized; an argument that is itself Localized goes in as its English or its text. */
export function localized(message: string, ...args: Array<TranslateArg | Localized>): Localized {
  const en = args.map((a) => (typeof a === 'object' ? a.english : a));
  const local = args.map((a) => (typeof a === 'object' ? a.text : a));
  return { english: formatMessage(message, en), text: current(message, ...local) };
}

/** Text that has no translation (a raw error message from the OS or the network). */
export function untranslated(text: string): Localized {
  return { english: text, text };
}

/**
 * A count with its noun: `tPlural(n, '{0} user', '{0} users')`. Both forms are messages (languages
 * without a plural, such as Chinese, translate them alike).
 */
export function tPlural(n: number, one: string, many: string): string {
  return n === 1 ? current(one, n) : current(many, n);
}
