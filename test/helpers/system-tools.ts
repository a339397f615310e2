/**
 * System tools some checks need that the README's commands do not install (promtool, openssl).
 * On a machine without one, such a check reports itself skipped with the reason and the command
 * that installs the tool; under CI (`ENGRAM_REQUIRE_TOOLS=1`, set by `.ci/run`, which installs
 * them) a missing tool fails the check instead, so CI always runs it.
 */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

/** What installs each tool on Debian/Ubuntu, as `.ci/run` does. */
const INSTALL: Record<string, string> = {
  promtool: 'apt-get install -y --no-install-recommends prometheus',
  openssl: 'apt-get install -y --no-install-recommends openssl',
};

const found = new Map<string, boolean>();

/** Whether `tool` runs on this machine (looked up once per process). */
export function hasTool(tool: string): boolean {
  let ok = found.get(tool);
  if (ok === undefined) {
    const run = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    ok = !(run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT');
    found.set(tool, ok);
  }
  return ok;
}

/** Whether a missing tool must fail the check rather than skip it. */
export function toolsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.ENGRAM_REQUIRE_TOOLS === '1';
}

/**
 * True when `tool` is here. Otherwise marks the test skipped, naming the tool and its install
 * command, and returns false (the test then returns) — or fails it when tools are required.
 */
export function needTool(t: TestContext, tool: string): boolean {
  if (hasTool(tool)) return true;
  const install = INSTALL[tool] ?? `install ${tool}`;
  const reason = `${tool} is not installed (${install})`;
  if (toolsRequired()) assert.fail(`${reason}; ENGRAM_REQUIRE_TOOLS=1 requires it`);
  t.skip(reason);
  return false;
}
