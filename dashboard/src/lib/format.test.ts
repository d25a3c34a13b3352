import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatNextRetry,
  formatRelative,
  httpStatus,
  maskSecret,
  messageStatus,
  outcomeLabel,
  prettyJson,
  splitList,
  triggerType,
} from './format';

describe('formatDuration', () => {
  const cases: [number | null, string][] = [
    [null, '—'],
    [0, '0 ms'],
    [12.4, '12 ms'],
    [999, '999 ms'],
    [1000, '1 s'],
    [1250, '1.25 s'],
    [9990, '9.99 s'],
    [15_400, '15 s'],
    [60_000, '1 min'],
    [125_000, '2 min 5 s'],
    [3_600_000, '1 h'],
    [3_780_000, '1 h 3 min'],
    [36 * 3_600_000, '36 h'],
    [50 * 3_600_000, '2 d 2 h'],
    [-5, '0 ms'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}`, () => expect(formatDuration(input)).toBe(expected));
  }
});

describe('formatRelative', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it('says in/ago', () => {
    expect(formatRelative('2024-05-01T12:00:05Z', now)).toBe('in 5 s');
    expect(formatRelative('2024-05-01T11:57:00Z', now)).toBe('3 min ago');
    expect(formatRelative('2024-05-01T12:00:00.400Z', now)).toBe('just now');
  });
  it('is empty for nothing or garbage', () => {
    expect(formatRelative(null, now)).toBe('');
    expect(formatRelative('soon', now)).toBe('');
  });
});

describe('statuses', () => {
  it('maps MessageStatus', () => {
    expect(messageStatus(0)).toEqual({ text: 'Succeeded', tone: 'ok' });
    expect(messageStatus(1)).toEqual({ text: 'Pending', tone: 'pending' });
    expect(messageStatus(2)).toEqual({ text: 'Failed', tone: 'fail' });
    expect(messageStatus(3)).toEqual({ text: 'Sending', tone: 'pending' });
    expect(messageStatus(9).tone).toBe('neutral');
  });
  it('maps trigger types', () => {
    expect(triggerType(0)).toBe('Scheduled');
    expect(triggerType(1)).toBe('Manual');
    expect(triggerType(undefined)).toBe('Unknown');
  });
  it('treats only 2xx as success and 0 as no response', () => {
    expect(httpStatus(204)).toEqual({ text: '204', tone: 'ok' });
    expect(httpStatus(302).tone).toBe('fail');
    expect(httpStatus(500)).toEqual({ text: '500', tone: 'fail' });
    expect(httpStatus(0)).toEqual({ text: 'No response', tone: 'fail' });
  });
  it('names outcome classes and passes unknown ones through', () => {
    expect(outcomeLabel('timeout')).toBe('Timed out');
    expect(outcomeLabel('http_status')).toBe('HTTP error status');
    expect(outcomeLabel('brand_new_class')).toBe('brand new class');
    expect(outcomeLabel(undefined)).toBe('');
  });
});

describe('prettyJson', () => {
  it('indents objects and JSON strings, leaves other text alone', () => {
    expect(prettyJson({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(prettyJson('{"ok":true}')).toBe('{\n  "ok": true\n}');
    expect(prettyJson('plain text')).toBe('plain text');
    expect(prettyJson('{broken')).toBe('{broken');
    expect(prettyJson(undefined)).toBe('');
  });
});

describe('splitList and maskSecret', () => {
  it('splits comma and space separated lists without duplicates', () => {
    expect(splitList(' invoice.paid, user.created  invoice.paid,,')).toEqual(['invoice.paid', 'user.created']);
    expect(splitList('')).toEqual([]);
  });
  it('masks secrets', () => {
    expect(maskSecret('whsec_abcdefghijkl')).toBe('whsec_••••••••••••ijkl');
    expect(maskSecret('abc')).toBe('••••');
  });
});

describe('formatNextRetry', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it('says when a retry is ahead, and when a passed one was scheduled', () => {
    expect(formatNextRetry('2024-05-01T12:00:05Z', now)).toBe('next retry in 5 s');
    expect(formatNextRetry('2024-05-01T11:59:00Z', now)).toMatch(/^retry was scheduled for \d\d:\d\d:00$/);
    expect(formatNextRetry(null, now)).toBe('');
    expect(formatNextRetry('garbage', now)).toBe('');
  });
});
