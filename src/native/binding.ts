/**
 * The one module that imports the napi-rs generated loader (`native/binding.cjs`, never edited).
 *
 * `ENGRAM_NATIVE` chooses: `auto` (default) loads the addon and falls back to the pure-TS
 * implementation with one warning when it cannot; `off` never loads it; `required` makes a
 * load failure an error.
 */
import { createRequire } from 'node:module';
import { ConfigError, NativeUnavailableError } from '../errors.js';
import type { NativeBinding } from './types.js';

export type NativeMode = 'off' | 'auto' | 'required';

const require = createRequire(import.meta.url);
// dist/src/native/binding.js → <package>/native/binding.cjs
const GENERATED_LOADER = '../../../native/binding.cjs';

let loaded: { binding: NativeBinding | null; error: unknown } | undefined;
let warned = false;

/** Parses ENGRAM_NATIVE (unset or empty means `auto`). */
export function nativeMode(env: NodeJS.ProcessEnv = process.env): NativeMode {
  const raw = env.ENGRAM_NATIVE;
  if (raw === undefined || raw === '') return 'auto';
  if (raw === 'off' || raw === 'auto' || raw === 'required') return raw;
  throw new ConfigError('ENGRAM_NATIVE', `must be off, auto or required (got ${JSON.stringify(raw)})`);
}

function tryLoad(): { binding: NativeBinding | null; error: unknown } {
  try {
    return { binding: require(GENERATED_LOADER) as NativeBinding, error: undefined };
  } catch (error) {
    return { binding: null, error };
  }
}

/**
 * The addon, or null when it is off or cannot load (then the caller uses the TS implementation).
 * Throws NativeUnavailableError when ENGRAM_NATIVE=required and the addon cannot load.
 */
export function nativeBinding(): NativeBinding | null {
  const mode = nativeMode();
  if (mode === 'off') return null;
  loaded ??= tryLoad();
  if (loaded.binding) return loaded.binding;
  const reason = loaded.error instanceof Error ? loaded.error.message.split('\n')[0] : String(loaded.error);
  if (mode === 'required') {
    throw new NativeUnavailableError(`ENGRAM_NATIVE=required but the native addon did not load: ${reason}`, loaded.error);
  }
  if (!warned) {
    warned = true;
    process.emitWarning(
      `engram-query: native addon unavailable (${reason}); using the pure-TypeScript gather. ` +
        'Set ENGRAM_NATIVE=off to silence this or ENGRAM_NATIVE=required to make it an error.',
      { code: 'ENGRAM_NATIVE_FALLBACK' },
    );
  }
  return null;
}

/** Which implementation the gather uses in this process: `native` or `ts`. */
export function gatherBackend(): 'native' | 'ts' {
  return nativeBinding() ? 'native' : 'ts';
}
