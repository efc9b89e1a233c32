// A bare SOCKS5 relay on Node's `net` module: no-auth greeting and CONNECT to an IPv4 address only,
// 'data' events both ways, nothing else (no sessions, limits, timeouts, logging or error replies).
// The benchmark runs it beside this project as a reference: what a connection and a round trip
// cost in Node itself, below which no Node proxy built on net.Socket can go. Not for use.
//   node bench/bare-relay.mjs --host 127.0.0.1 --port 0   (other flags are ignored)

import { connect, createServer } from 'node:net';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};

const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
  let stage = 0;
  client.on('error', () => client.destroy());
  const handshake = (d) => {
    if (stage++ === 0) return void client.write(Buffer.from([5, 0])); // greeting → no auth
    client.removeListener('data', handshake); // request: VER CMD RSV ATYP=1 DST.ADDR(4) DST.PORT
    client.pause();
    const target = connect({ host: `${d[4]}.${d[5]}.${d[6]}.${d[7]}`, port: d.readUInt16BE(8), allowHalfOpen: true }, () => {
      target.setNoDelay(true);
      client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      client.on('data', (x) => target.write(x) || client.pause());
      target.on('drain', () => client.resume());
      target.on('data', (x) => client.write(x) || target.pause());
      client.on('drain', () => target.resume());
      client.on('end', () => target.end());
      target.on('end', () => client.end());
      client.resume();
    });
    target.on('error', () => target.destroy());
    client.on('close', () => target.destroy());
    target.on('close', () => client.destroy());
  };
  client.on('data', handshake);
});

server.listen(Number(arg('--port', '1080')), arg('--host', '127.0.0.1'), () => {
  const a = server.address();
  process.stdout.write(`bare relay listening on ${a.address}:${a.port}\n`);
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(0));
