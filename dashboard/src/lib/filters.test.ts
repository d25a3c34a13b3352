import { describe, expect, it } from 'vitest';
import {
  buildDeadLetterQuery,
  buildEndpointAttemptQuery,
  buildMessageListQuery,
  deadLetterFilterFromSearch,
  deadLetterFilterToSearch,
  emptyMessageFilter,
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
  it('uses the endpoint list with a status when an endpoint is chosen, and reports tag as ignored', () => {
    const q = buildMessageListQuery({ ...emptyMessageFilter, endpointId: 'ep_1', status: '2', tag: 'vip' });
    expect(q).toEqual({ source: 'endpoint', endpointId: 'ep_1', query: { limit: 50, with_content: false, status: 2 }, ignored: ['tag'] });
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
  it('knows whether anything filters', () => {
    expect(isFilterActive(emptyMessageFilter)).toBe(false);
    expect(isFilterActive({ ...emptyMessageFilter, channel: 'x' })).toBe(true);
    expect(isFilterActive({ ...emptyMessageFilter, channel: '  ' })).toBe(false);
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
