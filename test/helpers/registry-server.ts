/**
 * Child process entry of LocalRegistry (registry.ts): runs verdaccio with the given config file
 * on 127.0.0.1 at a port the OS picks, prints `{"port":N}` on stdout once listening, and closes
 * on SIGTERM. A process of its own so the registry's handles never keep a test process alive.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const require = createRequire(import.meta.url);
const { runServer } = require('verdaccio') as { runServer: (configPath: string) => Promise<import('node:http').Server> };

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: registry-server.js CONFIG.yaml');
  process.exit(2);
}
const server = await runServer(configPath);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  // Keep-alive sockets of npm clients would hold close() open.
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
