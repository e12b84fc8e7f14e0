import type { BusMessage } from './types';

/**
 * The memory broker's HTTP API (JSON bodies, all POST except GET /health and GET /stats).
 *
 * Like one Kafka partition per topic: an append-only log, a committed offset per consumer group, and
 * one *owner* per (topic, group) at a time — the member that fetches first holds a lease renewed by
 * its fetches/commits and lost after SESSION_TIMEOUT_MS of silence or on /leave. Ownership changes
 * bump `generation`; the new owner starts from the committed offset, and a stale owner's commit is
 * refused with 409 (Kafka's "rebalance in progress").
 */

/** POST /publish */
export interface PublishRequest {
  topic: string;
  messages: BusMessage[];
}
export interface PublishResponse {
  /** Offsets assigned to the messages, in order. */
  offsets: number[];
}

/** POST /fetch — long-polls up to waitMs for messages at or after the member's position. */
export interface FetchRequest {
  topic: string;
  group: string;
  member: string;
  /** The generation the member last saw (0 = none): if it is current, `from` is honoured. */
  generation: number;
  /** The member's next offset to read (its in-memory position). */
  from: number;
  max: number;
  waitMs: number;
}
export interface FetchResponse {
  /** False: another member owns this (topic, group); retry later. */
  owner: boolean;
  generation: number;
  /** Where this batch starts (the committed offset for a new owner). */
  from: number;
  messages: StoredMessage[];
}

export interface StoredMessage extends BusMessage {
  offset: number;
  /** Times this offset was handed to this group before. */
  redeliveries: number;
}

/** POST /commit — offset is the next offset to read (Kafka convention). */
export interface CommitRequest {
  topic: string;
  group: string;
  member: string;
  generation: number;
  offset: number;
}

/** POST /leave — gives up ownership at once so another member takes over without waiting. */
export interface LeaveRequest {
  topic: string;
  group: string;
  member: string;
}

/** GET /stats */
export interface StatsResponse {
  topics: Record<string, { end: number; groups: Record<string, { committed: number; lag: number }> }>;
}

export const SESSION_TIMEOUT_MS = 10_000;
export const MAX_WAIT_MS = 30_000;
