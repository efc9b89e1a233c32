// The manifest (package.json contributes) and the VS Code layer agree: every setting the code
// reads is contributed with the same default and limits, the security-sensitive ones are
// machine-scoped and restricted, and every contributed command is registered (and vice versa).
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readManifest } from '../support/manifest';
import { STATUS_TOOLTIP_COMMANDS } from '../../src/vscode/format';
import { DEFAULT_SETTINGS, LIMITS, MACHINE_KEYS, SETTING_KEYS, validateSettings } from '../../src/vscode/settings';

const root = path.resolve(__dirname, '..', '..');
const pkg = readManifest();
const props: Record<string, { default: unknown; scope?: string; minimum?: number; maximum?: number; type: string; markdownDescription?: string }> =
  pkg.contributes.configuration.properties;
const commandIds: string[] = pkg.contributes.commands.map((c: { command: string }) => c.command);
const commandsSource = readFileSync(path.join(root, 'src', 'vscode', 'commands.ts'), 'utf8');
const registered = [...commandsSource.matchAll(/register\('([\w.]+)'/g)].map((m) => m[1]);

describe('package.json contributes', () => {
  it('contributes exactly the settings the code reads, each with a markdownDescription', () => {
    assert.deepEqual(Object.keys(props).sort(), SETTING_KEYS.map((k) => `socks5.${k}`).sort());
    for (const [id, p] of Object.entries(props)) assert.ok(p.markdownDescription && p.markdownDescription.length > 20, id);
  });

  it('has the same defaults as the validator', () => {
    const raw = Object.fromEntries(SETTING_KEYS.map((k) => [k, props[`socks5.${k}`].default]));
    const r = validateSettings(raw);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.settings, DEFAULT_SETTINGS);
  });

  it('has the same limits as the validator', () => {
    assert.equal(props['socks5.port'].minimum, 0);
    assert.equal(props['socks5.port'].maximum, 65535);
    assert.equal(props['socks5.maxConnections'].maximum, LIMITS.maxConnectionsMax);
    for (const t of ['handshake', 'connect', 'idle', 'bind']) {
      const p = props[`socks5.timeouts.${t}`];
      assert.equal(p.maximum, LIMITS.timeoutMaxSeconds, t);
      // The minimum in the manifest is accepted, one below it is not.
      assert.ok(validateSettings({ [`timeouts.${t}`]: p.minimum }).ok, t);
      assert.ok(!validateSettings({ [`timeouts.${t}`]: p.minimum! - 1 }).ok, t);
    }
  });

  it('machine-scopes and restricts the security-sensitive settings', () => {
    const restricted: string[] = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.equal(pkg.capabilities.virtualWorkspaces, false);
    for (const k of MACHINE_KEYS) {
      assert.equal(props[`socks5.${k}`].scope, 'machine', k);
      assert.ok(restricted.includes(`socks5.${k}`), k);
    }
    assert.deepEqual(pkg.extensionKind, ['workspace']);
    assert.ok(pkg.activationEvents.includes('onStartupFinished'));
  });

  it('registers every contributed command and contributes every registered one, in category SOCKS5', () => {
    assert.deepEqual([...registered].sort(), [...commandIds].sort());
    for (const c of pkg.contributes.commands) assert.equal(c.category, 'SOCKS5', c.command);
    for (const id of STATUS_TOOLTIP_COMMANDS) assert.ok(commandIds.includes(id), id);
  });

  it('has the command titles the end-to-end suite drives', () => {
    const title = (id: string) => pkg.contributes.commands.find((c: { command: string }) => c.command === id)?.title;
    assert.equal(title('socks5.start'), 'Start Proxy');
    assert.equal(title('socks5.stop'), 'Stop Proxy');
    assert.equal(title('socks5.toggle'), 'Toggle Proxy');
    assert.equal(title('socks5.restart'), 'Restart Proxy');
    assert.equal(title('socks5.copyProxyUrl'), 'Copy Proxy URL');
    assert.equal(title('socks5.setPassword'), 'Set Password…');
    assert.equal(title('socks5.removeUser'), 'Remove User…');
    assert.equal(title('socks5.closeConnection'), 'Close Connection');
    assert.equal(title('socks5.closeAllConnections'), 'Close All Connections');
    assert.equal(title('socks5.showLog'), 'Show Log');
    assert.equal(title('socks5.openSettings'), 'Open Settings');
  });

  it('only refers to contributed commands in menus, and keys palette entries on socks5.running', () => {
    const menus: Record<string, { command: string; when?: string }[]> = pkg.contributes.menus;
    for (const [menu, entries] of Object.entries(menus)) {
      for (const e of entries) assert.ok(commandIds.includes(e.command), `${menu}: ${e.command}`);
    }
    const palette = Object.fromEntries(menus.commandPalette.map((e) => [e.command, e.when]));
    assert.equal(palette['socks5.start'], '!socks5.running');
    assert.equal(palette['socks5.stop'], 'socks5.running');
    assert.equal(palette['socks5.copyDestination'], 'false');
  });

  it('has a view container, the Connections view, welcome content and icons that exist', () => {
    const container = pkg.contributes.viewsContainers.activitybar.find((c: { id: string }) => c.id === 'socks5');
    assert.ok(container);
    const view = pkg.contributes.views.socks5.find((v: { id: string }) => v.id === 'socks5.connections');
    assert.equal(view.name, 'Connections');
    const welcome: { view: string; contents: string; when: string }[] = pkg.contributes.viewsWelcome;
    assert.ok(welcome.some((w) => w.when.startsWith('!socks5.running') && w.contents.includes('(command:socks5.start)')));
    assert.ok(welcome.some((w) => w.when === 'socks5.running' && w.contents.includes('(command:socks5.copyProxyUrl)')));
    for (const file of [container.icon, view.icon, pkg.icon]) {
      const buf = readFileSync(path.join(root, file));
      assert.ok(buf.length > 100, file);
    }
    const png = readFileSync(path.join(root, pkg.icon));
    assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
    assert.equal(png.readUInt32BE(16), 128); // width
    assert.equal(png.readUInt32BE(20), 128); // height
    const svg = readFileSync(path.join(root, container.icon), 'utf8');
    assert.ok(!svg.includes('currentColor'));
  });
});
