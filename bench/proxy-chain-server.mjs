// The npm `proxy-chain` HTTP proxy (a dev dependency) as a benchmark peer: loopback only, no
// authentication, no upstream. Prints `listening on 127.0.0.1:PORT` like this project's CLI.
import { Server } from 'proxy-chain';

const server = new Server({ host: '127.0.0.1', port: 0, verbose: false });
await server.listen();
process.stdout.write(`listening on 127.0.0.1:${server.server.address().port}\n`);
const stop = () => server.close(true).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
