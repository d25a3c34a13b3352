import { describe, expect, it } from 'vitest';
import { describeRetrySchedule, formatAttemptTime, LATER_ATTEMPTS_SHOWN } from './retrySchedule';

// Local wall times, so the tests read the same in every time zone.
const local = (day: number, hours: number, minutes: number, seconds = 0) => new Date(2026, 0, day, hours, minutes, seconds);
const now = local(1, 14, 0).getTime();
const iso = (day: number, hours: number, minutes: number, seconds = 0) => local(day, hours, minutes, seconds).toISOString();

describe('describeRetrySchedule', () => {
  it('has nothing to say once nothing is planned', () => {
    expect(describeRetrySchedule([], now)).toBeNull();
    expect(describeRetrySchedule(undefined, now)).toBeNull();
    expect(describeRetrySchedule(['not a time'], now)).toBeNull();
  });

  it('names the next attempt and when, then the later ones', () => {
    const schedule = describeRetrySchedule([iso(1, 14, 5), iso(1, 14, 35), iso(1, 16, 35)], now);
    expect(schedule).toMatchObject({
      nextAt: '14:05:00',
      nextRelative: 'in 5 min',
      later: ['14:35:00', '16:35:00'],
      moreLater: 0,
      lastAt: null,
      nextSentence: 'Next attempt 14:05:00 (in 5 min)',
      laterSentence: 'then 14:35:00 and 16:35:00 if it keeps failing',
    });
  });

  it('lists three or more with commas', () => {
    const schedule = describeRetrySchedule([iso(1, 14, 0, 5), iso(1, 14, 5, 5), iso(1, 14, 35, 5), iso(1, 16, 35, 5)], now);
    expect(schedule?.nextRelative).toBe('in 5 s');
    expect(schedule?.laterSentence).toBe('then 14:05:05, 14:35:05 and 16:35:05 if it keeps failing');
  });

  it('says when the next attempt is the last', () => {
    expect(describeRetrySchedule([iso(1, 14, 30)], now)?.laterSentence).toBe('the last attempt: a dead letter if it fails');
  });

  it('calls an attempt whose time has come due now', () => {
    expect(describeRetrySchedule([iso(1, 13, 59)], now)?.nextSentence).toBe('Next attempt 13:59:00 (due now)');
    expect(describeRetrySchedule([new Date(now + 200).toISOString()], now)?.nextRelative).toBe('due now');
  });

  it('writes the date of attempts on another day', () => {
    const schedule = describeRetrySchedule([iso(1, 20, 0), iso(2, 6, 0)], now);
    expect(schedule?.nextAt).toBe('20:00:00');
    expect(schedule?.nextRelative).toBe('in 6 h');
    expect(schedule?.later).toEqual(['2026-01-02 06:00:00']);
  });

  it('counts the later attempts past the first few and names the last', () => {
    const upcoming = [iso(1, 14, 1), ...Array.from({ length: LATER_ATTEMPTS_SHOWN + 2 }, (_, i) => iso(1, 15 + i, 0))];
    const schedule = describeRetrySchedule(upcoming, now);
    expect(schedule?.later).toHaveLength(LATER_ATTEMPTS_SHOWN);
    expect(schedule?.moreLater).toBe(2);
    expect(schedule?.lastAt).toBe('22:00:00');
    expect(schedule?.laterSentence).toBe('then 15:00:00, 16:00:00, 17:00:00, 18:00:00, 19:00:00, 20:00:00 and 2 more (the last 22:00:00) if it keeps failing');
  });
});

describe('formatAttemptTime', () => {
  it('leaves out the date on the same day only', () => {
    expect(formatAttemptTime(iso(1, 23, 59, 59), now)).toBe('23:59:59');
    expect(formatAttemptTime(iso(2, 0, 0, 1), now)).toBe('2026-01-02 00:00:01');
  });
});
