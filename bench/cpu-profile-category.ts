/** The parts of a V8 CPU profile (`Profiler.stop`) the profiling benches read, and a frame's coarse bucket. */

export interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
export interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/**
 * Coarse bucket of a frame, from its script URL: our code by directory (`src/query`) or by file
 * (`src/query/scatter.ts`), each dependency, Node's internals by area, native frames by name.
 */
export function frameCategory(f: ProfileNode['callFrame'], ours: 'dir' | 'file' = 'dir'): string {
  const u = f.url;
  if (!u) {
    if (f.functionName === '(idle)') return 'idle';
    if (f.functionName === '(garbage collector)') return 'GC';
    if (f.functionName === '(program)') return 'program (native, not JS)';
    return `native: ${f.functionName || '(anonymous)'}`;
  }
  if (u.includes('@grpc/grpc-js')) return 'grpc-js';
  if (u.includes('protobufjs') || u.includes('@protobufjs')) return 'protobufjs';
  if (u.includes('@grpc/proto-loader')) return 'proto-loader';
  if (u.includes('prom-client')) return 'prom-client (metrics)';
  const m = /dist[^/]*\/src\/([a-z-]+)\/([a-z-]+)\.js/.exec(u);
  if (m) return ours === 'file' ? `src/${m[1]}/${m[2]}.ts` : `src/${m[1]}`;
  if (u.startsWith('node:internal/http2') || u.startsWith('node:http2')) return 'node http2';
  if (u.startsWith('node:internal/stream') || u.startsWith('node:internal/streams') || u.startsWith('node:net') || u.startsWith('node:stream')) return 'node streams/net';
  if (u.startsWith('node:internal/timers') || u.startsWith('node:timers')) return 'node timers';
  if (u.startsWith('node:internal/process/task_queues') || u.startsWith('node:internal/async_hooks')) return 'node microtasks/async';
  if (u.startsWith('node:')) return 'node other';
  return 'other';
}
