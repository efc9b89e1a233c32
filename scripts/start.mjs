// `npm start`: builds dist/ if needed, then runs the CLI in this same process, so that the
// SIGINT/SIGTERM npm forwards reach the proxy itself (`a && node dist/cli.js` under `sh -c`
// left the proxy running when npm's process was told to stop).
import { pathToFileURL } from 'node:url';
import './ensure-built.mjs';

await import(pathToFileURL(new URL('../dist/cli.js', import.meta.url).pathname).href);
