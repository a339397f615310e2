/**
 * What deploy/ tells an operator's tools must be what the node really does: the Kubernetes
 * manifests name the ports, flags and probe paths `engram-node` serves (read from its `--help`
 * and from a running node), the Dockerfile exposes and runs the same, every metric the Grafana
 * dashboard and the alert rules query is one the code registers, the PromQL parses, the rules
 * fire as their unit tests say (`promtool`), and docs/operations.md explains every alert and
 * every panel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_MAIN } from '../src/cluster/node-process.js';
import { parseHostPort } from '../src/node/address.js';
import { NodeFixture } from './helpers/node.js';
import { needTool } from './helpers/system-tools.js';

// dist/test/deploy.test.js → the package root, where deploy/, docs/ and package.json are.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEPLOY = join(ROOT, 'deploy');
// The compiled code the node runs: the metric names it registers are string literals there.
const DIST_SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

// js-yaml is a dev dependency of its own (package.json). Kubernetes reads manifests as YAML 1.1.
const yaml = createRequire(join(ROOT, 'package.json'))('js-yaml') as {
  loadAll(text: string, onDoc?: undefined, options?: { schema?: unknown }): unknown[];
  load(text: string, options?: { schema?: unknown }): unknown;
  YAML11_SCHEMA?: unknown;
};
const YAML_OPTIONS = yaml.YAML11_SCHEMA ? { schema: yaml.YAML11_SCHEMA } : {};

type Obj = Record<string, any>;

interface Port { name: string; containerPort: number; protocol?: string }
interface EnvVar { name: string; value?: string; valueFrom?: Obj }

async function manifests(): Promise<Obj[]> {
  const dir = join(DEPLOY, 'k8s');
  const docs: Obj[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of yaml.loadAll(await readFile(join(dir, file), 'utf8'), undefined, YAML_OPTIONS)) {
      if (doc !== null) docs.push({ ...(doc as Obj), __file: file });
    }
  }
  return docs;
}

function only(docs: Obj[], pick: (d: Obj) => boolean, what: string): Obj {
  const found = docs.filter(pick);
  assert.equal(found.length, 1, `exactly one ${what} in deploy/k8s (found ${found.length})`);
  return found[0]!;
}

/** `engram-node --help`: its environment section lists each flag with its variable. */
function help(): string {
  return execFileSync(process.execPath, [NODE_MAIN, '--help'], { encoding: 'utf8' });
}

/** ENGRAM_DATA_DIR → data-dir: the flag an environment variable stands for. */
function flagOf(envName: string): string {
  return envName.replace(/^ENGRAM_/, '').toLowerCase().replaceAll('_', '-');
}

/** Every `'engram_…'` string literal of the compiled node: the metrics it can register. */
async function registeredMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.js')) for (const m of (await readFile(path, 'utf8')).matchAll(/['"`](engram_[a-z0-9_]+)['"`]/g)) names.add(m[1]!);
    }
  };
  await walk(DIST_SRC);
  return names;
}

/** The metric names a PromQL expression reads (histogram series reduced to the histogram). */
function metricsIn(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(engram_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')))];
}

function promtool(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

async function dashboard(): Promise<Obj> {
  return JSON.parse(await readFile(join(DEPLOY, 'grafana', 'engram-dashboard.json'), 'utf8')) as Obj;
}

/** Every query panel of the dashboard (rows hold none). */
function queryPanels(dash: Obj): Obj[] {
  return (dash.panels as Obj[]).flatMap((p) => (p.type === 'row' ? ((p.panels as Obj[] | undefined) ?? []) : [p]));
}

async function alertRules(): Promise<Obj[]> {
  const doc = yaml.load(await readFile(join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8')) as Obj;
  return (doc.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
}

describe('deploy/k8s', () => {
  let docs: Obj[];
  let sts: Obj;
  let container: Obj;
  let env: Map<string, EnvVar>;
  let ports: Map<string, Port>;
  before(async () => {
    docs = await manifests();
    sts = only(docs, (d) => d.kind === 'StatefulSet', 'StatefulSet');
    container = only(sts.spec.template.spec.containers, () => true, 'container in the StatefulSet');
    env = new Map((container.env as EnvVar[]).map((e) => [e.name, e]));
    ports = new Map((container.ports as Port[]).map((p) => [p.name, p]));
  });

  const value = (name: string): string => {
    const v = env.get(name)?.value;
    assert.ok(v !== undefined, `the StatefulSet sets ${name}`);
    return v;
  };

  it('every manifest parses and names its kind', () => {
    assert.ok(docs.length >= 4);
    for (const d of docs) {
      assert.ok(d.apiVersion && d.kind, `${d.__file}: apiVersion and kind`);
      if (d.kind !== 'Kustomization') assert.ok(d.metadata?.name, `${d.__file}: metadata.name`);
    }
    const kustomization = only(docs, (d) => d.kind === 'Kustomization', 'kustomization');
    const objects = new Set(docs.filter((d) => d.kind !== 'Kustomization' && d.kind !== 'Secret').map((d) => d.__file));
    assert.deepEqual(new Set(kustomization.resources), objects, 'kubectl apply -k applies every manifest but the example Secret');
  });

  it('configures the node only through variables engram-node --help lists for its flags', async () => {
    const text = help();
    const dockerfile = await readFile(join(DEPLOY, 'Dockerfile'), 'utf8');
    const names = new Set([...env.keys(), ...[...dockerfile.matchAll(/\b(ENGRAM_[A-Z0-9_]+)=/g)].map((m) => m[1]!)]);
    names.delete('ENGRAM_NAPI_CROSS'); // the build script's switch, in the build stage, not the node's
    const engram = [...names].filter((n) => n.startsWith('ENGRAM_'));
    assert.ok(engram.length >= 8);
    for (const name of engram) {
      const line = new RegExp(`^\\s+--${flagOf(name)}\\s+\\$${name}\\b`, 'm');
      assert.match(text, line, `engram-node --help lists --${flagOf(name)} as $${name}`);
    }
  });

  it('listens, gossips and serves metrics on the ports the pod declares', () => {
    const grpcPort = ports.get('grpc');
    const gossipPort = ports.get('gossip');
    const metricsPort = ports.get('metrics');
    assert.ok(grpcPort && gossipPort && metricsPort, 'container ports grpc, gossip and metrics');
    assert.deepEqual([grpcPort.containerPort, gossipPort.containerPort, metricsPort.containerPort], [7001, 7101, 9101]);
    assert.equal(parseHostPort('ENGRAM_LISTEN', value('ENGRAM_LISTEN')).port, grpcPort.containerPort);
    assert.equal(parseHostPort('ENGRAM_GOSSIP', value('ENGRAM_GOSSIP')).port, gossipPort.containerPort);
    assert.equal(gossipPort.protocol, 'UDP', 'gossip is UDP');
    assert.equal(grpcPort.protocol ?? 'TCP', 'TCP');
    assert.equal(parseHostPort('ENGRAM_METRICS', value('ENGRAM_METRICS')).port, metricsPort.containerPort);
  });

  it('names each pod by its stable DNS name: id, advertised address and seeds', () => {
    const service = sts.spec.serviceName as string;
    const podName = env.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath;
    assert.equal(podName, 'metadata.name');
    assert.equal(env.get('POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    assert.equal(value('ENGRAM_ID'), '$(POD_NAME)');
    const dns = (pod: string) => `${pod}.${service}.$(POD_NAMESPACE).svc.cluster.local`;
    assert.equal(value('ENGRAM_ADVERTISE'), `${dns('$(POD_NAME)')}:${ports.get('grpc')!.containerPort}`);
    const gossip = ports.get('gossip')!.containerPort;
    const seeds = value('ENGRAM_SEEDS').split(',');
    assert.deepEqual(seeds, [0, 1].map((i) => `${dns(`${sts.metadata.name}-${i}`)}:${gossip}`));
    // Kubernetes substitutes $(VAR) only from variables defined earlier in the list.
    const order = (container.env as EnvVar[]).map((e) => e.name);
    for (const name of ['ENGRAM_ID', 'ENGRAM_ADVERTISE', 'ENGRAM_SEEDS']) assert.ok(order.indexOf('POD_NAME') < order.indexOf(name) && order.indexOf('POD_NAMESPACE') < order.indexOf(name));
    // The first pod, on its first start only, drops its seeds to bootstrap the cluster.
    const script = (container.args as string[]).join('\n');
    assert.match(script, /"\$\{POD_NAME##\*-\}" = 0/);
    assert.match(script, /unset ENGRAM_SEEDS/);
    assert.match(script, /\$ENGRAM_DATA_DIR\/cluster-id/);
    assert.match(script, /exec node dist\/src\/node\/main\.js/);
  });

  it('keeps data on a claim per pod and the cluster key in a mounted Secret', () => {
    assert.equal(sts.spec.replicas, 3);
    const claim = only(sts.spec.volumeClaimTemplates, () => true, 'volumeClaimTemplate');
    const mounts = container.volumeMounts as { name: string; mountPath: string }[];
    assert.equal(mounts.find((m) => m.name === claim.metadata.name)?.mountPath, value('ENGRAM_DATA_DIR'));
    const keyFile = value('ENGRAM_CLUSTER_KEY_FILE');
    const keyMount = mounts.find((m) => keyFile.startsWith(`${m.mountPath}/`));
    assert.ok(keyMount, `a volume is mounted where ${keyFile} is`);
    const volume = (sts.spec.template.spec.volumes as Obj[]).find((v) => v.name === keyMount.name);
    assert.ok(volume?.secret?.secretName, 'the cluster key comes from a Secret');
    assert.ok(!env.has('ENGRAM_CLUSTER_KEY'), 'the key itself is never in the environment');
    const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === volume.secret.secretName);
    if (secret) assert.ok(Object.keys({ ...secret.stringData, ...secret.data }).includes(keyFile.slice(keyMount.mountPath.length + 1)), 'the example Secret has the key file');
    assert.ok(sts.spec.template.spec.securityContext.runAsNonRoot);
    // 0440: readable by the fsGroup the node runs in. YAML 1.1 reads a leading-0 literal as octal, 1.2 as decimal: a plain decimal means the same to both.
    assert.equal(volume.secret.defaultMode, 0o440);
  });

  it('probes the health endpoints and gives SIGTERM time to drain', () => {
    const metricsName = 'metrics';
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: metricsName });
    assert.deepEqual(container.startupProbe.httpGet, { path: '/healthz', port: metricsName });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: metricsName });
    assert.ok(sts.spec.template.spec.terminationGracePeriodSeconds >= 30);
    assert.equal(container.lifecycle?.preStop, undefined, 'SIGTERM drains; no preStop hook');
  });

  it('the Services and the disruption budget select the pods and carry their ports', () => {
    const labels = sts.spec.template.metadata.labels as Record<string, string>;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(selects(sts.spec.selector.matchLabels));
    const headless = only(docs, (d) => d.kind === 'Service' && d.metadata.name === sts.spec.serviceName, 'headless Service named by serviceName');
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true, 'a starting node is found by name before it is ready');
    assert.ok(selects(headless.spec.selector));
    for (const p of headless.spec.ports as Obj[]) {
      const c = ports.get(p.targetPort);
      assert.ok(c, `headless port ${p.name} targets a container port`);
      assert.equal(p.port, c.containerPort);
      assert.equal(p.protocol ?? 'TCP', c.protocol ?? 'TCP');
    }
    assert.deepEqual((headless.spec.ports as Obj[]).map((p) => p.name).sort(), ['gossip', 'grpc', 'metrics']);
    const client = only(docs, (d) => d.kind === 'Service' && d.spec.clusterIP !== 'None', 'client Service');
    assert.ok(selects(client.spec.selector));
    assert.deepEqual(client.spec.ports.map((p: Obj) => [p.port, p.targetPort]), [[7001, 'grpc']]);
    const pdb = only(docs, (d) => d.kind === 'PodDisruptionBudget', 'PodDisruptionBudget');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.ok(selects(pdb.spec.selector.matchLabels));
  });
});

describe('deploy/Dockerfile', () => {
  it('runs engram-node as a non-root user with a data volume and the manifests\' ports', async () => {
    const text = await readFile(join(DEPLOY, 'Dockerfile'), 'utf8');
    const stages = text.split(/^FROM /m).slice(1);
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.match(stages[0]!, /^node:20-bookworm AS build/);
    assert.match(stages[0]!, /rustup/);
    assert.match(stages[0]!, /npm ci/);
    assert.match(stages[0]!, /npm run build\b/);
    const runtime = stages.at(-1)!;
    assert.match(runtime, /^node:20-bookworm-slim\n/);
    assert.match(runtime, /--omit=dev|COPY --from=deps \/app\/node_modules/);
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const entry = /^ENTRYPOINT (.+)$/m.exec(runtime)?.[1];
    assert.deepEqual(JSON.parse(entry ?? 'null'), ['node', pkg.bin['engram-node']]);
    const user = /^USER (\S+)$/m.exec(runtime)?.[1];
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `runs as a non-root user (USER ${user})`);
    const env = Object.fromEntries([...runtime.matchAll(/\b(ENGRAM_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
    assert.deepEqual(JSON.parse(/^VOLUME (.+)$/m.exec(runtime)?.[1] ?? 'null'), [env.ENGRAM_DATA_DIR]);
    assert.deepEqual(/^EXPOSE (.+)$/m.exec(runtime)?.[1]?.split(/\s+/), [
      `${parseHostPort('ENGRAM_LISTEN', env.ENGRAM_LISTEN!).port}`,
      `${parseHostPort('ENGRAM_GOSSIP', env.ENGRAM_GOSSIP!).port}/udp`,
      `${parseHostPort('ENGRAM_METRICS', env.ENGRAM_METRICS!).port}`,
    ]);
    // What the runtime needs of the package: the compiled node, the protos, the addon's loader and the addon.
    for (const path of ['/src/dist/src', '/src/proto', '/src/native/binding.cjs', '/src/native/*.node', '/src/package.json']) {
      assert.ok(runtime.includes(path), `the runtime stage copies ${path}`);
    }
    const ignore = await readFile(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8');
    for (const path of ['node_modules', 'dist', 'native/target']) assert.match(ignore, new RegExp(`^${path}$`, 'm'), `the build context leaves out ${path}`);
  });
});

describe('health endpoints the manifests probe', () => {
  const fx = new NodeFixture();
  after(() => fx.cleanup());

  it('a running node answers the liveness and readiness paths on its metrics port', async () => {
    const docs = await manifests();
    const c = only(docs, (d) => d.kind === 'StatefulSet', 'StatefulSet').spec.template.spec.containers[0] as Obj;
    const paths = new Set<string>([c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path, c.startupProbe.httpGet.path]);
    const n = await fx.start('probe', undefined, { metrics: '127.0.0.1:0' });
    for (const path of paths) {
      const res = await fetch(`http://${n.proc.metricsAddress}${path}`);
      assert.equal(res.status, 200, `GET ${path} on the metrics port of a started node`);
      await res.arrayBuffer();
    }
    assert.equal((await fetch(`http://${n.proc.metricsAddress}/nothing-here`)).status, 404, 'the paths are served, not any path');
  });
});

describe('deploy/grafana and deploy/prometheus', () => {
  let registered: Set<string>;
  before(async () => {
    registered = await registeredMetricNames();
  });

  it('the dashboard is a Grafana dashboard whose every query reads metrics the node registers', async () => {
    const dash = await dashboard();
    assert.equal(typeof dash.title, 'string');
    assert.equal(typeof dash.uid, 'string');
    assert.ok(Number.isInteger(dash.schemaVersion));
    const panels = queryPanels(dash);
    assert.ok(panels.length >= 9);
    const ids = (dash.panels as Obj[]).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of panels) {
      assert.ok(p.gridPos && p.title && p.targets?.length, `panel ${p.title}: gridPos, title, targets`);
      for (const t of p.targets as Obj[]) {
        const names = metricsIn(t.expr);
        assert.ok(names.length > 0, `${p.title}: ${t.expr} reads an engram_ metric`);
        for (const name of names) assert.ok(registered.has(name), `${p.title}: ${name} is registered nowhere in the node's code`);
      }
    }
  });

  it('every metric the alert rules read is registered by the node', async () => {
    const rules = await alertRules();
    assert.ok(rules.length >= 5);
    for (const rule of rules) for (const name of metricsIn(rule.expr)) assert.ok(registered.has(name), `${rule.alert}: ${name} is registered nowhere in the node's code`);
    const names = rules.map((r) => r.alert as string);
    for (const must of ['EngramNodeDown', 'EngramSpaceWithoutLeader', 'EngramSpaceUnderReplicated', 'EngramPartialAnswers', 'EngramQueryLatencyHigh']) assert.ok(names.includes(must), must);
  });

  it('promtool: the rules are valid and fire as their unit tests say', async (t) => {
    if (!needTool(t, 'promtool')) return;
    const check = await promtool(['check', 'rules', join(DEPLOY, 'prometheus', 'alerts.yml')]);
    assert.equal(check.code, 0, check.output);
    const tests = await promtool(['test', 'rules', join(DEPLOY, 'prometheus', 'alerts.test.yml')]);
    assert.equal(tests.code, 0, tests.output);
    const config = await promtool(['check', 'config', join(DEPLOY, 'prometheus', 'prometheus.yml')]);
    assert.equal(config.code, 0, config.output);
  });

  it('promtool: every dashboard query is valid PromQL', async (t) => {
    if (!needTool(t, 'promtool')) return;
    const dash = await dashboard();
    const exprs = queryPanels(dash).flatMap((p) => (p.targets as Obj[]).map((x) => x.expr as string));
    // Grafana's variables, as Grafana would fill them in.
    const filled = exprs.map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'engram').replaceAll('$node', '.*'));
    const dir = await mkdtemp(join(os.tmpdir(), 'engram-dashboard-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: filled.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] }));
      const check = await promtool(['check', 'rules', file]);
      assert.equal(check.code, 0, check.output);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/operations.md', () => {
  it('explains every alert rule and every dashboard panel', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'operations.md'), 'utf8');
    for (const rule of await alertRules()) assert.ok(doc.includes(rule.alert), `docs/operations.md names alert ${rule.alert}`);
    for (const panel of queryPanels(await dashboard())) assert.ok(doc.includes(`**${panel.title}**`), `docs/operations.md explains panel **${panel.title}**`);
  });
});
