/**
 * An empty npm project that installs engram-query from a LocalRegistry, the way a user's does,
 * and runs its bins through npx. Every child runs in a process group of its own (npx → npm →
 * node), so a timeout or `cleanup()` ends the whole tree, not just the npx in front of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { NPM } from './registry.js';

const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
/** How long an installed node may take to log `started`, ms. */
export const NODE_START_TIMEOUT_MS = 30_000;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface InstalledNode {
  id: string;
  /** The node's own pid (from its `started` line), not the npx in front of it. */
  pid: number;
  grpc: string;
  gossip: string;
  /** The gather it reported at start (`native` or `ts`). */
  gather: string;
  /** Everything it wrote on stderr so far (JSON log lines, Node warnings). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Sends `signal` to the child's whole process group; false when it is already gone. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-child.pid!, signal);
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(child: ChildProcess, exited: Promise<unknown>, graceMs = 10_000): Promise<void> {
  if (!killGroup(child, 'SIGTERM')) return;
  const t = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
  // The node may outlive npx by a moment: make sure nothing of the group is left.
  killGroup(child, 'SIGKILL');
}

export class RegistryProject {
  private readonly groups: { child: ChildProcess; exited: Promise<unknown> }[] = [];

  private constructor(
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Creates `dir` with an empty package.json; `env` is what every npm/npx/node child gets. */
  static async create(dir: string, env: NodeJS.ProcessEnv): Promise<RegistryProject> {
    await mkdir(dir, { recursive: true });
    await writeFile(`${dir}/package.json`, JSON.stringify({ name: 'engram-user', version: '1.0.0', private: true, type: 'module' }, null, 2));
    return new RegistryProject(dir, env);
  }

  private spawnGroup(cmd: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; exited: Promise<number | null> } {
    const child = spawn(cmd, args, { cwd: this.dir, env: { ...this.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const entry = { child, exited };
    this.groups.push(entry);
    void exited.then(() => this.groups.splice(this.groups.indexOf(entry), 1));
    return { child, exited };
  }

  /** Runs a command to its end, killing its process group after `timeoutMs`. */
  async run(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    const started = performance.now();
    const { child, exited } = this.spawnGroup(cmd, args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    const code = await exited;
    clearTimeout(t);
    if (timedOut) throw new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`);
    return { code, stdout, stderr, ms: performance.now() - started };
  }

  /** Like run, but a non-zero exit is an error carrying its output. */
  async ok(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    const res = await this.run(cmd, args, timeoutMs, env);
    if (res.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.code}\n${res.stdout}\n${res.stderr}`);
    return res;
  }

  npm(args: string[], timeoutMs: number): Promise<RunResult> {
    return this.ok(NPM, args, timeoutMs);
  }

  /** `npx --no -- BIN ARGS`: the installed bin (never one fetched on the fly), ARGS all its own. */
  npx(bin: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return this.run(NPX, ['--no', '--', bin, ...args], timeoutMs, env);
  }

  /** Starts `npx engram-node ARGS` and waits for its `started` line. */
  async startNode(id: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<InstalledNode> {
    const { child, exited } = this.spawnGroup(NPX, ['--no', '--', 'engram-node', '--id', id, ...args], env);
    let stderr = '';
    child.stdout!.resume();
    const started = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${id} did not log "started" within ${NODE_START_TIMEOUT_MS} ms:\n${stderr}`)), NODE_START_TIMEOUT_MS);
      createInterface({ input: child.stderr! }).on('line', (line) => {
        stderr += `${line}\n`;
        try {
          const msg = JSON.parse(line) as Record<string, unknown>;
          if (msg.msg === 'started') {
            clearTimeout(timer);
            resolve(msg);
          }
        } catch {
          // not a log line (a Node warning, npm's own output)
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`node ${id} exited (${code}) before starting:\n${stderr}`));
      });
    });
    let info: Record<string, unknown>;
    try {
      info = await started;
    } catch (err) {
      await stopGroup(child, exited, 0);
      throw err;
    }
    return {
      id,
      pid: Number(info.pid),
      grpc: String(info.grpc),
      gossip: typeof info.gossip === 'string' ? info.gossip : '',
      gather: String(info.gather),
      stderr: () => stderr,
      stop: () => stopGroup(child, exited),
    };
  }

  /** Ends every process group still running (nodes, and commands cut short by a failure). */
  async cleanup(): Promise<void> {
    await Promise.all([...this.groups].map(({ child, exited }) => stopGroup(child, exited)));
  }
}
