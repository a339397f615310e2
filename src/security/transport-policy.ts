/**
 * When a node may serve plaintext: on loopback by default (so a laptop cluster, `npm start` and
 * the tests need no certificates), elsewhere only when the operator says `--insecure`.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

/** Whether a listen host only accepts connections from this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    // The URL parser writes IPv6 in its canonical short form (0:0:…:1 → ::1, ::ffff:127.0.0.1 → ::ffff:7f00:1).
    const canonical = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    return canonical === '::1' || /^::ffff:7f[0-9a-f]{2}:/.test(canonical);
  }
  return false;
}

/**
 * Throws ConfigError when a node would serve plaintext on a non-loopback address without
 * `--insecure`, or when `--insecure` is combined with TLS (which it would silently contradict).
 */
export function checkTransportPolicy(listenHost: string, tls: boolean, insecure: boolean): void {
  if (tls && insecure) throw new ConfigError('--insecure', 'cannot be combined with --tls-cert / --tls-key / --tls-ca');
  if (tls || insecure || isLoopbackHost(listenHost)) return;
  throw new ConfigError(
    '--listen',
    `${listenHost} is not a loopback address: give --tls-cert, --tls-key and --tls-ca, or --insecure to serve plaintext anyway (anyone on the network could then read and write the data)`,
  );
}
