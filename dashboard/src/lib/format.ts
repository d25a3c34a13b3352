/** Pure formatting helpers shared by the screens. */

/** Svix's MessageStatus as Herald returns it: 0 success, 1 pending, 2 fail, 3 sending. */
export type StatusTone = 'ok' | 'pending' | 'fail' | 'neutral';

export interface StatusLabel {
  text: string;
  tone: StatusTone;
}

export function messageStatus(status: number | null | undefined): StatusLabel {
  switch (status) {
    case 0:
      return { text: 'Succeeded', tone: 'ok' };
    case 1:
      return { text: 'Pending', tone: 'pending' };
    case 2:
      return { text: 'Failed', tone: 'fail' };
    case 3:
      return { text: 'Sending', tone: 'pending' };
    default:
      return { text: 'Unknown', tone: 'neutral' };
  }
}

/** Svix's MessageAttemptTriggerType: 0 scheduled, 1 manual. */
export function triggerType(trigger: number | null | undefined): string {
  switch (trigger) {
    case 0:
      return 'Scheduled';
    case 1:
      return 'Manual';
    default:
      return 'Unknown';
  }
}

/** An HTTP response code for display; 0 (no response at all) reads as "no response". */
export function httpStatus(code: number | null | undefined): StatusLabel {
  if (code === null || code === undefined || code <= 0) return { text: 'No response', tone: 'fail' };
  // Herald counts 2xx only as success; 3xx is a failure because redirects are not followed.
  return { text: String(code), tone: code >= 200 && code < 300 ? 'ok' : 'fail' };
}

/** Outcome classes of the design (`http_status`, `timeout`, …) in words. */
export function outcomeLabel(outcome: string | null | undefined): string {
  if (!outcome) return '';
  const known: Record<string, string> = {
    success: 'Success',
    http_status: 'HTTP error status',
    timeout: 'Timed out',
    connect: 'Connection failed',
    dns: 'DNS lookup failed',
    tls: 'TLS failed',
    invalid_response: 'Invalid HTTP response',
    body_too_large: 'Response body too large',
    blocked: 'Blocked (private address)',
    breaker_open: 'Circuit breaker open',
  };
  return known[outcome] ?? outcome.replace(/_/g, ' ');
}

/** A duration in milliseconds: `850 ms`, `1.25 s`, `2 min 5 s`, `1 h 3 min`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const value = Math.max(0, ms);
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 10_000) return `${trimZeros((value / 1000).toFixed(2))} s`;
  if (value < 60_000) return `${Math.round(value / 1000)} s`;
  const totalSeconds = Math.round(value / 1000);
  if (totalSeconds < 3600) {
    const minutes = Math.floor(totalSeconds / 60);
    const seconds = totalSeconds % 60;
    return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
  }
  const totalMinutes = Math.round(totalSeconds / 60);
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  if (hours < 48) return minutes === 0 ? `${hours} h` : `${hours} h ${minutes} min`;
  const days = Math.floor(hours / 24);
  const restHours = hours % 24;
  return restHours === 0 ? `${days} d` : `${days} d ${restHours} h`;
}

function trimZeros(fixed: string): string {
  return fixed.replace(/\.?0+$/, '');
}

/** `in 5 s`, `3 min ago`, `just now`, relative to `now` (milliseconds since the epoch). */
export function formatRelative(iso: string | null | undefined, now: number): string {
  if (!iso) return '';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const delta = at - now;
  if (Math.abs(delta) < 1000) return 'just now';
  const span = formatDuration(Math.abs(delta) >= 1000 ? Math.round(Math.abs(delta) / 1000) * 1000 : Math.abs(delta));
  return delta > 0 ? `in ${span}` : `${span} ago`;
}

/** A timestamp in the viewer's locale with seconds, e.g. `2024-05-01 14:03:22`. */
export function formatTimestamp(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/**
 * Pretty JSON for display. Strings that hold JSON (response bodies) are parsed
 * first; anything else is shown as it is.
 */
export function prettyJson(value: unknown): string {
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if ((trimmed.startsWith('{') && trimmed.endsWith('}')) || (trimmed.startsWith('[') && trimmed.endsWith(']'))) {
      try {
        return JSON.stringify(JSON.parse(trimmed), null, 2);
      } catch {
        return value;
      }
    }
    return value;
  }
  if (value === undefined) return '';
  return JSON.stringify(value, null, 2) ?? String(value);
}

/** Splits a comma- or whitespace-separated list typed by a person into clean items. */
export function splitList(input: string): string[] {
  return input
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item, index, all) => item !== '' && all.indexOf(item) === index);
}

/** Shows a secret with all but its prefix and last four characters hidden. */
export function maskSecret(secret: string): string {
  const prefix = secret.startsWith('whsec_') ? 'whsec_' : '';
  const rest = secret.slice(prefix.length);
  if (rest.length <= 4) return `${prefix}••••`;
  return `${prefix}${'•'.repeat(12)}${rest.slice(-4)}`;
}

/**
 * A scheduled retry: `next retry in 5 s` while it is ahead, and once it has
 * passed (the attempt list keeps it) `retry was scheduled for 14:03:22`.
 */
export function formatNextRetry(iso: string | null | undefined, now: number): string {
  if (!iso) return '';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  if (at > now + 500) return `next retry ${formatRelative(iso, now)}`;
  return `retry was scheduled for ${formatTimestamp(iso).slice(11)}`;
}
