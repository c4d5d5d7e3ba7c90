// Chaos: across seeded runs the brain is killed at random step boundaries and mid-stream, several times per
// turn; every run must end with the same transcript as an uninterrupted run, with no duplicate event.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { faultLog, injectFaults, MODEL_FAULT_POINTS, type FaultPoint } from '../support/faults.ts';
import { makeSession, say, settle } from './api.ts';

// Tool points need a sandbox; they are covered end to end in test/e2e/tools.test.ts.
const POINTS = MODEL_FAULT_POINTS;
const RUNS = 12;

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a user sees of a conversation: event types in order and the agent's words. */
function transcript(events: any[]) {
  return {
    types: events.map((e) => e.type),
    said: events.filter((e) => e.type === 'agent.message').map((e) => e.content.map((b: any) => b.text).join('')),
  };
}

async function conversation(faultsPerTurn: FaultPoint[][]) {
  const { sessionId } = await makeSession();
  for (const [turn, faults] of faultsPerTurn.entries()) {
    if (faults.length) await injectFaults(env, sessionId, faults);
    await say(sessionId, `chaos turn ${turn}: what is ${turn + 2} * 3?`);
    await settle(sessionId);
    // every kill happened in the turn it was meant for: a turn passes every point
    expect(await faultLog(env, sessionId).pendingFaults(), `turn ${turn}, faults ${JSON.stringify(faults)}`).toEqual([]);
  }
  return settle(sessionId);
}

describe('chaos', () => {
  it(`gives the uninterrupted transcript in ${RUNS} seeded runs with random brain kills`, async () => {
    const clean = transcript(await conversation([[], [], []]));
    for (let seed = 1; seed <= RUNS; seed++) {
      const random = rng(seed);
      const faults = [0, 1, 2].map(() => POINTS.filter(() => random() < 0.4));
      const events = await conversation(faults);
      expect(transcript(events), `seed ${seed}, faults ${JSON.stringify(faults)}`).toEqual(clean);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    }
  });
});
