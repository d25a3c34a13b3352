/**
 * Conversions between `<input type="datetime-local">` values (local wall time,
 * `YYYY-MM-DDTHH:mm[:ss]`) and the ISO-8601 instants the API takes.
 */

/** `''` (or an unparsable value) gives `undefined`, so the filter is left out. */
export function localInputToIso(value: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(trimmed)) return undefined;
  const date = new Date(trimmed);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** An instant as a `datetime-local` value in the viewer's time zone (minutes precision). */
export function isoToLocalInput(iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** `hours` before `now`, as a `datetime-local` value (the default of "recover since"). */
export function hoursAgoLocalInput(hours: number, now: Date = new Date()): string {
  return isoToLocalInput(new Date(now.getTime() - hours * 3_600_000));
}
