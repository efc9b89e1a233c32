// Reading CPU time and memory of a process tree from /proc (Linux only).
// CPU: utime+stime+cutime+cstime (children that exited and were reaped count through their parent),
// summed over the process and, for multi-process servers (Dante), every descendant alive.

import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

/** A process to account for: `tree` adds its descendants (Dante forks workers). */
export interface Watch {
  pid: number;
  tree: boolean;
}
const PAGE = 4096;

interface StatLine {
  ppid: number;
  ticks: number;
  rssPages: number;
}

function readStat(pid: number): StatLine | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] = state (field 3); field n is f[n - 3].
  return {
    ppid: Number(f[1]),
    ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    rssPages: Number(f[21]),
  };
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = byParent.get(st.ppid);
    if (list) list.push(pid);
    else byParent.set(st.ppid, [pid]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0 && out.length < 100_000) {
    const p = todo.pop()!;
    out.push(p);
    for (const c of byParent.get(p) ?? []) todo.push(c);
  }
  return out;
}

/** CPU seconds used so far by `pid` (and its descendants when `tree`). */
export function cpuSeconds(pid: number, tree: boolean): number {
  const pids = tree ? processTree(pid) : [pid];
  let ticks = 0;
  for (const p of pids) ticks += readStat(p)?.ticks ?? 0;
  return ticks / TICKS;
}

export interface Memory {
  /** Sum of RSS over the tree, bytes (shared pages counted once per process, as `ps` does). */
  rss: number;
  /** Sum of PSS over the tree, bytes (shared pages split between the processes sharing them). */
  pss: number;
  processes: number;
}

export function memory(pid: number, tree: boolean): Memory {
  const pids = tree ? processTree(pid) : [pid];
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    rss += (readStat(p)?.rssPages ?? 0) * PAGE;
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'latin1'));
      if (m) pss += Number(m[1]) * 1024;
    } catch {
      /* gone */
    }
  }
  return { rss, pss, processes: pids.length };
}
