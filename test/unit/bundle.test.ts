// The extension bundle leaves the engine out: activation loads only the UI code, and the engine
// (dist/engine.js: net, dgram, dns, crypto) is required when the proxy first starts
// (src/vscode/engine.ts). Checks the built files (test/run-all.sh builds before the suites); the
// end-to-end suite proves the packaged extension still starts the proxy from dist/engine.js.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const dist = path.resolve(__dirname, '..', '..', 'dist');
const read = (f: string): string => readFileSync(path.join(dist, f), 'utf8');

describe('bundles', () => {
  it('dist/extension.js does not carry the engine, and loads dist/engine.js at run time', () => {
    const ext = read('extension.js');
    for (const mod of ['node:dgram', 'node:dns', 'node:crypto']) assert.ok(!ext.includes(mod), `${mod} is required by extension.js`);
    // Names only engine code uses (the relay's read buffer, the auth compare, the reset of a relay).
    for (const marker of ['useUserBuffer', 'timingSafeEqual', 'resetAndDestroy']) assert.ok(!ext.includes(marker), `engine code (${marker}) in extension.js`);
    assert.ok(ext.includes('"engine.js"'), 'extension.js names engine.js');
    assert.ok(!/^import |\brequire\("\.\/engine/.test(ext), 'engine.js is not required statically');
  });

  it('dist/engine.js is the engine on its own (no vscode), with what the extension uses', () => {
    const engine = read('engine.js');
    assert.ok(!engine.includes('require("vscode")'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dist, 'engine.js')) as Record<string, unknown>;
    assert.equal(typeof mod.Socks5Server, 'function');
    assert.equal(typeof mod.StartError, 'function');
  });

  it('.vscodeignore ships dist/engine.js', () => {
    const ignore = readFileSync(path.resolve(dist, '..', '.vscodeignore'), 'utf8');
    assert.match(ignore, /^!dist\/engine\.js$/m);
  });
});
