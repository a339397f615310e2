/** ENGRAM_NATIVE chooses whether the addon loads: off, auto (default), required. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../src/errors.js';
import { gatherBackend, nativeMode } from '../src/native/binding.js';

describe('native loader mode', () => {
  it('parses the three modes, unset and empty meaning auto', () => {
    assert.equal(nativeMode({}), 'auto');
    assert.equal(nativeMode({ ENGRAM_NATIVE: '' }), 'auto');
    for (const m of ['off', 'auto', 'required'] as const) assert.equal(nativeMode({ ENGRAM_NATIVE: m }), m);
  });

  it('rejects anything else with a ConfigError naming the variable and value', () => {
    assert.throws(() => nativeMode({ ENGRAM_NATIVE: 'yes' }), (e: unknown) => e instanceof ConfigError && /ENGRAM_NATIVE.*"yes"/.test(e.message));
  });

  it('off selects the TS gather, auto the addon when it is built', () => {
    const saved = process.env.ENGRAM_NATIVE;
    try {
      process.env.ENGRAM_NATIVE = 'off';
      assert.equal(gatherBackend(), 'ts');
      process.env.ENGRAM_NATIVE = 'required';
      // The repo's tests run after `npm run build:native`: the addon must be there.
      assert.equal(gatherBackend(), 'native');
    } finally {
      if (saved === undefined) delete process.env.ENGRAM_NATIVE;
      else process.env.ENGRAM_NATIVE = saved;
    }
  });
});
