// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * What the central write handler needs of the write executor (agent/commands/write-executor.ts,
 * wired in agent/agent.ts). Declared here, in the shape the executor has, because agent/central
 * never imports agent/commands: the composition root hands the executor in.
 */
import type { WriteValue } from '../../config/command-signing.js';

export interface WriteRequest {
  device: string;
  point: string;
  value: WriteValue;
  by: string;
  origin: 'local' | 'central';
  /** The signer's key (config/signing.ts keyFingerprint), for the audit. */
  keyFingerprint?: string;
  requestId?: string;
}

export type WriteOutcomeKind = 'verified' | 'mismatch' | 'device-exception' | 'timeout' | 'refused' | 'interrupted';

export interface WriteOutcome {
  id: unknown;
  outcome: WriteOutcomeKind;
  code?: string | undefined;
  message?: string | undefined;
  raw?: unknown;
  previous?: unknown;
  readback?: unknown;
  requestedAt: number;
  doneAt: number;
}

export interface WriteTarget {
  /** Guards (limits, rate, device state), queues on the device's bus, writes, reads back; audited. */
  execute(req: WriteRequest): Promise<WriteOutcome>;
  /** Audits a write refused before it reached the executor's guard (here: the signature checks). */
  recordRefusal(req: WriteRequest, code: string, message: string): Promise<WriteOutcome>;
}
