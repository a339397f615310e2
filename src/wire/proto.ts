/**
 * Loads `proto/engram/v1/*.proto` with @grpc/proto-loader (protobufjs 7 underneath) and exposes
 * the service definitions and client constructors. Bytes fields arrive as Buffers that view the
 * received message (no copy), which is what the columnar gather path relies on.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// dist/src/wire/proto.js → <package>/proto
export const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proto');

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

interface Loaded {
  publicService: grpc.ServiceDefinition;
  internalService: grpc.ServiceDefinition;
  PublicClient: grpc.ServiceClientConstructor;
  InternalClient: grpc.ServiceClientConstructor;
}

let loaded: Loaded | undefined;
let plainInternal: grpc.ServiceDefinition | undefined;

/**
 * An EngramInternal request serialized ahead of the call, so the caller's tag can cover its bytes
 * (src/security/internal-auth.ts): the internal client sends these bytes as they are.
 */
export class EncodedRequest {
  constructor(readonly bytes: Buffer) {}
}

/**
 * A public response serialized ahead of the answer (a single partition's answer passed on as the
 * bytes its copy sent): the public server sends these bytes as they are.
 */
export class EncodedResponse {
  constructor(readonly bytes: Buffer) {}
}

/** The public service as our server uses it: an EncodedResponse goes out as its bytes. */
function passThroughService(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service as Record<string, grpc.MethodDefinition<unknown, unknown>>)) {
    out[name] = { ...def, responseSerialize: (v: unknown) => (v instanceof EncodedResponse ? v.bytes : def.responseSerialize(v)) };
  }
  return out as grpc.ServiceDefinition;
}

/**
 * Serializes an engram.v1.QueryResponse. Protobuf merges concatenated messages, so a response
 * without its coverage followed by one that holds only a coverage is the whole response.
 */
export function encodeQueryResponse(msg: Record<string, unknown>): Buffer {
  return (protos().publicService as Record<string, grpc.MethodDefinition<unknown, unknown>>).ExecuteQuery!.responseSerialize(msg);
}

/** Where a received unary EngramInternal request keeps the SHA-256 of its bytes (non-enumerable). */
export const REQUEST_DIGEST: unique symbol = Symbol('engram.requestDigest');

/** The SHA-256 of the bytes a received internal request came in, if it is one. */
export function receivedDigest(request: unknown): Buffer | undefined {
  return request !== null && typeof request === 'object' ? (request as { [REQUEST_DIGEST]?: Buffer })[REQUEST_DIGEST] : undefined;
}

/** Serializes an EngramInternal request of `method` as the internal client would. */
export function encodeInternalRequest(method: string, request: unknown): Buffer {
  protos();
  const def = plainInternal![method];
  if (!def) throw new Error(`${method} is not a method of EngramInternal`);
  return def.requestSerialize(request);
}

/**
 * The internal service as clients and servers of ours use it: a client sends an EncodedRequest's
 * bytes as they are, a server notes the digest of every unary request's bytes.
 */
function signedService(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service as Record<string, grpc.MethodDefinition<unknown, unknown>>)) {
    if (def.requestStream) {
      out[name] = def;
      continue;
    }
    out[name] = {
      ...def,
      requestSerialize: (arg: unknown) => (arg instanceof EncodedRequest ? arg.bytes : def.requestSerialize(arg)),
      requestDeserialize: (bytes: Buffer) => {
        const request = def.requestDeserialize(bytes);
        if (request !== null && typeof request === 'object') {
          Object.defineProperty(request, REQUEST_DIGEST, { value: createHash('sha256').update(bytes).digest() });
        }
        return request;
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

/** The loaded services (parsed once per process). */
export function protos(): Loaded {
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(['engram/v1/engram.proto', 'engram/v1/internal.proto'], LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    engram: { v1: { Engram: grpc.ServiceClientConstructor; EngramInternal: grpc.ServiceClientConstructor } };
  };
  const PublicClient = pkg.engram.v1.Engram;
  plainInternal = pkg.engram.v1.EngramInternal.service;
  const internalService = signedService(plainInternal);
  const InternalClient = grpc.makeGenericClientConstructor(internalService, 'EngramInternal') as grpc.ServiceClientConstructor;
  loaded = { publicService: passThroughService(PublicClient.service), internalService, PublicClient, InternalClient };
  return loaded;
}

/** Largest request or response, bytes (16 MiB); larger ones fail with RESOURCE_EXHAUSTED. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * Channel options every client and server of ours shares. grpc-js's transparent retries and
 * channelz bookkeeping cost on every call (≈10% of a loopback round trip here) and we use
 * neither: the scatter does its own copy fallback within the deadline.
 */
export const LEAN_CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.enable_retries': 0,
  'grpc.enable_channelz': 0,
} as const;
