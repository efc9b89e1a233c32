// Every `socks5.*` command. Each handler catches and reports its own failure: a command can never
// reject into the extension host.
import * as vscode from 'vscode';
import { configuredUsers, readVsCodeProxy, updateSetting, updateSettingWhereSet } from './config';
import type { ConnectionNode, ConnectionsView } from './connectionsView';
import type { ProxyController } from './controller';
import { buildProxyUrl, connectionDescription, connectionLabel, destinationText, formatEndpoint, proxySchemes, type ProxyScheme } from './format';
import { GROUP_BY_MODES, type GroupBy } from './grouping';
import { t, tPlural } from './l10n';
import { background, errorMessage, type Log } from './log';
import type { Reach } from './reach';
import { WALKTHROUGH_ID, whereText } from './recipes';
import type { Secrets } from './secrets';
import { engine } from './engine';
import { raisedLimit } from './refusals';
import { effectiveUpstreamUrl, isLoopbackHost, LIMITS, MACHINE_KEYS, passwordProblem, SECTION, usernameProblem, VSCODE_UPSTREAM, type SettingKey } from './settings';
import type { TrafficPanel } from './trafficPanel';

export interface CommandDeps {
  controller: ProxyController;
  view: ConnectionsView;
  traffic: TrafficPanel;
  log: Log;
  secrets: Secrets;
  reach: Reach;
  /** `publisher.name`, for the `@ext:` settings filter. */
  extensionId: string;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { controller, view, traffic, log, secrets, reach } = deps;

  const register = (id: string, handler: (...args: unknown[]) => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await handler(...args);
      } catch (err) {
        const message = errorMessage(err);
        log.error(`${id} failed: ${message}`);
        background(
          vscode.window.showErrorMessage(t('SOCKS5: {0}', message), t('Show Log')).then((picked) => picked && log.show()),
          log,
        );
        return undefined;
      }
    });

  const flash = (text: string): void => {
    vscode.window.setStatusBarMessage(text, 4000);
  };

  return [
    register('socks5.start', async () => {
      const address = await controller.start();
      if (address) flash(`$(radio-tower) ${t('SOCKS5 proxy listening on {0}', formatEndpoint(address))}`);
      return address;
    }),

    register('socks5.stop', async () => {
      await controller.stop();
      flash(`$(circle-slash) ${t('SOCKS5 proxy stopped')}`);
    }),

    register('socks5.toggle', () => controller.toggle()),

    register('socks5.restart', async () => {
      const address = await controller.restart();
      if (address) flash(`$(radio-tower) ${t('SOCKS5 proxy restarted on {0}', formatEndpoint(address))}`);
      return address;
    }),

    register('socks5.copyProxyUrl', async () => {
      const running = controller.address;
      // Where the user is: the local end of a forward in a remote window, else the listener.
      const here = reach.whereabouts();
      const address = here?.address ?? { host: controller.settings.host, port: controller.settings.port };
      const users = running ? controller.activeUsers : configuredUsers();
      // One URL per form the proxy serves (socks5h://, and http:// while the HTTP door is on) and per user.
      const schemes = proxySchemes(controller.settings.protocols);
      if (schemes.length === 0) schemes.push('socks5h');
      const who: Array<string | undefined> = users.length > 1 ? [...users, undefined] : [users[0]];
      const choices = schemes.flatMap((scheme) => who.map((user) => ({ scheme, user, url: buildProxyUrl(address, user, scheme) })));
      let choice = choices[0];
      if (choices.length > 1) {
        const what: Record<ProxyScheme, string> = {
          socks5h: t('SOCKS5, names resolved by the proxy (browsers, curl --proxy, git, ssh)'),
          http: t('HTTP proxy (curl -x, git, npm, pip, HTTPS_PROXY)'),
        };
        const picked = await vscode.window.showQuickPick(
          choices.map((c) => ({
            label: c.url,
            description: c.user === undefined && users.length > 1 ? t('{0}, without a user name', what[c.scheme]) : what[c.scheme],
            choice: c,
          })),
          { title: t('SOCKS5: Copy Proxy URL'), placeHolder: t('Which URL? (The password is never included.)') },
        );
        if (!picked) return undefined;
        choice = picked.choice;
      }
      const url = choice.url;
      await vscode.env.clipboard.writeText(url);
      background(
        vscode.window.showInformationMessage(t('Copied {0} to the clipboard ({1}).', url, here ? whereText(here, t) : t('the proxy is not running'))),
      );
      return url;
    }),

    register('socks5.useFromThisComputer', () => reach.useFromThisComputer()),

    register('socks5.useWith', () => reach.pickRecipe()),

    register('socks5.openWalkthrough', () =>
      vscode.commands.executeCommand('workbench.action.openWalkthrough', `${deps.extensionId}#${WALKTHROUGH_ID}`, false),
    ),

    register('socks5.setPassword', async (arg?: unknown) => {
      const users = configuredUsers();
      let user = typeof arg === 'string' && arg !== '' ? arg : undefined;
      if (user !== undefined) {
        const problem = usernameProblem(user);
        if (problem) throw new Error(t('The user name {0}.', problem));
      } else {
        const items = await Promise.all(
          users.map(async (u) => ({
            label: u,
            description: (await secrets.has(u)) ? t('password set') : t('no password yet'),
            iconPath: new vscode.ThemeIcon('account'),
            user: u,
          })),
        );
        const picked = await vscode.window.showQuickPick(
          [...items, { label: t('Add user…'), description: '', iconPath: new vscode.ThemeIcon('add'), user: undefined, alwaysShow: true }],
          { title: t('SOCKS5: Set Password'), placeHolder: t('Pick a user, or add one') },
        );
        if (!picked) return;
        user =
          picked.user ??
          (await vscode.window.showInputBox({
            title: t('SOCKS5: Add User'),
            prompt: t('User name for SOCKS5 username/password authentication (RFC 1929)'),
            placeHolder: 'alice',
            ignoreFocusOut: true,
            validateInput: (v) => {
              const problem = usernameProblem(v);
              if (problem) return t('The user name {0}', problem);
              return users.includes(v) ? t('"{0}" is already a user: pick it to change its password', v) : undefined;
            },
          }));
        if (user === undefined) return;
      }
      const password = await vscode.window.showInputBox({
        title: t('SOCKS5: Password for "{0}"', user),
        prompt: t('Stored in VS Code SecretStorage (never in settings). Applies to new connections.'),
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => passwordProblem(v),
      });
      if (password === undefined) return;
      await secrets.set(user, password);
      const added = !users.includes(user);
      if (added) await updateSetting('auth.users', [...users, user]);
      log.info(`Password for "${user}" ${added ? 'set (new user)' : 'changed'}`);
      await controller.reapply();
      background(
        vscode.window.showInformationMessage(
          controller.state === 'running'
            ? added
              ? t('User "{0}" added; it applies to new connections.', user)
              : t('Password for "{0}" saved; it applies to new connections.', user)
            : added
              ? t('User "{0}" added.', user)
              : t('Password for "{0}" saved.', user),
        ),
      );
    }),

    register('socks5.setUpstreamPassword', async () => {
      const upstream = controller.settings.upstream;
      const openSettings = (message: string): void =>
        background(
          vscode.window
            .showInformationMessage(message, t('Open Settings'))
            .then((p) => (p ? vscode.commands.executeCommand('socks5.openSettings', 'socks5.upstream.url') : undefined)),
          log,
        );
      const url = effectiveUpstreamUrl(upstream, upstream.url === VSCODE_UPSTREAM ? readVsCodeProxy() : undefined);
      if (url === undefined) {
        return openSettings(
          upstream.url === VSCODE_UPSTREAM
            ? t('socks5.upstream.url is "vscode", and VS Code uses no proxy (http.proxy is empty): there is no upstream to set a password for.')
            : t('No upstream proxy is set: put its URL in socks5.upstream.url first, e.g. socks5h://alice@proxy.example:1080.'),
        );
      }
      const id = engine().upstreamPasswordId(url);
      if (!id) return openSettings(t('The upstream URL names no user: write it as socks5h://USER@host:port (or http://USER@host:port), then set the password.'));
      if (id.hasPasswordInUrl) return openSettings(t("The password of {0} is in VS Code's http.proxy itself, and that one is used.", id.id));
      const password = await vscode.window.showInputBox({
        title: t('SOCKS5: Upstream Password for {0}', id.id),
        prompt: t('Stored in VS Code SecretStorage (never in settings) and sent only to {0}. Applies to new connections.', id.id),
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) =>
          v === ''
            ? t('The password must not be empty')
            : id.scheme !== 'http' && Buffer.byteLength(v, 'utf8') > 255
              ? t('The password must be at most 255 bytes (RFC 1929)')
              : undefined,
      });
      if (password === undefined) return;
      await secrets.setUpstreamPassword(id.id, password);
      log.info(`Upstream password for ${id.id} saved`);
      await controller.reapply();
      background(vscode.window.showInformationMessage(t('Upstream password for {0} saved.', id.id)));
    }),

    register('socks5.removeUser', async (arg?: unknown) => {
      const users = configuredUsers();
      if (users.length === 0) {
        background(
          vscode.window
            .showInformationMessage(t('There are no users in socks5.auth.users (authentication is off).'), t('Set Password…'))
            .then((p) => (p ? vscode.commands.executeCommand('socks5.setPassword') : undefined)),
          log,
        );
        return;
      }
      let user = typeof arg === 'string' && users.includes(arg) ? arg : undefined;
      if (user === undefined) {
        const picked = await vscode.window.showQuickPick(
          users.map((u) => ({ label: u, iconPath: new vscode.ThemeIcon('account') })),
          { title: t('SOCKS5: Remove User'), placeHolder: t('Pick the user to remove') },
        );
        if (!picked) return;
        user = picked.label;
      }
      const last = users.length === 1;
      const exposed = !isLoopbackHost(controller.settings.host);
      const question = t('Remove user "{0}"? Their password is deleted and they can no longer log in.', user);
      const consequence = last
        ? exposed && !controller.settings.allowUnauthenticatedRemote
          ? t('It is the last user: the proxy on a network address will stop.')
          : t('It is the last user: authentication turns off.')
        : '';
      const remove = t('Remove');
      const confirm = await vscode.window.showWarningMessage(consequence ? `${question} ${consequence}` : question, { modal: true }, remove);
      if (confirm !== remove) return;
      await updateSetting(
        'auth.users',
        users.filter((u) => u !== user),
      );
      await secrets.delete(user);
      log.info(`User "${user}" removed`);
      await controller.reapply();
      flash(t('SOCKS5: user "{0}" removed', user));
    }),

    register('socks5.closeConnection', async (arg?: unknown) => {
      let node = isNode(arg) && arg.kind === 'connection' ? arg : undefined;
      if (!node) {
        const now = Date.now();
        const generation = controller.generation;
        const items = controller.connections().map((info) => ({
          label: connectionLabel(info),
          description: connectionDescription(info, now),
          node: { kind: 'connection', generation, info } as const,
        }));
        if (items.length === 0) {
          background(vscode.window.showInformationMessage(t('There are no active SOCKS5 connections.')));
          return;
        }
        const picked = await vscode.window.showQuickPick(items, {
          title: t('SOCKS5: Close Connection'),
          placeHolder: t('Pick the connection to close'),
          matchOnDescription: true,
        });
        if (!picked) return;
        node = picked.node;
      }
      const closed = node.generation === controller.generation && controller.closeConnection(node.info.id);
      if (!closed) background(vscode.window.showInformationMessage(t('The connection to {0} has already closed.', connectionLabel(node.info))));
    }),

    // Delete in the Connections view (keybinding): the selected row, never a question.
    register('socks5.closeSelectedConnection', async () => {
      const node = view.selectedConnection();
      if (node) await vscode.commands.executeCommand('socks5.closeConnection', node);
    }),

    register('socks5.closeAllConnections', () => {
      const n = controller.closeAll();
      flash(tPlural(n, 'SOCKS5: closed {0} connection', 'SOCKS5: closed {0} connections'));
      return n;
    }),

    register('socks5.copyDestination', async (arg?: unknown) => {
      if (!isNode(arg) || arg.kind === 'recent' || arg.kind === 'group') return;
      const text = destinationText(arg.info);
      if (!text) {
        background(vscode.window.showInformationMessage(t('This connection ended before it named a destination.')));
        return;
      }
      await vscode.env.clipboard.writeText(text);
      flash(t('Copied {0}', text));
    }),

    register('socks5.showLog', () => log.show()),

    register('socks5.showConnections', () => view.reveal()),

    register('socks5.showTraffic', (arg?: unknown) => {
      // From a connection row: show that connection (ids belong to the current listener only).
      const id = isNode(arg) && arg.kind !== 'recent' && arg.kind !== 'group' && arg.generation === controller.generation ? arg.info.id : undefined;
      traffic.show(id);
    }),

    register('socks5.exportTraffic', () => traffic.export()),

    register('socks5.logTrafficCost', () => {
      const c = traffic.cost();
      log.info(`Traffic sampling cost: ${JSON.stringify(c)}`);
      return c;
    }),

    register('socks5.openSettings', async (arg?: unknown) => {
      const setting = typeof arg === 'string' && /^socks5\.[\w.]+$/.test(arg) ? arg : undefined;
      await openSettings(setting, deps.extensionId, log);
    }),

    register('socks5.raiseMaxConnections', async () => {
      const current = controller.maxConnections;
      const next = raisedLimit(current, LIMITS.maxConnectionsMax);
      if (next === undefined) {
        background(
          vscode.window.showInformationMessage(t('socks5.maxConnections is already at its maximum, {0}.', current)),
          log,
        );
        return;
      }
      const raise = t('Raise to {0}', next);
      const picked = await vscode.window.showWarningMessage(
        t('Raise socks5.maxConnections from {0} to {1}?', current, next),
        {
          modal: true,
          detail: t(
            'Each connection holds two sockets (file descriptors) and some memory in the extension host. The new limit applies at once, without a restart.',
          ),
        },
        raise,
      );
      if (picked !== raise) return;
      await updateSettingWhereSet('maxConnections', next);
      log.info(`socks5.maxConnections raised from ${current} to ${next}`);
      flash(t('SOCKS5: maxConnections is now {0}', next));
    }),

    register('socks5.groupBy', async (arg?: unknown) => {
      const labels: Record<GroupBy, string> = {
        flat: t('No grouping'),
        destination: t('Destination host'),
        client: t('Client address'),
        user: t('User'),
      };
      let by = GROUP_BY_MODES.find((m) => m === arg);
      if (by === undefined) {
        const picked = await vscode.window.showQuickPick(
          GROUP_BY_MODES.map((m) => ({ label: labels[m], description: m === view.groupBy ? t('current') : '', mode: m })),
          { title: t('SOCKS5: Group Connections By'), placeHolder: t('How the Connections view groups its rows') },
        );
        if (!picked) return;
        by = picked.mode;
      }
      await view.setGroupBy(by);
    }),
  ];
}

/**
 * Opens the Settings editor where `setting` (or, without one, every socks5.* setting) can be
 * edited. In a remote window (Remote-SSH, Codespaces, code-server) the machine-scoped settings
 * (host, port, users, autoStart, allowUnauthenticatedRemote) are on the Remote tab only: the User
 * tab would show "No Settings Found". Every socks5.* setting can be edited on the Remote tab, so
 * the full list opens there too; other single settings open on the User tab.
 */
async function openSettings(setting: string | undefined, extensionId: string, log: Log): Promise<void> {
  const query = setting ?? `@ext:${extensionId}`;
  const key = setting?.slice(SECTION.length + 1) as SettingKey | undefined;
  const onRemoteTab = vscode.env.remoteName !== undefined && (key === undefined || MACHINE_KEYS.includes(key));
  if (onRemoteTab) {
    try {
      await vscode.commands.executeCommand('workbench.action.openRemoteSettings', { query });
      return;
    } catch (err) {
      log.warn(`Opening the Remote settings failed (${errorMessage(err)}); opening the User settings instead`);
    }
  }
  await vscode.commands.executeCommand('workbench.action.openSettings', { query });
}

function isNode(v: unknown): v is ConnectionNode {
  if (typeof v !== 'object' || v === null) return false;
  const kind = (v as { kind?: unknown }).kind;
  return kind === 'connection' || kind === 'closed' || kind === 'recent' || kind === 'group';
}
