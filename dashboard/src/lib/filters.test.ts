import { describe, expect, it } from 'vitest';
import {
  buildDeadLetterQuery,
  buildEndpointAttemptQuery,
  buildMessageListQuery,
  deadLetterFilterFromSearch,
  deadLetterFilterToSearch,
  emptyMessageFilter,
  failedSinceLabel,
  instantToIso,
  isFilterActive,
  messageFilterFromSearch,
  messageFilterToSearch,
  normalizeMessageLookup,
} from './filters';
import { localInputToIso } from './time';

describe('buildMessageListQuery', () => {
  it('lists the application without filters', () => {
    expect(buildMessageListQuery(emptyMessageFilter)).toEqual({
      source: 'app',
      query: { limit: 50, with_content: false },
      ignored: [],
    });
  });
  it('passes event types, channel, tag and the time range to the application list', () => {
    const q = buildMessageListQuery(
      { ...emptyMessageFilter, eventTypes: 'invoice.paid, user.created', channel: ' eu ', tag: 'vip', after: '2024-05-01T10:00', before: '2024-05-02T10:00' },
      'cursor-1',
      25,
    );
    expect(q).toEqual({
      source: 'app',
      query: {
        limit: 25,
        with_content: false,
        event_types: ['invoice.paid', 'user.created'],
        channel: 'eu',
        tag: 'vip',
        after: localInputToIso('2024-05-01T10:00'),
        before: localInputToIso('2024-05-02T10:00'),
        iterator: 'cursor-1',
      },
      ignored: [],
    });
  });
  it('filters the application list by delivery status without an endpoint', () => {
    expect(buildMessageListQuery({ ...emptyMessageFilter, status: '2', tag: 'vip' })).toEqual({
      source: 'app',
      query: { limit: 50, with_content: false, status: 2, tag: 'vip' },
      ignored: [],
    });
    expect(buildMessageListQuery({ ...emptyMessageFilter, status: '0' }).query).toHaveProperty('status', 0);
  });
  it('uses the endpoint list with a status and a tag when an endpoint is chosen', () => {
    const q = buildMessageListQuery({ ...emptyMessageFilter, endpointId: 'ep_1', status: '2', tag: ' vip ' });
    expect(q).toEqual({ source: 'endpoint', endpointId: 'ep_1', query: { limit: 50, with_content: false, status: 2, tag: 'vip' }, ignored: [] });
  });
  it('sends failed_since to the application list, in UTC, with the other filters', () => {
    const q = buildMessageListQuery({ ...emptyMessageFilter, failedSince: '2024-05-01T15:02:00+02:00', eventTypes: 'invoice.paid', status: '0' });
    expect(q).toEqual({
      source: 'app',
      query: { limit: 50, with_content: false, event_types: ['invoice.paid'], status: 0, failed_since: '2024-05-01T13:02:00.000Z' },
      ignored: [],
    });
  });
  it('reports failed_since as not applied with an endpoint, whose list has no such filter', () => {
    const q = buildMessageListQuery({ ...emptyMessageFilter, endpointId: 'ep_1', failedSince: '2024-05-01T13:02:00Z' });
    expect(q).toEqual({ source: 'endpoint', endpointId: 'ep_1', query: { limit: 50, with_content: false }, ignored: ['failedSince'] });
  });
  it('drops malformed times instead of sending them', () => {
    const q = buildMessageListQuery({ ...emptyMessageFilter, after: 'not a date' });
    expect(q.query).not.toHaveProperty('after');
  });
});

describe('message filter in the address bar', () => {
  it('round-trips and keeps unrelated parameters', () => {
    const filter = { ...emptyMessageFilter, eventTypes: 'a,b', endpointId: 'ep_1', status: '0' as const, after: '2024-05-01T10:00' };
    const search = messageFilterToSearch(filter, new URLSearchParams('tab=messages&status=2'));
    expect(search.get('tab')).toBe('messages');
    expect(search.get('status')).toBe('0');
    expect(search.has('channel')).toBe(false);
    expect(messageFilterFromSearch(search)).toEqual(filter);
  });
  it('ignores an unknown status', () => {
    expect(messageFilterFromSearch(new URLSearchParams('status=7')).status).toBe('');
  });
  it('reads failed_since as the Overview links it, and writes it back unchanged', () => {
    const since = '2024-05-01T13:02:07.000Z';
    const search = new URLSearchParams(`failed_since=${encodeURIComponent(since)}&event_types=invoice.paid`);
    const filter = messageFilterFromSearch(search);
    expect(filter).toEqual({ ...emptyMessageFilter, failedSince: since, eventTypes: 'invoice.paid' });
    expect(messageFilterToSearch(filter).get('failed_since')).toBe(since);
    expect(isFilterActive(filter)).toBe(true);
  });
  it('removes failed_since alone, keeping the other filters and parameters', () => {
    const search = new URLSearchParams('failed_since=2024-05-01T13%3A02%3A07Z&tag=vip&tab=x');
    const next = messageFilterToSearch({ ...messageFilterFromSearch(search), failedSince: '' }, search);
    expect(next.has('failed_since')).toBe(false);
    expect(next.get('tag')).toBe('vip');
    expect(next.get('tab')).toBe('x');
  });
  it('drops a failed_since that is not an instant', () => {
    const check = (value: string) => expect(messageFilterFromSearch(new URLSearchParams({ failed_since: value })).failedSince).toBe('');
    check('yesterday');
    check('2024-05-01');
    // Without an offset it would be read as the viewer's local time: not the instant the link meant.
    check('2024-05-01T13:02:07');
    check('2024-13-01T13:02:07Z');
  });
  it('knows whether anything filters', () => {
    expect(isFilterActive(emptyMessageFilter)).toBe(false);
    expect(isFilterActive({ ...emptyMessageFilter, channel: 'x' })).toBe(true);
    expect(isFilterActive({ ...emptyMessageFilter, channel: '  ' })).toBe(false);
  });
});

describe('instants and the failed_since chip', () => {
  it('normalizes RFC 3339 instants to UTC and refuses the rest', () => {
    const check = (value: string, expected: string | undefined) => expect(instantToIso(value)).toBe(expected);
    check('2024-05-01T13:02:07Z', '2024-05-01T13:02:07.000Z');
    check('2024-05-01T13:02:07.123456z', '2024-05-01T13:02:07.123Z');
    check(' 2024-05-01T15:02:07+02:00 ', '2024-05-01T13:02:07.000Z');
    check('2024-05-01T13:02Z', undefined);
    check('2024-05-01T13:02:07', undefined);
    check('', undefined);
    check('2024-02-31T99:00:00Z', undefined);
  });
  it('says when, in the viewer\'s time zone: the time alone today, with the date before', () => {
    const since = new Date(2024, 4, 1, 14, 2, 30).toISOString();
    expect(failedSinceLabel(since, new Date(2024, 4, 1, 15, 0))).toBe('Failed since 14:02');
    expect(failedSinceLabel(since, new Date(2024, 4, 2, 9, 0))).toBe('Failed since 2024-05-01 14:02');
    expect(failedSinceLabel('not an instant', new Date(2024, 4, 1))).toBe('');
  });
});

describe('other queries', () => {
  it('filters endpoint attempts by status', () => {
    expect(buildEndpointAttemptQuery('')).toEqual({ limit: 20 });
    expect(buildEndpointAttemptQuery('2', 'c', 10)).toEqual({ limit: 10, status: 2, iterator: 'c' });
  });
  it('builds the dead-letter query and its address-bar form', () => {
    expect(buildDeadLetterQuery({ endpointId: '', since: '', until: '' })).toEqual({ limit: 50 });
    const filter = { endpointId: 'ep_1', since: '2024-05-01T00:00', until: '' };
    expect(buildDeadLetterQuery(filter, 'it')).toEqual({ limit: 50, endpoint_id: 'ep_1', since: localInputToIso('2024-05-01T00:00'), iterator: 'it' });
    expect(deadLetterFilterFromSearch(deadLetterFilterToSearch(filter))).toEqual(filter);
  });
  it('normalizes a message lookup', () => {
    expect(normalizeMessageLookup('  msg_1 ')).toBe('msg_1');
    expect(normalizeMessageLookup('   ')).toBeNull();
  });
});
