/**
 * Whether the node serves, as probes see it: the standard `grpc.health.v1` service on the gRPC
 * server, server reflection for the public service, and the state `/readyz` answers from.
 *
 * One state machine, changed only through `set()`: `starting` (bound, not yet joined or loaded)
 * → `serving` → `draining` (stop began). Only `serving` is SERVING; a probe that sees anything
 * else takes the node out of rotation before it refuses calls.
 */
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { PROTO_DIR } from '../wire/proto.js';

/** The public service's full name, as health checks and reflection name it. */
export const PUBLIC_SERVICE_NAME = 'engram.v1.Engram';

export type NodeHealthState = 'starting' | 'serving' | 'draining';

/** Why a node that is not ready is not, as `/readyz` says it. */
const REASON: Record<NodeHealthState, string> = {
  starting: 'the node has not yet joined its cluster and loaded its spaces',
  serving: 'serving',
  draining: 'the node is stopping: in-flight calls finish, new ones go elsewhere',
};

/** What `/readyz` reads. */
export interface Readiness {
  ready(): { ready: boolean; state: NodeHealthState; reason: string };
}

export class NodeHealth implements Readiness {
  #state: NodeHealthState = 'starting';
  readonly #health = new HealthImplementation({ '': 'NOT_SERVING', [PUBLIC_SERVICE_NAME]: 'NOT_SERVING' });

  get state(): NodeHealthState {
    return this.#state;
  }

  /** Moves to `state`; `draining` is final (a stopping node never serves again). */
  set(state: NodeHealthState): void {
    if (this.#state === 'draining' || this.#state === state) return;
    this.#state = state;
    // Watchers of both names are told at once (the package streams each change to them).
    const status = state === 'serving' ? 'SERVING' : 'NOT_SERVING';
    this.#health.setStatus('', status);
    this.#health.setStatus(PUBLIC_SERVICE_NAME, status);
  }

  ready(): { ready: boolean; state: NodeHealthState; reason: string } {
    return { ready: this.#state === 'serving', state: this.#state, reason: REASON[this.#state] };
  }

  /** Adds `grpc.health.v1.Health` and reflection of the public service to `server`. */
  addToServer(server: grpc.Server): void {
    this.#health.addToServer(server);
    new ReflectionService(publicPackageDefinition()).addToServer(server);
  }
}

/**
 * The public proto alone: reflection lists what is in the definition, and the internal service
 * is none of a client's business.
 */
function publicPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(join('engram', 'v1', 'engram.proto'), { includeDirs: [PROTO_DIR] });
}
