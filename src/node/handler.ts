/** The shape every service handler of the reference node has; the node's wrapper maps typed errors onto gRPC statuses. */
import type * as grpc from '@grpc/grpc-js';

/** A request handler that may throw typed errors (src/errors.ts). */
export type Handler = (request: any, call: grpc.ServerUnaryCall<any, any>) => Promise<unknown>;
