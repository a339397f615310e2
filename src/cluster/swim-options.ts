/**
 * Options of SWIM membership, with defaults sized for a LAN: a node that stops answering is
 * suspected after one missed probe and declared down `suspectToDownMs` later, so a crashed node is
 * down everywhere within about `probePeriodMs * (members - 1) + probeTimeoutMs + suspectToDownMs`
 * at worst (≈ 3.7 s in a 5-node cluster), usually much sooner because every member probes.
 */
import { InvalidArgumentError } from '../errors.js';

/** How often each member probes one other member, ms. */
export const DEFAULT_PROBE_PERIOD_MS = 500;
/** How long a direct probe may go unanswered before indirect probes start, ms. */
export const DEFAULT_PROBE_TIMEOUT_MS = 200;
/** How long a suspect member has to refute before it is declared down, ms. */
export const DEFAULT_SUSPECT_TO_DOWN_MS = 1500;
/** How often membership updates are pushed to a few members outside the probe cycle, ms. */
export const DEFAULT_GOSSIP_PERIOD_MS = 200;
/**
 * How often a member re-asks a peer (and a down member) for the member list, ms. It bounds how
 * long two sides of a healed cut take to find each other again; one small datagram per period.
 */
export const DEFAULT_ANNOUNCE_PERIOD_MS = 2_000;
/** How long a down member's identity is remembered, ms (a same-incarnation rejoin is refused meanwhile). */
export const DEFAULT_REMOVE_DOWN_AFTER_MS = 3_600_000;
/** Members asked to probe on our behalf when a direct probe times out. */
export const DEFAULT_INDIRECT_PROBES = 3;
/** Times each membership update is piggybacked before it is dropped. */
export const DEFAULT_MAX_TRANSMISSIONS = 10;
/** Largest datagram, tag included, bytes: under a 1500-byte Ethernet MTU with IP/UDP headers. */
export const DEFAULT_MAX_DATAGRAM_BYTES = 1400;

export interface SwimTimingOptions {
  /** Default DEFAULT_PROBE_PERIOD_MS (500). */
  probePeriodMs?: number;
  /** Must be below probePeriodMs. Default DEFAULT_PROBE_TIMEOUT_MS (200). */
  probeTimeoutMs?: number;
  /** Default DEFAULT_SUSPECT_TO_DOWN_MS (1500). */
  suspectToDownMs?: number;
  /** Default DEFAULT_GOSSIP_PERIOD_MS (200). */
  gossipPeriodMs?: number;
  /** Default DEFAULT_ANNOUNCE_PERIOD_MS (2000). */
  announcePeriodMs?: number;
  /** Default DEFAULT_REMOVE_DOWN_AFTER_MS (1 h). */
  removeDownAfterMs?: number;
  /** Default DEFAULT_INDIRECT_PROBES (3). */
  indirectProbes?: number;
  /** Default DEFAULT_MAX_TRANSMISSIONS (10). */
  maxTransmissions?: number;
  /** Default DEFAULT_MAX_DATAGRAM_BYTES (1400). */
  maxDatagramBytes?: number;
}

export type SwimTiming = Required<SwimTimingOptions>;

function positiveInt(field: string, value: number | undefined, fallback: number, max = 0xffff_ffff): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    throw new InvalidArgumentError(field, value, `must be an integer in 1..${max}`);
  }
  return value;
}

/** Validated timing with defaults filled in; does not mutate `o`; an explicit 0 is an error, not "default". */
export function parseSwimTiming(o: SwimTimingOptions = {}): SwimTiming {
  const timing: SwimTiming = {
    probePeriodMs: positiveInt('probePeriodMs', o.probePeriodMs, DEFAULT_PROBE_PERIOD_MS),
    probeTimeoutMs: positiveInt('probeTimeoutMs', o.probeTimeoutMs, DEFAULT_PROBE_TIMEOUT_MS),
    suspectToDownMs: positiveInt('suspectToDownMs', o.suspectToDownMs, DEFAULT_SUSPECT_TO_DOWN_MS),
    gossipPeriodMs: positiveInt('gossipPeriodMs', o.gossipPeriodMs, DEFAULT_GOSSIP_PERIOD_MS),
    announcePeriodMs: positiveInt('announcePeriodMs', o.announcePeriodMs, DEFAULT_ANNOUNCE_PERIOD_MS),
    removeDownAfterMs: positiveInt('removeDownAfterMs', o.removeDownAfterMs, DEFAULT_REMOVE_DOWN_AFTER_MS),
    indirectProbes: positiveInt('indirectProbes', o.indirectProbes, DEFAULT_INDIRECT_PROBES, 64),
    maxTransmissions: positiveInt('maxTransmissions', o.maxTransmissions, DEFAULT_MAX_TRANSMISSIONS, 255),
    maxDatagramBytes: positiveInt('maxDatagramBytes', o.maxDatagramBytes, DEFAULT_MAX_DATAGRAM_BYTES, 65_507),
  };
  if (timing.probeTimeoutMs >= timing.probePeriodMs) {
    throw new InvalidArgumentError('probeTimeoutMs', timing.probeTimeoutMs, `must be below probePeriodMs (${timing.probePeriodMs})`);
  }
  return timing;
}

/** Worst-case time for every member to see a crashed member down, ms, for a cluster of `members`. */
export function detectionBudgetMs(t: SwimTiming, members: number): number {
  return t.probePeriodMs * Math.max(1, members - 1) + t.probeTimeoutMs + t.suspectToDownMs + t.gossipPeriodMs * 2;
}
