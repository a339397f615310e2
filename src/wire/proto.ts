/**
 * Loads `proto/engram/v1/*.proto` with @grpc/proto-loader (protobufjs 7 underneath) and exposes
 * the service definitions and client constructors. Bytes fields arrive as Buffers that view the
 * received message (no copy), which is what the columnar gather path relies on.
 */
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

/** The loaded services (parsed once per process). */
export function protos(): Loaded {
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(['engram/v1/engram.proto', 'engram/v1/internal.proto'], LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    engram: { v1: { Engram: grpc.ServiceClientConstructor; EngramInternal: grpc.ServiceClientConstructor } };
  };
  const PublicClient = pkg.engram.v1.Engram;
  const InternalClient = pkg.engram.v1.EngramInternal;
  loaded = { publicService: PublicClient.service, internalService: InternalClient.service, PublicClient, InternalClient };
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
