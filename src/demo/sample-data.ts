/**
 * The bundled sample data set, generated deterministically (same seed → same bytes): short
 * sentences about a handful of topics, with associations inside a topic and a few across.
 */
import { prng } from '../util/prng.js';

export const TOPICS: Record<string, string[]> = {
  astronomy: ['telescope', 'nebula', 'orbit', 'comet', 'galaxy', 'eclipse', 'planet', 'starlight', 'meteor', 'supernova'],
  cooking: ['saffron', 'risotto', 'oven', 'dough', 'basil', 'simmer', 'caramel', 'ginger', 'broth', 'skillet'],
  sailing: ['harbour', 'mainsail', 'tide', 'anchor', 'keel', 'headwind', 'lighthouse', 'compass', 'mooring', 'regatta'],
  music: ['violin', 'chord', 'tempo', 'melody', 'orchestra', 'rhythm', 'sonata', 'piano', 'harmony', 'drum'],
  gardening: ['compost', 'tulip', 'seedling', 'pruning', 'greenhouse', 'orchard', 'soil', 'lavender', 'trellis', 'harvest'],
  mountains: ['summit', 'glacier', 'ridge', 'crampons', 'avalanche', 'valley', 'granite', 'altitude', 'cairn', 'switchback'],
};

const FRAMES = [
  'I remember the {a} and the {b} that evening',
  'a note about {a}, {b} and {c}',
  'the {a} was stronger than the {b}',
  'we talked about the {a} near the {b}',
  'first lesson: {a} before {b}, then {c}',
  'an old photo of the {a} with a {b}',
];

export interface SampleMemory {
  id: string;
  text: string;
  confidence: { lower: number; upper: number };
  createdAt: number;
}
/** `toSpace`: the space of `to` when it is another space's memory (a cross-space association). */
export interface SampleAssociation { from: string; to: string; weight: number; toSpace?: string }

/** `count` memories over the given topics with ~`edgesPerMemory` associations each. */
export function sampleSpace(topics: string[], count: number, seed: number, edgesPerMemory = 3): { memories: SampleMemory[]; associations: SampleAssociation[] } {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const memories: SampleMemory[] = [];
  const byTopic = new Map<string, string[]>();
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < count; i++) {
    const topic = topics[i % topics.length]!;
    const words = TOPICS[topic]!;
    // Three distinct words of the topic, so no sentence repeats a word.
    const shuffled = [...words];
    for (let k = shuffled.length - 1; k > 0; k--) {
      const j = Math.floor(rand() * (k + 1));
      [shuffled[k], shuffled[j]] = [shuffled[j]!, shuffled[k]!];
    }
    const [a, b, c] = shuffled;
    const text = pick(FRAMES).replace('{a}', a!).replace('{b}', b!).replace('{c}', c!);
    const id = `${topic}-${String(i).padStart(5, '0')}`;
    const lower = Math.round((0.4 + rand() * 0.5) * 1000) / 1000;
    const upper = Math.min(1, Math.round((lower + rand() * 0.1) * 1000) / 1000);
    memories.push({ id, text, confidence: { lower, upper }, createdAt: base + i * 60_000 });
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), id]);
  }
  const associations: SampleAssociation[] = [];
  const seen = new Set<string>();
  for (const m of memories) {
    const topic = m.id.slice(0, m.id.lastIndexOf('-'));
    for (let e = 0; e < edgesPerMemory; e++) {
      // One edge in ten crosses topics, so spreading reaches beyond a cluster.
      const pool = rand() < 0.1 ? memories.map((x) => x.id) : byTopic.get(topic)!;
      const to = pick(pool);
      const key = `${m.id}>${to}`;
      if (to === m.id || seen.has(key)) continue;
      seen.add(key);
      associations.push({ from: m.id, to, weight: Math.round((0.3 + rand() * 0.6) * 100) / 100 });
    }
  }
  return { memories, associations };
}

/**
 * `count` associations from memories of `from` to memories of the space `toSpace` (holding
 * `to`): what a Spread over several spaces follows from one space into another.
 */
export function crossAssociations(from: { memories: SampleMemory[] }, to: { memories: SampleMemory[] }, toSpace: string, count: number, seed: number): SampleAssociation[] {
  const rand = prng(seed);
  const out: SampleAssociation[] = [];
  for (let i = 0; i < count; i++) {
    const a = from.memories[Math.floor(rand() * from.memories.length)]!;
    const b = to.memories[Math.floor(rand() * to.memories.length)]!;
    out.push({ from: a.id, to: b.id, toSpace, weight: Math.round((0.5 + rand() * 0.5) * 100) / 100 });
  }
  return out;
}

/** JSONL as the CLI's `store` reads it: memories first, then associations. */
export function toJsonl(data: { memories: SampleMemory[]; associations: SampleAssociation[] }): string {
  return [...data.memories.map((m) => JSON.stringify({ id: m.id, text: m.text, confidence: m.confidence, createdAt: m.createdAt })), ...data.associations.map((a) => JSON.stringify(a))].join('\n') + '\n';
}
