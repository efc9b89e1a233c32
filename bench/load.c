/*
 * The benchmark's load generator and targets, in C so that the client side is never the
 * bottleneck: one epoll loop per process, non-blocking sockets, one reused 1 MiB buffer.
 * Compiled by bench/run.ts (cc -O2) into its work dir.
 *
 *   load targets HOST[,HOST...]      TCP source, TCP sink, TCP echo (on every HOST, same port),
 *                                    UDP echo; prints one JSON line with the ports; runs until
 *                                    stdin closes.
 *   load client key=value...         one job; prints START / END lines at the edges of its
 *                                    measuring window (the caller samples CPU there), READY for
 *                                    idle (then waits for stdin), and one JSON result line.
 *
 * Client keys: mode=tput|connrate|rtt|idle|udp  proxy=HOST:PORT|none  target=HOST:PORT
 *              dir=down|up streams=N conc=N hosts=H1,H2 size=N count=N parallel=N inflight=N
 *              warm=MS measure=MS
 * SOCKS5 as a client: no authentication, CONNECT / UDP ASSOCIATE to IPv4, waiting for each reply.
 * via=http: HTTP CONNECT instead (`CONNECT ip:port HTTP/1.1`, waiting for a 2xx answer's head).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 70000
#define BUFSZ (1 << 20)

static unsigned char buf[BUFSZ];
static unsigned char wbuf[BUFSZ];
static int ep;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  printf("{\"ok\":false,\"error\":\"%s: %s\"}\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }
static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
static void ep_add(int fd, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl add");
}
static void ep_mod(int fd, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

static struct sockaddr_in addr_of(const char *hostport) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  char host[64];
  const char *colon = strrchr(hostport, ':');
  size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);
  if (n >= sizeof host) n = sizeof host - 1;
  memcpy(host, hostport, n);
  host[n] = 0;
  inet_pton(AF_INET, host, &a.sin_addr);
  a.sin_port = htons(colon ? atoi(colon + 1) : 0);
  return a;
}

/* ================================================================== targets */

enum { K_NONE, K_LSOURCE, K_LSINK, K_LECHO, K_SOURCE, K_SINK, K_ECHO, K_UDP, K_STDIN };
static unsigned char kind[MAXFD];
/* echo: bytes read but not yet written back (only when the peer stops reading) */
static unsigned char *pend[MAXFD];
static int pendlen[MAXFD];

static int listen_on(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  nonblock(fd);
  return fd;
}
static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  return ntohs(a.sin_port);
}
static void tclose(int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  kind[fd] = K_NONE;
  free(pend[fd]);
  pend[fd] = NULL;
  pendlen[fd] = 0;
}

static void source_pump(int fd) {
  for (int i = 0; i < 64; i++) {
    ssize_t w = write(fd, wbuf, BUFSZ);
    if (w < 0) {
      if (errno != EAGAIN) tclose(fd);
      return;
    }
    if (w < BUFSZ) return;
  }
}

static void echo_read(int fd) {
  for (;;) {
    ssize_t r = read(fd, buf, BUFSZ);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
      tclose(fd);
      return;
    }
    if (r < 0) return;
    ssize_t w = write(fd, buf, r);
    if (w < 0) {
      if (errno != EAGAIN) {
        tclose(fd);
        return;
      }
      w = 0;
    }
    if (w < r) { /* peer is not reading: keep the rest, stop reading until it is written */
      pendlen[fd] = r - w;
      pend[fd] = malloc(pendlen[fd]);
      memcpy(pend[fd], buf + w, pendlen[fd]);
      ep_mod(fd, EPOLLOUT);
      return;
    }
    if (r < BUFSZ) return;
  }
}

static void echo_flush(int fd) {
  ssize_t w = write(fd, pend[fd], pendlen[fd]);
  if (w < 0) {
    if (errno != EAGAIN) tclose(fd);
    return;
  }
  if (w < pendlen[fd]) {
    memmove(pend[fd], pend[fd] + w, pendlen[fd] - w);
    pendlen[fd] -= w;
    return;
  }
  free(pend[fd]);
  pend[fd] = NULL;
  pendlen[fd] = 0;
  ep_mod(fd, EPOLLIN | EPOLLRDHUP);
}

static int targets(const char *hosts) {
  memset(wbuf, 'a', BUFSZ);
  ep = epoll_create1(0);
  int ls = listen_on("127.0.0.1", 0), lk = listen_on("127.0.0.1", 0);
  kind[ls] = K_LSOURCE;
  kind[lk] = K_LSINK;
  ep_add(ls, EPOLLIN);
  ep_add(lk, EPOLLIN);
  char list[512];
  snprintf(list, sizeof list, "%s", hosts);
  int echo_port = 0;
  char json_hosts[1024] = "";
  for (char *h = strtok(list, ","); h; h = strtok(NULL, ",")) {
    int fd = listen_on(h, echo_port);
    echo_port = port_of(fd);
    kind[fd] = K_LECHO;
    ep_add(fd, EPOLLIN);
    size_t l = strlen(json_hosts);
    snprintf(json_hosts + l, sizeof json_hosts - l, "%s\"%s\"", l ? "," : "", h);
  }
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in ua = addr_of("127.0.0.1:0");
  if (bind(u, (struct sockaddr *)&ua, sizeof ua) < 0) die("bind udp");
  int big = 4 << 20;
  setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  nonblock(u);
  kind[u] = K_UDP;
  ep_add(u, EPOLLIN);
  kind[0] = K_STDIN;
  ep_add(0, EPOLLIN);
  printf("{\"source\":%d,\"sink\":%d,\"echo\":%d,\"echoHosts\":[%s],\"udp\":%d}\n", port_of(ls), port_of(lk), echo_port,
         json_hosts, port_of(u));
  fflush(stdout);

  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      uint32_t e = evs[i].events;
      switch (kind[fd]) {
      case K_STDIN:
        if (read(0, buf, 4096) <= 0) return 0;
        break;
      case K_LSOURCE:
      case K_LSINK:
      case K_LECHO: {
        for (int k = 0; k < 64; k++) {
          int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
          if (c < 0) break;
          if (c >= MAXFD) {
            close(c);
            continue;
          }
          nodelay(c);
          if (kind[fd] == K_LSOURCE) {
            kind[c] = K_SOURCE;
            ep_add(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
          } else {
            kind[c] = kind[fd] == K_LSINK ? K_SINK : K_ECHO;
            ep_add(c, EPOLLIN | EPOLLRDHUP);
          }
        }
        break;
      }
      case K_SOURCE:
        if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
          tclose(fd);
          break;
        }
        if (e & EPOLLIN) {
          ssize_t r = read(fd, buf, BUFSZ);
          if (r == 0 || (r < 0 && errno != EAGAIN)) {
            tclose(fd);
            break;
          }
        }
        if (e & EPOLLOUT) source_pump(fd);
        break;
      case K_SINK:
        for (;;) {
          ssize_t r = read(fd, buf, BUFSZ);
          if (r == 0 || (r < 0 && errno != EAGAIN)) {
            tclose(fd);
            break;
          }
          if (r < BUFSZ) break;
        }
        break;
      case K_ECHO:
        if (pendlen[fd] > 0) {
          if (e & (EPOLLERR | EPOLLHUP)) tclose(fd);
          else if (e & EPOLLOUT) echo_flush(fd);
        } else echo_read(fd);
        break;
      case K_UDP:
        for (int k = 0; k < 64; k++) {
          struct sockaddr_in from;
          socklen_t fl = sizeof from;
          ssize_t r = recvfrom(fd, buf, 65536, 0, (struct sockaddr *)&from, &fl);
          if (r < 0) break;
          sendto(fd, buf, r, 0, (struct sockaddr *)&from, fl);
        }
        break;
      }
    }
  }
}

/* ================================================================== client */

static const char *opt(int argc, char **argv, const char *key, const char *def) {
  size_t kl = strlen(key);
  for (int i = 2; i < argc; i++)
    if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=') return argv[i] + kl + 1;
  return def;
}

enum { S_CONNECTING, S_METHOD, S_REPLY, S_HTTP, S_DATA };
struct conn {
  unsigned char state, used, done;
  unsigned short hslen;
  unsigned char hs[256];
  struct sockaddr_in dest;
  int got;
  int slot;
  double t;
};
static struct conn *conns;

static int mode_tput, mode_connrate, mode_rtt, mode_idle;
static int up;
static int have_proxy;
static int via_http;
static struct sockaddr_in proxy;
static int size = 64;
static long long moved, completed, errors, opened;
static int measuring;
static double *lat;
static long nlat, latcap = 4000000;
static int nhosts;
static struct sockaddr_in hosts[16];
static int target_port;
static long launched, wanted, ready_count;

static void cclose(int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  conns[fd].used = 0;
}

static int copen(struct sockaddr_in dest, int slot) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (fd >= MAXFD) {
    close(fd);
    errno = EMFILE;
    return -1;
  }
  nodelay(fd);
  struct sockaddr_in at = have_proxy ? proxy : dest;
  int r = connect(fd, (struct sockaddr *)&at, sizeof at);
  if (r < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  struct conn *c = &conns[fd];
  memset(c, 0, sizeof *c);
  c->used = 1;
  c->state = S_CONNECTING;
  c->dest = dest;
  c->slot = slot;
  ep_add(fd, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
  return fd;
}

static void on_ready(int fd);
static void on_data(int fd, unsigned char *p, long n);
static void on_fail(int fd);

static void start_slot(int slot) {
  struct sockaddr_in d = hosts[(slot + launched) % nhosts];
  d.sin_port = htons(target_port);
  launched++;
  if (copen(d, slot) < 0) {
    errors++;
  }
}

static void handshake(int fd, unsigned char *p, long n) {
  struct conn *c = &conns[fd];
  if (c->hslen + n > (long)sizeof c->hs) {
    on_fail(fd);
    return;
  }
  memcpy(c->hs + c->hslen, p, n);
  c->hslen += n;
  if (c->state == S_HTTP) {
    unsigned char *end = memmem(c->hs, c->hslen, "\r\n\r\n", 4);
    if (!end) {
      if (c->hslen == sizeof c->hs) on_fail(fd);
      return;
    }
    /* "HTTP/1.x 2xx" */
    if (c->hslen < 12 || memcmp(c->hs, "HTTP/1.", 7) != 0 || c->hs[9] != '2') {
      on_fail(fd);
      return;
    }
    int len = (int)(end - c->hs) + 4;
    int rest = c->hslen - len;
    unsigned char tmp[sizeof c->hs];
    memcpy(tmp, c->hs + len, rest);
    c->hslen = 0;
    c->state = S_DATA;
    on_ready(fd);
    if (rest > 0 && conns[fd].used) on_data(fd, tmp, rest);
    return;
  }
  if (c->state == S_METHOD) {
    if (c->hslen < 2) return;
    if (c->hs[0] != 5 || c->hs[1] != 0) {
      on_fail(fd);
      return;
    }
    memmove(c->hs, c->hs + 2, c->hslen - 2);
    c->hslen -= 2;
    unsigned char req[10] = {5, 1, 0, 1};
    memcpy(req + 4, &c->dest.sin_addr, 4);
    memcpy(req + 8, &c->dest.sin_port, 2);
    if (write(fd, req, 10) != 10) {
      on_fail(fd);
      return;
    }
    c->state = S_REPLY;
  }
  if (c->hslen < 5) return;
  int len = c->hs[3] == 1 ? 10 : c->hs[3] == 4 ? 22 : 7 + c->hs[4];
  if (c->hslen < len) return;
  if (c->hs[1] != 0) {
    on_fail(fd);
    return;
  }
  c->state = S_DATA;
  int rest = c->hslen - len;
  unsigned char tmp[32];
  memcpy(tmp, c->hs + len, rest);
  c->hslen = 0;
  on_ready(fd);
  if (rest > 0 && conns[fd].used) on_data(fd, tmp, rest);
}

static void up_pump(int fd) {
  for (int i = 0; i < 64; i++) {
    ssize_t w = write(fd, wbuf, BUFSZ);
    if (w < 0) {
      if (errno != EAGAIN) on_fail(fd);
      return;
    }
    if (measuring) moved += w;
    if (w < BUFSZ) return;
  }
}

static void on_ready(int fd) {
  struct conn *c = &conns[fd];
  ready_count++;
  if (mode_tput) {
    if (up) {
      ep_mod(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
      up_pump(fd);
    } else ep_mod(fd, EPOLLIN | EPOLLRDHUP);
    return;
  }
  ep_mod(fd, EPOLLIN | EPOLLRDHUP);
  if (mode_rtt) {
    c->t = now();
    if (write(fd, wbuf, size) != size) on_fail(fd);
    return;
  }
  /* connrate, idle: one byte, wait for its echo */
  if (write(fd, "x", 1) != 1) on_fail(fd);
}

static void on_data(int fd, unsigned char *p, long n) {
  (void)p;
  struct conn *c = &conns[fd];
  if (mode_tput) {
    if (measuring) moved += n;
    return;
  }
  if (mode_rtt) {
    c->got += n;
    while (c->got >= size) {
      c->got -= size;
      double t = now();
      if (measuring && nlat < latcap) lat[nlat++] = (t - c->t) * 1e6;
      c->t = t;
      if (write(fd, wbuf, size) != size) {
        on_fail(fd);
        return;
      }
    }
    return;
  }
  if (c->done) return;
  c->done = 1;
  if (mode_connrate) {
    if (measuring) completed++;
    int slot = c->slot;
    cclose(fd);
    start_slot(slot);
    return;
  }
  /* idle: keep it open, open the next */
  opened++;
  if (launched < wanted) start_slot(0);
}

static void on_fail(int fd) {
  struct conn *c = &conns[fd];
  int slot = c->slot, done = c->done;
  errors++;
  cclose(fd);
  if (mode_connrate && errors < 100000) start_slot(slot);
  if (mode_idle && !done && launched < wanted) start_slot(0);
}

static void client_event(int fd, uint32_t e) {
  struct conn *c = &conns[fd];
  if (!c->used) return;
  if (c->state == S_CONNECTING) {
    if (!(e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err || (e & (EPOLLERR | EPOLLHUP))) {
      on_fail(fd);
      return;
    }
    if (have_proxy && via_http) {
      c->state = S_HTTP;
      ep_mod(fd, EPOLLIN | EPOLLRDHUP);
      char ip[INET_ADDRSTRLEN], req[128];
      inet_ntop(AF_INET, &c->dest.sin_addr, ip, sizeof ip);
      int port = ntohs(c->dest.sin_port);
      int len = snprintf(req, sizeof req, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", ip, port, ip, port);
      if (write(fd, req, len) != len) on_fail(fd);
    } else if (have_proxy) {
      c->state = S_METHOD;
      ep_mod(fd, EPOLLIN | EPOLLRDHUP);
      if (write(fd, "\x05\x01\x00", 3) != 3) on_fail(fd);
    } else {
      c->state = S_DATA;
      on_ready(fd);
    }
    return;
  }
  if (e & EPOLLIN) {
    for (;;) {
      /* During the handshake read no further than the message being waited for: what follows
         the reply is relayed data and goes to on_data. */
      long want = BUFSZ;
      if (c->state == S_METHOD) want = 2 - c->hslen;
      else if (c->state == S_HTTP) want = sizeof c->hs - c->hslen;
      else if (c->state == S_REPLY) {
        if (c->hslen < 5) want = 5 - c->hslen;
        else want = (c->hs[3] == 1 ? 10 : c->hs[3] == 4 ? 22 : 7 + c->hs[4]) - c->hslen;
        if (want <= 0 || c->hslen + want > (long)sizeof c->hs) {
          on_fail(fd);
          return;
        }
      }
      long r = read(fd, buf, want);
      if (r == 0) {
        if (!(mode_connrate && c->done)) on_fail(fd);
        return;
      }
      if (r < 0) {
        if (errno != EAGAIN) on_fail(fd);
        break;
      }
      if (c->state == S_DATA) on_data(fd, buf, r);
      else handshake(fd, buf, r);
      if (!c->used || (c->state == S_DATA && r < want)) break;
    }
    if (!c->used) return;
  } else if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
    on_fail(fd);
    return;
  }
  if ((e & EPOLLOUT) && mode_tput && up && c->state == S_DATA) up_pump(fd);
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(double secs, long long count) {
  double p50 = -1, p99 = -1;
  if (nlat > 0) {
    qsort(lat, nlat, sizeof *lat, cmpd);
    p50 = lat[nlat / 2];
    p99 = lat[(long)(nlat * 0.99)];
  }
  printf("{\"ok\":%s,\"count\":%lld,\"secs\":%.6f,\"rate\":%.3f,\"errors\":%lld", count > 0 ? "true" : "false", count, secs,
         count / secs, errors);
  if (p50 >= 0) printf(",\"p50us\":%.2f,\"p99us\":%.2f", p50, p99);
  printf("}\n");
  fflush(stdout);
}

static void mark(const char *s) {
  printf("%s\n", s);
  fflush(stdout);
}

static int udp_client(int argc, char **argv) {
  int inflight = atoi(opt(argc, argv, "inflight", "1"));
  double warm = atof(opt(argc, argv, "warm", "500")) / 1000, measure = atof(opt(argc, argv, "measure", "2000")) / 1000;
  struct sockaddr_in target = addr_of(opt(argc, argv, "target", "127.0.0.1:0"));
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = addr_of("127.0.0.1:0");
  if (bind(u, (struct sockaddr *)&me, sizeof me) < 0) die("bind");
  socklen_t ml = sizeof me;
  getsockname(u, (struct sockaddr *)&me, &ml);
  struct sockaddr_in relay = target;
  unsigned char dg[2048];
  int hdr = 0;
  int ctl = -1;
  if (have_proxy) {
    ctl = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(ctl, (struct sockaddr *)&proxy, sizeof proxy) < 0) die("connect proxy");
    unsigned char r[32];
    if (write(ctl, "\x05\x01\x00", 3) != 3 || read(ctl, r, 2) != 2 || r[1] != 0) die("greeting");
    unsigned char req[10] = {5, 3, 0, 1};
    memcpy(req + 4, &me.sin_addr, 4);
    memcpy(req + 8, &me.sin_port, 2);
    if (write(ctl, req, 10) != 10) die("request");
    int got = 0;
    while (got < 10) {
      ssize_t k = read(ctl, r + got, 10 - got);
      if (k <= 0) die("reply");
      got += k;
    }
    if (r[1] != 0) {
      printf("{\"ok\":false,\"error\":\"UDP ASSOCIATE reply 0x%x\"}\n", r[1]);
      return 0;
    }
    relay.sin_family = AF_INET;
    memcpy(&relay.sin_addr, r + 4, 4);
    memcpy(&relay.sin_port, r + 8, 2);
    if (relay.sin_addr.s_addr == 0) relay.sin_addr = proxy.sin_addr;
    unsigned char h[10] = {0, 0, 0, 1};
    memcpy(h + 4, &target.sin_addr, 4);
    memcpy(h + 8, &target.sin_port, 2);
    memcpy(dg, h, 10);
    hdr = 10;
  }
  memset(dg + hdr, 'u', size);
  int dlen = hdr + size;
  if (connect(u, (struct sockaddr *)&relay, sizeof relay) < 0) die("connect udp");
  nonblock(u);
  ep = epoll_create1(0);
  ep_add(u, EPOLLIN);
  double t0 = now(), sent_at = 0, last_progress = t0;
  long long received = 0, in_window = 0, stalls = 0;
  for (int i = 0; i < inflight; i++) {
    sent_at = now();
    send(u, dg, dlen, 0);
  }
  int phase = 0; /* 0 warm, 1 measuring */
  double wstart = 0;
  struct epoll_event ev[4];
  for (;;) {
    double t = now();
    if (phase == 0 && t - t0 >= warm) {
      phase = 1;
      mark("START");
      wstart = now();
      measuring = 1;
    } else if (phase == 1 && t - wstart >= measure) {
      double secs = now() - wstart;
      measuring = 0;
      mark("END");
      errors += stalls;
      report(secs, in_window);
      if (ctl >= 0) close(ctl);
      return 0;
    }
    if (t - last_progress > 0.02) { /* lost datagrams: refill the window */
      stalls++;
      last_progress = t;
      for (int i = 0; i < inflight; i++) {
        sent_at = now();
        send(u, dg, dlen, 0);
      }
    }
    int n = epoll_wait(ep, ev, 4, 5);
    if (n <= 0) continue;
    for (int k = 0; k < 256; k++) {
      ssize_t r = recv(u, buf, sizeof dg, 0);
      if (r < 0) break;
      if (r != dlen) {
        errors++;
        continue;
      }
      received++;
      double ts = now();
      last_progress = ts;
      if (measuring) {
        in_window++;
        if (inflight == 1 && nlat < latcap) lat[nlat++] = (ts - sent_at) * 1e6;
      }
      sent_at = ts;
      send(u, dg, dlen, 0);
    }
  }
}

static int client(int argc, char **argv) {
  const char *mode = opt(argc, argv, "mode", "tput");
  const char *px = opt(argc, argv, "proxy", "none");
  have_proxy = strcmp(px, "none") != 0;
  if (have_proxy) proxy = addr_of(px);
  via_http = strcmp(opt(argc, argv, "via", "socks5"), "http") == 0;
  size = atoi(opt(argc, argv, "size", "64"));
  memset(wbuf, 'b', BUFSZ);
  lat = malloc(sizeof(double) * latcap);
  if (strcmp(mode, "udp") == 0) return udp_client(argc, argv);
  mode_tput = strcmp(mode, "tput") == 0;
  mode_connrate = strcmp(mode, "connrate") == 0;
  mode_rtt = strcmp(mode, "rtt") == 0;
  mode_idle = strcmp(mode, "idle") == 0;
  up = strcmp(opt(argc, argv, "dir", "down"), "up") == 0;
  double warm = atof(opt(argc, argv, "warm", "500")) / 1000, measure = atof(opt(argc, argv, "measure", "2000")) / 1000;
  struct sockaddr_in target = addr_of(opt(argc, argv, "target", "127.0.0.1:0"));
  target_port = ntohs(target.sin_port);
  char hl[512];
  snprintf(hl, sizeof hl, "%s", opt(argc, argv, "hosts", "127.0.0.1"));
  for (char *h = strtok(hl, ","); h && nhosts < 16; h = strtok(NULL, ",")) hosts[nhosts++] = addr_of(h);
  conns = calloc(MAXFD, sizeof *conns);
  ep = epoll_create1(0);
  signal(SIGPIPE, SIG_IGN);

  long startn = 1;
  if (mode_tput) startn = atoi(opt(argc, argv, "streams", "1"));
  if (mode_connrate) startn = atoi(opt(argc, argv, "conc", "64"));
  if (mode_idle) {
    wanted = atol(opt(argc, argv, "count", "10000"));
    startn = atol(opt(argc, argv, "parallel", "128"));
    if (startn > wanted) startn = wanted;
  }
  if (!mode_idle) wanted = startn;
  for (long i = 0; i < startn; i++) {
    if (mode_tput || mode_rtt) {
      launched++;
      if (copen(target, (int)i) < 0) die("connect");
    } else start_slot((int)i);
  }

  double t0 = now(), wstart = 0;
  int phase = 0; /* 0 until all ready (+warm), 1 measuring */
  double readyAt = -1;
  struct epoll_event evs[512];
  for (;;) {
    double t = now();
    if (mode_idle) {
      if (opened + errors >= wanted || t - t0 > 120) {
        printf("READY %lld %lld %.0f\n", opened, errors, (t - t0) * 1000);
        fflush(stdout);
        char line[16];
        ssize_t r = read(0, line, sizeof line); /* the caller samples memory, then closes our stdin */
        (void)r;
        printf("{\"ok\":%s,\"count\":%lld,\"secs\":%.3f,\"rate\":0,\"errors\":%lld}\n", opened > 0 ? "true" : "false", opened,
               t - t0, errors);
        fflush(stdout);
        return 0;
      }
    } else if (phase == 0) {
      int all = (mode_tput || mode_rtt) ? ready_count >= startn : 1;
      if (all && readyAt < 0) readyAt = t;
      if (readyAt >= 0 && t - readyAt >= warm) {
        phase = 1;
        mark("START");
        wstart = now();
        measuring = 1;
      }
      if ((mode_tput || mode_rtt) && errors > 0) {
        printf("{\"ok\":false,\"error\":\"tunnel setup failed\"}\n");
        return 0;
      }
      if (t - t0 > 30) {
        printf("{\"ok\":false,\"error\":\"tunnels not ready after 30 s (%ld of %ld)\"}\n", ready_count, startn);
        return 0;
      }
    } else if (t - wstart >= measure) {
      measuring = 0;
      double secs = now() - wstart;
      mark("END");
      report(secs, mode_tput ? moved : mode_connrate ? completed : nlat);
      return 0;
    }
    int n = epoll_wait(ep, evs, 512, 2);
    for (int i = 0; i < n; i++) client_event(evs[i].data.fd, evs[i].events);
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 3 && strcmp(argv[1], "targets") == 0) return targets(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "client") == 0) return client(argc, argv);
  fprintf(stderr, "usage: load targets HOST[,HOST...] | load client key=value...\n");
  return 2;
}
