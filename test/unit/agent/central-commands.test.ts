/**
 * Central commands answered while the agent is not (yet, or no longer) running: the reply's code
 * says so, under a key that says the same (Codes.notRunning, not "busy").
 */
import { describe, expect, it } from 'vitest';
import { handleCommand, type CommandContext } from '../../../agent/central/commands.js';
import { Codes, CommandError } from '../../../agent/central/protocol.js';

describe('buffer/stats before the buffer is open', () => {
  it('is refused with EDGE_AGENT_NOT_RUNNING (Codes.notRunning)', async () => {
    const ctx = { agent: { deliveryCounters: () => undefined } } as unknown as CommandContext;
    const err = await handleCommand('buffer/stats', {}, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ code: 'EDGE_AGENT_NOT_RUNNING', message: 'the buffer is not open' });
    expect(Codes.notRunning).toBe('EDGE_AGENT_NOT_RUNNING');
    expect(Object.keys(Codes)).not.toContain('busy');
  });
});
