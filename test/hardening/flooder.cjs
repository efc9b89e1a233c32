// A connection flood in its own process (its fds and CPU are not the test's):
//   node flooder.cjs PORT COUNT MODE
// keeps COUNT connections to 127.0.0.1:PORT open, reconnecting each one as it is cut, until its
// stdin ends. MODE: silent (connect, send nothing), trickle (a valid SOCKS5 greeting + CONNECT
// one byte a second, never the last byte), byte:HEX (that first byte, then silence: another
// front door's opening). Prints {"open":N,"connects":N,"cuts":N} every 250 ms.
'use strict';
const net = require('node:net');

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const mode = process.argv[4] || 'silent';
const TRICKLE = Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
const first = mode.startsWith('byte:') ? Buffer.from([parseInt(mode.slice(5), 16)]) : undefined;

let stopping = false;
let open = 0;
let connects = 0;
let cuts = 0;
const sockets = new Set();

function one() {
  if (stopping) return;
  connects++;
  const s = net.connect({ port, host: '127.0.0.1' });
  sockets.add(s);
  let connected = false;
  let timer;
  s.on('connect', () => {
    connected = true;
    open++;
    if (first) s.write(first);
    if (mode === 'trickle') {
      let sent = 0;
      timer = setInterval(() => {
        if (sent < TRICKLE.length - 1) s.write(TRICKLE.subarray(sent, ++sent));
      }, 1000);
    }
  });
  s.on('data', () => {});
  s.on('error', () => {});
  s.on('close', () => {
    clearInterval(timer);
    sockets.delete(s);
    if (connected) {
      open--;
      cuts++;
    }
    if (!stopping) setImmediate(one);
  });
}

// Ramp up in batches, so the flood is made of connections rather than of a burst of failed SYNs.
let started = 0;
(function ramp() {
  for (let i = 0; i < 250 && started < count; i++, started++) one();
  if (started < count && !stopping) setTimeout(ramp, 5);
})();

const report = setInterval(() => process.stdout.write(JSON.stringify({ open, connects, cuts }) + '\n'), 250);
process.stdin.on('data', () => {});
process.stdin.on('end', () => {
  stopping = true;
  clearInterval(report);
  for (const s of sockets) s.destroy();
  process.stdout.write(JSON.stringify({ open: 0, connects, cuts, stopped: true }) + '\n', () => process.exit(0));
});
