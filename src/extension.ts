// Entry point of the VS Code extension. Wires the engine-owning controller to the UI pieces
// (status bar, Connections view, commands, log) and returns the public API.
import * as vscode from 'vscode';
import type { Socks5ProxyApi } from './vscode/api';
import { registerCommands } from './vscode/commands';
import { ConnectionsView } from './vscode/connectionsView';
import { ProxyController } from './vscode/controller';
import { setTranslator } from './vscode/l10n';
import { Log, background, errorMessage } from './vscode/log';
import { Reach } from './vscode/reach';
import { Secrets } from './vscode/secrets';
import { StatusBar } from './vscode/statusBar';
import { TrafficPanel } from './vscode/trafficPanel';

export type { Socks5ProxyApi, ProxyState } from './vscode/api';

let controller: ProxyController | undefined;

export function activate(context: vscode.ExtensionContext): Socks5ProxyApi {
  // Every user-visible string goes through vscode.l10n.t: l10n/bundle.l10n.<language>.json.
  setTranslator((message, ...args) => vscode.l10n.t(message, ...args));
  const log = new Log();
  context.subscriptions.push(log);
  const secrets = new Secrets(context.secrets, log);
  const ctl = new ProxyController(log, secrets, context.globalState);
  controller = ctl;
  context.subscriptions.push(ctl);

  background(vscode.commands.executeCommand('setContext', 'socks5.running', false), log);
  background(vscode.commands.executeCommand('setContext', 'socks5.state', 'stopped'), log);

  const reach = new Reach(ctl, log, secrets, context.environmentVariableCollection);
  const view = new ConnectionsView(ctl, reach, context.globalState);
  const traffic = new TrafficPanel(ctl, context.extensionUri, view, log);
  context.subscriptions.push(
    reach,
    new StatusBar(ctl, reach),
    view,
    traffic,
    ...registerCommands({ controller: ctl, view, traffic, log, secrets, reach, extensionId: context.extension.id }),
    vscode.workspace.onDidChangeConfiguration((e) => ctl.onConfigurationChanged(e)),
    secrets.onDidChange(() => void ctl.reapply()),
    secrets.onDidChangeUpstream(() => void ctl.reapply()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void ctl.reapply()),
  );

  if (ctl.settings.autoStart) {
    log.info('socks5.autoStart is on: starting the proxy');
    void ctl.start();
  }

  return createApi(ctl);
}

/** Stops the server and releases the port; VS Code waits for the returned promise. */
export function deactivate(): Promise<void> | undefined {
  const c = controller;
  controller = undefined;
  return c?.shutdown().catch((err: unknown) => console.error(`[socks5] deactivate: ${errorMessage(err)}`));
}

function createApi(c: ProxyController): Socks5ProxyApi {
  return Object.freeze({
    apiVersion: 1 as const,
    get state() {
      return c.state;
    },
    get address() {
      return c.address;
    },
    get error() {
      return c.error;
    },
    start: () => c.start(),
    stop: () => c.stop(),
    connections: () => c.connections(),
    recentlyClosed: () => c.recentlyClosed(),
    onDidChangeState: c.onDidChangeState,
    onDidChangeConnections: c.onDidChangeConnections,
  });
}
