/**
 * `npm start`: a local three-node Engram cluster on loopback, each node its own process with a
 * temporary data directory, gossiping over UDP. Places three spaces, loads the bundled sample
 * data through the CLI, runs every query type through the CLI (through a node that holds no
 * copy) and prints the answers with their coverage and the cluster status; then kills n1, the
 * leader of journal's Raft group: a write through another node succeeds through the new leader,
 * a copy answers, and a space left without a copy weakens an answer (penalty), not an error
 * (an Imagine over three spaces, and a Spread across them that can no longer reach into it);
 * then shuts everything down.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../cluster/local-cluster.js';
import { crossAssociations, sampleSpace, toJsonl } from './sample-data.js';

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

async function main(): Promise<void> {
  // A fresh random cluster key: gossip from anything else on this machine is dropped.
  const cluster = new LocalCluster({ metrics: true, prefix: 'engram-demo-' });
  try {
    await cluster.start(3);
    for (const n of cluster.nodes.values()) {
      console.log(`node ${n.id}: gRPC ${n.proc.grpcAddress}, gossip ${n.proc.gossipAddress}, metrics http://${n.proc.metricsAddress}/metrics, data ${n.dataDir}`);
    }
    console.log('the three nodes see each other alive');
    const root = dirname(cluster.node('n1').dataDir);
    const nodes = [cluster.node('n1').proc, cluster.node('n2').proc, cluster.node('n3').proc];

    const journal = sampleSpace(['astronomy', 'sailing', 'music'], 2000, 7);
    const kitchen = sampleSpace(['cooking', 'gardening'], 1000, 11);
    const summits = sampleSpace(['mountains'], 500, 13);
    // Associations across spaces: a Spread over several spaces follows them (DESIGN §10).
    const toKitchen = crossAssociations(journal, kitchen, 'kitchen', 200, 17);
    journal.associations.push(...toKitchen);
    const toSummits = crossAssociations(kitchen, summits, 'summits', 100, 19);
    kitchen.associations.push(...toSummits);
    // Seeds with an association into another space, so the Spread crosses from its first hop.
    const acrossSeeds = [`journal/${toKitchen[0]!.from}`, `kitchen/${toSummits[0]!.from}`].join(',');
    for (const [name, data] of Object.entries({ journal, kitchen, summits })) await writeFile(join(root, `${name}.jsonl`), toJsonl(data));
    const [n1, n2, n3] = nodes.map((n) => n.grpcAddress) as [string, string, string];

    // Any node takes any request. journal has three copies (a Raft group on n1, n2, n3; n1 is to
    // lead it), kitchen two (n2, n1), summits one (n1). Writes go to the group's leader whichever
    // node receives them; `--ack all` returns once every copy has applied them.
    cli(n3, ['space', 'create', 'journal', '--primary', 'n1', '--replicas', 'n2,n3']);
    cli(n3, ['space', 'create', 'kitchen', '--primary', 'n2', '--replicas', 'n1']);
    cli(n3, ['space', 'create', 'summits', '--primary', 'n1', '--copies', '1']);
    cli(n2, ['store', 'journal', join(root, 'journal.jsonl'), '--ack', 'all']);
    cli(n3, ['store', 'kitchen', join(root, 'kitchen.jsonl'), '--ack', 'all']);
    cli(n3, ['store', 'summits', join(root, 'summits.jsonl')]);

    // Queries through n3: journal from its own copy; kitchen, of which it holds none, planned,
    // sent to a copy and gathered.
    cli(n3, ['recall', 'journal', '--text', 'comet over the lighthouse', '--limit', '5']);
    cli(n3, ['recall', 'kitchen', '--text', 'ginger broth', '--limit', '3']);
    cli(n3, ['spread', 'journal', '--seeds', journal.memories[0]!.id, '--hops', '2']);
    // Across the three spaces, one round per hop: each space spreads locally, the pulses that
    // leave it through cross-space associations are summed and carried into the next round.
    cli(n3, ['spread', 'journal,kitchen,summits', '--seeds', acrossSeeds, '--hops', '3']);
    cli(n3, ['complete', 'journal', '--text', 'the violin melody and the drum', '--known-fraction', '0.5']);
    cli(n1, ['consolidate', 'kitchen', '--threshold', '0.8']);
    cli(n3, ['imagine', 'journal,kitchen,summits', '--text', 'ginger broth at the harbour', '--limit', '3']);
    cli(n3, ['status']);

    // n1 dies: it leads journal's group. n2 and n3 elect a new leader within about an election
    // timeout, and a write through n3 is taken by it. summits has no copy left, so an Imagine
    // over the three spaces is a weaker answer (penalty 1/3), not an error.
    const leader = (await cluster.node('n1').client.status()).groups.find((g) => g.space === 'journal')?.leader;
    console.log(`\njournal's Raft group is led by ${leader}`);
    console.log('\n$ kill -9 n1');
    await nodes[0]!.kill9();
    const late = sampleSpace(['astronomy'], 3, 101, 0);
    late.memories.forEach((m) => (m.id = `late-${m.id}`));
    await writeFile(join(root, 'journal-late.jsonl'), toJsonl(late));
    cli(n3, ['store', 'journal', join(root, 'journal-late.jsonl')]);
    const after = await cluster.until('a new journal leader', CONVERGE_TIMEOUT_MS, async () => {
      const g = (await cluster.node('n3').client.status()).groups.find((x) => x.space === 'journal');
      return g && g.leader && g.leader !== 'n1' ? g : undefined;
    });
    console.log(`journal's new leader: ${after.leader} (term ${after.term}); the write above went through it`);
    await cluster.until('n3 to see n1 down', CONVERGE_TIMEOUT_MS, async () =>
      (await cluster.node('n3').client.status()).members.some((m) => m.id === 'n1' && m.state === 'down') ? true : undefined,
    );
    console.log('n3 sees n1 down');
    cli(n3, ['recall', 'journal', '--text', 'comet over the lighthouse', '--limit', '3']);
    cli(n3, ['imagine', 'journal,kitchen,summits', '--text', 'ginger broth at the harbour', '--limit', '3']);
    cli(n3, ['spread', 'journal,kitchen,summits', '--seeds', acrossSeeds, '--hops', '3']);
  } finally {
    await cluster.stop();
    console.log('\ncluster stopped, temporary data removed');
  }
}

await main();
