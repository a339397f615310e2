/**
 * A real npm registry (verdaccio) for install tests: 127.0.0.1 at a port chosen at run time,
 * storage under the given temp directory, this project's packages (engram-query and its platform
 * packages) served only from what the test publishes, everything else proxied to the registry
 * this machine's npm uses. `stop()` ends the process; the directory is the caller's to remove.
 */
import { spawn, type ChildProcess, execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'registry-server.js');
export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** How long the registry may take to listen, ms. */
export const REGISTRY_START_TIMEOUT_MS = 30_000;

/**
 * The environment minus what `npm test` puts there for its own scripts (npm_config_*,
 * npm_package_*, …): a child npm must read only the config we give it, as a user's npm would.
 */
export function cleanNpmEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'NODE_AUTH_TOKEN') continue;
    out[k] = v;
  }
  return out;
}

/** The registry this machine's npm installs from (`npm config get registry`), for the uplink. */
export function machineRegistry(): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(NPM, ['config', 'get', 'registry'], { cwd: os.tmpdir(), env: cleanNpmEnv(), encoding: 'utf8', timeout: 30_000, shell: process.platform === 'win32' }, (err, stdout) =>
      err ? reject(err) : resolve(stdout.trim()),
    ),
  );
}

export class LocalRegistry {
  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<unknown>,
    /** e.g. http://127.0.0.1:43127/ */
    readonly url: string,
    /** An npmrc pointing at the registry with a publish token. */
    readonly npmrc: string,
    readonly uplink: string,
  ) {}

  /** Starts verdaccio with storage under `root` (which must exist). */
  static async start(root: string): Promise<LocalRegistry> {
    const uplink = await machineRegistry();
    const storage = join(root, 'storage');
    await mkdir(storage, { recursive: true });
    const config = join(root, 'config.yaml');
    // JSON is YAML: no YAML writer needed.
    const own = { access: '$all', publish: '$authenticated', unpublish: '$authenticated' };
    await writeFile(
      config,
      JSON.stringify({
        storage,
        auth: { htpasswd: { file: join(root, 'htpasswd'), max_users: 10 } },
        uplinks: { machine: { url: uplink, timeout: '60s', max_fails: 5, cache: false } },
        // Our names never go to the uplink: an unrelated package of the same name must not answer.
        packages: { 'engram-query': own, 'engram-query-*': own, '@*/*': { access: '$all', proxy: 'machine' }, '**': { access: '$all', proxy: 'machine' } },
        web: { enable: false },
        max_body_size: '100mb',
        log: { type: 'stdout', format: 'json', level: 'error' },
      }),
    );
    const child = spawn(process.execPath, [SERVER, config], { cwd: root, env: cleanNpmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`verdaccio did not listen within ${REGISTRY_START_TIMEOUT_MS} ms: ${stderr}`)), REGISTRY_START_TIMEOUT_MS);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const msg = JSON.parse(line) as { port?: number };
          if (typeof msg.port === 'number') {
            clearTimeout(timer);
            resolve(msg.port);
          }
        } catch {
          // a log line
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`verdaccio exited (${String(code)}) before listening: ${stderr}`));
      });
    }).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
    const url = `http://127.0.0.1:${port}/`;
    const token = await LocalRegistry.addUser(url);
    const npmrc = join(root, 'npmrc');
    await writeFile(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\naudit=false\nfund=false\nupdate-notifier=false\n`);
    return new LocalRegistry(child, exited, url, npmrc, uplink);
  }

  /** Creates a user the way `npm adduser` does and returns its token. */
  private static async addUser(url: string): Promise<string> {
    const name = 'engram-test';
    const res = await fetch(`${url}-/user/org.couchdb.user:${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, password: `pw-${process.pid}-${Date.now()}`, type: 'user', roles: [] }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { token?: string };
    if (!res.ok || !body.token) throw new Error(`verdaccio adduser failed: ${res.status} ${JSON.stringify(body)}`);
    return body.token;
  }

  /** Environment for an npm that uses only this registry (and a cache of its own under `cache`). */
  npmEnv(cache: string): NodeJS.ProcessEnv {
    return { ...cleanNpmEnv(), NPM_CONFIG_USERCONFIG: this.npmrc, NPM_CONFIG_CACHE: cache };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(t);
    }
  }
}
