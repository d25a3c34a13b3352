import { describe, expect, it } from 'vitest';
import { hoursAgoLocalInput, isoToLocalInput, localInputToIso } from './time';

describe('datetime-local conversions', () => {
  it('round-trips a local wall time', () => {
    const iso = localInputToIso('2024-05-01T10:30');
    expect(iso).toBeDefined();
    expect(isoToLocalInput(iso!)).toBe('2024-05-01T10:30');
    expect(new Date(iso!).getTime()).toBe(new Date(2024, 4, 1, 10, 30).getTime());
  });
  it('leaves empty or malformed values out', () => {
    expect(localInputToIso('')).toBeUndefined();
    expect(localInputToIso('yesterday')).toBeUndefined();
    expect(localInputToIso('2024-13-45T99:99')).toBeUndefined();
  });
  it('computes a default "since"', () => {
    const now = new Date(2024, 4, 2, 12, 0);
    expect(hoursAgoLocalInput(24, now)).toBe('2024-05-01T12:00');
  });
});
