/**
 * The short chaos run (bench/chaos/, `npm run chaos` is the long one): 4 real nodes, 3 copies per
 * space, fast SWIM timings; writers and readers record a history while the nemesis runs each
 * fault once (leader killed, leader and follower cut off, follower and leader wiped, rolling
 * restart, a node added, a node removed for good); then every copy is read and the history checked.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SHORT_RUN } from '../bench/chaos/options.js';
import { runChaos } from '../bench/chaos/run.js';

describe('chaos under load (short run)', () => {
  it('loses no acknowledged write, invents none, keeps every copy identical through each nemesis', { timeout: 240_000 }, async () => {
    const report = await runChaos(SHORT_RUN);
    const c = report.check;
    const shown = c.violations.slice(0, 5).map((v) => `${v.check}: ${v.detail}\n${v.history.map((e) => `  ${JSON.stringify(e)}`).join('\n')}`);
    assert.deepEqual(c.violations.length, 0, `history check failed (node logs in ${report.logDir}):\n${shown.join('\n')}`);
    assert.deepEqual(report.crashes, []);
    assert.deepEqual(report.unhandledRejections, []);
    // The run really did what it claims: every nemesis, enough writes and reads, copies read.
    assert.deepEqual(new Set(report.windows.map((w) => w.kind)), new Set(SHORT_RUN.nemeses));
    assert.ok(!report.faults.some((f) => f.detail?.startsWith('skipped')), 'a nemesis was skipped');
    assert.ok(c.writes.ok > 100, `only ${c.writes.ok} writes ok`);
    assert.ok(c.reads.ok > 50 && c.reads.leader > 0, `only ${c.reads.ok} reads ok`);
    // Spreads over the graph spaces were asked and judged against the union graph.
    assert.ok(c.spreads.ok > 20 && c.spreads.leaderFull > 0, `only ${c.spreads.ok} spreads answered, ${c.spreads.leaderFull} full leader ones`);
    assert.equal(c.copies.copies, SHORT_RUN.spaces * SHORT_RUN.replicationFactor);
    assert.ok(c.copies.ids >= c.writes.ok * SHORT_RUN.batchSize);
  });
});
