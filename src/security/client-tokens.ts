/**
 * Client bearer tokens of the public port (`--client-tokens FILE`): one `TOKEN ROLE` a line,
 * `#` starts a comment. A call carries `authorization: Bearer TOKEN`; the node answers
 * UNAUTHENTICATED without a known token and PERMISSION_DENIED when its role is too low.
 * Internal calls are not covered: they prove cluster membership with the cluster key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { ClientUnauthenticatedError, ConfigError, PermissionDeniedError, type ClientRole } from '../errors.js';

export const CLIENT_ROLES: readonly ClientRole[] = ['read', 'write', 'admin'];

/** Each role may do what the roles before it in CLIENT_ROLES may. */
export function roleAllows(role: ClientRole, required: ClientRole): boolean {
  return CLIENT_ROLES.indexOf(role) >= CLIENT_ROLES.indexOf(required);
}

/** The metadata key a client token travels in (grpc-js lowercases keys). */
export const AUTHORIZATION_HEADER = 'authorization';

interface Entry {
  /** SHA-256 of the token: every digest has the same length, so comparing them leaks no length. */
  digest: Buffer;
  role: ClientRole;
}

export class ClientTokens {
  readonly #entries: readonly Entry[];
  private constructor(entries: Entry[]) {
    this.#entries = entries;
  }

  /** Parses a tokens file's text; `source` names it in errors. Refuses an empty or malformed file. */
  static parse(text: string, source = '--client-tokens'): ClientTokens {
    const entries: Entry[] = [];
    const seen = new Set<string>();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (line === '') return;
      const parts = line.split(/\s+/);
      if (parts.length !== 2) throw new ConfigError(source, `line ${i + 1}: must be TOKEN ROLE (got ${parts.length} words)`);
      const [token, role] = parts as [string, string];
      if (!(CLIENT_ROLES as readonly string[]).includes(role)) throw new ConfigError(source, `line ${i + 1}: the role must be read, write or admin (got ${JSON.stringify(role)})`);
      if (seen.has(token)) throw new ConfigError(source, `line ${i + 1}: the token is listed twice`);
      seen.add(token);
      entries.push({ digest: digest(token), role: role as ClientRole });
    });
    if (entries.length === 0) throw new ConfigError(source, 'holds no token (a TOKEN ROLE line is needed; leave the flag out to serve without client tokens)');
    return new ClientTokens(entries);
  }

  /** Reads the file once (at start). */
  static load(file: string, source = '--client-tokens'): ClientTokens {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(source, `cannot read ${file}: ${(err as Error).message}`);
    }
    return ClientTokens.parse(text, `${source} ${file}`);
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The token's role, or undefined. Compares with every entry in constant time (no early exit). */
  roleOf(token: string): ClientRole | undefined {
    const d = digest(token);
    let found: ClientRole | undefined;
    for (const e of this.#entries) if (timingSafeEqual(e.digest, d)) found = e.role;
    return found;
  }

  /** Throws ClientUnauthenticatedError / PermissionDeniedError unless the call's token has `required`. */
  authorize(method: string, metadata: Metadata, required: ClientRole): ClientRole {
    const values = metadata.get(AUTHORIZATION_HEADER);
    if (values.length === 0) throw new ClientUnauthenticatedError(method, 'no authorization: Bearer token (this node requires a client token)');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(String(values[0]));
    if (!m || values.length > 1) throw new ClientUnauthenticatedError(method, 'the authorization header must be one "Bearer TOKEN"');
    const role = this.roleOf(m[1]!);
    if (role === undefined) throw new ClientUnauthenticatedError(method, 'unknown client token');
    if (!roleAllows(role, required)) throw new PermissionDeniedError(method, required, role);
    return role;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
