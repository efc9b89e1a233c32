// The benchmark's loopback targets, in their own process: a TCP source (writes until the peer
// closes), a TCP sink (reads and discards), a TCP echo (on several loopback addresses, same port,
// to spread connection 4-tuples) and a UDP echo. Prints one JSON line with the ports, then runs
// until stdin closes or SIGTERM.

import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';

const echoHosts: string[] = JSON.parse(process.argv[2] ?? '["127.0.0.1"]');
const CHUNK = Buffer.alloc(1 << 20, 0x61);

function listen(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
}

function quiet(s: Socket): void {
  s.on('error', () => s.destroy());
}

async function main(): Promise<void> {
  // Source: pours bytes until the peer goes away.
  const source = createServer({ noDelay: true }, (s) => {
    quiet(s);
    s.on('data', () => {});
    const pump = (): void => {
      while (!s.destroyed && s.write(CHUNK));
    };
    s.on('drain', pump);
    s.on('close', () => s.removeListener('drain', pump));
    pump();
  });
  // Sink: reads and discards.
  const sink = createServer({ noDelay: true }, (s) => {
    quiet(s);
    s.on('data', () => {});
  });
  // Echo: every byte back.
  const echoHandler = (s: Socket): void => {
    quiet(s);
    s.on('data', (d: Buffer) => {
      if (!s.write(d)) {
        s.pause();
        s.once('drain', () => s.resume());
      }
    });
  };
  const sourcePort = await listen(source, '127.0.0.1');
  const sinkPort = await listen(sink, '127.0.0.1');
  const first = createServer({ noDelay: true }, echoHandler);
  const echoPort = await listen(first, echoHosts[0]!);
  for (const h of echoHosts.slice(1)) await listen(createServer({ noDelay: true }, echoHandler), h, echoPort);

  const udp = createSocket('udp4');
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  udp.on('error', () => {});
  const udpPort = await new Promise<number>((r) => udp.bind(0, '127.0.0.1', () => r(udp.address().port)));

  process.stdout.write(JSON.stringify({ source: sourcePort, sink: sinkPort, echo: echoPort, echoHosts, udp: udpPort }) + '\n');
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`targets: ${(err as Error).stack}\n`);
  process.exit(1);
});
