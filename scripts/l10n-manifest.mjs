#!/usr/bin/env node
// Moves every user-visible text of package.json (command titles, setting descriptions, view names,
// welcome content, walkthrough text …) into package.nls.json and leaves a %key% in its place, so
// VS Code shows package.nls.<language>.json's translation. Idempotent: texts that already are %key%
// are left alone. Prints the keys it added: translate them in package.nls.zh-cn.json
// (test/unit/l10n.test.ts fails until every key has its translation).
//
//   node scripts/l10n-manifest.mjs            convert and write
//   node scripts/l10n-manifest.mjs --check    exit 1 if anything would change
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgPath = join(root, 'package.json');
const nlsPath = join(root, 'package.nls.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
const nls = JSON.parse(readFileSync(nlsPath, 'utf8'));
const check = process.argv.includes('--check');
const added = [];
const changed = [];
let moved = 0;

const isKey = (v) => typeof v === 'string' && /^%[^%\s]+%$/.test(v);
const short = (id) => String(id).replace(/^socks5\./, '');

/** Replaces obj[field] by a %key% (text moved to package.nls.json). */
function move(obj, field, key) {
  const v = obj?.[field];
  if (typeof v !== 'string' || v === '' || isKey(v)) return;
  // The plain text in package.json is the newest: a key whose English changed is updated (and
  // its translation must be redone).
  if (nls[key] !== undefined && nls[key] !== v) changed.push(key);
  else if (nls[key] === undefined) added.push(key);
  nls[key] = v;
  obj[field] = `%${key}%`;
  moved++;
}

function moveArray(obj, field, key) {
  const a = obj?.[field];
  if (!Array.isArray(a)) return;
  a.forEach((_, i) => move(a, i, `${key}.${i}`));
}

move(pkg, 'displayName', 'extension.displayName');
move(pkg, 'description', 'extension.description');
move(pkg.capabilities?.untrustedWorkspaces, 'description', 'capabilities.untrustedWorkspaces.description');

const c = pkg.contributes ?? {};
for (const cmd of c.commands ?? []) {
  move(cmd, 'title', `command.${short(cmd.command)}.title`);
  move(cmd, 'shortTitle', `command.${short(cmd.command)}.shortTitle`);
}
for (const [where, list] of Object.entries(c.viewsContainers ?? {})) {
  for (const vc of list) move(vc, 'title', `viewsContainer.${where}.${vc.id}.title`);
}
for (const list of Object.values(c.views ?? {})) {
  for (const v of list) {
    move(v, 'name', `view.${short(v.id)}.name`);
    move(v, 'contextualTitle', `view.${short(v.id)}.contextualTitle`);
  }
}
const welcomeCount = {};
for (const w of c.viewsWelcome ?? []) {
  const view = short(w.view);
  welcomeCount[view] = (welcomeCount[view] ?? 0) + 1;
  move(w, 'contents', `viewsWelcome.${view}.${welcomeCount[view]}`);
}
const configs = Array.isArray(c.configuration) ? c.configuration : c.configuration ? [c.configuration] : [];
configs.forEach((conf, i) => {
  move(conf, 'title', configs.length > 1 ? `configuration.${i}.title` : 'configuration.title');
  for (const [id, p] of Object.entries(conf.properties ?? {})) {
    const k = `configuration.${short(id)}`;
    move(p, 'description', `${k}.description`);
    move(p, 'markdownDescription', `${k}.markdownDescription`);
    move(p, 'deprecationMessage', `${k}.deprecationMessage`);
    move(p, 'markdownDeprecationMessage', `${k}.markdownDeprecationMessage`);
    moveArray(p, 'enumDescriptions', `${k}.enumDescriptions`);
    moveArray(p, 'markdownEnumDescriptions', `${k}.markdownEnumDescriptions`);
    if (p.items && typeof p.items === 'object') {
      move(p.items, 'description', `${k}.items.description`);
      moveArray(p.items, 'enumDescriptions', `${k}.items.enumDescriptions`);
      moveArray(p.items, 'markdownEnumDescriptions', `${k}.items.markdownEnumDescriptions`);
    }
  }
});
for (const wt of c.walkthroughs ?? []) {
  const k = `walkthrough.${wt.id}`;
  move(wt, 'title', `${k}.title`);
  move(wt, 'description', `${k}.description`);
  for (const step of wt.steps ?? []) {
    move(step, 'title', `${k}.step.${step.id}.title`);
    move(step, 'description', `${k}.step.${step.id}.description`);
    if (step.media) move(step.media, 'altText', `${k}.step.${step.id}.altText`);
  }
}
for (const [where, list] of Object.entries(c.submenus ? { submenus: c.submenus } : {})) {
  for (const s of list) move(s, 'label', `${where}.${s.id}.label`);
}

if (check) {
  if (moved > 0) {
    console.error(`package.json has ${moved} text(s) that are not %key%: run node scripts/l10n-manifest.mjs`);
    process.exit(1);
  }
  process.exit(0);
}
if (moved > 0) {
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
  const sorted = Object.fromEntries(Object.keys(nls).sort().map((k) => [k, nls[k]]));
  writeFileSync(nlsPath, `${JSON.stringify(sorted, null, 2)}\n`);
  console.log(`moved ${moved} text(s) to package.nls.json`);
  if (added.length > 0) console.log(`new keys: translate them in package.nls.zh-cn.json:\n${added.map((k) => `  ${k}`).join('\n')}`);
  if (changed.length > 0) console.log(`English changed: update their translation in package.nls.zh-cn.json:\n${changed.map((k) => `  ${k}`).join('\n')}`);
} else {
  console.log('package.json: every user-visible text is already a %key%');
}
