/** CPU accounting from Linux's /proc, for the benchmarks that report CPU time per request. */
import { readFileSync } from 'node:fs';

/** USER_HZ, the unit of /proc's times (100 on every mainstream Linux build). */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (µs, user + system) of a process so far; 0 once it is gone. */
export function processCpuMicros(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
}

/** The whole machine's CPU time so far (µs over all cores): busy, and in all. */
export function hostCpuMicros(): { busy: number; total: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks;
  const busy = user + nice + system + irq + softirq + steal;
  const toMicros = (t: number) => (t * 1e6) / CLOCK_TICKS_PER_SECOND;
  return { busy: toMicros(busy), total: toMicros(busy + idle + iowait) };
}
