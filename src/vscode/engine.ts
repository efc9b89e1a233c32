// The engine, loaded when the proxy first starts rather than when the extension activates:
// activation then loads only the UI code (the engine brings in net, dgram, dns and crypto).
// In the package the engine is dist/engine.js beside dist/extension.js (see esbuild.mjs);
// `import type` keeps its types available here without loading it.
import { join } from 'node:path';
import type * as Engine from '../engine';

let loaded: typeof Engine | undefined;

export function engine(): typeof Engine {
  // A computed path, so the bundler leaves this require to run time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the lazy load is the point
  return (loaded ??= require(join(__dirname, ENGINE_FILE)) as typeof Engine);
}

const ENGINE_FILE = 'engine.js';
