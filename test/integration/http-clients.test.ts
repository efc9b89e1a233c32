// Real HTTP-proxy clients against the HTTP door, each to loopback targets, with and without auth
// where the client has a way to send it: wget and git through http_proxy/https_proxy, Python
// requests (Debian's python3-requests), Node's undici ProxyAgent, and headless Chromium with
// --proxy-server=http://… and with --proxy-pac-url=…/proxy.pac.
import assert from 'node:assert/strict';
import util from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetch, ProxyAgent } from 'undici';
import { Socks5Server, systemResolver } from '../../src/engine';
import { originServer, selfSignedCert, tlsServer, type TlsFiles } from '../support/http';
import { close, eventually, listen, run, startProxy } from '../support/net';

/** The environment without any proxy settings of the machine's, plus `extra`. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'no_proxy', 'NO_PROXY']) delete e[k];
  return { ...e, ...extra };
}

/** A static file server for a folder (git's "dumb" HTTP protocol needs nothing more). */
async function staticServer(root: string): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = readFileSync(join(root, path));
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    }
  });
  return { server, port: await listen(server) };
}

const USER = 'alice';
const PASS = 'pa ss:wörd';
const auth = (port: number) => `http://${encodeURIComponent(USER)}:${encodeURIComponent(PASS)}@127.0.0.1:${port}`;

describe('HTTP proxy clients', () => {
  let open: Socks5Server;
  let openPort: number;
  let locked: Socks5Server;
  let lockedPort: number;
  let origin: Awaited<ReturnType<typeof originServer>>;
  let tls: TlsFiles;
  let https: Awaited<ReturnType<typeof tlsServer>>;

  before(async () => {
    ({ server: open, port: openPort } = await startProxy());
    ({ server: locked, port: lockedPort } = await startProxy({ users: new Map([[USER, PASS]]) }));
    origin = await originServer();
    tls = selfSignedCert();
    https = await tlsServer(tls);
  });
  after(async () => {
    await Promise.all([open.stop(), locked.stop()]);
    await Promise.all([close(origin.server), close(https.server)]);
    tls.dispose();
  });

  it('wget through http_proxy and https_proxy', async () => {
    for (const [proxyUrl, label] of [[`http://127.0.0.1:${openPort}`, 'no auth'], [auth(lockedPort), 'auth']] as const) {
      const e = env({ http_proxy: proxyUrl, https_proxy: proxyUrl });
      const h = await run('wget', ['-q', '-O', '-', '-T', '10', '-t', '1', `http://127.0.0.1:${origin.port}/`], 20_000, e);
      assert.equal(h.stdout, 'hello\n', `${label}: ${h.stderr}`);
      const s = await run('wget', ['-q', '-O', '-', '-T', '10', '-t', '1', `--ca-certificate=${tls.cert}`, `https://localhost:${https.port}/`], 20_000, e);
      assert.equal(s.stdout, 'hello over tls\n', `${label}: ${s.stderr}`);
    }
    await eventually(() => locked.recentlyClosed().some((c) => c.user === USER && c.protocol === 'http-connect'), 5000, 'the authenticated tunnel');
    const wrong = await run('wget', ['-q', '-O', '-', '-T', '10', '-t', '1', `http://127.0.0.1:${origin.port}/`], 20_000, env({ http_proxy: `http://${USER}:nope@127.0.0.1:${lockedPort}` }));
    assert.notEqual(wrong.code, 0, 'a wrong password gets no page');
  });

  it('git clones a repository over "dumb" HTTP through http_proxy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'socks5-http-git-'));
    try {
      const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe', timeout: 15_000, env: env({ GIT_CONFIG_NOSYSTEM: '1', HOME: dir }) });
      const work = join(dir, 'work');
      mkdirSync(work);
      git(work, 'init', '-q', '-b', 'main');
      writeFileSync(join(work, 'README'), 'through the HTTP door\n');
      git(work, 'add', 'README');
      git(work, '-c', 'user.name=t', '-c', 'user.email=t@t.test', 'commit', '-q', '-m', 'first');
      git(dir, 'clone', '-q', '--bare', work, 'served/repo.git');
      git(join(dir, 'served/repo.git'), 'update-server-info');
      const files = await staticServer(join(dir, 'served'));
      try {
        for (const [proxyUrl, server] of [[`http://127.0.0.1:${openPort}`, open], [auth(lockedPort), locked]] as const) {
          const before = server.stats().total;
          const target = join(dir, `clone-${server === open ? 'open' : 'auth'}`);
          const r = await run('git', ['clone', '-q', `http://127.0.0.1:${files.port}/repo.git`, target], 30_000, env({ http_proxy: proxyUrl, GIT_CONFIG_NOSYSTEM: '1', HOME: dir, GIT_TERMINAL_PROMPT: '0' }));
          assert.equal(r.code, 0, r.stderr);
          assert.equal(readFileSync(join(target, 'README'), 'utf8'), 'through the HTTP door\n');
          assert.ok(server.stats().total > before, 'git went through the proxy');
        }
      } finally {
        await close(files.server);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Python requests with an http:// proxy, http and https targets', async () => {
    const script = [
      'import sys, requests',
      'proxy = sys.argv[1]',
      'p = {"http": proxy, "https": proxy}',
      'print(requests.get(sys.argv[2], proxies=p, timeout=10).text, end="")',
      'print(requests.get(sys.argv[3], proxies=p, timeout=10, verify=sys.argv[4]).text, end="")',
      'r = requests.get(sys.argv[2], proxies={"http": sys.argv[5]}, timeout=10)',
      'print(r.status_code)',
    ].join('\n');
    for (const proxyUrl of [`http://127.0.0.1:${openPort}`, auth(lockedPort)]) {
      const r = await run('/usr/bin/python3', ['-c', script, proxyUrl, `http://127.0.0.1:${origin.port}/`, `https://localhost:${https.port}/`, tls.cert, `http://127.0.0.1:${lockedPort}`], 30_000, env({}));
      assert.equal(r.stdout, 'hello\nhello over tls\n407\n', r.stderr);
    }
  });

  it("Node's undici ProxyAgent, http and https targets, with a token and without", async () => {
    const token = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
    for (const agent of [new ProxyAgent({ uri: `http://127.0.0.1:${openPort}`, requestTls: { ca: readFileSync(tls.cert) } }), new ProxyAgent({ uri: `http://127.0.0.1:${lockedPort}`, token, requestTls: { ca: readFileSync(tls.cert) } })]) {
      try {
        const a = await fetch(`http://127.0.0.1:${origin.port}/`, { dispatcher: agent });
        assert.equal(await a.text(), 'hello\n');
        const b = await fetch(`https://localhost:${https.port}/`, { dispatcher: agent });
        assert.equal(await b.text(), 'hello over tls\n');
      } finally {
        await agent.close();
      }
    }
    const noToken = new ProxyAgent({ uri: `http://127.0.0.1:${lockedPort}` });
    try {
      await assert.rejects(fetch(`https://localhost:${https.port}/`, { dispatcher: noToken }), (e: Error) => /Proxy response \(407\)/.test(util.inspect(e)));
    } finally {
      await noToken.close();
    }
  });
});

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions'];

describe('headless Chromium through the HTTP door', () => {
  let proxy: Socks5Server;
  let port: number;
  let origin: Awaited<ReturnType<typeof originServer>>;
  let profile: string;

  before(async () => {
    // A name only the proxy knows: Chromium never proxies loopback through a PAC file, so the
    // PAC test asks for this name, which the proxy resolves to the loopback origin.
    ({ server: proxy, port } = await startProxy({
      resolver: { resolve: (h) => (h === 'pac-target.test' ? Promise.resolve(['127.0.0.1']) : systemResolver.resolve(h)) },
    }));
    origin = await originServer();
    profile = mkdtempSync(join(tmpdir(), 'socks5-http-chromium-'));
  });
  after(async () => {
    await proxy.stop();
    await close(origin.server);
    rmSync(profile, { recursive: true, force: true });
  });

  const chromium = (args: string[]) => run('/usr/bin/chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args], 60_000, env({}));

  it('--proxy-server=http://… fetches a page by HTTP forwarding', async () => {
    const before = origin.seen.length;
    const r = await chromium([`--proxy-server=http://127.0.0.1:${port}`, '--proxy-bypass-list=<-loopback>', '--dump-dom', `http://127.0.0.1:${origin.port}/`]);
    assert.match(r.stdout, /hello/);
    const seen = origin.seen.slice(before).find((s) => s.url === '/');
    assert.equal(seen?.headers.via, '1.1 socks5-proxy', 'the page came through the proxy');
  });

  it('--proxy-pac-url=…/proxy.pac: Chromium reads the PAC and goes through the proxy it names', async () => {
    const before = proxy.stats().total;
    const r = await chromium([`--proxy-pac-url=http://127.0.0.1:${port}/proxy.pac`, '--dump-dom', `http://pac-target.test:${origin.port}/`]);
    assert.match(r.stdout, /hello/);
    assert.ok(proxy.stats().total >= before + 2, 'the PAC fetch and the page both came to the proxy');
    const used = proxy.recentlyClosed().find((c) => c.destination?.host === 'pac-target.test');
    assert.ok(used, 'the page went through the proxy by name');
    assert.equal(used.protocol, 'socks5', 'the PAC names SOCKS5 first');
  });
});
