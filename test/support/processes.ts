// What end-to-end tests of `npm start` need to know about the machine's processes (Linux /proc): a runtime's
// process tree, which of its processes are still alive, and which TCP ports they listen on, and where.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A process by pid and start time: a pid reused after it died is a different process. */
export interface ProcessRef {
  pid: number;
  start: number;
  cmdline: string;
}

interface Stat { ppid: number; start: number; zombie: boolean }

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name is in parentheses and may hold spaces: the fields after it are fixed
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), start: Number(fields[19]), zombie: fields[0] === 'Z' };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

function pids(): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
}

/** Every live process descending from `root` (its children, theirs, … whatever process group they lead). */
export function descendants(root: number): ProcessRef[] {
  const byParent = new Map<number, number[]>();
  for (const pid of pids()) {
    const s = stat(pid);
    if (s && !s.zombie) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), pid]);
  }
  const found: ProcessRef[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const pid of byParent.get(queue.shift() as number) ?? []) {
      const s = stat(pid);
      if (s) found.push({ pid, start: s.start, cmdline: cmdline(pid) });
      queue.push(pid);
    }
  }
  return found;
}

/** Alive: the same process (pid and start time) still exists and has not exited (a zombie has). */
export function isAlive(p: ProcessRef): boolean {
  const s = stat(p.pid);
  return s !== undefined && s.start === p.start && !s.zombie;
}

/** Live processes whose command line mentions `text` (a state directory, say), this test process aside. */
export function processesMentioning(text: string): ProcessRef[] {
  const found: ProcessRef[] = [];
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    const s = stat(pid);
    const line = cmdline(pid);
    if (s && !s.zombie && line.includes(text)) found.push({ pid, start: s.start, cmdline: line });
  }
  return found;
}

/** Polls until `probe` returns a value other than undefined/false, or throws after `timeoutMs` saying `what`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Listener { address: string; port: number; pid: number }

/** The TCP sockets in LISTEN state held by `refs`, from /proc/net/tcp{,6} matched by socket inode. */
export function listeners(refs: readonly ProcessRef[]): Listener[] {
  const owner = new Map<string, number>();
  for (const { pid } of refs) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match?.[1]) owner.set(match[1], pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  const found: Listener[] = [];
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const pid = owner.get(fields[9] ?? '');
      if (fields[3] !== '0A' || pid === undefined) continue;
      const [hexAddress = '', hexPort = '0'] = (fields[1] ?? '').split(':');
      found.push({ address: decodeAddress(hexAddress, v6), port: parseInt(hexPort, 16), pid });
    }
  }
  return found;
}

/** /proc/net/tcp writes addresses as host-order 32-bit words in hex. */
function decodeAddress(hex: string, v6: boolean): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (!v6) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}
