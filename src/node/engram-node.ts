/**
 * The reference Engram node: a gRPC server (public + internal services) over the embedded
 * engine, with Prometheus metrics on its own registry.
 */
import * as grpc from '@grpc/grpc-js';
import type http from 'node:http';
import { Engine } from '../engine/engine.js';
import { AbortError, DeadlineExceededError, InvalidArgumentError, NodeStartingError, RaftTransportClosedError } from '../errors.js';
import { callDeadlineEpochMs } from './call-context.js';
import { RAFT_METHOD } from '../cluster/raft-transport-wire.js';
import type { RaftTransport } from '../cluster/raft-transport.js';
import { protos, LEAN_CHANNEL_OPTIONS } from '../wire/proto.js';
import { formatHostPort, type HostPort } from './address.js';
import { toGrpcError, isInternal } from '../wire/grpc-errors.js';
import { jsonLogger, type Logger } from '../util/logger.js';
import { boundPort, createNodeMetrics, registerClusterGauges, registerMetaGauges, serveMetrics, type NodeMetrics } from './metrics.js';
import { NodeHealth } from './health.js';
import { isWildcardHost } from '../cluster/swim-membership.js';
import { publicHandlers } from './public-service.js';
import { withClientTokens } from './public-auth.js';
import { DiskFloor, type DiskFloorSetting } from '../storage/disk-floor.js';
import { DEFAULT_MAX_SPACES } from '../engine/limits.js';
import type { ClientTokens } from '../security/client-tokens.js';
import { internalHandlers, type NodeFaults } from './internal-service.js';
import type { Handler } from './handler.js';
import { LocalExecutor } from '../query/local-executor.js';
import { DistributedExecutor } from '../query/distributed-executor.js';
import type { HedgeOptions } from '../query/hedging.js';
import type { QueryExecutor } from '../query/executor.js';
import { answerFromEngine } from '../query/engine-partition.js';
import { QueryMetrics } from '../query/query-metrics.js';
import { ConnectionPool } from '../pool/connection-pool.js';
import { Cluster, type ClusterOptions } from '../cluster/cluster.js';
import { PeerClients, type InternalCalls } from '../cluster/peer-clients.js';
import { SpaceWriter } from '../cluster/space-writes.js';
import { VERSION } from '../util/version.js';
import type { TlsConfig } from '../security/tls-config.js';
import { channelCredentials, serverCredentials } from '../security/credentials.js';
import { internalCallMetadata, ReplayGuard } from '../security/internal-auth.js';
import { poolTransport } from '../embedding/internal-transport.js';
import { checkTransportPolicy } from '../security/transport-policy.js';
import { gatherBackend } from '../native/binding.js';
import { openStorageId } from '../cluster/identity.js';

/** Calls a starting node answers: its status, the cluster's own calls and the fault switch. */
const SERVED_WHILE_STARTING = new Set(['Status', 'JoinCluster', 'AwaitApplied', 'SetFault']);

/** How long `stop()` lets in-flight RPCs finish before cutting them, ms. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 2_000;

export interface NodeConfig {
  /** Node id, unique in the cluster. */
  id: string;
  /** gRPC listen address; port 0 picks a free port. */
  listen: HostPort;
  /**
   * The gRPC address peers and clients are told (`--advertise`), when it differs from `listen`
   * (a wildcard listen, NAT, a container); port 0 means the bound port. Its host is also the
   * advertised gossip host unless `cluster.advertiseGossip` says otherwise. Default: `listen`,
   * which in a cluster then must not be a wildcard (0.0.0.0 or ::).
   */
  advertise?: HostPort;
  /** Directory of the node's logs (one per memory space). */
  dataDir: string;
  /** Where to serve `/metrics`; unset serves none. */
  metrics?: HostPort;
  logger?: Logger;
  /** Cluster membership; unset runs a node of its own (no gossip, no replication). */
  cluster?: Omit<ClusterOptions, 'nodeId' | 'grpcAddress' | 'logger' | 'dataDir' | 'storageId' | 'credentials' | 'requireClientCertificate'>;
  /** Enables the test-only fault switch (SetFault, loopback callers only). Default false. */
  enableFaults?: boolean;
  /** Addresses besides loopback allowed to use the fault switch (a test network of this machine). Default none. */
  faultCallers?: string[];
  /**
   * TLS for the gRPC server and every node-to-node client (mutual: internal calls must present a
   * certificate signed by `ca`). Unset serves plaintext, which needs a loopback `listen` or
   * `insecure`.
   */
  tls?: TlsConfig;
  /** Serve plaintext on a non-loopback address (`--insecure`). Default false. */
  insecure?: boolean;
  /** How the coordinator picks copies (DESIGN §8). Default: ranked by measurement, hedged with a 5% budget. */
  query?: { ranking?: boolean; hedging?: HedgeOptions };
  /** Spaces this node (alone) or its cluster may hold (`--max-spaces`). Default DEFAULT_MAX_SPACES. */
  maxSpaces?: number;
  /** Free space below which writes are refused (`--min-free-disk`). Default DEFAULT_MIN_FREE_DISK_BYTES. */
  minFreeDisk?: DiskFloorSetting;
  /** Bearer tokens public calls must carry (`--client-tokens`); unset serves every client. Internal calls are not affected. */
  clientTokens?: ClientTokens;
}

export type { NodeFaults } from './internal-service.js';
export type { Handler } from './handler.js';

export class EngramNode {
  readonly id: string;
  /** The data directory's storage id (src/cluster/identity.ts): a wiped directory gets a new one. */
  storageId = '';
  readonly engine: Engine;
  /** Refuses writes while the data disk is below `--min-free-disk`. */
  readonly diskFloor: DiskFloor;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
  readonly startedAt = Date.now();
  readonly peers: PeerClients;
  readonly enableFaults: boolean;
  readonly faultCallers: ReadonlySet<string>;
  /** Whether the server runs TLS (internal calls then need a CA-signed client certificate). */
  readonly tls: boolean;
  /** The shared secret whose HMAC tags authenticate internal calls; undefined without a cluster. */
  readonly clusterKey: string | undefined;
  readonly faults: NodeFaults = { delayMs: 0, delayProbability: 0, delaySpreadRound: 0 };
  /** Nonces of internal calls seen within the replay window (src/security/internal-auth.ts). */
  readonly replay = new ReplayGuard();
  /** The metadata group's Raft transport, as soon as the group exists (before `cluster` is set). */
  private metaTransport: RaftTransport | undefined;
  /** Set once the node has joined its cluster (undefined for a node of its own). */
  cluster: Cluster | undefined;
  /** Writes through the space groups when in a cluster. */
  writer: SpaceWriter | undefined;
  /** Connections to the other nodes for the query path. */
  readonly pool: ConnectionPool;
  /** Query metrics on the node's registry. */
  readonly queryMetrics: QueryMetrics;
  /** Runs public queries: in-process alone, plan → scatter → gather in a cluster. */
  executor: QueryExecutor;
  private readonly server: grpc.Server;
  private metricsServer: http.Server | undefined;
  /** `HOST:PORT` of gRPC as peers and clients are told it (the advertised address, else the listen address; the real port when 0 was asked). */
  grpcAddress = '';
  /** `HOST:PORT` the gRPC server is bound to (the real port when 0 was asked). */
  listenAddress = '';
  /** SERVING / NOT_SERVING for `grpc.health.v1` and `/readyz`. */
  readonly health = new NodeHealth();
  /** `HOST:PORT` of `/metrics`, or empty. */
  metricsAddress = '';
  private stopping: Promise<void> | undefined;
  /** Unary calls being served, and who waits for there to be none (a stop). */
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];
  /**
   * False until the node has joined its cluster and applied its table: the gRPC server is bound
   * earlier (a joiner needs its address), but data calls wait for this (NodeStartingError).
   */
  private ready = false;

  /** The coordinator's copy choice (NodeConfig.query). */
  private readonly queryOptions: NonNullable<NodeConfig['query']>;

  private constructor(config: NodeConfig, engine: Engine) {
    this.id = config.id;
    this.queryOptions = config.query ?? {};
    this.engine = engine;
    this.diskFloor = new DiskFloor({ path: config.dataDir, ...(config.minFreeDisk ? { floor: config.minFreeDisk } : {}) });
    this.logger = config.logger ?? jsonLogger(config.id);
    this.metrics = createNodeMetrics(config.id);
    this.enableFaults = config.enableFaults ?? false;
    this.faultCallers = new Set(config.faultCallers ?? []);
    this.tls = config.tls !== undefined;
    this.clusterKey = config.cluster?.clusterKey;
    const credentials = channelCredentials(config.tls);
    const callMetadata = this.clusterKey !== undefined ? internalCallMetadata(this.clusterKey, config.id, () => this.cluster?.clusterId ?? '') : undefined;
    this.peers = new PeerClients({ credentials });
    this.queryMetrics = new QueryMetrics(this.metrics.registry);
    this.pool = new ConnectionPool({ metrics: this.queryMetrics.poolMetrics(), credentials, ...(callMetadata ? { callMetadata } : {}) });
    this.executor = new LocalExecutor(engine, config.id);
    this.server = new grpc.Server({ ...LEAN_CHANNEL_OPTIONS });
  }

  /** Opens the engine (replaying its logs), binds gRPC and metrics, and logs one `started` line. */
  static async start(config: NodeConfig): Promise<EngramNode> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(config.id)) {
      throw new InvalidArgumentError('id', config.id, 'node id: 1-64 chars of [A-Za-z0-9_.-]');
    }
    // Before the engine opens: a refused configuration touches nothing.
    checkTransportPolicy(config.listen.host, config.tls !== undefined, config.insecure ?? false);
    checkAdvertise(config);
    // Made on the directory's first use and never changed: a copy's identity is (node id, storage
    // id), so a node whose disk was wiped comes back as a new copy (DESIGN §5).
    const { storageId } = await openStorageId(config.dataDir);
    const engine = await Engine.open(config.dataDir);
    const node = new EngramNode(config, engine);
    node.storageId = storageId;
    try {
      await node.bind(config);
      if (config.cluster) {
        node.cluster = await Cluster.start(
          {
            ...config.cluster,
            ...(config.maxSpaces !== undefined ? { maxSpaces: config.maxSpaces } : {}),
            nodeId: config.id,
            grpcAddress: node.grpcAddress,
            // Gossip is told at the advertised host too, unless configured apart.
            ...(config.cluster.advertiseGossip === undefined && config.advertise ? { advertiseGossip: formatHostPort({ host: config.advertise.host, port: 0 }) } : {}),
            dataDir: config.dataDir,
            storageId,
            credentials: channelCredentials(config.tls),
            requireClientCertificate: node.tls,
            logger: node.logger,
            onMetaGroup: (meta) => {
              node.metaTransport = meta.transport;
            },
          },
          engine,
          node.internalCalls,
        );
        const cluster = node.cluster;
        registerMetaGauges(node.metrics.registry, {
          metaFigures: () => {
            const st = cluster.meta.status();
            return {
              term: st.term,
              leader: cluster.meta.isLeader() ? 1 : 0,
              applied: cluster.meta.applied,
              voters: st.confState.voters.length,
              learners: st.confState.learners.length,
              reachable: cluster.quorum().reachable,
            };
          },
        });
        registerClusterGauges(node.metrics.registry, {
          memberStates: () => cluster.members().map((m) => m.state),
          partitionState: () => cluster.partitionState(),
          spaceCopies: () => {
            const table = new Map(cluster.assignments().map((a) => [a.space, 1 + a.replicas.length]));
            return cluster.spaceGroups.info().map((g) => ({
              space: g.space, role: g.role, term: g.term, commit: g.commit, applied: g.applied, voters: g.voters.length, intendedCopies: table.get(g.space) ?? 0,
            }));
          },
        });
        node.writer = new SpaceWriter({ nodeId: config.id, engine, cluster: node.cluster, peers: node.internalCalls, logger: node.logger, writeGuard: node.diskFloor });
        node.executor = node.distributedExecutor(node.cluster);
      }
    } catch (err) {
      // Whatever did start is stopped: a refused start leaves no socket, timer or file open.
      await node.cluster?.close().catch(() => undefined);
      node.server.forceShutdown();
      if (node.metricsServer) {
        const s = node.metricsServer;
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      node.peers.close();
      node.pool.close();
      await engine.close();
      throw err;
    }
    node.ready = true;
    node.health.set('serving');
    node.logger.info('started', {
      grpc: node.grpcAddress,
      ...(node.listenAddress !== node.grpcAddress ? { listen: node.listenAddress } : {}),
      gossip: node.cluster?.gossipAddress,
      clusterId: node.cluster?.clusterId,
      metrics: node.metricsAddress || undefined,
      tls: node.tls,
      // Which merge this node gathers with; a fallback to TS warns here, at start, not at the first big query.
      gather: gatherBackend(),
      dataDir: config.dataDir,
      storageId,
      spaces: engine.spaces().length,
      version: VERSION,
      pid: process.pid,
    });
    return node;
  }

  private async bind(config: NodeConfig): Promise<void> {
    const { publicService, internalService } = protos();
    // The composition root: each service gets the narrow view of the node it uses.
    const publicServices = {
      id: this.id,
      storageId: this.storageId,
      startedAt: this.startedAt,
      engine: this.engine,
      logger: this.logger,
      peers: this.peers,
      grpcAddress: () => this.grpcAddress,
      cluster: () => this.cluster,
      writer: () => this.writer,
      executor: () => this.executor,
      writeGuard: this.diskFloor,
      maxSpaces: config.maxSpaces ?? DEFAULT_MAX_SPACES,
    };
    const internalServices = {
      engine: this.engine,
      load: () => this.inFlight,
      logger: this.logger,
      metrics: this.metrics,
      cluster: () => this.cluster,
      writer: () => this.writer,
      auth: { tls: this.tls, clusterKey: this.clusterKey, replay: this.replay },
      faults: { enabled: this.enableFaults, callers: this.faultCallers, state: this.faults },
    };
    this.server.addService(publicService, this.wrap(withClientTokens(publicHandlers(publicServices), config.clientTokens)));
    this.health.addToServer(this.server);
    this.server.addService(internalService, {
      ...this.wrap(internalHandlers(internalServices)),
      // Bidi, outside wrap(): the metadata group's transport authenticates each stream itself.
      // Registered before the group exists (a joiner learns its cluster id after binding).
      [RAFT_METHOD]: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        const transport = this.metaTransport;
        if (!transport) {
          call.emit('error', toGrpcError(new RaftTransportClosedError('this node has not joined its cluster yet')));
          return;
        }
        (transport.handlers()[RAFT_METHOD] as (c: grpc.ServerDuplexStream<unknown, unknown>) => void)(call);
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(formatHostPort(config.listen), serverCredentials(config.tls), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.listenAddress = formatHostPort({ host: config.listen.host, port });
    this.grpcAddress = config.advertise ? formatHostPort({ host: config.advertise.host, port: config.advertise.port || port }) : this.listenAddress;
    if (config.metrics) {
      this.metricsServer = await serveMetrics(this.metrics.registry, config.metrics.host, config.metrics.port, this.health);
      this.metricsAddress = formatHostPort({ host: config.metrics.host, port: boundPort(this.metricsServer) });
    }
  }

  private wrap(handlers: Record<string, Handler>): grpc.UntypedServiceImplementation {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(handlers)) {
      out[name] = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
        const end = this.metrics.rpcDuration.startTimer({ method: name });
        this.inFlight++;
        this.metrics.rpcInFlight.inc();
        const settled = () => {
          this.metrics.rpcInFlight.dec();
          if (--this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
        };
        const { delayMs, delayProbability, delaySpreadRound } = this.faults;
        // A round of a Spread over several spaces is `hop + 1` (the seeds' round is 1).
        const rounds: ({ hop: number } | null | undefined)[] = name === 'ExecuteLocal' ? [call.request?.spreadRound]
          : name === 'ExecuteLocalBatch' ? (call.request?.entries ?? []).map((e: { request?: { spreadRound?: { hop: number } } }) => e.request?.spreadRound) : [];
        const targeted = delaySpreadRound === 0 || rounds.some((r) => r != null && r.hop + 1 === delaySpreadRound);
        const delayed = delayMs > 0 && name !== 'SetFault' && targeted && (delayProbability === 0 || Math.random() < delayProbability) ? this.delay(call) : Promise.resolve();
        delayed.then(() => {
          if (call.cancelled) return Promise.reject(new AbortError('the caller cancelled the call'));
          // A call whose deadline passed while it waited is not started (its caller stopped waiting).
          const deadline = callDeadlineEpochMs(call);
          if (deadline !== undefined && Date.now() >= deadline) return Promise.reject(new DeadlineExceededError(`${name} (the deadline passed before it started)`, 0));
          if (!this.ready && !SERVED_WHILE_STARTING.has(name)) return Promise.reject(new NodeStartingError(name));
          return handler(call.request, call);
        }).then(
          (response) => {
            end({ code: 'OK' });
            this.metrics.rpcTotal.inc({ method: name, code: 'OK' });
            callback(null, response);
            settled();
          },
          (err: unknown) => {
            const grpcErr = toGrpcError(err);
            const code = grpc.status[grpcErr.code] ?? String(grpcErr.code);
            end({ code });
            this.metrics.rpcTotal.inc({ method: name, code });
            if (isInternal(err)) this.logger.error('request failed', { method: name, error: grpcErr.message });
            callback(grpcErr, null);
            settled();
          },
        );
      };
    }
    return out;
  }

  /** Table exchange and replication go through the same pooled connections as queries. */
  readonly internalCalls: InternalCalls = {
    internal: (address, method, request, deadlineMs) => this.pool.unary(address, method, request, { deadline: Date.now() + deadlineMs }),
  };

  private distributedExecutor(cluster: Cluster): DistributedExecutor {
    return new DistributedExecutor({
      view: cluster,
      transport: poolTransport(this.pool),
      local: async (query, space, deadline, consistency) => {
        if (query.kind !== 'consolidate') cluster.checkReadable(space);
        if (consistency === 'leader') await cluster.readBarrier(space, deadline);
        const copy = cluster.copyState(space);
        const answer = await answerFromEngine(this.engine, query, space, {
        ...(deadline !== undefined ? { deadline } : {}),
        // A consolidation's patterns go through the space's Raft group, from its leader.
        ...(this.writer ? { consolidate: (s: string, q: object) => this.writer!.consolidate(s, q) } : {}),
        });
        return copy ? { ...answer, copy } : answer;
      },
      observer: this.queryMetrics,
      ...(this.queryOptions.ranking !== undefined ? { ranking: this.queryOptions.ranking } : {}),
      ...(this.queryOptions.hedging ? { hedging: this.queryOptions.hedging } : {}),
    });
  }


  /**
   * The injected delay; ends early when the caller cancels or its deadline passes, so a call
   * nobody waits for holds nothing.
   */
  private delay(call: grpc.ServerUnaryCall<any, any>): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        call.off('cancelled', done);
        resolve();
      };
      const deadline = callDeadlineEpochMs(call);
      const timer = setTimeout(done, Math.min(this.faults.delayMs, deadline !== undefined ? Math.max(0, deadline - Date.now()) : Infinity));
      timer.unref();
      call.on('cancelled', done);
    });
  }

  /** Stops serving (in-flight RPCs get a grace period), closes metrics and the engine. Idempotent. */
  stop(graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    this.stopping ??= this.doStop(graceMs);
    return this.stopping;
  }

  private async doStop(graceMs: number): Promise<void> {
    // Probes see NOT_SERVING before anything is refused, so balancers stop sending here first.
    this.health.set('draining');
    // First the leaderships move (a write sent here now is refused with the new leader's name and
    // taken there), then calls in flight finish while this node's Raft still runs, so a write it
    // proposed as leader is still confirmed when the new leader commits it; then it leaves.
    await this.cluster?.handOff().catch((err: unknown) => this.logger.warn('handoff failed', { error: String(err) }));
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(force);
        // The Raft streams peers keep open would hold tryShutdown forever: once no unary call is
        // left, the rest is cut.
        this.server.forceShutdown();
        resolve();
      };
      const force = setTimeout(finish, graceMs);
      force.unref();
      this.server.tryShutdown(finish);
      if (this.inFlight === 0) finish();
      else this.idleWaiters.push(finish);
    });
    // Members see `left` at once instead of waiting for failure detection.
    await this.cluster?.leave().catch((err: unknown) => this.logger.warn('leave failed', { error: String(err) }));
    if (this.metricsServer) {
      const s = this.metricsServer;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    this.peers.close();
    this.pool.close();
    await this.engine.close();
    this.logger.info('stopped', { uptimeS: (Date.now() - this.startedAt) / 1000 });
  }
}

/** A cluster node must tell its peers an address they can dial: never a wildcard. */
function checkAdvertise(config: NodeConfig): void {
  if (config.advertise && isWildcardHost(config.advertise.host)) {
    throw new InvalidArgumentError('advertise', formatHostPort(config.advertise), 'must be an address peers and clients can dial, not a wildcard');
  }
  if (config.cluster && !config.advertise && isWildcardHost(config.listen.host)) {
    throw new InvalidArgumentError('listen', formatHostPort(config.listen), 'a cluster node listening on a wildcard address needs --advertise HOST:PORT (the address peers dial)');
  }
}
