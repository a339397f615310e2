/** HOST:PORT parsing shared by the node flags and the CLI. */
import { InvalidArgumentError } from '../errors.js';

export interface HostPort { host: string; port: number }

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`); port 0 asks the OS for a free one. */
export function parseHostPort(field: string, value: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (!m) throw new InvalidArgumentError(field, value, 'expected HOST:PORT');
  const port = Number(m[3]);
  if (port > 65535) throw new InvalidArgumentError(field, value, 'port must be 0..65535');
  return { host: (m[1] ?? m[2])!, port };
}

/** Formats a host and port for gRPC targets and logs. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
