// Reads and writes the `socks5.*` settings. Validation lives in settings.ts (host-free).
import * as vscode from 'vscode';
import { vscodeProxy, type VsCodeProxy } from '../engine';
import { MACHINE_KEYS, SECTION, SETTING_KEYS, type RawSettings, type SettingKey } from './settings';

/**
 * The raw value of every `socks5.*` key. The security-sensitive (machine-scoped) keys are taken
 * from user / remote settings or the default only, never from a workspace or folder, even if
 * VS Code's own scoping were bypassed.
 */
export function readRawSettings(): RawSettings {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const raw: RawSettings = {};
  for (const key of SETTING_KEYS) {
    if (MACHINE_KEYS.includes(key)) {
      const i = cfg.inspect(key);
      raw[key] = i?.globalValue ?? i?.defaultValue;
    } else {
      raw[key] = cfg.get(key);
    }
  }
  return raw;
}

/** VS Code's own proxy settings: what socks5.upstream.url "vscode" follows. */
const VSCODE_PROXY_SETTINGS = ['http.proxy', 'http.noProxy', 'http.proxyAuthorization'];

export function affectsSettings(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(SECTION) || VSCODE_PROXY_SETTINGS.some((s) => e.affectsConfiguration(s));
}

/** The proxy VS Code itself uses (http.proxy, else the environment it falls back to), and its exceptions. */
export function readVsCodeProxy(): VsCodeProxy {
  const http = vscode.workspace.getConfiguration('http');
  return vscodeProxy({
    proxy: http.get('proxy'),
    noProxy: http.get('noProxy'),
    proxyAuthorization: http.get('proxyAuthorization'),
    env: process.env,
  });
}

/** The user names listed in socks5.auth.users (strings only, whatever else is wrong with the list). */
export function configuredUsers(): string[] {
  const v = readRawSettings()['auth.users'];
  return Array.isArray(v) ? [...new Set(v.filter((u): u is string => typeof u === 'string' && u !== ''))] : [];
}

/** Writes a machine-scoped key to the user (or remote) settings. */
export async function updateSetting(key: SettingKey, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update(key, value, vscode.ConfigurationTarget.Global);
}

/**
 * Writes a (window-scoped) key where its effective value comes from: the workspace if it sets
 * the key (a user value would be shadowed there), else the user settings.
 */
export async function updateSettingWhereSet(key: SettingKey, value: unknown): Promise<void> {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const i = cfg.inspect(key);
  const target = i?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await cfg.update(key, value, target);
}
