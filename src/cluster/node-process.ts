/**
 * Starts a reference node as a real child process (the `engram-node` bin) and learns its bound
 * addresses from its `started` log line. Used by the demo and the integration tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

// dist/src/cluster/node-process.js → dist/src/node/main.js
export const NODE_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'node', 'main.js');

/** How long a node may take to log `started`, ms. */
export const DEFAULT_START_TIMEOUT_MS = 20_000;

export interface NodeProcessOptions {
  id: string;
  dataDir: string;
  /** Default 127.0.0.1:0. */
  listen?: string;
  /** Serve /metrics here (e.g. 127.0.0.1:0). */
  metrics?: string;
  extraArgs?: string[];
  /** Flags for the Node.js runtime itself (e.g. --expose-gc), before the script. */
  execArgv?: string[];
  /**
   * A command the node runs under, which must exec it in place (so the pid, and kill -9, are the
   * node's): e.g. `['ip', 'netns', 'exec', 'ns1']` to run it in a network namespace.
   */
  runUnder?: string[];
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
  /** Receives every log line of the node (parsed JSON, or the raw line). */
  onLog?: (line: Record<string, unknown> | string) => void;
}

export interface NodeProcess {
  id: string;
  pid: number;
  grpcAddress: string;
  metricsAddress: string;
  /** Gossip (UDP) address, empty for a node without a cluster. */
  gossipAddress: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
  /** SIGTERM and wait; SIGKILL if it has not gone after `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
  /** SIGKILL (kill -9) and wait. */
  kill9(): Promise<number | string>;
}

export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const args = [NODE_MAIN, '--id', options.id, '--listen', options.listen ?? '127.0.0.1:0', '--data-dir', options.dataDir];
  if (options.metrics) args.push('--metrics', options.metrics);
  args.push(...(options.extraArgs ?? []));
  const [command, ...prefix] = [...(options.runUnder ?? []), process.execPath];
  const child = spawn(command!, [...prefix, ...(options.execArgv ?? []), ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'inherit', 'pipe'] });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const lines = createInterface({ input: child.stderr! });
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${options.id} did not start within ${options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS} ms`)), options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    timer.unref();
    const recent: string[] = [];
    lines.on('line', (line) => {
      let parsed: Record<string, unknown> | string = line;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // not a log line of ours (e.g. a Node warning): pass it on raw
      }
      options.onLog?.(parsed);
      recent.push(line);
      if (recent.length > 20) recent.shift();
      if (typeof parsed === 'object' && parsed.msg === 'started') {
        clearTimeout(timer);
        resolve(parsed);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node ${options.id} exited (${code}) before starting:\n${recent.join('\n')}`));
    });
  });
  let info: Record<string, unknown>;
  try {
    info = await started;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      t.unref();
      const code = await exited;
      clearTimeout(t);
      return code;
    }
    return exited;
  };
  const kill9 = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  };
  return {
    id: options.id,
    pid: child.pid!,
    grpcAddress: String(info.grpc),
    metricsAddress: typeof info.metrics === 'string' ? info.metrics : '',
    gossipAddress: typeof info.gossip === 'string' ? info.gossip : '',
    child,
    exited,
    stop,
    kill9,
  };
}
