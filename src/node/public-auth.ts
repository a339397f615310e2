/**
 * Client tokens on the public handlers: each call's required role, checked before the handler
 * runs (so a refused call touches nothing). Without tokens the handlers are returned unchanged.
 */
import type { ClientRole } from '../errors.js';
import type { ClientTokens } from '../security/client-tokens.js';
import type { QueryMsg } from '../wire/messages.js';
import type { Handler } from './handler.js';

/** The role a public call needs: reads need read, Store write, CreateSpace and Consolidate admin. */
export function requiredRole(method: string, request: unknown): ClientRole {
  switch (method) {
    case 'Status':
      return 'read';
    case 'ExecuteQuery':
      // Consolidate writes derived memories: admin, like creating a space.
      return (request as { query?: QueryMsg | null } | undefined)?.query?.kind === 'consolidate' ? 'admin' : 'read';
    case 'Store':
      return 'write';
    default:
      // CreateSpace, and any call added later until it is given a lower role.
      return 'admin';
  }
}

export function withClientTokens(handlers: Record<string, Handler>, tokens: ClientTokens | undefined): Record<string, Handler> {
  if (!tokens) return handlers;
  const out: Record<string, Handler> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    out[method] = (request, call) => {
      tokens.authorize(method, call.metadata, requiredRole(method, request));
      return handler(request, call);
    };
  }
  return out;
}
