/**
 * `npm start`: a local three-node Engram cluster on loopback, each node its own process with a
 * temporary data directory, gossiping over UDP. Places three spaces, loads the bundled sample
 * data through the CLI, runs every query type through the CLI (through a node that holds no
 * copy) and prints the answers with their coverage and the cluster status; then kills a node and
 * shows the replica answering and a partial answer with its penalty; then shuts everything down.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNodeProcess, type NodeProcess } from '../cluster/node-process.js';
import { EngramClient } from '../client/engram-client.js';
import { sampleSpace, toJsonl } from './sample-data.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
/** How long the demo waits for the three nodes to see each other, ms. */
const CONVERGE_TIMEOUT_MS = 20_000;

function cli(node: string, args: string[]): void {
  console.log(`\n$ engram --node ${node} ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  const r = spawnSync(process.execPath, [CLI, '--node', node, ...args], { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) throw new Error(`engram ${args[0]} exited with ${r.status}`);
}

async function waitForMembers(nodes: NodeProcess[]): Promise<void> {
  const clients = nodes.map((n) => new EngramClient(n.grpcAddress));
  try {
    const end = Date.now() + CONVERGE_TIMEOUT_MS;
    for (;;) {
      const all = await Promise.all(clients.map((c) => c.status()));
      if (all.every((s) => s.members.filter((m) => m.state === 'alive').length === nodes.length)) return;
      if (Date.now() > end) throw new Error('the nodes did not find each other in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    for (const c of clients) c.close();
  }
}

async function waitForState(observer: NodeProcess, member: string, state: string): Promise<void> {
  const client = new EngramClient(observer.grpcAddress);
  try {
    const end = Date.now() + CONVERGE_TIMEOUT_MS;
    while (!(await client.status()).members.some((m) => m.id === member && m.state === state)) {
      if (Date.now() > end) throw new Error(`${observer.id} did not see ${member} ${state} in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(os.tmpdir(), 'engram-demo-'));
  const nodes: NodeProcess[] = [];
  // A fresh key per run: gossip from anything else on this machine is dropped.
  const key = randomBytes(16).toString('hex');
  try {
    console.log(`data under ${root}`);
    for (const id of ['n1', 'n2', 'n3']) {
      const seeds = nodes.length > 0 ? ['--seeds', nodes[0]!.gossipAddress] : [];
      const n = await startNodeProcess({
        id,
        dataDir: join(root, id),
        metrics: '127.0.0.1:0',
        extraArgs: ['--gossip', '127.0.0.1:0', '--cluster-key', key, ...seeds],
      });
      nodes.push(n);
      console.log(`node ${id}: gRPC ${n.grpcAddress}, gossip ${n.gossipAddress}, metrics http://${n.metricsAddress}/metrics`);
    }
    await waitForMembers(nodes);
    console.log('the three nodes see each other alive');

    const journal = sampleSpace(['astronomy', 'sailing', 'music'], 2000, 7);
    const kitchen = sampleSpace(['cooking', 'gardening'], 1000, 11);
    const summits = sampleSpace(['mountains'], 500, 13);
    for (const [name, data] of Object.entries({ journal, kitchen, summits })) await writeFile(join(root, `${name}.jsonl`), toJsonl(data));
    const [n1, n2, n3] = nodes.map((n) => n.grpcAddress) as [string, string, string];

    // Any node takes any request. journal lives on n1 with a replica on n2, kitchen on n2 with a
    // replica on n3, summits on n1 alone. Writes go to the primary whichever node receives them;
    // `--ack all` returns once the replica has them too.
    cli(n3, ['space', 'create', 'journal', '--primary', 'n1', '--replicas', 'n2']);
    cli(n3, ['space', 'create', 'kitchen', '--primary', 'n2', '--replicas', 'n3']);
    cli(n3, ['space', 'create', 'summits', '--primary', 'n1', '--copies', '1']);
    cli(n2, ['store', 'journal', join(root, 'journal.jsonl'), '--ack', 'all']);
    cli(n3, ['store', 'kitchen', join(root, 'kitchen.jsonl'), '--ack', 'all']);
    cli(n3, ['store', 'summits', join(root, 'summits.jsonl')]);

    // Queries through n3, which holds no copy of journal: planned, sent to n1, gathered.
    cli(n3, ['recall', 'journal', '--text', 'comet over the lighthouse', '--limit', '5']);
    cli(n3, ['spread', 'journal', '--seeds', journal.memories[0]!.id, '--hops', '2']);
    cli(n3, ['complete', 'journal', '--text', 'the violin melody and the drum', '--known-fraction', '0.5']);
    cli(n1, ['consolidate', 'kitchen', '--threshold', '0.8']);
    cli(n3, ['imagine', 'journal,kitchen,summits', '--text', 'ginger broth at the harbour', '--limit', '3']);
    cli(n3, ['status']);

    // A node dies: journal is answered by its replica; summits has no copy left, so an Imagine
    // over the three spaces is a weaker answer (penalty 1/3), not an error.
    console.log('\n$ kill -9 n1');
    await nodes[0]!.kill9();
    await waitForState(nodes[2]!, 'n1', 'down');
    console.log('n3 sees n1 down');
    cli(n3, ['recall', 'journal', '--text', 'comet over the lighthouse', '--limit', '3']);
    cli(n3, ['imagine', 'journal,kitchen,summits', '--text', 'ginger broth at the harbour', '--limit', '3']);
  } finally {
    for (const n of nodes.reverse()) await n.stop();
    await rm(root, { recursive: true, force: true });
    console.log('\ncluster stopped, temporary data removed');
  }
}

await main();
