import { EngramError } from '../errors.js';

/** The engine was closed; no more reads or writes. */
export class EngineClosedError extends EngramError {
  constructor() {
    super('ERR_ENGINE_CLOSED', 'the engine is closed');
  }
}
