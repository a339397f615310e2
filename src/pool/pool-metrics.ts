/**
 * What the pool reports as it works. An interface so the pool does not depend on prom-client:
 * QueryMetrics implements it, and tests can pass a plain object.
 */
export interface PoolMetrics {
  /** A channel (one TCP connection) was opened to `address`. */
  connectionCreated(address: string): void;
  /** A call was dispatched; `reused` when its channel existed before the call. */
  connectionCall(address: string, reused: boolean): void;
  /** A channel was closed after a transport failure. */
  connectionEvicted(address: string): void;
}
