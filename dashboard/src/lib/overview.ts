/**
 * The Overview screen's logic, apart from React: which window the address bar
 * asks for, the query it makes (`GET /api/v1/stats/overview`), how the series is
 * drawn as stacked bars, and the words around the numbers.
 *
 * Nothing here counts deliveries: every number comes from the API. The browser
 * only picks the window, scales the bars and labels the slices.
 */

import { emptyMessageFilter, messageFilterToSearch } from './filters';

export type OverviewWindowId = '1h' | '24h' | '7d';

export interface OverviewWindow {
  id: OverviewWindowId;
  /** For the picker: "1 hour". */
  label: string;
  /** For sentences: "failed in the last hour". */
  phrase: string;
  durationMs: number;
  /** Slices of the chart; each divides the window into round lengths (5 min, 1 h, 6 h). */
  buckets: number;
}

const HOUR_MS = 3_600_000;

export const OVERVIEW_WINDOWS: readonly OverviewWindow[] = [
  { id: '1h', label: '1 hour', phrase: 'the last hour', durationMs: HOUR_MS, buckets: 12 },
  { id: '24h', label: '24 hours', phrase: 'the last 24 hours', durationMs: 24 * HOUR_MS, buckets: 24 },
  { id: '7d', label: '7 days', phrase: 'the last 7 days', durationMs: 7 * 24 * HOUR_MS, buckets: 28 },
];

export const DEFAULT_OVERVIEW_WINDOW: OverviewWindowId = '1h';

/** The address-bar parameter that holds the window (`?window=24h`). */
export const OVERVIEW_WINDOW_PARAM = 'window';

export function overviewWindow(id: OverviewWindowId): OverviewWindow {
  return OVERVIEW_WINDOWS.find((window) => window.id === id) ?? OVERVIEW_WINDOWS[0]!;
}

/** The window in the address bar; anything missing or unknown is the last hour. */
export function overviewWindowFromSearch(search: URLSearchParams): OverviewWindow {
  const id = search.get(OVERVIEW_WINDOW_PARAM);
  return OVERVIEW_WINDOWS.find((window) => window.id === id) ?? overviewWindow(DEFAULT_OVERVIEW_WINDOW);
}

/** Writes the window into `search`, keeping its other parameters; the default is left out. */
export function overviewWindowToSearch(id: OverviewWindowId, search: URLSearchParams = new URLSearchParams()): URLSearchParams {
  const next = new URLSearchParams(search);
  if (id === DEFAULT_OVERVIEW_WINDOW) next.delete(OVERVIEW_WINDOW_PARAM);
  else next.set(OVERVIEW_WINDOW_PARAM, id);
  return next;
}

export interface OverviewQuery {
  since: string;
  until: string;
  buckets: number;
}

/**
 * The query for a window ending at `now` (milliseconds since the epoch), to the
 * second. The window ends now rather than at a round slice boundary so that
 * "failed in the last hour" means the last sixty minutes, not fifty-five of them.
 */
export function overviewQuery(window: OverviewWindow, now: number): OverviewQuery {
  const until = Math.floor(now / 1000) * 1000;
  return {
    since: new Date(until - window.durationMs).toISOString(),
    until: new Date(until).toISOString(),
    buckets: window.buckets,
  };
}

// ------------------------------------------------------------------ the chart

/** The three states the chart stacks, bottom to top. */
export type ChartState = 'succeeded' | 'failed' | 'pending';

export const CHART_STATES: readonly ChartState[] = ['succeeded', 'failed', 'pending'];

export const CHART_STATE_LABELS: Record<ChartState, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  pending: 'pending',
};

export interface SeriesPoint {
  start: string;
  succeeded: number;
  failed: number;
  pending: number;
  discarded: number;
}

export interface BarSegment {
  state: ChartState;
  count: number;
  y: number;
  height: number;
}

export interface Bar {
  start: string;
  /** The slice's end: the next slice's start, or the window's end for the last one. */
  end: string;
  total: number;
  x: number;
  width: number;
  /** Bottom to top; states with no deliveries are left out. */
  segments: BarSegment[];
}

export interface ChartLayout {
  bars: Bar[];
  /** The value of the top gridline (a round number at or above the tallest bar). */
  max: number;
  /** Gridlines: values and their y, bottom (0) to top (`max`). */
  ticks: { value: number; y: number }[];
}

export interface ChartBox {
  width: number;
  height: number;
  /** Horizontal gap between bars, in the same units. */
  gap?: number;
}

/**
 * The smallest "round" number (1, 2 or 5 times a power of ten) at or above
 * `value`, so gridlines read 0/5/10 rather than 0/3.5/7. At least 1.
 */
export function niceCeiling(value: number): number {
  if (!Number.isFinite(value) || value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/**
 * Lays the series out as stacked bars in a `width` × `height` box (y grows
 * downwards, as in SVG). Heights are proportional to counts against a round
 * maximum, and a state with any deliveries is at least one unit tall so a
 * single failure among thousands of successes still shows.
 */
export function layoutChart(series: readonly SeriesPoint[], until: string, box: ChartBox): ChartLayout {
  const { width, height } = box;
  const count = series.length;
  const totals = series.map((point) => CHART_STATES.reduce((sum, state) => sum + Math.max(0, point[state]), 0));
  const max = niceCeiling(Math.max(0, ...totals));
  const slot = count > 0 ? width / count : width;
  const gap = Math.min(box.gap ?? 2, slot / 4);
  const scale = height / max;

  const bars = series.map((point, index): Bar => {
    const segments: BarSegment[] = [];
    let top = height;
    for (const state of CHART_STATES) {
      const value = Math.max(0, point[state]);
      if (value === 0) continue;
      const segmentHeight = Math.min(top, Math.max(1, value * scale));
      top -= segmentHeight;
      segments.push({ state, count: value, y: top, height: segmentHeight });
    }
    return {
      start: point.start,
      end: series[index + 1]?.start ?? until,
      total: totals[index] ?? 0,
      x: index * slot + gap / 2,
      width: Math.max(0, slot - gap),
      segments,
    };
  });

  const steps = max >= 4 ? 4 : max;
  const ticks = Array.from({ length: steps + 1 }, (_, index) => {
    const value = (max / steps) * index;
    return { value, y: height - value * scale };
  });
  return { bars, max, ticks };
}

/**
 * Which bars get a time label under them: at most `maxLabels`, evenly spaced,
 * always including the first. Narrow charts ask for fewer.
 */
export function labelledBarIndexes(count: number, maxLabels: number): number[] {
  if (count <= 0 || maxLabels <= 0) return [];
  const every = Math.max(1, Math.ceil(count / maxLabels));
  const indexes: number[] = [];
  for (let index = 0; index < count; index += every) indexes.push(index);
  return indexes;
}

// ------------------------------------------------------------------ words

const pad = (n: number) => String(n).padStart(2, '0');
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/**
 * A slice's start in the viewer's time zone: `14:05` for windows up to a day,
 * `Tue 06:00` for longer ones, where the time alone would repeat.
 */
export function sliceLabel(iso: string, window: OverviewWindow): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return window.durationMs > 24 * HOUR_MS ? `${WEEKDAYS[date.getDay()]} ${time}` : time;
}

/** A slice as a range, `14:05–14:10` or `Tue 06:00–Tue 12:00`. */
export function sliceRangeLabel(bar: Pick<Bar, 'start' | 'end'>, window: OverviewWindow): string {
  return `${sliceLabel(bar.start, window)}–${sliceLabel(bar.end, window)}`;
}

/** "3 succeeded, 1 failed, 0 pending". */
export function countsSentence(counts: Pick<SeriesPoint, ChartState>): string {
  return CHART_STATES.map((state) => `${formatCount(counts[state])} ${CHART_STATE_LABELS[state]}`).join(', ');
}

/** One bar for a tooltip or a screen reader: "14:05–14:10: 3 succeeded, 1 failed, 0 pending". */
export function barDescription(bar: Bar, point: Pick<SeriesPoint, ChartState>, window: OverviewWindow): string {
  return `${sliceRangeLabel(bar, window)}: ${countsSentence(point)}`;
}

/** The chart as one sentence, for its `aria-label`. */
export function chartSummary(series: readonly SeriesPoint[], window: OverviewWindow): string {
  const sum = (state: ChartState) => series.reduce((total, point) => total + Math.max(0, point[state]), 0);
  const slice = series.length > 0 ? ` in ${series.length} slices of ${sliceLength(window.durationMs / series.length)}` : '';
  return `Deliveries created in ${window.phrase}${slice}: ${countsSentence({
    succeeded: sum('succeeded'),
    failed: sum('failed'),
    pending: sum('pending'),
  })}.`;
}

/** "5 min", "1 h", "6 h", "1 d". */
export function sliceLength(ms: number): string {
  if (ms % (24 * HOUR_MS) === 0) return `${ms / (24 * HOUR_MS)} d`;
  if (ms % HOUR_MS === 0) return `${ms / HOUR_MS} h`;
  const minutes = ms / 60_000;
  return Number.isInteger(minutes) ? `${minutes} min` : `${Math.round(ms / 1000)} s`;
}

/**
 * The words after the tile's big number: "delivery failed in the last hour" after
 * 1, "deliveries failed in …" after any other count.
 */
export function failingCaption(failingDeliveries: number, window: OverviewWindow): string {
  const noun = failingDeliveries === 1 ? 'delivery' : 'deliveries';
  return `${noun} failed in ${window.phrase}`;
}

/** A count with thousands separators, locale-independent: `12,345`. */
export function formatCount(value: number): string {
  return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export interface ApplicationFailures {
  appId: string;
  appUid?: string | null;
  appName: string;
  failingDeliveries: number;
  deadLetters: number;
}

/**
 * The applications the tile names: those with a failing delivery in the window
 * or a dead letter now, most failing deliveries first (then most dead letters),
 * as the API already sorts them; the sort keeps the API's order for ties.
 */
export function applicationsWithFailures<T extends ApplicationFailures>(applications: readonly T[]): T[] {
  return applications
    .filter((app) => app.failingDeliveries > 0 || app.deadLetters > 0)
    .map((app, index) => ({ app, index }))
    .sort((a, b) => b.app.failingDeliveries - a.app.failingDeliveries || b.app.deadLetters - a.app.deadLetters || a.index - b.index)
    .map(({ app }) => app);
}

/**
 * Where an application's failure count leads: its message log filtered to the
 * messages with a failed attempt at or after `since`, the window's start as the
 * API gave it (`/apps/app_1?failed_since=2024-05-01T13%3A02%3A00.000Z`).
 *
 * The log lists messages while the tile counts deliveries, so a message that
 * failed to two endpoints is one row for a count of two; and the log is live, so
 * it also shows failures after the Overview was last refreshed.
 */
export function failedMessagesPath(appId: string, since: string): string {
  const search = messageFilterToSearch({ ...emptyMessageFilter, failedSince: since });
  return `/apps/${encodeURIComponent(appId)}?${search.toString()}`;
}
