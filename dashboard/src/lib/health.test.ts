import { describe, expect, it } from 'vitest';
import { formatRate, latencySummary, recentErrors, successRate } from './health';

describe('successRate', () => {
  it('divides succeeded by finished deliveries, leaving pending out', () => {
    expect(successRate({ success: 3, fail: 1 })).toBe(0.75);
    expect(successRate({ success: 0, fail: 2 })).toBe(0);
    expect(successRate({ success: 0, fail: 0 })).toBeNull();
  });
});

describe('formatRate', () => {
  const check = (rate: number, expected: string) => expect(formatRate(rate)).toBe(expected);
  it('shows one decimal at most, and never rounds a failure away', () => {
    check(1, '100%');
    check(0, '0%');
    check(0.75, '75%');
    check(0.9876, '98.8%');
    check(0.99996, '> 99.9%');
    check(0.00004, '< 0.1%');
    check(0.999, '99.9%');
  });
});

describe('latencySummary', () => {
  const attempts = (...ms: number[]) => ms.map((responseDurationMs) => ({ responseDurationMs }));
  it('reads the median, the 95th percentile and the slowest by nearest rank', () => {
    expect(latencySummary(attempts(40, 10, 30, 20))).toEqual({ count: 4, median: 20, p95: 40, slowest: 40 });
    const hundred = attempts(...Array.from({ length: 100 }, (_, i) => i + 1));
    expect(latencySummary(hundred)).toEqual({ count: 100, median: 50, p95: 95, slowest: 100 });
    expect(latencySummary(attempts(7))).toEqual({ count: 1, median: 7, p95: 7, slowest: 7 });
  });
  it('has nothing to say without attempts', () => {
    expect(latencySummary([])).toBeNull();
    expect(latencySummary(attempts(Number.NaN))).toBeNull();
  });
});

describe('recentErrors', () => {
  it('keeps the newest failed attempts in the API\'s order', () => {
    const list = [
      { id: 'a', status: 0 },
      { id: 'b', status: 2 },
      { id: 'c', status: 2 },
      { id: 'd', status: 1 },
      { id: 'e', status: 2 },
    ];
    expect(recentErrors(list, 2).map((attempt) => attempt.id)).toEqual(['b', 'c']);
    expect(recentErrors(list).map((attempt) => attempt.id)).toEqual(['b', 'c', 'e']);
  });
});
