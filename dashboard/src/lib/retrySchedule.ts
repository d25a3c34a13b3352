/**
 * A delivery's retry schedule ahead, in words, from the `upcomingAttempts` of
 * `GET /msg/{id}/endpoint`: the attempts still planned if each one fails, the
 * next first, at their nominal times. Herald spreads every retry over its jitter
 * band and a receiver's `Retry-After` pushes it later, so the times are
 * approximate; the screen says so.
 */

import { formatRelative, formatTimestamp } from './format';

/** How many later attempts are named one by one before the rest are counted. */
export const LATER_ATTEMPTS_SHOWN = 6;

export interface RetrySchedule {
  /** When the next attempt is planned, e.g. `14:03:22` (with the date when not today). */
  nextAt: string;
  /** `in 5 min`, or `due now` once its time has come (it waits for a worker or the breaker). */
  nextRelative: string;
  /** The attempts after the next one, as `nextAt` is written; at most `LATER_ATTEMPTS_SHOWN`. */
  later: string[];
  /** Later attempts not named in `later`. */
  moreLater: number;
  /** The last planned attempt when `moreLater` hides it, so the end of the schedule is known. */
  lastAt: string | null;
  /** `Next attempt 14:03:22 (in 5 min)`. */
  nextSentence: string;
  /**
   * `then 14:08:22, 14:38:22 and 16:38:22 if it keeps failing`, or, when the next
   * attempt is the last, `the last attempt: a dead letter if it fails`.
   */
  laterSentence: string;
}

/** The note shown with every schedule. */
export const RETRY_SCHEDULE_NOTE =
  'Times are approximate: each retry is spread over the jitter band around its time, and a Retry-After from the endpoint moves it later.';

/**
 * The schedule for `upcoming` (ISO instants, the next first) as seen at `now`
 * (milliseconds since the epoch), or `null` when nothing is planned (the delivery
 * is final, or waits without a time). Unparsable instants are left out.
 */
export function describeRetrySchedule(upcoming: readonly string[] | null | undefined, now: number): RetrySchedule | null {
  const times = (upcoming ?? []).filter((iso) => !Number.isNaN(Date.parse(iso)));
  const [next, ...rest] = times;
  if (next === undefined) return null;

  const nextAt = formatAttemptTime(next, now);
  const nextRelative = Date.parse(next) > now + 500 ? formatRelative(next, now) : 'due now';
  const later = rest.slice(0, LATER_ATTEMPTS_SHOWN).map((iso) => formatAttemptTime(iso, now));
  const moreLater = rest.length - later.length;
  const last = rest[rest.length - 1];
  const lastAt = moreLater > 0 && last !== undefined ? formatAttemptTime(last, now) : null;

  let laterSentence: string;
  if (later.length === 0) {
    laterSentence = 'the last attempt: a dead letter if it fails';
  } else if (moreLater === 0) {
    laterSentence = `then ${joinList(later)} if it keeps failing`;
  } else {
    laterSentence = `then ${later.join(', ')} and ${moreLater} more (the last ${lastAt}) if it keeps failing`;
  }

  return {
    nextAt,
    nextRelative,
    later,
    moreLater,
    lastAt,
    nextSentence: `Next attempt ${nextAt} (${nextRelative})`,
    laterSentence,
  };
}

/**
 * A planned attempt's time: `14:03:22` on the viewer's day of `now`, the full
 * `2026-01-02 04:03:22` on any other (the default schedule spans more than a day).
 */
export function formatAttemptTime(iso: string, now: number): string {
  const full = formatTimestamp(iso);
  const today = formatTimestamp(new Date(now).toISOString());
  return full.slice(0, 10) === today.slice(0, 10) ? full.slice(11) : full;
}

/** `a`, `a and b`, `a, b and c`. */
function joinList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
