// Logging cost on the connection path: a logger that says debug lines go nowhere
// (Logger.debugEnabled false, as the CLI without -v and the extension below Debug level) is not
// even asked to write the per-connection ones; failures are still logged. Live server, curl.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '../../src/engine';
import { close, closedPort, eventually, httpServer, run, startProxy } from '../support/net';

function recorder(debugEnabled: boolean | undefined): { logger: Logger; debug: string[]; info: string[] } {
  const debug: string[] = [];
  const info: string[] = [];
  const logger: Logger = {
    ...(debugEnabled === undefined ? {} : { debugEnabled }),
    debug: (m) => debug.push(m),
    info: (m) => info.push(m),
    warn: (m) => info.push(m),
    error: (m) => info.push(m),
  };
  return { logger, debug, info };
}

async function oneFetchAndOneFailure(logger: Logger): Promise<void> {
  const http = await httpServer('ok\n');
  const { server, port } = await startProxy({ logger });
  try {
    const ok = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${http.port}/`]);
    assert.equal(ok.stdout, 'ok\n');
    const refused = await run('curl', ['-sS', '--max-time', '10', '--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${await closedPort()}/`]);
    assert.notEqual(refused.code, 0);
    await eventually(() => server.recentlyClosed().length === 2, 5000, 'both sessions to close');
  } finally {
    await server.stop();
    await close(http.server);
  }
}

describe('logging on the connection path', () => {
  it('debugEnabled false: no per-connection debug line is built or written; the failure is still logged', async () => {
    const r = recorder(false);
    await oneFetchAndOneFailure(r.logger);
    assert.deepEqual(r.debug, []);
    assert.ok(r.info.some((l) => /refused the connection/.test(l)), r.info.join('\n'));
  });

  it('debugEnabled absent: every connection is logged at debug (connected, CONNECT, established, closed)', async () => {
    const r = recorder(undefined);
    await oneFetchAndOneFailure(r.logger);
    for (const what of [/ connected$/, / SOCKS5 CONNECT 127\.0\.0\.1:\d+$/, / CONNECT established to 127\.0\.0\.1:\d+$/, / SOCKS5 closed: closed by /]) {
      assert.ok(r.debug.some((l) => what.test(l)), `${what} in:\n${r.debug.join('\n')}`);
    }
    assert.ok(r.info.some((l) => /refused the connection/.test(l)));
  });
});
