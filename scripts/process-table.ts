// The machine's processes as the supervisor and the reaper need them (Linux /proc): who descends from whom,
// which group each is in, when it started, and whether it carries a runtime's tag, so a runtime's processes can
// be found and killed without ever touching a process that merely reuses a recorded pid.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/** A process as recorded: its pid and its start time, which together name it even after the pid is reused. */
export interface ProcessIdentity {
  pid: number;
  /** Clock ticks after boot (/proc/<pid>/stat field 22); undefined where /proc is not available. */
  start: number | undefined;
}

interface Row {
  pid: number;
  ppid: number;
  pgid: number;
  start: number;
}

/** One reading of /proc. Empty where there is no /proc (then only recorded group leaders can be signalled). */
function readTable(): Map<number, Row> {
  const rows = new Map<number, Row>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return rows;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const row = readStat(Number(entry));
    if (row) rows.set(row.pid, row);
  }
  return rows;
}

function readStat(pid: number): Row | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone meanwhile, or not Linux
  }
  // the command name (field 2) is in parentheses and may itself hold spaces or ')': split after the last one
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, pgrp field 5, starttime field 22
  const [ppid, pgid, start] = [fields[1], fields[2], fields[19]].map(Number);
  if (ppid === undefined || pgid === undefined || start === undefined || [ppid, pgid, start].some(Number.isNaN)) return undefined;
  // a zombie has exited; it holds nothing and cannot be killed again
  if (fields[0] === 'Z') return undefined;
  return { pid, ppid, pgid, start };
}

/** The identity of a live process, read now (start undefined without /proc). */
export function identify(pid: number): ProcessIdentity {
  return { pid, start: readStat(pid)?.start };
}

/** True while the very process recorded (same pid and start time) is alive and not a zombie. */
export function isAlive(p: ProcessIdentity): boolean {
  const row = readStat(p.pid);
  if (row) return p.start === undefined || row.start === p.start;
  // no /proc (or a zombie): the pid alone is the best we can say
  return p.start === undefined && exists(p.pid);
}

function hasTag(pid: number, tag: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(tag);
  } catch {
    return false; // gone, or another user's process: not ours either way
  }
}

/**
 * Every live process of a runtime: the recorded roots that are still the processes recorded, the members of
 * their process groups, everything that carries `tag` in its environment (what lost its parent, such as a
 * sandbox launcher whose host was killed, or workerd once wrangler is gone), and every descendant of all of
 * those. `exclude` (the caller itself, the reaper) is never part of it.
 */
export function runtimeProcesses(roots: readonly ProcessIdentity[], tag: string | undefined, exclude: readonly number[] = []): number[] {
  const table = readTable();
  // without /proc only the recorded leaders can be named: their groups, as negative pids, are signalled whole
  if (table.size === 0) return roots.map((r) => -r.pid).filter((group) => exists(group) && !exclude.includes(-group));
  const found = new Set<number>();
  // our children lead their own groups (spawned detached). A group is ours while its recorded leader lives; after
  // that its number could in principle be reused, so a leaderless member must prove itself by the tag
  const groups = new Set<number>();
  for (const root of roots) {
    const row = table.get(root.pid);
    if (row && (root.start === undefined || row.start === root.start)) {
      found.add(row.pid);
      if (row.pgid === row.pid) groups.add(row.pgid);
    }
  }
  for (const row of table.values()) {
    if (groups.has(row.pgid) || (tag !== undefined && hasTag(row.pid, tag))) found.add(row.pid);
  }
  // descendants, to a fixed point: a process found above may have children in groups of their own
  const children = new Map<number, number[]>();
  for (const row of table.values()) {
    const siblings = children.get(row.ppid);
    if (siblings) siblings.push(row.pid);
    else children.set(row.ppid, [row.pid]);
  }
  const queue = [...found];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop() as number) ?? []) {
      if (!found.has(child)) {
        found.add(child);
        queue.push(child);
      }
    }
  }
  for (const pid of exclude) found.delete(pid);
  found.delete(process.pid);
  return [...found];
}

/**
 * Stops every process of a runtime: SIGTERM first so each can stop what it runs (the sandbox host its sandboxes,
 * wrangler its workerd), then after `graceMs` SIGSTOP and SIGKILL whatever is left, rescanning until nothing
 * remains, so a process forked during the sweep is caught too. Resolves with the pids it could not kill (EPERM).
 */
export async function killRuntime(find: () => number[], graceMs: number): Promise<number[]> {
  const first = find();
  for (const pid of first) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  // each look reads every process's environment: a tenth of a second apart is often enough
  while (Date.now() < deadline && find().length > 0) await delay(100);
  const refused = new Set<number>();
  for (let round = 0; round < 50; round++) {
    const left = find().filter((pid) => !refused.has(pid));
    if (left.length === 0) break;
    // frozen first: a stopped process cannot fork a child the next kill would miss
    for (const pid of left) signal(pid, 'SIGSTOP');
    for (const pid of left) if (!signal(pid, 'SIGKILL')) refused.add(pid);
    await delay(20);
  }
  return [...refused].filter(exists);
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends a signal (a negative pid: to the group); false only when the process exists but is not ours to signal. */
function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'EPERM';
  }
}
