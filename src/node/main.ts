#!/usr/bin/env node
/**
 * `engram-node`: runs one reference Engram node.
 *
 *   engram-node --id n1 --listen 127.0.0.1:7001 --data-dir ./data/n1 [--metrics 127.0.0.1:9101]
 *
 * Logs JSON lines on stderr (one per start/stop/error). SIGTERM / SIGINT stop it cleanly.
 */
import { parseArgs } from 'node:util';
import { EngramError } from '../errors.js';
import { parseHostPort } from './address.js';
import { EngramNode } from './engram-node.js';
import { jsonLogger } from './logger.js';

const USAGE = `usage: engram-node --id ID --listen HOST:PORT --data-dir DIR [--metrics HOST:PORT]`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        id: { type: 'string' },
        listen: { type: 'string' },
        'data-dir': { type: 'string' },
        metrics: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`engram-node: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  for (const required of ['id', 'listen', 'data-dir'] as const) {
    if (!values[required]) {
      console.error(`engram-node: --${required} is required\n${USAGE}`);
      process.exit(2);
    }
  }
  const logger = jsonLogger(values.id!);
  let node: EngramNode;
  try {
    node = await EngramNode.start({
      id: values.id!,
      listen: parseHostPort('--listen', values.listen!),
      dataDir: values['data-dir']!,
      ...(values.metrics ? { metrics: parseHostPort('--metrics', values.metrics) } : {}),
      logger,
    });
  } catch (err) {
    logger.error('start failed', { error: err instanceof Error ? err.message : String(err), code: err instanceof EngramError ? err.code : undefined });
    process.exit(1);
  }
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info('stopping', { signal });
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('stop failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

process.on('unhandledRejection', (err) => {
  jsonLogger('engram-node').error('unhandled rejection', { error: String(err) });
  process.exit(1);
});

await main();
