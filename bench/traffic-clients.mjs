// Holds N connections open through a SOCKS5 proxy (bench/traffic.ts): a loopback TCP target that
// accepts and keeps every connection, and N clients that each do a no-auth CONNECT to it and then
// stay idle. Prints "ready N" once every CONNECT succeeded; exits on SIGTERM or when stdin closes.
//   node bench/traffic-clients.mjs PROXY_PORT N
import { createConnection, createServer } from 'node:net';

const [proxyPort, count] = process.argv.slice(2).map(Number);
const held = [];
const target = createServer((s) => {
  s.on('error', () => {});
  held.push(s);
});
await new Promise((r) => target.listen(0, '127.0.0.1', r));
const targetPort = target.address().port;

function connect() {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port: proxyPort });
    const timer = setTimeout(() => reject(new Error('CONNECT timed out')), 20_000);
    let buf = Buffer.alloc(0);
    s.on('error', reject);
    s.on('connect', () => {
      const req = Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, targetPort >> 8, targetPort & 255]);
      s.write(req);
    });
    s.on('data', function onData(d) {
      buf = Buffer.concat([buf, d]);
      // method selection (2 bytes) + a reply with an IPv4 address (10 bytes)
      if (buf.length >= 12) {
        s.off('data', onData);
        clearTimeout(timer);
        if (buf[0] !== 5 || buf[1] !== 0 || buf[3] !== 0) return reject(new Error(`refused: ${buf.subarray(0, 12).toString('hex')}`));
        held.push(s);
        resolve();
      }
    });
  });
}

// A few at a time, so that the proxy is never over its handshake limits.
for (let i = 0; i < count; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, count - i) }, connect));
}
process.stdout.write(`ready ${count}\n`);
const quit = () => {
  for (const s of held) s.destroy();
  target.close();
  process.exit(0);
};
process.on('SIGTERM', quit);
process.stdin.on('end', quit);
process.stdin.resume();
