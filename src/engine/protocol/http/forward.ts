// HTTP forwarding (absolute-URI requests): one client connection, one request at a time, each sent
// on to its origin server and its response streamed back, with keep-alive on both sides.
//
// - The outbound connection comes from the server's dialer (as for CONNECT: rules and an upstream
//   proxy apply); it is kept for the next request when that one goes to the same host:port and
//   the server kept it open, otherwise closed and a new one dialled.
// - Bodies are never buffered: each direction is written on as it arrives, with backpressure
//   (a side that cannot take more pauses the other). Their framing is followed (Content-Length,
//   chunked, to the close) only to know where a message ends.
// - Pipelined requests wait in the client's socket: the next head is read once the response to
//   the one before it is complete, so responses go back in order.
// - Heads are rewritten (./message): hop-by-hop fields out, Via in, Host from the URL, framing
//   restated; 1xx interim responses (100 Continue) pass to HTTP/1.1 clients.
// - A CONNECT on a kept-alive connection switches it to a tunnel (the same relay as SOCKS).

import type { Socket } from 'node:net';
import { formatHostPort } from '../../address';
import { established } from '../../commands/connect';
import { DialError, failureForError, type CommandHandler } from '../../commands/context';
import type { Session } from '../../session';
import type { Destination, Dialed } from '../../types';
import { ChunkedReader, encodeChunk, LAST_CHUNK } from './chunked';
import { authorize, httpState, refuse, servePage } from './door';
import { DEFAULT_HEAD_LIMITS, HeadReader } from './head';
import { clientFraming, CONTINUE, forwardedRequestHead, forwardedResponseHead, type ClientFraming } from './message';
import { parseRequestHead, type RequestHead } from './request';
import { parseResponseHead, type ResponseHead } from './response';

/** A kept-alive client connection with no request under way is closed after this long. */
export const KEEP_ALIVE_IDLE_MS = 60_000;

const EMPTY = Buffer.alloc(0);

/** The handler the door runs for an absolute-URI request (`first`): the session's command from then on. */
export function forwardHandler(first: RequestHead): CommandHandler {
  return (ctx) => new Forwarder(ctx as Session, first).start();
}

type Phase = 'dialing' | 'exchange' | 'idle' | 'done';

class Forwarder {
  private readonly client: Socket;
  private phase: Phase = 'dialing';
  /** Client bytes read and not used yet (the rest of a body, the next request). */
  private inbox: Buffer = EMPTY;
  private req: RequestHead;
  /** Request body: bytes left (Content-Length), or its chunked reader; done when both are spent. */
  private reqLeft = 0;
  private reqChunks: ChunkedReader | undefined;
  private reqDone = true;
  private upstream: Socket | undefined;
  private upstreamKey = '';
  /** Bytes read from upstreams closed before the current one (the session counts them all). */
  private downBefore = 0;
  private resReader: HeadReader | undefined;
  private res: ResponseHead | undefined;
  private how: ClientFraming = 'same';
  private resLeft = 0;
  private resChunks: ChunkedReader | undefined;
  private keepClient = false;
  private keepUpstream = false;
  private headReader: HeadReader | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private headTimer: NodeJS.Timeout | undefined;
  private clientEnded = false;
  private requests = 0;

  constructor(
    private readonly ctx: Session,
    first: RequestHead,
  ) {
    this.client = ctx.client;
    this.req = first;
  }

  start(): void {
    const ctx = this.ctx;
    this.inbox = ctx.takePending();
    // Every outbound connection this one has used counts: the ones closed and the current one.
    const bytesRead = (): number => this.downBefore + (this.upstream?.bytesRead ?? 0);
    ctx.update({
      upstream: {
        get bytesRead(): number {
          return bytesRead();
        },
      },
    });
    this.client.on('data', this.onClientData);
    this.client.on('end', this.onClientEnd);
    this.client.on('drain', this.onClientDrain);
    ctx.onClose(this.cleanup);
    const idle = ctx.config.timeouts.idleMs;
    if (idle > 0) this.client.setTimeout(idle, () => ctx.close({ kind: 'idle-timeout', message: `idle for ${Math.round(idle / 1000)} s` }));
    this.begin(this.req);
  }

  // --- one exchange ------------------------------------------------------------------------------

  /** A request head is complete: send it (dialling first when its host is not the one connected). */
  private begin(req: RequestHead): void {
    const ctx = this.ctx;
    const t = req.target;
    if (t.form !== 'absolute') throw new Error('not an absolute-form request');
    this.req = req;
    this.requests++;
    const st = httpState(ctx);
    st.method = req.method;
    st.minor = req.minor;
    st.answered = false;
    const destination: Destination = { type: t.type, host: t.host, port: t.port };
    ctx.update({ destination, http: { method: req.method, requests: this.requests } });
    if (ctx.logger.debugEnabled) ctx.logger.debug(`${ctx.tag} HTTP ${req.method} ${formatHostPort(t.host, t.port)}${t.path.length > 80 ? `${t.path.slice(0, 80)}…` : t.path}`);
    // Body framing of this request.
    this.reqDone = req.framing.kind === 'none';
    this.reqLeft = req.framing.kind === 'length' ? req.framing.length : 0;
    this.reqChunks = req.framing.kind === 'chunked' ? new ChunkedReader() : undefined;
    const key = formatHostPort(t.host, t.port);
    if (this.upstream && this.keepUpstream && key === this.upstreamKey && !this.upstream.destroyed) {
      this.send();
      return;
    }
    this.dropUpstream();
    this.phase = 'dialing';
    this.client.pause();
    ctx.update({ state: 'connecting' });
    const { dialer, resolver, timeouts } = ctx.config;
    let dialing: Promise<Dialed>;
    try {
      dialing = dialer.dial(destination, { timeoutMs: timeouts.connectMs, resolver, scope: ctx });
    } catch (err) {
      return this.dialFailed(err);
    }
    dialing.then(
      (d) => {
        if (ctx.isClosed) return void d.socket.destroy();
        ctx.own(d.socket);
        const up = d.socket;
        up.setNoDelay(true);
        up.on('data', this.onUpstreamData);
        up.on('end', this.onUpstreamEnd);
        up.on('error', this.onUpstreamError);
        up.on('drain', this.onUpstreamDrain);
        up.on('close', this.onUpstreamClose);
        this.upstream = up;
        this.upstreamKey = key;
        this.keepUpstream = true;
        ctx.update({ state: 'established', remote: d.remote, bound: { host: up.localAddress ?? '0.0.0.0', port: up.localPort ?? 0 } });
        this.send();
      },
      (err: unknown) => this.dialFailed(err),
    );
  }

  private dialFailed(err: unknown): void {
    if (this.ctx.isClosed) return;
    const detail = err instanceof Error ? err.message : String(err);
    this.ctx.fail(failureForError(err), detail, err instanceof DialError ? err.upstreamReply : undefined);
  }

  /** Upstream connected: the head, then whatever of the body has arrived. */
  private send(): void {
    const t = this.req.target as Extract<RequestHead['target'], { form: 'absolute' }>;
    this.phase = 'exchange';
    this.res = undefined;
    this.resReader = new HeadReader(DEFAULT_HEAD_LIMITS, 502);
    this.upstream!.write(forwardedRequestHead(this.req, t.host, t.port, t.path));
    const pending = this.inbox;
    this.inbox = EMPTY;
    if (pending.length > 0) this.clientBytes(pending);
    if (!this.reqDone) this.client.resume();
    else this.client.pause();
  }

  // --- client → upstream -------------------------------------------------------------------------

  private readonly onClientData = (chunk: Buffer): void => {
    try {
      this.clientBytes(chunk);
    } catch (err) {
      this.ctx.close({ kind: 'error', message: `internal error: ${(err as Error).message}` });
    }
  };

  private clientBytes(chunk: Buffer): void {
    if (this.phase === 'idle') return this.headBytes(chunk);
    if (this.phase !== 'exchange' || this.reqDone) {
      // The next request, pipelined: it waits (and so does the socket) until this response is out.
      this.inbox = this.inbox.length === 0 ? chunk : Buffer.concat([this.inbox, chunk]);
      this.client.pause();
      return;
    }
    let used: number;
    if (this.reqChunks) {
      used = this.reqChunks.push(chunk);
      if (used < 0) return this.badRequestBody(this.reqChunks.failure!);
      if (this.reqChunks.done) this.reqDone = true;
    } else {
      used = Math.min(this.reqLeft, chunk.length);
      this.reqLeft -= used;
      if (this.reqLeft === 0) this.reqDone = true;
    }
    const up = this.upstream!;
    if (used > 0 && !up.write(used === chunk.length ? chunk : chunk.subarray(0, used)) && up.writableLength > 0) this.client.pause();
    if (used < chunk.length) {
      this.inbox = chunk.subarray(used);
      this.client.pause();
    }
    if (this.reqDone && this.res === undefined) this.client.pause();
    if (this.reqDone && this.responseComplete) this.exchangeDone();
  }

  private badRequestBody(reason: string): void {
    // The body is already on its way to the server: cut both sides.
    this.ctx.close({ kind: 'protocol-error', message: `malformed chunked request body: ${reason}` });
  }

  private readonly onUpstreamDrain = (): void => {
    if (this.phase === 'exchange' && !this.reqDone) this.client.resume();
  };

  private readonly onClientEnd = (): void => {
    this.clientEnded = true;
    this.ctx.ended('client');
    if (this.phase === 'idle' || this.phase === 'dialing') this.finish();
    // Mid-exchange: the response still goes back; the connection closes after it.
  };

  // --- upstream → client -------------------------------------------------------------------------

  private responseComplete = false;

  private readonly onUpstreamData = (chunk: Buffer): void => {
    try {
      this.upstreamBytes(chunk);
    } catch (err) {
      this.ctx.close({ kind: 'error', message: `internal error: ${(err as Error).message}` });
    }
  };

  private upstreamBytes(chunk: Buffer): void {
    if (this.phase !== 'exchange' || this.responseComplete) {
      // Bytes no request asked for: this connection cannot be trusted with another one.
      this.keepUpstream = false;
      return;
    }
    let at = 0;
    while (at < chunk.length && !this.responseComplete) {
      if (this.res === undefined) {
        const r = this.resReader!.push(at === 0 ? chunk : chunk.subarray(at));
        if (r.status === 'more') return;
        if (r.status === 'error') return this.badResponse(r.reason);
        at = chunk.length - r.rest.length;
        const res = parseResponseHead(r.lines, this.req.method);
        if (typeof res === 'string') return this.badResponse(res);
        if (res.status < 200) {
          if (res.status === 101) return this.badResponse('101 Switching Protocols without an Upgrade asked for');
          // Interim (100 Continue, 103 Early Hints): HTTP/1.1 clients get it, then the real answer follows.
          if (this.req.minor === 1) this.client.write(res.status === 100 ? CONTINUE : forwardedResponseHead(res, 1, 'same', false));
          this.resReader = new HeadReader(DEFAULT_HEAD_LIMITS, 502);
          continue;
        }
        this.startResponse(res);
        continue;
      }
      at += this.bodyBytes(at === 0 ? chunk : chunk.subarray(at));
    }
    if (at < chunk.length) this.keepUpstream = false; // more than the response: never reused
    if (this.responseComplete) {
      if (this.reqDone) this.exchangeDone();
      // Answered before the body was all sent (an early 413, a refused 100-continue): the rest of
      // the body has nowhere to go, so the connection ends with this response.
      else this.finishAfterResponse();
    }
  }

  private startResponse(res: ResponseHead): void {
    const st = httpState(this.ctx);
    this.res = res;
    this.how = clientFraming(res.framing, this.req.minor);
    this.keepClient = this.req.keepAlive && !this.clientEnded && this.how !== 'dechunk' && !(res.framing.kind === 'close' && this.req.minor === 0);
    this.keepUpstream = this.keepUpstream && res.keepAlive;
    this.resLeft = res.framing.kind === 'length' ? res.framing.length : 0;
    this.resChunks = res.framing.kind === 'chunked' ? new ChunkedReader() : undefined;
    st.answered = true;
    this.write(forwardedResponseHead(res, this.req.minor, this.how, !this.keepClient));
    if (res.framing.kind === 'none') this.responseComplete = true;
  }

  /** Body bytes at the start of `chunk`: written on; returns how many belonged to the body. */
  private bodyBytes(chunk: Buffer): number {
    const f = this.res!.framing;
    if (f.kind === 'close') {
      this.write(this.how === 'chunk' ? encodeChunk(chunk) : chunk);
      return chunk.length;
    }
    if (f.kind === 'length') {
      const used = Math.min(this.resLeft, chunk.length);
      this.resLeft -= used;
      this.write(used === chunk.length ? chunk : chunk.subarray(0, used));
      if (this.resLeft === 0) this.responseComplete = true;
      return used;
    }
    const chunks = this.resChunks!;
    let used: number;
    if (this.how === 'dechunk') {
      const parts: Buffer[] = [];
      used = chunks.push(chunk, 0, (s, e) => parts.push(chunk.subarray(s, e)));
      if (parts.length > 0) this.write(parts);
    } else {
      used = chunks.push(chunk);
      if (used > 0) this.write(used === chunk.length ? chunk : chunk.subarray(0, used));
    }
    if (used < 0) {
      this.badResponse(`malformed chunked response: ${chunks.failure!}`);
      return chunk.length;
    }
    if (chunks.done) this.responseComplete = true;
    return used;
  }

  /** Writes to the client; when it cannot take more, the upstream waits for 'drain'. */
  private write(data: Buffer | Buffer[]): void {
    let ok = true;
    if (Array.isArray(data)) for (const d of data) ok = this.client.write(d) && ok;
    else ok = this.client.write(data);
    if (!ok && this.client.writableLength > 0) this.upstream?.pause();
  }

  private readonly onClientDrain = (): void => {
    this.upstream?.resume();
  };

  private readonly onUpstreamEnd = (): void => {
    if (this.phase === 'exchange' && this.res !== undefined && !this.responseComplete && this.res.framing.kind === 'close') {
      this.responseComplete = true;
      this.keepUpstream = false;
      if (this.reqDone) this.exchangeDone();
      else this.finishAfterResponse();
      return;
    }
    this.keepUpstream = false;
    if (this.phase === 'exchange' && !this.responseComplete) {
      if (this.res === undefined) return this.badResponse('the server closed the connection without a response');
      // A body cut short: the client must not take it for a whole one.
      return this.ctx.close({ kind: 'error', message: 'the server closed the connection in the middle of a response' });
    }
    // Between requests: forget it; the next request dials again.
    this.dropUpstream();
  };

  private readonly onUpstreamError = (err: Error): void => {
    if (this.phase === 'exchange' && !this.responseComplete) {
      if (this.res === undefined) return this.badResponse(`the server's connection failed: ${err.message}`);
      return this.ctx.close({ kind: 'error', message: `target: ${err.message}` });
    }
    this.keepUpstream = false;
    this.dropUpstream();
  };

  private readonly onUpstreamClose = (): void => {
    this.keepUpstream = false;
  };

  /** The server's answer cannot be used: 502 when nothing has gone to the client yet, else cut. */
  private badResponse(reason: string): void {
    const st = httpState(this.ctx);
    if (st.answered) return this.ctx.close({ kind: 'error', message: `bad response from the server: ${reason}` });
    this.ctx.fail('general', `bad response from the server: ${reason}`);
  }

  // --- between exchanges -------------------------------------------------------------------------

  /** Request and response both complete. */
  private exchangeDone(): void {
    if (this.phase !== 'exchange') return;
    if (this.how === 'chunk') this.client.write(LAST_CHUNK);
    this.responseComplete = false;
    this.res = undefined;
    this.resReader = undefined;
    if (!this.keepUpstream) this.dropUpstream();
    if (!this.keepClient || this.clientEnded) return this.finish();
    // Wait for the next request (it may be waiting in the inbox already).
    this.phase = 'idle';
    this.headReader = new HeadReader(DEFAULT_HEAD_LIMITS);
    this.idleTimer = setTimeout(this.onKeepAliveIdle, KEEP_ALIVE_IDLE_MS);
    const pending = this.inbox;
    this.inbox = EMPTY;
    if (pending.length > 0) this.headBytes(pending);
    if (this.phase === 'idle') this.client.resume();
  }

  /** The response is complete but the client is still sending a body nobody reads: close after it. */
  private finishAfterResponse(): void {
    if (this.how === 'chunk') this.client.write(LAST_CHUNK);
    this.finish();
  }

  private readonly onKeepAliveIdle = (): void => {
    if (this.phase === 'idle' && (this.headReader?.bytes ?? 0) === 0) this.finish();
  };

  private readonly onHeadTimeout = (): void => {
    if (this.phase !== 'idle') return;
    refuse(this.ctx, 408, 'request header not complete in time');
  };

  /** Bytes of the next request head (phase idle). */
  private headBytes(chunk: Buffer): void {
    const reader = this.headReader!;
    const before = reader.bytes;
    const r = reader.push(chunk);
    if (before === 0 && this.headTimer === undefined && r.status === 'more') {
      const ms = this.ctx.config.timeouts.handshakeMs;
      if (ms > 0) this.headTimer = setTimeout(this.onHeadTimeout, ms);
    }
    if (r.status === 'more') return;
    clearTimeout(this.headTimer);
    this.headTimer = undefined;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (r.status === 'error') return refuse(this.ctx, r.code, r.reason);
    this.inbox = r.rest;
    const req = parseRequestHead(r.lines);
    const st = httpState(this.ctx);
    if ('code' in req) return refuse(this.ctx, req.code, req.reason);
    st.method = req.method;
    st.minor = req.minor;
    const t = req.target;
    if (t.form === 'origin' || t.form === 'asterisk') return servePage(this.ctx, req);
    if (!authorize(this.ctx, req)) return;
    if (t.form === 'authority') return this.tunnel(req);
    this.begin(req);
  }

  /** CONNECT on a kept-alive connection: from now on a tunnel, as if it had been the first request. */
  private tunnel(req: RequestHead): void {
    const ctx = this.ctx;
    const t = req.target as Extract<RequestHead['target'], { form: 'authority' }>;
    this.phase = 'done';
    this.client.pause();
    this.dropUpstream();
    this.detach();
    ctx.protocol = 'http-connect';
    const st = httpState(ctx);
    st.mode = 'connect';
    st.answered = false;
    const destination: Destination = { type: t.type, host: t.host, port: t.port };
    ctx.update({ state: 'connecting', destination, http: undefined });
    const first = this.inbox;
    this.inbox = EMPTY;
    const { dialer, resolver, timeouts } = ctx.config;
    dialer.dial(destination, { timeoutMs: timeouts.connectMs, resolver, scope: ctx }).then(
      (d) => {
        if (ctx.isClosed) return void d.socket.destroy();
        // The bytes of the requests before it stay counted.
        const down = this.downBefore;
        const remote = d.socket;
        established(ctx, d, first);
        ctx.update({
          upstream: {
            get bytesRead(): number {
              return down + remote.bytesRead;
            },
          },
        });
      },
      (err: unknown) => this.dialFailed(err),
    );
  }

  private dropUpstream(): void {
    const up = this.upstream;
    if (!up) return;
    this.upstream = undefined;
    this.downBefore += up.bytesRead;
    up.removeListener('data', this.onUpstreamData);
    up.removeListener('end', this.onUpstreamEnd);
    up.removeListener('drain', this.onUpstreamDrain);
    up.removeListener('close', this.onUpstreamClose);
    up.removeListener('error', this.onUpstreamError);
    up.on('error', () => {});
    up.destroy();
  }

  /** Done with the connection: end it once what was written is out (then the session closes). */
  private finish(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.dropUpstream();
    this.detach();
    const ctx = this.ctx;
    ctx.ended(this.clientEnded ? 'client' : 'target');
    if (!this.client.writableEnded) this.client.end();
    // The client closes its side on seeing the end; never wait for it longer than this.
    const t = setTimeout(() => this.client.destroy(), 2000);
    t.unref();
    this.client.once('close', () => clearTimeout(t));
  }

  private detach(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.headTimer);
    this.client.removeListener('data', this.onClientData);
    this.client.removeListener('end', this.onClientEnd);
    this.client.removeListener('drain', this.onClientDrain);
  }

  private readonly cleanup = (): void => {
    this.phase = 'done';
    clearTimeout(this.idleTimer);
    clearTimeout(this.headTimer);
  };
}
