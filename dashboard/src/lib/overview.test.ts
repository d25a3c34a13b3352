import { describe, expect, it } from 'vitest';
import { messageFilterFromSearch } from './filters';
import {
  applicationsWithFailures,
  barDescription,
  failedMessagesPath,
  chartSummary,
  failingCaption,
  formatCount,
  labelledBarIndexes,
  layoutChart,
  niceCeiling,
  overviewQuery,
  overviewWindow,
  overviewWindowFromSearch,
  overviewWindowToSearch,
  sliceLabel,
  sliceLength,
  type SeriesPoint,
} from './overview';

const hour = overviewWindow('1h');
const day = overviewWindow('24h');
const week = overviewWindow('7d');

function point(start: string, succeeded: number, failed: number, pending: number): SeriesPoint {
  return { start, succeeded, failed, pending, discarded: 0 };
}

describe('the window in the address bar', () => {
  const check = (search: string, expected: string) =>
    expect(overviewWindowFromSearch(new URLSearchParams(search)).id).toBe(expected);
  it('reads the known windows and defaults to the last hour', () => {
    check('window=1h', '1h');
    check('window=24h', '24h');
    check('window=7d', '7d');
    check('', '1h');
    check('window=30d', '1h');
    check('window=', '1h');
  });
  it('writes the window, leaves the default out and keeps other parameters', () => {
    expect(overviewWindowToSearch('24h', new URLSearchParams('x=1')).toString()).toBe('x=1&window=24h');
    expect(overviewWindowToSearch('1h', new URLSearchParams('window=7d&x=1')).toString()).toBe('x=1');
  });
});

describe('overviewQuery', () => {
  const now = Date.parse('2024-05-01T12:00:00.750Z');
  it('ends at now (to the second) and starts one window earlier, with slices that fit', () => {
    expect(overviewQuery(hour, now)).toEqual({ since: '2024-05-01T11:00:00.000Z', until: '2024-05-01T12:00:00.000Z', buckets: 12 });
    expect(overviewQuery(day, now)).toEqual({ since: '2024-04-30T12:00:00.000Z', until: '2024-05-01T12:00:00.000Z', buckets: 24 });
    expect(overviewQuery(week, now)).toEqual({ since: '2024-04-24T12:00:00.000Z', until: '2024-05-01T12:00:00.000Z', buckets: 28 });
  });
  it('stays within what the API accepts (1..96 slices, at most 31 days)', () => {
    for (const window of [hour, day, week]) {
      expect(window.buckets).toBeGreaterThanOrEqual(1);
      expect(window.buckets).toBeLessThanOrEqual(96);
      expect(window.durationMs).toBeLessThanOrEqual(31 * 24 * 3_600_000);
    }
  });
});

describe('niceCeiling', () => {
  const check = (value: number, expected: number) => expect(niceCeiling(value)).toBe(expected);
  it('rounds up to 1, 2 or 5 times a power of ten', () => {
    check(0, 1);
    check(1, 1);
    check(3, 5);
    check(5, 5);
    check(7, 10);
    check(11, 20);
    check(20, 20);
    check(21, 50);
    check(999, 1000);
    check(1001, 2000);
    check(Number.NaN, 1);
  });
});

describe('layoutChart', () => {
  const series = [
    point('2024-05-01T11:00:00Z', 6, 2, 0),
    point('2024-05-01T11:30:00Z', 0, 0, 0),
  ];
  const layout = layoutChart(series, '2024-05-01T12:00:00Z', { width: 200, height: 100, gap: 4 });

  it('stacks succeeded, failed and pending from the bottom against a round maximum', () => {
    expect(layout.max).toBe(10);
    const [first, second] = layout.bars;
    expect(first).toMatchObject({ x: 2, width: 96, total: 8, start: '2024-05-01T11:00:00Z', end: '2024-05-01T11:30:00Z' });
    expect(first!.segments).toEqual([
      { state: 'succeeded', count: 6, y: 40, height: 60 },
      { state: 'failed', count: 2, y: 20, height: 20 },
    ]);
    expect(second).toMatchObject({ x: 102, total: 0, segments: [], end: '2024-05-01T12:00:00Z' });
  });

  it('draws gridlines from zero to the maximum', () => {
    expect(layout.ticks).toEqual([
      { value: 0, y: 100 },
      { value: 2.5, y: 75 },
      { value: 5, y: 50 },
      { value: 7.5, y: 25 },
      { value: 10, y: 0 },
    ]);
  });

  it('keeps a lone failure visible among many successes and never overflows the box', () => {
    const { bars } = layoutChart([point('2024-05-01T11:00:00Z', 100_000, 1, 0)], '2024-05-01T12:00:00Z', { width: 10, height: 100 });
    const failed = bars[0]!.segments.find((segment) => segment.state === 'failed')!;
    expect(failed.height).toBe(1);
    expect(Math.min(...bars[0]!.segments.map((segment) => segment.y))).toBeGreaterThanOrEqual(0);
  });

  it('draws an empty window as an empty chart with one gridline step', () => {
    const empty = layoutChart([point('2024-05-01T11:00:00Z', 0, 0, 0)], '2024-05-01T12:00:00Z', { width: 10, height: 100 });
    expect(empty.max).toBe(1);
    expect(empty.ticks.map((tick) => tick.value)).toEqual([0, 1]);
    expect(layoutChart([], '2024-05-01T12:00:00Z', { width: 10, height: 100 }).bars).toEqual([]);
  });
});

describe('labelledBarIndexes', () => {
  const check = (count: number, maxLabels: number, expected: number[]) => expect(labelledBarIndexes(count, maxLabels)).toEqual(expected);
  it('spreads at most maxLabels labels, starting with the first bar', () => {
    check(12, 12, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    check(12, 6, [0, 2, 4, 6, 8, 10]);
    check(28, 4, [0, 7, 14, 21]);
    check(24, 5, [0, 5, 10, 15, 20]);
    check(0, 5, []);
    check(5, 0, []);
  });
});

describe('words', () => {
  it('labels slices by local time, with the weekday for the week', () => {
    const start = new Date(2024, 4, 7, 14, 5).toISOString(); // a Tuesday
    expect(sliceLabel(start, hour)).toBe('14:05');
    expect(sliceLabel(start, day)).toBe('14:05');
    expect(sliceLabel(start, week)).toBe('Tue 14:05');
    expect(sliceLabel('not a date', hour)).toBe('');
  });
  it('describes a bar and the whole chart', () => {
    const start = new Date(2024, 4, 7, 14, 5).toISOString();
    const end = new Date(2024, 4, 7, 14, 10).toISOString();
    const series = [point(start, 3, 1, 0), point(end, 1234, 0, 2)];
    const [bar] = layoutChart(series, new Date(2024, 4, 7, 14, 15).toISOString(), { width: 100, height: 100 }).bars;
    expect(barDescription(bar!, series[0]!, hour)).toBe('14:05–14:10: 3 succeeded, 1 failed, 0 pending');
    expect(chartSummary(series, hour)).toBe('Deliveries created in the last hour in 2 slices of 30 min: 1,237 succeeded, 1 failed, 2 pending.');
  });
  it('names slice lengths', () => {
    expect(sliceLength(5 * 60_000)).toBe('5 min');
    expect(sliceLength(3_600_000)).toBe('1 h');
    expect(sliceLength(6 * 3_600_000)).toBe('6 h');
    expect(sliceLength(24 * 3_600_000)).toBe('1 d');
    expect(sliceLength(1500)).toBe('2 s');
  });
  it('agrees the caption with the number', () => {
    expect(failingCaption(1, hour)).toBe('delivery failed in the last hour');
    expect(failingCaption(0, day)).toBe('deliveries failed in the last 24 hours');
    expect(failingCaption(12, week)).toBe('deliveries failed in the last 7 days');
  });
  it('formats counts with thousands separators', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1000)).toBe('1,000');
    expect(formatCount(1234567)).toBe('1,234,567');
  });
});

describe('applicationsWithFailures', () => {
  const app = (appId: string, failingDeliveries: number, deadLetters: number) => ({ appId, appName: appId, failingDeliveries, deadLetters });
  it('keeps applications with failing deliveries or dead letters, most failures first', () => {
    const shown = applicationsWithFailures([app('quiet', 0, 0), app('dlq', 0, 4), app('few', 2, 0), app('many', 9, 1), app('tie', 2, 0)]);
    expect(shown.map((a) => a.appId)).toEqual(['many', 'few', 'tie', 'dlq']);
  });
});

describe('failedMessagesPath', () => {
  it('opens the application\'s log filtered to the messages that failed since the window\'s start', () => {
    const since = '2024-05-01T13:02:07.000Z';
    const path = failedMessagesPath('app_1', since);
    expect(path).toBe('/apps/app_1?failed_since=2024-05-01T13%3A02%3A07.000Z');
    const [pathname, query] = path.split('?');
    expect(pathname).toBe('/apps/app_1');
    expect(messageFilterFromSearch(new URLSearchParams(query)).failedSince).toBe(since);
  });
  it('escapes an application id', () => {
    expect(failedMessagesPath('a/b', '2024-05-01T13:02:07Z')).toBe('/apps/a%2Fb?failed_since=2024-05-01T13%3A02%3A07Z');
  });
});
