/**
 * An endpoint's health in numbers, from what the API already returns: the success
 * rate of its finished deliveries (`GET …/endpoint/{ep}/stats`, the last 28 days)
 * and the latency and errors of its newest attempts (the first page of
 * `GET …/attempt/endpoint/{ep}`). Nothing here is counted beyond that page.
 */

/** How many of the newest attempts the latency and the recent errors are read from. */
export const HEALTH_ATTEMPT_SAMPLE = 50;

/**
 * Succeeded over finished (succeeded + dead-lettered) deliveries, 0 to 1; `null`
 * while none has finished. Pending deliveries are left out: they may still
 * succeed.
 */
export function successRate(stats: { success: number; fail: number }): number | null {
  const finished = Math.max(0, stats.success) + Math.max(0, stats.fail);
  return finished === 0 ? null : Math.max(0, stats.success) / finished;
}

/**
 * A rate as a percentage with at most one decimal. It never rounds to 100% or
 * 0% unless it is exactly that, so one failure among thousands still shows.
 */
export function formatRate(rate: number): string {
  if (rate >= 1) return '100%';
  if (rate <= 0) return '0%';
  const percent = rate * 100;
  if (percent > 99.9) return '> 99.9%';
  if (percent < 0.1) return '< 0.1%';
  return `${percent.toFixed(1).replace(/\.0$/, '')}%`;
}

export interface LatencySummary {
  /** How many attempts it was read from. */
  count: number;
  /** Milliseconds, nearest-rank percentiles. */
  median: number;
  p95: number;
  slowest: number;
}

/** The attempts' response times; `null` without attempts. */
export function latencySummary(attempts: readonly { responseDurationMs: number }[]): LatencySummary | null {
  const durations = attempts
    .map((attempt) => attempt.responseDurationMs)
    .filter((ms) => Number.isFinite(ms) && ms >= 0)
    .sort((a, b) => a - b);
  if (durations.length === 0) return null;
  return {
    count: durations.length,
    median: nearestRank(durations, 0.5),
    p95: nearestRank(durations, 0.95),
    slowest: durations[durations.length - 1]!,
  };
}

/** The newest failed attempts (status 2), newest first as the API lists them; at most `max`. */
export function recentErrors<T extends { status: number }>(attempts: readonly T[], max = 3): T[] {
  return attempts.filter((attempt) => attempt.status === 2).slice(0, max);
}

/** The value at quantile `q` of ascending `sorted` values (nearest rank, no interpolation). */
function nearestRank(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}
