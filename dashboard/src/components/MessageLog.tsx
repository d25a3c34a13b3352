import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { getMessage, listAllEndpoints, listAllEventTypes, listEndpointMessages, listMessages } from '../api/queries';
import { ApiError } from '../api/errors';
import type { EndpointMessageOut, MessageOut } from '../api/client';
import {
  buildMessageListQuery,
  emptyMessageFilter,
  failedSinceLabel,
  isFilterActive,
  MESSAGE_FILTER_LABELS,
  messageFilterFromSearch,
  messageFilterToSearch,
  normalizeMessageLookup,
  type MessageFilter,
} from '../lib/filters';
import { formatRelative, formatTimestamp, messageStatus } from '../lib/format';
import { useAsync, useNow } from '../lib/hooks';
import { canGoBack, canGoForward, currentCursor, firstPage, nextPage, pageNumber, previousPage, type PagerState } from '../lib/paging';
import { Badge, ErrorBox, Loading, Mono, Pager, Section } from './ui';

/** How often the open log asks for news while the tab is visible. */
export const MESSAGE_LOG_POLL_MS = 2500;

/** What a status filter without an endpoint means, for the line under the list. */
const STATUS_PHRASE: Record<'0' | '1' | '2', string> = {
  '0': 'succeeded',
  '1': 'is pending',
  '2': 'failed (dead-lettered)',
};

type Row = MessageOut & Partial<Pick<EndpointMessageOut, 'status' | 'statusText' | 'nextAttempt' | 'processedAt'>>;

/** The application's messages: filtered (kept in the address bar), paged, and live. */
export function MessageLog({ appId }: { appId: string }) {
  const navigate = useNavigate();
  const [search, setSearch] = useSearchParams();
  const applied = useMemo(() => messageFilterFromSearch(search), [search]);
  const [draft, setDraft] = useState<MessageFilter>(applied);
  const [pager, setPager] = useState<PagerState>(firstPage);
  const [live, setLive] = useState(true);
  const [lookup, setLookup] = useState('');
  const [lookupError, setLookupError] = useState<unknown>(null);
  const now = useNow(1000);

  useEffect(() => {
    setDraft(applied);
    setPager(firstPage);
  }, [applied]);

  const endpoints = useAsync(() => listAllEndpoints(appId), [appId]);
  const eventTypes = useAsync(() => listAllEventTypes(), []);
  const endpointUrl = useMemo(() => new Map((endpoints.data ?? []).map((ep) => [ep.id, ep.url])), [endpoints.data]);

  const cursor = currentCursor(pager);
  const request = buildMessageListQuery(applied, cursor);
  const requestKey = JSON.stringify(request);
  const list = useAsync<{ data: Row[]; iterator?: string | null; prevIterator?: string | null; done: boolean }>(
    () => (request.source === 'app' ? listMessages(appId, request.query) : listEndpointMessages(appId, request.endpointId, request.query)),
    [appId, requestKey],
    { pollMs: live ? MESSAGE_LOG_POLL_MS : undefined },
  );

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setSearch(messageFilterToSearch(draft, search), { replace: true });
  };
  const reset = () => {
    setDraft(emptyMessageFilter);
    setSearch(messageFilterToSearch(emptyMessageFilter, search), { replace: true });
  };
  // Keeps the other applied filters.
  const removeFailedSince = () => setSearch(messageFilterToSearch({ ...applied, failedSince: '' }, search), { replace: true });
  const find = async (event: FormEvent) => {
    event.preventDefault();
    const id = normalizeMessageLookup(lookup);
    if (!id) return;
    setLookupError(null);
    try {
      const message = await getMessage(appId, id);
      navigate(`/apps/${encodeURIComponent(appId)}/messages/${encodeURIComponent(message.id)}`);
    } catch (error) {
      setLookupError(error instanceof ApiError && error.isNotFound ? new Error(`No message of this application has the id or eventId “${id}”.`) : error);
    }
  };
  const set = (field: keyof MessageFilter) => (event: { target: { value: string } }) =>
    setDraft((current) => ({ ...current, [field]: event.target.value }));
  const withStatus = request.source === 'endpoint';
  // The form opens for the filters it holds; `failed_since` has its chip instead.
  const formActive = isFilterActive({ ...applied, failedSince: '' });

  return (
    <Section
      id="messages"
      title="Message log"
      actions={
        <label className="checkbox">
          <input type="checkbox" checked={live} onChange={(event) => setLive(event.target.checked)} />
          <span>Live{live ? <span className="live-dot" aria-hidden="true" /> : null}</span>
        </label>
      }
    >
      <form className="toolbar" onSubmit={find} role="search" aria-label="Find a message">
        <label htmlFor="msg-lookup" className="visually-hidden">
          Message id or eventId
        </label>
        <input id="msg-lookup" type="search" placeholder="Find by message id or eventId" value={lookup} onChange={(event) => setLookup(event.target.value)} />
        <button type="submit">Find</button>
      </form>
      <ErrorBox error={lookupError} />

      {applied.failedSince !== '' ? (
        <FailedSinceChip failedSince={applied.failedSince} applies={!request.ignored.includes('failedSince')} now={now} onRemove={removeFailedSince} />
      ) : null}

      <details className="filters" open={formActive}>
        <summary>Filters{formActive ? ' (active)' : ''}</summary>
        <form className="filter-grid" onSubmit={apply}>
          <label>
            Endpoint
            <select value={draft.endpointId} onChange={set('endpointId')}>
              <option value="">All endpoints</option>
              {(endpoints.data ?? []).map((ep) => (
                <option key={ep.id} value={ep.id}>
                  {ep.url}
                </option>
              ))}
            </select>
          </label>
          <label>
            Delivery status
            <select value={draft.status} onChange={set('status')} aria-describedby="status-hint">
              <option value="">Any</option>
              <option value="0">Succeeded</option>
              <option value="1">Pending</option>
              <option value="2">Failed</option>
            </select>
            <span id="status-hint" className="muted small">
              {draft.endpointId === '' ? 'Of a delivery to any endpoint.' : 'Of the delivery to the chosen endpoint.'}
            </span>
          </label>
          <label>
            Event types
            <input list="event-type-options" placeholder="invoice.paid, user.created" value={draft.eventTypes} onChange={set('eventTypes')} />
            <datalist id="event-type-options">
              {(eventTypes.data ?? []).map((et) => (
                <option key={et.name} value={et.name} />
              ))}
            </datalist>
          </label>
          <label>
            Channel
            <input value={draft.channel} onChange={set('channel')} />
          </label>
          <label>
            Tag
            <input value={draft.tag} onChange={set('tag')} />
          </label>
          <label>
            After
            <input type="datetime-local" value={draft.after} onChange={set('after')} />
          </label>
          <label>
            Before
            <input type="datetime-local" value={draft.before} onChange={set('before')} />
          </label>
          <div className="filter-actions">
            <button type="submit" className="button-primary">
              Apply
            </button>
            <button type="button" onClick={reset}>
              Clear
            </button>
          </div>
        </form>
        {request.ignored.length > 0 ? (
          <p className="muted small">Not applied with this combination: {request.ignored.map((field) => MESSAGE_FILTER_LABELS[field]).join(', ')}.</p>
        ) : null}
      </details>

      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.data.length === 0 ? <p className="muted">No messages{isFilterActive(applied) ? ' match these filters' : ' yet'}.</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <div className="table-wrap">
          <table className="table" aria-label="Messages">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event type</th>
                <th scope="col">Message</th>
                {withStatus ? (
                  <th scope="col" title={endpointUrl.get(request.endpointId) ?? request.endpointId}>
                    Delivery status
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((message) => (
                <tr key={message.id} data-msg-id={message.id}>
                  <td data-label="Time">
                    <time dateTime={message.timestamp}>{formatTimestamp(message.timestamp)}</time>
                  </td>
                  <td data-label="Event type">
                    <Mono>{message.eventType}</Mono>
                  </td>
                  <td data-label="Message">
                    <Link to={`/apps/${encodeURIComponent(appId)}/messages/${encodeURIComponent(message.id)}`}>
                      <Mono>{message.id}</Mono>
                    </Link>
                    {message.eventId ? <div className="muted small">eventId {message.eventId}</div> : null}
                  </td>
                  {withStatus ? (
                    <td data-label="Delivery">
                      <Badge label={messageStatus(message.status)} />
                      {message.nextAttempt ? (
                        <div className="muted small">next try {formatRelative(message.nextAttempt, now)}</div>
                      ) : null}
                      {message.processedAt ? (
                        <div className="small">
                          processed{' '}
                          <time dateTime={message.processedAt} title={formatTimestamp(message.processedAt)}>
                            {formatRelative(message.processedAt, now)}
                          </time>
                        </div>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {!withStatus && list.data && list.data.data.length > 0 ? (
        <p className="muted small">
          {applied.status !== '' ? `Each of these has a delivery that ${STATUS_PHRASE[applied.status]}. ` : ''}
          {applied.failedSince !== '' ? `Each of these had an attempt fail at or after ${formatTimestamp(applied.failedSince)}, and may have been delivered later. ` : ''}
          Open a message for its delivery to each endpoint, or filter by endpoint to see statuses here.
        </p>
      ) : null}
      <Pager
        page={pageNumber(pager)}
        canBack={canGoBack(pager)}
        canForward={canGoForward(list.data)}
        onBack={() => setPager(previousPage(pager))}
        onForward={() => list.data && setPager(nextPage(pager, list.data))}
      />
    </Section>
  );
}

/**
 * The `failed_since` filter, which has no field in the form (the Overview's
 * click-through sets it): what it keeps, and a button that removes it alone.
 */
function FailedSinceChip({ failedSince, applies, now, onRemove }: { failedSince: string; applies: boolean; now: number; onRemove: () => void }) {
  const label = failedSinceLabel(failedSince, new Date(now));
  return (
    <ul className="filter-chips" aria-label="Applied filters">
      <li className="filter-chip" title={`Messages with an attempt that failed at or after ${formatTimestamp(failedSince)}`}>
        <time dateTime={failedSince}>{label}</time>
        {applies ? null : <span className="muted small"> (not applied with an endpoint)</span>}
        <button type="button" className="filter-chip-remove" onClick={onRemove} aria-label={`Remove the filter: ${label}`}>
          <span aria-hidden="true">×</span>
        </button>
      </li>
    </ul>
  );
}
