/**
 * Filters of the message log and the dead-letter queue: the form state, how it is
 * kept in the address bar (so a filtered view can be shared and survives reload),
 * and the query each list API takes.
 *
 * The message log reads from one of two APIs:
 * - `GET /app/{app}/msg` when no endpoint is chosen: filters `event_types`,
 *   `channel`, `tag`, `status`, `before`, `after` and `failed_since`. A message
 *   has one delivery status per endpoint, so `status` keeps the messages with a
 *   delivery in that state to any endpoint, and the rows carry no status;
 * - `GET /app/{app}/endpoint/{ep}/msg` when an endpoint is chosen: the same
 *   filters but `failed_since`, and every row carries that endpoint's delivery
 *   status.
 *
 * `failed_since` has no field in the form: the Overview's "failed in the last
 * hour" links to the log with it, and the log shows it as a chip to remove.
 */

import { splitList } from './format';
import { localInputToIso } from './time';

export type DeliveryStatusFilter = '' | '0' | '1' | '2';

export interface MessageFilter {
  eventTypes: string;
  channel: string;
  tag: string;
  endpointId: string;
  status: DeliveryStatusFilter;
  /** `datetime-local` values. */
  after: string;
  before: string;
  /**
   * An RFC 3339 instant, not a `datetime-local` value: the Overview's window
   * starts to the second and in UTC, and the log must list exactly the messages
   * it counted, so the value is kept as the link gives it.
   */
  failedSince: string;
}

export const emptyMessageFilter: MessageFilter = {
  eventTypes: '',
  channel: '',
  tag: '',
  endpointId: '',
  status: '',
  after: '',
  before: '',
  failedSince: '',
};

const FILTER_PARAMS: Record<keyof MessageFilter, string> = {
  eventTypes: 'event_types',
  channel: 'channel',
  tag: 'tag',
  endpointId: 'endpoint',
  status: 'status',
  after: 'after',
  before: 'before',
  failedSince: 'failed_since',
};

/** What each filter is called in sentences ("Not applied with this combination: failed since"). */
export const MESSAGE_FILTER_LABELS: Record<keyof MessageFilter, string> = {
  eventTypes: 'event types',
  channel: 'channel',
  tag: 'tag',
  endpointId: 'endpoint',
  status: 'delivery status',
  after: 'after',
  before: 'before',
  failedSince: 'failed since',
};

/** Unknown statuses and `failed_since` values that are not RFC 3339 instants are left out. */
export function messageFilterFromSearch(search: URLSearchParams): MessageFilter {
  const filter: MessageFilter = { ...emptyMessageFilter };
  for (const [field, param] of Object.entries(FILTER_PARAMS) as [keyof MessageFilter, string][]) {
    const value = search.get(param) ?? '';
    if (field === 'status') {
      filter.status = value === '0' || value === '1' || value === '2' ? value : '';
    } else if (field === 'failedSince') {
      filter.failedSince = instantToIso(value) ? value.trim() : '';
    } else {
      filter[field] = value;
    }
  }
  return filter;
}

/** Writes the filter into `search` (keeping its other parameters); empty fields are removed. */
export function messageFilterToSearch(filter: MessageFilter, search: URLSearchParams = new URLSearchParams()): URLSearchParams {
  const next = new URLSearchParams(search);
  for (const [field, param] of Object.entries(FILTER_PARAMS) as [keyof MessageFilter, string][]) {
    const value = filter[field].trim();
    if (value === '') next.delete(param);
    else next.set(param, value);
  }
  return next;
}

export function isFilterActive(filter: MessageFilter): boolean {
  return (Object.keys(FILTER_PARAMS) as (keyof MessageFilter)[]).some((field) => filter[field].trim() !== '');
}

export interface AppMessageQuery {
  event_types?: string[];
  channel?: string;
  tag?: string;
  status?: number;
  before?: string;
  after?: string;
  failed_since?: string;
  iterator?: string;
  limit?: number;
  with_content?: boolean;
}

export interface EndpointMessageQuery {
  event_types?: string[];
  channel?: string;
  tag?: string;
  status?: number;
  before?: string;
  after?: string;
  iterator?: string;
  limit?: number;
  with_content?: boolean;
}

export type MessageListQuery =
  | { source: 'app'; query: AppMessageQuery; ignored: (keyof MessageFilter)[] }
  | { source: 'endpoint'; endpointId: string; query: EndpointMessageQuery; ignored: (keyof MessageFilter)[] };

/**
 * The API call for a filter. `ignored` names the filter fields the chosen API
 * cannot apply, so the screen can say so instead of silently dropping them.
 */
export function buildMessageListQuery(filter: MessageFilter, iterator?: string | null, limit = 50): MessageListQuery {
  const eventTypes = splitList(filter.eventTypes);
  const channel = filter.channel.trim();
  const tag = filter.tag.trim();
  const before = localInputToIso(filter.before);
  const after = localInputToIso(filter.after);
  const failedSince = instantToIso(filter.failedSince);
  const common: AppMessageQuery & EndpointMessageQuery = { limit, with_content: false };
  if (eventTypes.length > 0) common.event_types = eventTypes;
  if (channel !== '') common.channel = channel;
  if (tag !== '') common.tag = tag;
  if (before) common.before = before;
  if (after) common.after = after;
  if (iterator) common.iterator = iterator;
  if (filter.status !== '') common.status = Number(filter.status);

  const endpointId = filter.endpointId.trim();
  if (endpointId === '') {
    const query: AppMessageQuery = { ...common };
    if (failedSince) query.failed_since = failedSince;
    return { source: 'app', query, ignored: [] };
  }
  const query: EndpointMessageQuery = { ...common };
  return { source: 'endpoint', endpointId, query, ignored: failedSince ? ['failedSince'] : [] };
}

/**
 * An RFC 3339 instant (date, time to the second or finer, and `Z` or an offset)
 * as the API's ISO form in UTC; `undefined` for anything else, so it is not sent.
 * Unlike `localInputToIso`, a value without an offset is refused rather than read
 * as local time: these come from links, and a link means one instant everywhere.
 */
export function instantToIso(value: string): string | undefined {
  const trimmed = value.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(trimmed)) return undefined;
  const date = new Date(trimmed);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/**
 * The chip of a `failed_since` filter, in the viewer's time zone: "Failed since
 * 14:02" on the day it is, "Failed since 2024-05-01 14:02" before that. Minutes
 * are enough to read; the chip's `title` carries the second.
 */
export function failedSinceLabel(failedSince: string, now: Date = new Date()): string {
  const iso = instantToIso(failedSince);
  if (!iso) return '';
  const at = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  const sameDay = at.getFullYear() === now.getFullYear() && at.getMonth() === now.getMonth() && at.getDate() === now.getDate();
  return `Failed since ${sameDay ? time : `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`}`;
}

/** Attempts of one endpoint, filtered by outcome (`status` 0 success, 2 fail). */
export interface EndpointAttemptQuery {
  status?: number;
  iterator?: string;
  limit?: number;
}

export function buildEndpointAttemptQuery(status: '' | '0' | '2', iterator?: string | null, limit = 20): EndpointAttemptQuery {
  const query: EndpointAttemptQuery = { limit };
  if (status !== '') query.status = Number(status);
  if (iterator) query.iterator = iterator;
  return query;
}

export interface DeadLetterFilter {
  endpointId: string;
  /** `datetime-local` values. */
  since: string;
  until: string;
}

export const emptyDeadLetterFilter: DeadLetterFilter = { endpointId: '', since: '', until: '' };

export interface DeadLetterListQuery {
  endpoint_id?: string;
  since?: string;
  until?: string;
  limit?: number;
  iterator?: string;
}

export function buildDeadLetterQuery(filter: DeadLetterFilter, iterator?: string | null, limit = 50): DeadLetterListQuery {
  const query: DeadLetterListQuery = { limit };
  const endpointId = filter.endpointId.trim();
  const since = localInputToIso(filter.since);
  const until = localInputToIso(filter.until);
  if (endpointId !== '') query.endpoint_id = endpointId;
  if (since) query.since = since;
  if (until) query.until = until;
  if (iterator) query.iterator = iterator;
  return query;
}

export function deadLetterFilterFromSearch(search: URLSearchParams): DeadLetterFilter {
  return {
    endpointId: search.get('endpoint') ?? '',
    since: search.get('since') ?? '',
    until: search.get('until') ?? '',
  };
}

export function deadLetterFilterToSearch(filter: DeadLetterFilter): URLSearchParams {
  const search = new URLSearchParams();
  if (filter.endpointId.trim()) search.set('endpoint', filter.endpointId.trim());
  if (filter.since.trim()) search.set('since', filter.since.trim());
  if (filter.until.trim()) search.set('until', filter.until.trim());
  return search;
}

/** What a person typed in the "find message" box: a message id or an `eventId`. */
export function normalizeMessageLookup(input: string): string | null {
  const trimmed = input.trim();
  return trimmed === '' ? null : trimmed;
}
