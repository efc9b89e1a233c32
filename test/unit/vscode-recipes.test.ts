// Every line "reach" generates: proxy URLs, terminal environment, the "Use This Proxy With…"
// lines, the reading of asExternalUri results and the tunnel recipes (src/vscode/recipes.ts).
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readManifest } from '../support/manifest';
import { hasDoor } from '../../src/engine';
import { STATUS_TOOLTIP_COMMANDS, statusTooltip, type StatusModel } from '../../src/vscode/format';
import {
  NO_PROXY,
  PASSWORD_PLACEHOLDER,
  WALKTHROUGH_ID,
  classifyExternalUri,
  englishT,
  fishQuote,
  hostPort,
  pacUrl,
  proxyEnvironment,
  proxyUrl,
  psQuote,
  recipes,
  shQuote,
  tunnelRecipes,
  whereText,
  whereabouts,
  type Doors,
  type RecipeId,
  type RecipeTarget,
} from '../../src/vscode/recipes';

const SOCKS_ONLY: Doors = { socks5: true, http: false };
const BOTH: Doors = { socks5: true, http: true };
const HTTP_ONLY: Doors = { socks5: false, http: true };
const V4 = { host: '127.0.0.1', port: 1080 };
const V6 = { host: '::1', port: 1081 };
/** What a Remote-SSH window's forward looks like: VS Code picked another local port. */
const FORWARDED = { host: '127.0.0.1', port: 54321 };

function lines(target: RecipeTarget): Record<RecipeId, string> {
  return Object.fromEntries(recipes(target).map((r) => [r.id, r.available ? r.text : `(unavailable) ${r.detail}`])) as Record<RecipeId, string>;
}

describe('proxy URLs', () => {
  it('brackets IPv6, turns wildcards into loopback, encodes users, never prints a password it was not given', () => {
    assert.equal(proxyUrl('socks5h', V4), 'socks5h://127.0.0.1:1080');
    assert.equal(proxyUrl('socks5h', V6), 'socks5h://[::1]:1081');
    assert.equal(proxyUrl('http', { host: '::', port: 8080 }), 'http://[::1]:8080');
    assert.equal(proxyUrl('socks5', { host: '0.0.0.0', port: 1 }), 'socks5://127.0.0.1:1');
    assert.equal(proxyUrl('socks5h', V4, { user: 'alice' }), `socks5h://alice:${PASSWORD_PLACEHOLDER}@127.0.0.1:1080`);
    assert.equal(proxyUrl('socks5h', V4, { user: 'a@b:c d' }), `socks5h://a%40b%3Ac%20d:${PASSWORD_PLACEHOLDER}@127.0.0.1:1080`);
    assert.equal(proxyUrl('http', V6, { user: 'bob', password: 'p@ss:w/rd' }), 'http://bob:p%40ss%3Aw%2Frd@[::1]:1081');
    assert.equal(hostPort({ host: 'fe80::1', port: 9 }), '[fe80::1]:9');
    assert.equal(pacUrl(V4), 'http://127.0.0.1:1080/proxy.pac');
    assert.equal(pacUrl(V6), 'http://[::1]:1081/proxy.pac');
  });
});

describe('shell quoting', () => {
  it('leaves plain words bare and quotes the rest for each shell', () => {
    assert.equal(shQuote('socks5h://127.0.0.1:1080'), 'socks5h://127.0.0.1:1080');
    assert.equal(shQuote('socks5h://[::1]:1080'), `'socks5h://[::1]:1080'`);
    assert.equal(shQuote("it's"), `'it'\\''s'`);
    assert.equal(fishQuote('a\\b c'), `'a\\\\b c'`);
    assert.equal(psQuote("it's"), `'it''s'`);
  });
});

describe('terminal environment', () => {
  it('SOCKS5 only: ALL_PROXY and NO_PROXY, both cases', () => {
    assert.deepEqual(proxyEnvironment(V4, SOCKS_ONLY), [
      ['ALL_PROXY', 'socks5h://127.0.0.1:1080'],
      ['all_proxy', 'socks5h://127.0.0.1:1080'],
      ['NO_PROXY', NO_PROXY],
      ['no_proxy', NO_PROXY],
    ]);
    assert.equal(NO_PROXY, 'localhost,127.0.0.1,::1');
  });

  it('with the HTTP door: HTTP_PROXY and HTTPS_PROXY too', () => {
    assert.deepEqual(proxyEnvironment(V6, BOTH), [
      ['ALL_PROXY', 'socks5h://[::1]:1081'],
      ['all_proxy', 'socks5h://[::1]:1081'],
      ['HTTP_PROXY', 'http://[::1]:1081'],
      ['http_proxy', 'http://[::1]:1081'],
      ['HTTPS_PROXY', 'http://[::1]:1081'],
      ['https_proxy', 'http://[::1]:1081'],
      ['NO_PROXY', NO_PROXY],
      ['no_proxy', NO_PROXY],
    ]);
  });

  it('SOCKS5 off: ALL_PROXY is the HTTP door', () => {
    assert.equal(proxyEnvironment(V4, HTTP_ONLY)[0][1], 'http://127.0.0.1:1080');
  });

  it('carries credentials only when given them', () => {
    assert.equal(proxyEnvironment(V4, SOCKS_ONLY, { user: 'alice', password: 's3cr:t' })[0][1], 'socks5h://alice:s3cr%3At@127.0.0.1:1080');
  });
});

describe('Use This Proxy With… lines', () => {
  it('SOCKS5 only, no users, IPv4', () => {
    const l = lines({ address: V4, doors: SOCKS_ONLY });
    assert.equal(l.curl, 'curl --proxy socks5h://127.0.0.1:1080 https://example.com/');
    assert.equal(l['git-repo'], 'git config http.proxy socks5h://127.0.0.1:1080');
    assert.equal(l['git-global'], 'git config --global http.proxy socks5h://127.0.0.1:1080');
    assert.match(l.npm, /^\(unavailable\) npm cannot use a SOCKS5 proxy/);
    assert.equal(l.pip, 'pip install --proxy socks5h://127.0.0.1:1080 PACKAGE');
    assert.equal(
      l.requests,
      "import requests; print(requests.get('https://example.com/', proxies={'http': 'socks5h://127.0.0.1:1080', 'https': 'socks5h://127.0.0.1:1080'}).status_code)",
    );
    assert.equal(
      l['env-sh'],
      'export ALL_PROXY=socks5h://127.0.0.1:1080 all_proxy=socks5h://127.0.0.1:1080 NO_PROXY=localhost,127.0.0.1,::1 no_proxy=localhost,127.0.0.1,::1',
    );
    assert.equal(
      l['env-fish'],
      'set -gx ALL_PROXY socks5h://127.0.0.1:1080; set -gx all_proxy socks5h://127.0.0.1:1080; set -gx NO_PROXY localhost,127.0.0.1,::1; set -gx no_proxy localhost,127.0.0.1,::1',
    );
    assert.equal(
      l['env-powershell'],
      "$env:ALL_PROXY = 'socks5h://127.0.0.1:1080'; $env:all_proxy = 'socks5h://127.0.0.1:1080'; $env:NO_PROXY = 'localhost,127.0.0.1,::1'; $env:no_proxy = 'localhost,127.0.0.1,::1'",
    );
    assert.equal(l.ssh, "ssh -o ProxyCommand='nc -X 5 -x 127.0.0.1:1080 %h %p' user@host");
    assert.equal(
      l.chromium,
      `chromium --user-data-dir="$HOME/.chromium-socks5" --proxy-server=socks5://127.0.0.1:1080 --host-resolver-rules='MAP * ~NOTFOUND, EXCLUDE 127.0.0.1' --proxy-bypass-list='<-loopback>'`,
    );
    assert.equal(
      l.firefox,
      [
        'user_pref("network.proxy.type", 1);',
        'user_pref("network.proxy.socks", "127.0.0.1");',
        'user_pref("network.proxy.socks_port", 1080);',
        'user_pref("network.proxy.socks_version", 5);',
        'user_pref("network.proxy.socks_remote_dns", true);',
        'user_pref("network.proxy.allow_hijacking_localhost", true);',
      ].join('\n'),
    );
    assert.match(l.pac, /^\(unavailable\) The PAC file is served by the HTTP door/);
    const ff = recipes({ address: V4, doors: SOCKS_ONLY }).find((r) => r.id === 'firefox')!;
    assert.match(ff.detail, /SOCKS Host 127\.0\.0\.1, Port 1080, SOCKS v5, tick "Proxy DNS when using SOCKS v5"/);
  });

  it('lists every tool the issue names, in a stable order', () => {
    assert.deepEqual(
      recipes({ address: V4, doors: BOTH }).map((r) => r.id),
      ['curl', 'git-repo', 'git-global', 'npm', 'pip', 'requests', 'env-sh', 'env-fish', 'env-powershell', 'ssh', 'chromium', 'firefox', 'pac'],
    );
    for (const r of recipes({ address: V4, doors: BOTH })) assert.ok(r.available && r.text !== '' && r.detail !== '', r.id);
  });

  it('IPv6 listener: brackets in URLs and host:port, bare in Firefox, quoted for the shell', () => {
    const l = lines({ address: V6, doors: SOCKS_ONLY });
    assert.equal(l.curl, "curl --proxy 'socks5h://[::1]:1081' https://example.com/");
    assert.equal(l['git-global'], "git config --global http.proxy 'socks5h://[::1]:1081'");
    assert.equal(l.ssh, "ssh -o ProxyCommand='nc -X 5 -x [::1]:1081 %h %p' user@host");
    assert.match(l.chromium, /--proxy-server='socks5:\/\/\[::1\]:1081' --host-resolver-rules='MAP \* ~NOTFOUND, EXCLUDE \[::1\]'/);
    assert.match(l.firefox, /"network\.proxy\.socks", "::1"/);
    assert.match(l['env-sh'], /^export ALL_PROXY='socks5h:\/\/\[::1\]:1081' /);
  });

  it('wildcard listener: clients dial loopback', () => {
    assert.equal(lines({ address: { host: '0.0.0.0', port: 1080 }, doors: SOCKS_ONLY }).curl, 'curl --proxy socks5h://127.0.0.1:1080 https://example.com/');
    assert.equal(lines({ address: { host: '::', port: 1080 }, doors: SOCKS_ONLY }).curl, "curl --proxy 'socks5h://[::1]:1080' https://example.com/");
  });

  it('with a user: the user name filled in, the password a placeholder, tools that cannot log in say so', () => {
    const all = recipes({ address: V4, doors: SOCKS_ONLY, user: 'alice' });
    const l = lines({ address: V4, doors: SOCKS_ONLY, user: 'alice' });
    assert.equal(l.curl, "curl --proxy 'socks5h://alice:<password>@127.0.0.1:1080' https://example.com/");
    assert.equal(l['git-repo'], "git config http.proxy 'socks5h://alice:<password>@127.0.0.1:1080'");
    assert.equal(l.ssh, `ssh -o ProxyCommand='ncat --proxy-type socks5 --proxy 127.0.0.1:1080 --proxy-auth alice:<password> %h %p' user@host`);
    assert.match(l.chromium, /^\(unavailable\) Chromium cannot log in to a SOCKS5 proxy/);
    assert.match(l.firefox, /^\(unavailable\) Firefox cannot log in/);
    assert.match(l['env-sh'], /ALL_PROXY='socks5h:\/\/alice:<password>@127\.0\.0\.1:1080'/);
    for (const r of all) assert.ok(!/secret/i.test(r.text));
  });

  it('with a user and the HTTP door: Chromium and Firefox use the HTTP door', () => {
    const l = lines({ address: V4, doors: BOTH, user: 'alice' });
    assert.equal(l.chromium, `chromium --user-data-dir="$HOME/.chromium-socks5" --proxy-server=http://127.0.0.1:1080 --proxy-bypass-list='<-loopback>'`);
    assert.match(l.firefox, /"network\.proxy\.http", "127\.0\.0\.1"/);
    assert.equal(l.npm, "npm config set proxy 'http://alice:<password>@127.0.0.1:1080' && npm config set https-proxy 'http://alice:<password>@127.0.0.1:1080'");
  });

  it('the HTTP door: npm, pip over HTTP, HTTP_PROXY in the environment lines, the PAC URL', () => {
    const l = lines({ address: V4, doors: BOTH });
    assert.equal(l.npm, 'npm config set proxy http://127.0.0.1:1080 && npm config set https-proxy http://127.0.0.1:1080');
    assert.equal(l.pip, 'pip install --proxy http://127.0.0.1:1080 PACKAGE');
    assert.equal(l.pac, 'http://127.0.0.1:1080/proxy.pac');
    assert.match(l['env-sh'], / HTTP_PROXY=http:\/\/127\.0\.0\.1:1080 http_proxy=http:\/\/127\.0\.0\.1:1080 HTTPS_PROXY=http:\/\/127\.0\.0\.1:1080 https_proxy=/);
    // SOCKS5 still first where a tool can resolve names on the proxy.
    assert.equal(l.curl, 'curl --proxy socks5h://127.0.0.1:1080 https://example.com/');
  });

  it('SOCKS5 off: ssh says why, the rest go through the HTTP door', () => {
    const l = lines({ address: V4, doors: HTTP_ONLY });
    assert.match(l.ssh, /^\(unavailable\) ssh goes through SOCKS5/);
    assert.equal(l.curl, 'curl --proxy http://127.0.0.1:1080 https://example.com/');
    assert.match(l.chromium, /--proxy-server=http:\/\/127\.0\.0\.1:1080/);
  });

  it('forwarded: every line names the local end of the forward', () => {
    const l = lines({ address: FORWARDED, doors: BOTH });
    for (const [id, text] of Object.entries(l)) {
      assert.ok(text.includes('54321'), `${id}: ${text}`);
      assert.ok(!text.includes('1080'), `${id}: ${text}`);
    }
  });

  it('goes through the translator for what it shows, never for what it copies', () => {
    const upper = (m: string, ...a: Array<string | number>) => englishT(m, ...a).toUpperCase();
    const shown = recipes({ address: V4, doors: BOTH }, upper);
    const plain = recipes({ address: V4, doors: BOTH });
    assert.ok(shown.some((r) => r.detail === r.detail.toUpperCase() && r.detail !== plain.find((p) => p.id === r.id)!.detail));
    assert.deepEqual(
      shown.map((r) => r.text),
      plain.map((r) => r.text),
    );
  });
});

describe('asExternalUri results', () => {
  it('a TCP forward on another local port (Remote-SSH, WSL, Dev Containers, Codespaces desktop)', () => {
    assert.deepEqual(classifyExternalUri('http://localhost:54321/'), { kind: 'tcp', local: { host: '127.0.0.1', port: 54321 }, external: 'http://localhost:54321/' });
    assert.deepEqual(classifyExternalUri('http://127.0.0.1:54321').kind, 'tcp');
    assert.deepEqual(classifyExternalUri('http://[::1]:5000/'), { kind: 'tcp', local: { host: '::1', port: 5000 }, external: 'http://[::1]:5000/' });
  });

  it('the same port (nothing to forward, or VS Code kept the port)', () => {
    assert.deepEqual(classifyExternalUri('http://127.0.0.1:1080/'), { kind: 'tcp', local: { host: '127.0.0.1', port: 1080 }, external: 'http://127.0.0.1:1080/' });
  });

  it('Codespaces in a browser: an https URL', () => {
    const r = classifyExternalUri('https://fluffy-space-7x9-1080.app.github.dev/');
    assert.deepEqual(r, { kind: 'http-only', external: 'https://fluffy-space-7x9-1080.app.github.dev/', why: 'https', serverHost: 'fluffy-space-7x9-1080.app.github.dev' });
  });

  it("code-server: a path under its own origin (/proxy/PORT/, /absproxy/PORT/), absolute or not", () => {
    assert.deepEqual(classifyExternalUri('http://127.0.0.1:8080/proxy/1080/'), { kind: 'http-only', external: 'http://127.0.0.1:8080/proxy/1080/', why: 'path' });
    assert.deepEqual(classifyExternalUri('https://code.example.com/absproxy/1080/'), {
      kind: 'http-only',
      external: 'https://code.example.com/absproxy/1080/',
      why: 'https',
      serverHost: 'code.example.com',
    });
    assert.deepEqual(classifyExternalUri('http://code.example.com/proxy/1080/'), {
      kind: 'http-only',
      external: 'http://code.example.com/proxy/1080/',
      why: 'path',
      serverHost: 'code.example.com',
    });
    assert.deepEqual(classifyExternalUri('./proxy/1080/'), { kind: 'http-only', external: './proxy/1080/', why: 'path' });
    assert.deepEqual(classifyExternalUri('/proxy/1080/').kind, 'http-only');
  });

  it('an http URL on another host (a port domain such as 1080.code.example.com) is not a local TCP forward', () => {
    assert.deepEqual(classifyExternalUri('http://1080.code.example.com/'), {
      kind: 'http-only',
      external: 'http://1080.code.example.com/',
      why: 'other-host',
      serverHost: '1080.code.example.com',
    });
  });
});

describe('tunnel recipes', () => {
  it('ssh -L to the remote listener, with the server host when known', () => {
    assert.deepEqual(tunnelRecipes(V4, { serverHost: 'code.example.com' }), [
      { id: 'ssh', label: 'Copy ssh Command', text: 'ssh -N -L 1080:127.0.0.1:1080 code.example.com' },
    ]);
    assert.deepEqual(tunnelRecipes(V6, {}).map((r) => r.text), ['ssh -N -L 1081:[::1]:1081 REMOTE-HOST']);
  });

  it('Codespaces: gh codespace ports forward first', () => {
    assert.deepEqual(
      tunnelRecipes(V4, { codespace: 'fluffy-space-7x9' }).map((r) => r.text),
      ['gh codespace ports forward 1080:1080 -c fluffy-space-7x9', 'ssh -N -L 1080:127.0.0.1:1080 REMOTE-HOST'],
    );
  });
});

describe('where the shown address works', () => {
  it('local window, forwarded remote, unforwarded remote', () => {
    assert.deepEqual(whereabouts(V4, false, undefined), { where: 'local', address: V4, listener: V4 });
    const fw = whereabouts(V4, true, FORWARDED);
    assert.deepEqual(fw, { where: 'forwarded', address: FORWARDED, listener: V4 });
    assert.equal(whereText(fw), 'on this computer, forwarded to the remote 127.0.0.1:1080');
    assert.equal(whereText(whereabouts(V4, true, undefined)), 'on the remote host only');
    assert.equal(whereText(whereabouts(V4, false, undefined)), 'on this computer');
  });
});

describe('status bar tooltip in remote windows', () => {
  const base: StatusModel = {
    state: 'running',
    address: V4,
    configured: V4,
    authUsers: 0,
    commands: { connect: true, bind: true, udpAssociate: true },
    stats: { active: 0, total: 0, bytesUp: 0, bytesDown: 0 },
  };

  it('forwarded: the local address first, and that it is forwarded to the remote listener', () => {
    const md = statusTooltip({ ...base, reach: { whereabouts: whereabouts(V4, true, FORWARDED), httpOnly: false } });
    assert.match(md, /On this computer: `127\.0\.0\.1:54321` \(forwarded to the remote `127\.0\.0\.1:1080`\)/);
    assert.doesNotMatch(md, /this machine only/);
    assert.doesNotMatch(md, /command:socks5\.useFromThisComputer/);
    assert.match(md, /command:socks5\.useWith /);
  });

  it('not forwarded: the remote address, said to work there only, with the link that forwards it', () => {
    const md = statusTooltip({ ...base, reach: { whereabouts: whereabouts(V4, true, undefined), httpOnly: false } });
    assert.match(md, /Address: `127\.0\.0\.1:1080` on the remote host only/);
    assert.match(md, /\[\$\(remote\) Use from This Computer\]\(command:socks5\.useFromThisComputer /);
    const browser = statusTooltip({ ...base, reach: { whereabouts: whereabouts(V4, true, undefined), httpOnly: true } });
    assert.match(browser, /cannot forward SOCKS5 to your computer/);
  });

  it('a local window: unchanged', () => {
    assert.match(statusTooltip({ ...base, reach: { whereabouts: whereabouts(V4, false, undefined), httpOnly: false } }), /Address: `127\.0\.0\.1:1080` \(this machine only\)/);
  });

  it('links only to commands its MarkdownString trusts', () => {
    const md = statusTooltip({ ...base, reach: { whereabouts: whereabouts(V4, true, undefined), httpOnly: false } });
    for (const m of md.matchAll(/\(command:([\w.]+)/g)) assert.ok((STATUS_TOOLTIP_COMMANDS as readonly string[]).includes(m[1]), m[1]);
  });
});

describe('walkthrough (package.json contributes.walkthroughs)', () => {
  const root = path.resolve(__dirname, '..', '..');
  const pkg = readManifest();
  const commands = new Set<string>(pkg.contributes.commands.map((c: { command: string }) => c.command));
  const [walk] = pkg.contributes.walkthroughs as Array<{ id: string; steps: Array<{ id: string; description: string; media: { markdown: string }; when?: string }> }>;

  it('is the one socks5.openWalkthrough opens, with the four steps, each with its action button and page', () => {
    assert.equal(walk.id, WALKTHROUGH_ID);
    assert.deepEqual(
      walk.steps.map((s) => s.id),
      ['start', 'fromThisComputer', 'pointTool', 'watch'],
    );
    for (const step of walk.steps) {
      const links = [...step.description.matchAll(/\]\(command:([\w.]+)\)/g)].map((m) => m[1]);
      assert.equal(links.length, 1, step.id);
      assert.ok(commands.has(links[0]), links[0]);
      assert.ok(existsSync(path.join(root, step.media.markdown)), step.media.markdown);
    }
    assert.equal(walk.steps.find((s) => s.id === 'fromThisComputer')!.when, 'remoteName');
  });

  it('ships its pages in the VSIX', () => {
    assert.match(readFileSync(path.join(root, '.vscodeignore'), 'utf8'), /^!media\/walkthrough\/\*\.md$/m);
  });
});

describe('front doors the engine has', () => {
  it('SOCKS5 always; a switch alone opens no door', () => {
    assert.equal(hasDoor('socks5'), true);
    // The engine's HTTP switch defaults to on; the lines follow the door, which may not exist yet.
    assert.equal(typeof hasDoor('http'), 'boolean');
  });
});
