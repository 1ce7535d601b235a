/**
 * Small measuring pieces the benchmarks share: medians with their spread, a process's memory and
 * CPU time read from /proc, and the machine's load. Linux only (/proc).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `median (min–max)` of `values`, each shown by `format`. */
export function spread(values: readonly number[], format: (v: number) => string): string {
  if (values.length === 0) return 'n/a';
  return `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;
}

/** A field of /proc/<pid>/status given in kB (`VmRSS`, `VmHWM`, ...), in MiB; NaN when gone. */
export function procStatusMiB(pid: number, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds a process used, user + system, its own and that of its children it has waited for
 * (fields 14–17 of /proc/<pid>/stat, in clock ticks of 1/100 s); NaN when gone.
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The machine in one line: CPUs and the 1/5/15-minute load averages now. */
export function machineLoad(): string {
  return `${availableParallelism()} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')}`;
}

/** The 1-minute load average now. */
export function load1(): number {
  return loadavg()[0] ?? Number.NaN;
}
