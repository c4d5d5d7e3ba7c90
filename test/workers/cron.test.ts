// The deployments' cron (contract/cron.ts): 5-field POSIX expressions matched against an IANA timezone's wall
// clock, across DST changes (a skipped time does not fire; a repeated time fires at both instants), the POSIX
// day-of-month OR day-of-week rule, 7 as Sunday, and refusals naming the field.
import { describe, expect, it } from 'vitest';
import { isTimeZone, nextFires, parseCron } from '../../contract/cron.ts';

function fires(expr: string, tz: string, after: string, n = 5): string[] {
  const parsed = parseCron(expr);
  if (!parsed.ok) throw new Error(parsed.problem);
  return nextFires(parsed.cron, tz, Date.parse(after), n).map((t) => new Date(t).toISOString());
}

describe('cron', () => {
  it('fires weekdays at 9 in Paris, in UTC', () => {
    expect(fires('0 9 * * 1-5', 'Europe/Paris', '2026-12-02T00:00:00Z')).toEqual([
      '2026-12-02T08:00:00.000Z',
      '2026-12-03T08:00:00.000Z',
      '2026-12-04T08:00:00.000Z',
      '2026-12-07T08:00:00.000Z',
      '2026-12-08T08:00:00.000Z',
    ]);
  });

  it('handles a half-hour offset and strictly-after', () => {
    expect(fires('0 0 * * *', 'Asia/Kolkata', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-01T18:30:00.000Z', '2026-01-02T18:30:00.000Z']);
    expect(fires('*/15 * * * *', 'UTC', '2026-01-01T00:15:00Z', 3)).toEqual(['2026-01-01T00:30:00.000Z', '2026-01-01T00:45:00.000Z', '2026-01-01T01:00:00.000Z']);
  });

  it('skips a wall-clock time the spring-forward gap removes', () => {
    expect(fires('30 2 * * *', 'America/New_York', '2026-03-07T00:00:00Z', 3)).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('fires at both instants of a time the fall-back hour repeats', () => {
    expect(fires('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 3)).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('matches day-of-month OR day-of-week when both are restricted, and 7 is Sunday', () => {
    expect(fires('0 0 13 * 5', 'UTC', '2026-02-01T00:00:00Z')).toEqual([
      '2026-02-06T00:00:00.000Z',
      '2026-02-13T00:00:00.000Z',
      '2026-02-20T00:00:00.000Z',
      '2026-02-27T00:00:00.000Z',
      '2026-03-06T00:00:00.000Z',
    ]);
    expect(fires('0 0 * * 7', 'UTC', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-08T00:00:00.000Z']);
    expect(fires('0 12 1 1,7 *', 'UTC', '2026-02-01T00:00:00Z', 2)).toEqual(['2026-07-01T12:00:00.000Z', '2027-01-01T12:00:00.000Z']);
  });

  it('refuses extended syntax and out-of-range values, naming the field', () => {
    const problem = (e: string) => {
      const p = parseCron(e);
      return p.ok ? null : p.problem;
    };
    expect(problem('* * * *')).toMatch(/expected 5 fields/);
    expect(problem('0 0 * * * 2026')).toMatch(/expected 5 fields/);
    expect(problem('60 * * * *')).toMatch(/^minute field/);
    expect(problem('0 24 * * *')).toMatch(/^hour field/);
    expect(problem('0 0 L * *')).toMatch(/^day-of-month field/);
    expect(problem('0 0 * 13 *')).toMatch(/^month field/);
    expect(problem('0 0 * * 1#2')).toMatch(/^day-of-week field/);
    expect(problem('*/0 * * * *')).toMatch(/^minute field/);
    expect(problem('5-1 * * * *')).toMatch(/^minute field/);
    expect(problem('@daily')).toMatch(/shortcuts/);
    expect(isTimeZone('America/Los_Angeles')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
