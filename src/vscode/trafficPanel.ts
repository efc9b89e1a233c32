// SOCKS5: Show Traffic — the webview panel, the once-a-second sampling behind it, and Export.
// Sampling (TrafficTracker.tick) runs only while the panel or the Connections view is visible
// and the proxy runs; the panel gets one small delta message per sample (./trafficFeed).
// The page: a strict Content-Security-Policy (no remote resources, a nonce'd script), script and
// style from media/, every text from here (t: the display language's, see ./l10n).
import * as os from 'node:os';
import * as vscode from 'vscode';
import type { Protocol, TrafficTracker } from '../engine';
import type { ConnectionNode } from './connectionsView';
import type { ProxyController } from './controller';
import { Disposable, toDisposable } from './dispose';
import { engine } from './engine';
import { formatClock } from './format';
import { t } from './l10n';
import { background, errorMessage, type Log } from './log';
import { TrafficFeed } from './trafficFeed';
import type { FromWebview, ToWebview, TrafficStrings } from './trafficProtocol';

export const TRAFFIC_VIEW_TYPE = 'socks5.traffic';
const SAMPLE_MS = 1000;

/** Everything the panel shows as fixed text, translated. */
function strings(): TrafficStrings {
  return {
    title: t('SOCKS5 Traffic'),
    notRunning: t('The proxy is not running: these are the figures of its last run.'),
    totalHeading: t('Total rate'),
    totalChartLabel: t('Total rate over the last {0} minutes'),
    download: t('Download ↓'),
    upload: t('Upload ↑'),
    nowRates: t('Now ↓ {0} ↑ {1}'),
    peakAverage: t('peak ↓ {0} ↑ {1}, average ↓ {2} ↑ {3}'),
    showAsTable: t('Show as a table (last 30 seconds)'),
    colTime: t('Time'),
    selectedHeading: t('Selected connection'),
    connectionPicker: t('Connection'),
    noConnection: t('No open connections'),
    noSelection: t('None selected: pick one here or in the Connections view'),
    selectedChartLabel: t('Rate of {0} over its life'),
    selectedSummary: t('{0}: ↓ {1} ↑ {2} in {3}; now ↓ {4} ↑ {5}'),
    selectedClosedSummary: t('{0}: ↓ {1} ↑ {2} in {3}; closed'),
    noHistory: t('(Its rate over time is not kept: too many connections at once.)'),
    nowHeading: t('Now'),
    active: t('Active'),
    refusedMinute: t('Refused (last minute)'),
    failedMinute: t('Failed (last minute)'),
    destinationsHeading: t('Top destinations'),
    usersHeading: t('Top users'),
    colDestination: t('Destination'),
    colUser: t('User'),
    colDown: t('Down'),
    colUp: t('Up'),
    colConnections: t('Connections'),
    colFailures: t('Failures'),
    openCount: t('{0} open'),
    failuresDetail: t('{0} failed, {1} refused'),
    noRows: t('Nothing yet'),
    since: t('since {0}'),
    export: t('Export…'),
    exportHint: t('Save the totals and the per-destination table as CSV or JSON'),
  };
}

export class TrafficPanel extends Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  // Protocol names from the engine (loaded by then: the feed runs only while the proxy runs).
  private readonly feed = new TrafficFeed((id) => engine().PROTOCOL_NAMES[id as Protocol] ?? id);
  private tracker: TrafficTracker | undefined;
  /** Time in sample(): the tick, the message and its posting (for the benchmark). */
  private readonly spent = { samples: 0, ms: 0 };

  constructor(
    private readonly controller: ProxyController,
    private readonly extensionUri: vscode.Uri,
    private readonly view: {
      readonly visible: boolean;
      readonly onDidChangeVisibility: vscode.Event<unknown>;
      readonly onDidChangeSelection: vscode.Event<{ readonly selection: readonly ConnectionNode[] }>;
    },
    private readonly log: Log,
  ) {
    super();
    this._register(toDisposable(() => this.stopSampling()));
    this._register(controller.onDidChangeState(() => this.onState()));
    this._register(view.onDidChangeVisibility(() => this.updateSampling()));
    // A row selected in the Connections view while the panel is open: the panel shows it.
    this._register(
      view.onDidChangeSelection((e) => {
        const node = e.selection[0];
        if (!this.panel || !node || node.kind === 'recent' || node.kind === 'group' || node.generation !== this.controller.generation) return;
        if (node.info.id === this.feed.selected) return;
        this.select(node.info.id);
        this.refresh();
      }),
    );
    this.updateSampling();
  }

  /** Opens (or reveals) the panel; `select` picks a connection of the running proxy. */
  show(select?: number): void {
    if (select !== undefined) this.select(select);
    if (this.panel) {
      this.panel.reveal(undefined, false);
      if (select !== undefined) this.sample();
      return;
    }
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const panel = vscode.window.createWebviewPanel(TRAFFIC_VIEW_TYPE, t('SOCKS5 Traffic'), vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [media],
      // Hidden means no sampling: the page is rebuilt from an `init` when shown again.
      retainContextWhenHidden: false,
    });
    panel.iconPath = vscode.Uri.joinPath(media, 'socks5.svg');
    this.panel = panel;
    this.ready = false;
    panel.webview.html = this.html(panel.webview, media);
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
      this.feed.selected = undefined;
      this.tracker?.pin(undefined);
      this.updateSampling();
    });
    panel.onDidChangeViewState(() => {
      if (!panel.visible) this.ready = false; // the page is discarded while hidden
      this.updateSampling();
    });
    panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m));
    this.updateSampling();
  }

  /** Writes the totals and per-destination (and per-user) table as CSV or JSON. */
  async export(): Promise<vscode.Uri | undefined> {
    const tracker = this.controller.traffic;
    if (!tracker) {
      background(vscode.window.showInformationMessage(t('There is no traffic to export yet: start the proxy first.')), this.log);
      return undefined;
    }
    // Bring the live connections' bytes in (without a point in the chart).
    if (this.controller.state === 'running') tracker.tick({ record: false });
    const e = engine();
    const report = e.trafficReport(tracker);
    const stamp = report.generatedAt.replace(/[:]/g, '').replace(/\..*$/, '').replace('T', '-');
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(os.homedir());
    const uri = await vscode.window.showSaveDialog({
      title: t('SOCKS5: Export Traffic'),
      saveLabel: t('Export'),
      defaultUri: vscode.Uri.joinPath(folder, `socks5-traffic-${stamp}.csv`),
      filters: { [t('CSV')]: ['csv'], [t('JSON')]: ['json'] },
    });
    if (!uri) return undefined;
    const json = uri.path.toLowerCase().endsWith('.json');
    const text = json ? e.reportToJson(report) : e.reportToCsv(report);
    await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
    this.log.info(`Traffic exported to ${uri.fsPath} (${json ? 'JSON' : 'CSV'}, ${report.destinations.length} destination rows)`);
    vscode.window.setStatusBarMessage(t('SOCKS5: traffic exported to {0}', uri.fsPath), 4000);
    return uri;
  }

  /** For the benchmark: what sampling cost so far (time in tick()) and what the model holds. */
  cost(): { sampling: boolean; ticks: number; ms: number; samples: number; sampleMs: number; footprint?: ReturnType<TrafficTracker['footprint']> } {
    const tr = this.controller.traffic;
    return {
      sampling: this.timer !== undefined,
      ticks: tr?.cost.ticks ?? 0,
      ms: tr?.cost.ms ?? 0,
      samples: this.spent.samples,
      sampleMs: this.spent.ms,
      ...(tr ? { footprint: tr.footprint() } : {}),
    };
  }

  override dispose(): void {
    this.panel?.dispose();
    super.dispose();
  }

  // --- internals -------------------------------------------------------------------------------

  private select(id: number | undefined): void {
    this.feed.selected = id;
    this.controller.traffic?.pin(id);
  }

  private onMessage(m: FromWebview): void {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.post(this.initMessage());
        // The first figures at once, not a second later.
        if (this.controller.traffic && this.timer) this.sample();
        else if (this.controller.traffic) this.post(this.feed.tick(this.controller.traffic, this.controller.traffic.tick({ record: false })));
        break;
      case 'select':
        this.select(m.id ?? undefined);
        this.refresh();
        break;
      case 'export':
        void vscode.commands.executeCommand('socks5.exportTraffic');
        break;
    }
  }

  /** The figures now, without a point in the series (a selection changed). */
  private refresh(): void {
    const tracker = this.controller.traffic;
    if (tracker && this.ready && this.panel?.visible && tracker === this.tracker) this.post(this.feed.tick(tracker, tracker.tick({ record: false })));
  }

  private initMessage(): ToWebview {
    const tracker = this.controller.traffic;
    this.tracker = tracker;
    return this.feed.init(tracker, strings(), this.stateOf(tracker), Date.now());
  }

  private stateOf(tracker: TrafficTracker | undefined): { running: boolean; auth: boolean; since: string } {
    return {
      running: this.controller.state === 'running',
      auth: this.controller.activeUsers.length > 0,
      since: tracker ? formatClock(tracker.since) : '',
    };
  }

  private onState(): void {
    const tracker = this.controller.traffic;
    if (this.panel && this.ready) {
      if (tracker !== this.tracker) {
        // A new listener (start, restart, moved): new ids, new totals.
        this.feed.selected = undefined;
        this.post(this.initMessage());
      } else {
        this.post({ type: 'state', ...this.stateOf(tracker) });
      }
    }
    this.updateSampling();
  }

  private updateSampling(): void {
    const want = this.controller.state === 'running' && this.controller.traffic !== undefined && (this.panel?.visible === true || this.view.visible);
    if (want && this.timer === undefined) {
      this.controller.traffic.tick(); // a baseline: the first rate comes a second later
      this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    } else if (!want) {
      this.stopSampling();
    }
  }

  private stopSampling(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.controller.traffic?.pause();
  }

  private sample(): void {
    const tracker = this.controller.traffic;
    if (!tracker || this.isDisposed) return;
    const t0 = performance.now();
    try {
      const result = tracker.tick();
      if (this.panel?.visible && this.ready && tracker === this.tracker) this.post(this.feed.tick(tracker, result));
    } catch (err) {
      this.log.error(`Traffic sampling failed: ${errorMessage(err)}`);
    }
    this.spent.samples++;
    this.spent.ms += performance.now() - t0;
  }

  private post(message: ToWebview): void {
    if (this.panel) background(this.panel.webview.postMessage(message), this.log);
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    // Web Crypto (a global in Node 20): node:crypto would load at activation with this module.
    const nonce = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(16))).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'traffic.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'traffic.css'));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
      `img-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
    ].join('; ');
    const lang = vscode.env.language.replace(/[^A-Za-z0-9-]/g, '');
    const title = t('SOCKS5 Traffic').replace(/[<>&"]/g, '');
    return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>${title}</title>
</head>
<body>
<main id="app" aria-busy="true"></main>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }
}
