/**
 * `--client-tokens`: a real node process refuses public calls without a known token
 * (UNAUTHENTICATED) and below the call's role (PERMISSION_DENIED); without the flag every client
 * is served as before. Also the tokens file's parser and the roles each call needs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { EngramClient } from '../src/client/engram-client.js';
import { ClientUnauthenticatedError, ConfigError, PermissionDeniedError } from '../src/errors.js';
import { ClientTokens } from '../src/security/client-tokens.js';
import { requiredRole } from '../src/node/public-auth.js';
import { NodeFixture, vec } from './helpers/node.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

/** The `engram` CLI with only `env` of the ENGRAM_* variables set. */
function engram(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENGRAM_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...base, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const TOKENS = `# tokens of the test
reader-token-1 read
writer-token-2 write   # a trailing comment
admin-token-3  admin
`;

describe('client tokens file', () => {
  it('parses TOKEN ROLE lines with comments and finds each role', () => {
    const t = ClientTokens.parse(TOKENS);
    assert.equal(t.size, 3);
    assert.equal(t.roleOf('reader-token-1'), 'read');
    assert.equal(t.roleOf('writer-token-2'), 'write');
    assert.equal(t.roleOf('admin-token-3'), 'admin');
    assert.equal(t.roleOf('admin-token-'), undefined);
    assert.equal(t.roleOf(''), undefined);
  });

  it('refuses an empty file, a bad role, a line of one word and a repeated token with ConfigError', () => {
    for (const text of ['', '# only a comment\n\n', 'tok superuser\n', 'lonely\n', 'a read\na admin\n', 'a read extra\n']) {
      assert.throws(() => ClientTokens.parse(text), ConfigError, JSON.stringify(text));
    }
  });

  it('needs read for Status and queries, write for Store, admin for CreateSpace and Consolidate', () => {
    assert.equal(requiredRole('Status', {}), 'read');
    assert.equal(requiredRole('ExecuteQuery', { query: { kind: 'recall' } }), 'read');
    assert.equal(requiredRole('ExecuteQuery', { query: { kind: 'consolidate' } }), 'admin');
    assert.equal(requiredRole('Store', {}), 'write');
    assert.equal(requiredRole('CreateSpace', {}), 'admin');
  });
});

describe('engram-node --client-tokens', () => {
  const fx = new NodeFixture();
  const clients: EngramClient[] = [];
  let address = '';
  const client = (token?: string) => {
    const c = new EngramClient({ nodes: [address], deadlineMs: 10_000, routing: 'any', ...(token !== undefined ? { token } : {}) });
    clients.push(c);
    return c;
  };
  const memory = (id: string) => ({ id, embedding: Float32Array.from(vec(8, id.length)), content: id });

  before(async () => {
    const dir = await fx.tempDir();
    const file = join(dir, 'tokens.txt');
    await writeFile(file, TOKENS, { mode: 0o600 });
    address = (await fx.start('t1', join(dir, 'data'), { extraArgs: ['--client-tokens', file] })).proc.grpcAddress;
  });
  after(async () => {
    for (const c of clients) c.close();
    await fx.cleanup();
  });

  it('refuses a call without a token or with an unknown one: UNAUTHENTICATED', async () => {
    for (const c of [client(), client('not-a-token')]) {
      await assert.rejects(c.status(), (err: unknown) => {
        assert.ok(err instanceof ClientUnauthenticatedError, String(err));
        assert.equal(err.grpcStatus, grpc.status.UNAUTHENTICATED);
        assert.equal(err.code, 'ERR_CLIENT_UNAUTHENTICATED');
        assert.equal(err.method, 'Status');
        return true;
      });
    }
  });

  it('admin creates a space; write stores but cannot create; read reads but cannot store', async () => {
    const admin = client('admin-token-3');
    const writer = client('writer-token-2');
    const reader = client('reader-token-1');
    await assert.rejects(writer.createSpace('kept', { dimension: 8 }), (err: unknown) => {
      assert.ok(err instanceof PermissionDeniedError, String(err));
      assert.equal(err.grpcStatus, grpc.status.PERMISSION_DENIED);
      assert.deepEqual([err.method, err.required, err.role], ['CreateSpace', 'admin', 'write']);
      return true;
    });
    assert.equal((await admin.createSpace('kept', { dimension: 8 })).created, true);
    await assert.rejects(reader.store('kept', { memories: [memory('r1')] }), (err: unknown) => {
      assert.ok(err instanceof PermissionDeniedError, String(err));
      assert.deepEqual([err.method, err.required, err.role], ['Store', 'write', 'read']);
      return true;
    });
    assert.equal((await writer.store('kept', { memories: [memory('w1'), memory('w22')] })).memories, 2);
    assert.equal((await admin.store('kept', { memories: [memory('a333')] })).memories, 1);
    const recall = await reader.query({ kind: 'recall', space: 'kept', cue: { embedding: Float32Array.from(vec(8, 2)) }, limit: 10 });
    assert.ok(recall.memories.length > 0);
    assert.equal((await reader.status()).spaces.find((s) => s.id === 'kept')?.memories, 3);
    // Consolidate writes: admin only.
    await assert.rejects(writer.query({ kind: 'consolidate', space: 'kept' }), PermissionDeniedError);
    await admin.query({ kind: 'consolidate', space: 'kept' });
  });

  it('the CLI sends $ENGRAM_TOKEN or --token', async () => {
    const viaEnv = await engram(['status'], { ENGRAM_NODE: address, ENGRAM_TOKEN: 'reader-token-1', ENGRAM_JSON: '1' });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const viaFlag = await engram(['--token', 'reader-token-1', 'status'], { ENGRAM_NODE: address });
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    const without = await engram(['status'], { ENGRAM_NODE: address, ENGRAM_JSON: '1' });
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /ERR_CLIENT_UNAUTHENTICATED/);
  });
});

describe('engram-node without --client-tokens', () => {
  const fx = new NodeFixture();
  after(() => fx.cleanup());

  it('serves a client without a token, and one with a token it ignores', async () => {
    const { proc, client } = await fx.start('open1');
    await client.createSpace('open', { dimension: 8 });
    assert.equal((await client.store('open', { memories: [{ id: 'm', embedding: Float32Array.from(vec(8, 1)), content: 'm' }] })).memories, 1);
    const withToken = new EngramClient({ nodes: [proc.grpcAddress], routing: 'any', token: 'whatever' });
    try {
      assert.ok((await withToken.status()).spaces.some((s) => s.id === 'open'));
    } finally {
      withToken.close();
    }
  });
});
