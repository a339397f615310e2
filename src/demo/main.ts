/**
 * `npm start`: a local Engram cluster on loopback with temporary data directories. Starts a
 * node process, loads the bundled sample data through the CLI, runs every query type through the
 * CLI and prints the answers with their coverage, then shuts everything down.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNodeProcess, type NodeProcess } from '../cluster/node-process.js';
import { sampleSpace, toJsonl } from './sample-data.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

function cli(node: string, args: string[]): void {
  console.log(`\n$ engram --node ${node} ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  const r = spawnSync(process.execPath, [CLI, '--node', node, ...args], { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) throw new Error(`engram ${args[0]} exited with ${r.status}`);
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(os.tmpdir(), 'engram-demo-'));
  const nodes: NodeProcess[] = [];
  try {
    console.log(`data under ${root}`);
    const n1 = await startNodeProcess({ id: 'n1', dataDir: join(root, 'n1'), metrics: '127.0.0.1:0' });
    nodes.push(n1);
    console.log(`node n1: gRPC ${n1.grpcAddress}, metrics http://${n1.metricsAddress}/metrics`);

    const journal = sampleSpace(['astronomy', 'sailing', 'music'], 2000, 7);
    const kitchen = sampleSpace(['cooking', 'gardening', 'mountains'], 1000, 11);
    await writeFile(join(root, 'journal.jsonl'), toJsonl(journal));
    await writeFile(join(root, 'kitchen.jsonl'), toJsonl(kitchen));
    const node = n1.grpcAddress;

    cli(node, ['space', 'create', 'journal']);
    cli(node, ['space', 'create', 'kitchen']);
    cli(node, ['store', 'journal', join(root, 'journal.jsonl')]);
    cli(node, ['store', 'kitchen', join(root, 'kitchen.jsonl')]);
    cli(node, ['recall', 'journal', '--text', 'comet over the lighthouse', '--limit', '5']);
    cli(node, ['spread', 'journal', '--seeds', journal.memories[0]!.id, '--hops', '2']);
    cli(node, ['complete', 'journal', '--text', 'the violin melody and the drum', '--known-fraction', '0.5']);
    cli(node, ['consolidate', 'kitchen', '--threshold', '0.8']);
    cli(node, ['imagine', 'journal,kitchen', '--text', 'ginger broth at the harbour', '--limit', '3']);
    cli(node, ['status']);
  } finally {
    for (const n of nodes) await n.stop();
    await rm(root, { recursive: true, force: true });
    console.log('\ncluster stopped, temporary data removed');
  }
}

await main();
