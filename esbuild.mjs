// Bundles the extension (dist/extension.js, `vscode` external), the engine (dist/engine.js), the
// headless CLI (dist/cli.js) and the Traffic webview's script (media/traffic.js).
//   node esbuild.mjs               development build (sourcemaps)
//   node esbuild.mjs --production  minified, no sourcemaps
//   node esbuild.mjs --watch       rebuild on change; prints problem-matcher friendly lines
import * as esbuild from 'esbuild';

import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Prints start/finish/error lines in the shape of the `$esbuild-watch` problem matcher. */
const problemMatcherPlugin = {
  name: 'problem-matcher',
  setup(build) {
    build.onStart(() => {
      console.log('[watch] build started');
    });
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: watch ? 'silent' : 'warning',
  plugins: watch ? [problemMatcherPlugin] : [],
  // The CLI's command name is its `bin` name in package.json (also its npm package's name).
  define: { __VERSION__: JSON.stringify(pkg.version), __CLI_NAME__: JSON.stringify(Object.keys(pkg.bin)[0]) },
};

const targets = [
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  // The engine on its own, loaded by the extension when the proxy first starts (src/vscode/engine.ts).
  { ...common, entryPoints: ['src/engine/index.ts'], outfile: 'dist/engine.js' },
  { ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  // The Traffic panel's script: runs in the webview (a browser), loaded from media/ (src/vscode/trafficPanel.ts).
  { ...common, platform: 'browser', format: 'iife', target: 'es2022', entryPoints: ['src/webview/traffic.ts'], outfile: 'media/traffic.js' },
];

if (watch) {
  const contexts = await Promise.all(targets.map((t) => esbuild.context(t)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
}
