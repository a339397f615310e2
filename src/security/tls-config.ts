/**
 * TLS material of a node or a client, read and checked in one place: PEM files named by the
 * `--tls-ca`, `--tls-cert` and `--tls-key` flags. Every problem is a ConfigError naming the flag.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.js';

/** PEM material for TLS: the CA that signs every node certificate, and this party's own pair. */
export interface TlsConfig {
  /** CA certificate(s) trusted for the other side, PEM. */
  ca: Buffer;
  /** This party's certificate chain, PEM; required for a node, optional for a client. */
  cert?: Buffer;
  /** The private key of `cert`, PEM. */
  key?: Buffer;
}

/** File names as given on the command line; unset means the flag was not given. */
export interface TlsFiles {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** Flag names used in error messages, so a node and the CLI report the flag the user typed. */
const FLAG = { ca: '--tls-ca', cert: '--tls-cert', key: '--tls-key' } as const;

/**
 * Reads and checks the files. Returns undefined when no flag is given (plaintext).
 * `requireIdentity`: a node must present a certificate and key (mutual TLS between nodes); a
 * client may go without. Either way `--tls-ca` is required once any TLS flag is given, the key
 * must match the certificate, and the certificate must be signed by the CA, so a mismatched set
 * fails at start instead of at the first handshake.
 */
export function loadTlsConfig(files: TlsFiles, requireIdentity: boolean): TlsConfig | undefined {
  const given = [files.ca, files.cert, files.key].some((f) => f !== undefined);
  if (!given) return undefined;
  if (files.ca === undefined) throw new ConfigError(FLAG.ca, 'is required with --tls-cert / --tls-key (the CA that signs the node certificates)');
  if (requireIdentity) {
    if (files.cert === undefined) throw new ConfigError(FLAG.cert, 'is required with --tls-ca: nodes authenticate each other with certificates');
    if (files.key === undefined) throw new ConfigError(FLAG.key, 'is required with --tls-ca: nodes authenticate each other with certificates');
  }
  if ((files.cert === undefined) !== (files.key === undefined)) {
    const missing = files.cert === undefined ? 'cert' : 'key';
    throw new ConfigError(FLAG[missing], `is required with ${FLAG[missing === 'cert' ? 'key' : 'cert']}`);
  }
  const ca = read('ca', files.ca);
  const caCerts = certificates('ca', files.ca, ca);
  if (files.cert === undefined || files.key === undefined) return { ca };
  const cert = read('cert', files.cert);
  const leaf = certificates('cert', files.cert, cert)[0]!;
  const key = read('key', files.key);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(FLAG.key, `${files.key} is not a PEM private key (${(err as Error).message})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new ConfigError(FLAG.key, `${files.key} is not the key of the certificate in ${files.cert}`);
  if (!caCerts.some((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey))) {
    throw new ConfigError(FLAG.cert, `${files.cert} is not signed by the CA in ${files.ca}`);
  }
  return { ca, cert, key };
}

function read(which: keyof typeof FLAG, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(FLAG[which], `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The certificates of a PEM bundle, in order; at least one. */
function certificates(which: keyof typeof FLAG, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(FLAG[which], `${file} holds no PEM certificate`);
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new ConfigError(FLAG[which], `${file} holds a damaged certificate (${(err as Error).message})`);
  }
}
