// 5-field POSIX cron (minute hour day-of-month month day-of-week) matched literally against the wall clock of an
// IANA timezone, as a deployment's schedule is (deployments.d.ts). No dependency: the expressions are small and
// the timezone arithmetic is Intl's. An instant fires when its local wall-clock time matches, so a time the
// spring-forward gap skips never fires that day, and a time the fall-back hour repeats fires at both instants.

export interface Cron {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
  /** Both day fields restricted: a day matches when either does (POSIX); otherwise both must. */
  dayOr: boolean;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 7 },
] as const;

/** The parsed expression, or the problem with it (a sentence naming the field). */
export function parseCron(expression: string): { ok: true; cron: Cron } | { ok: false; problem: string } {
  if (expression.trim().startsWith('@')) return { ok: false, problem: 'predefined shortcuts such as @daily are not supported' };
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) return { ok: false, problem: `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}` };
  const sets: Set<number>[] = [];
  for (let i = 0; i < 5; i++) {
    const field = FIELDS[i]!;
    const set = parseField(parts[i]!, field.min, field.max);
    if (typeof set === 'string') return { ok: false, problem: `${field.name} field '${parts[i]}': ${set}` };
    sets.push(set);
  }
  const weekdays = sets[4]!;
  if (weekdays.delete(7)) weekdays.add(0);
  return {
    ok: true,
    cron: { minutes: sets[0]!, hours: sets[1]!, days: sets[2]!, months: sets[3]!, weekdays, dayOr: parts[2] !== '*' && parts[4] !== '*' },
  };
}

function parseField(text: string, min: number, max: number): Set<number> | string {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (!m) return 'expected *, a number, a range a-b, a step /n, or a comma list of those';
    let lo = min;
    let hi = max;
    if (m[1] !== '*') {
      lo = Number(m[2]);
      hi = m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
    }
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (lo < min || hi > max || lo > hi) return `values must be within ${min}-${max}, ranges ascending`;
    if (step < 1) return 'a step must be at least 1';
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Whether `timezone` is an IANA name this runtime's Intl knows. */
export function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return timezone.length > 0;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time at instant `t` in `tz`, as if it were UTC (ms). */
function wallClock(t: number, tz: string): number {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

/** The instants (ascending) whose wall clock in `tz` reads `local` (ms as if UTC): none in a gap, two in an overlap. */
function instantsOf(local: number, tz: string): number[] {
  const out = new Set<number>();
  for (const probe of [local - 14 * 3_600_000, local + 14 * 3_600_000, local]) {
    const t = local - (wallClock(probe, tz) - probe);
    if (wallClock(t, tz) === local) out.add(t);
  }
  return [...out].sort((a, b) => a - b);
}

const DAY = 86_400_000;
/** How far ahead a search looks: long enough for "29 2 *" across a century's leap-year gaps. */
const HORIZON_DAYS = 366 * 9;

/** Up to `count` instants strictly after `after` (ms) at which `cron` fires in `tz`, ascending. */
export function nextFires(cron: Cron, tz: string, after: number, count: number): number[] {
  const out: number[] = [];
  const startLocal = wallClock(after, tz);
  let day = Math.floor(startLocal / DAY) * DAY - DAY; // a day early: an overlap may put `after` late in local time
  const hours = [...cron.hours].sort((a, b) => a - b);
  const minutes = [...cron.minutes].sort((a, b) => a - b);
  for (let i = 0; i < HORIZON_DAYS && out.length < count; i++, day += DAY) {
    const d = new Date(day);
    if (!cron.months.has(d.getUTCMonth() + 1)) continue;
    const domOk = cron.days.has(d.getUTCDate());
    const dowOk = cron.weekdays.has(d.getUTCDay());
    if (cron.dayOr ? !(domOk || dowOk) : !(domOk && dowOk)) continue;
    // A day's instants sorted before taking any: the fall-back hour interleaves two readings of the clock.
    const today: number[] = [];
    // Local order is instant order but for the repeated hour, so `count` plus an hour of minutes is enough.
    scan: for (const h of hours)
      for (const m of minutes) {
        for (const t of instantsOf(day + h * 3_600_000 + m * 60_000, tz)) if (t > after) today.push(t);
        if (today.length >= count + 120) break scan;
      }
    for (const t of today.sort((a, b) => a - b)) if (out.length < count && !out.includes(t)) out.push(t);
  }
  return out;
}
