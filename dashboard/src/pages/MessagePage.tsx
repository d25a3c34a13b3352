import { useMemo, useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import { cancelMessage, getApplication, getMessage, listAllEndpoints, listMessageAttempts, listMessageDestinations, resendMessage } from '../api/queries';
import type { MessageAttemptOut, MessageEndpointOut } from '../api/client';
import { groupAttempts, headerPairs } from '../lib/attempts';
import { formatDuration, formatNextRetry, formatRelative, formatTimestamp, httpStatus, messageStatus, outcomeLabel, prettyJson, triggerType } from '../lib/format';
import { useAsync, useNow, useTitle } from '../lib/hooks';
import { describeRetrySchedule, RETRY_SCHEDULE_NOTE, type RetrySchedule } from '../lib/retrySchedule';
import { Breadcrumbs } from '../components/Breadcrumbs';
import { useSession } from '../session';
import { Badge, CodeBlock, ErrorBox, Facts, Loading, Mono, Notice, Section } from '../components/ui';

/** How often an open message refreshes its deliveries and attempts. */
const MESSAGE_POLL_MS = 2500;

/** `requestHeaders`, `responseHeaders` and `outcome` are optional: shown when present. */
type Attempt = MessageAttemptOut;

/** One message: payload, its delivery to each endpoint, every attempt, and replay. */
export function MessagePage() {
  const { appId = '', msgId = '' } = useParams();
  const app = useAsync(() => getApplication(appId), [appId]);
  const message = useAsync(() => getMessage(appId, msgId), [appId, msgId]);
  const deliveries = useAsync(
    async () => {
      const [destinations, attempts] = await Promise.all([listMessageDestinations(appId, msgId), listMessageAttempts(appId, msgId)]);
      return { destinations, attempts };
    },
    [appId, msgId],
    { pollMs: MESSAGE_POLL_MS },
  );
  const { session } = useSession();
  useTitle(message.data ? `${message.data.eventType} ${message.data.id}` : 'Message');
  const trail: [string, string | null][] = [['Message', null]];

  const groups = useMemo(
    () => (deliveries.data ? groupAttempts<MessageEndpointOut, Attempt>(deliveries.data.destinations, deliveries.data.attempts) : []),
    [deliveries.data],
  );

  if (message.error) {
    return (
      <>
        <Breadcrumbs appId={appId} appName={app.data?.name} trail={trail} />
        <h1>Message</h1>
        <ErrorBox error={message.error} onRetry={message.reload} />
      </>
    );
  }
  if (!message.data) return <Loading />;
  const msg = message.data;
  const facts: [string, ReactNode][] = [
    ['Message id', <Mono key="id">{msg.id}</Mono>],
    ['eventId', msg.eventId ? <Mono key="eid">{msg.eventId}</Mono> : '—'],
    ['Created', formatTimestamp(msg.timestamp)],
    ['Channels', msg.channels && msg.channels.length > 0 ? msg.channels.join(', ') : '—'],
    ['Tags', msg.tags && msg.tags.length > 0 ? msg.tags.join(', ') : '—'],
  ];
  // Only ordered endpoints care about the key, so a message without one does not get an empty row.
  if (msg.orderingKey) facts.push(['Ordering key', <Mono key="ordering-key">{msg.orderingKey}</Mono>]);
  if (msg.deliverAt) facts.push(['Scheduled for', formatTimestamp(msg.deliverAt)]);
  if (msg.payloadExpiresAt && !msg.payloadExpunged) facts.push(['Payload kept until', formatTimestamp(msg.payloadExpiresAt)]);
  if (msg.expiresAt) facts.push(['Deleted on', formatTimestamp(msg.expiresAt)]);

  return (
    <>
      <Breadcrumbs appId={appId} appName={app.data?.name} trail={trail} />
      <div className="page-head">
        <h1>
          <Mono>{msg.eventType}</Mono>
        </h1>
      </div>
      <Facts items={facts} />
      {msg.deliverAt ? (
        <ScheduledNotice
          appId={appId}
          msgId={msg.id}
          deliverAt={msg.deliverAt}
          canCancel={session?.kind !== 'portal'}
          onCanceled={deliveries.reload}
        />
      ) : null}
      {msg.schemaViolations && msg.schemaViolations.length > 0 ? (
        <div className="notice notice-fail">
          The payload does not match its event type's schema:
          <ul>
            {msg.schemaViolations.map((violation) => (
              <li key={violation}>{violation}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <Section id="payload" title="Payload">
        {msg.payloadExpunged ? (
          <p className="notice">
            Payload expunged: its retention period ended or it was expunged on request. Nothing more is sent for this
            message; its deliveries and attempts stay until it is deleted.
          </p>
        ) : (
          <CodeBlock label="Payload" tall>
            {prettyJson(msg.payload)}
          </CodeBlock>
        )}
      </Section>
      <Section id="deliveries" title="Deliveries">
        <ErrorBox error={deliveries.error} onRetry={deliveries.reload} />
        {!deliveries.data && !deliveries.error ? <Loading /> : null}
        {deliveries.data && groups.length === 0 ? <p className="muted">This message was not addressed to any endpoint.</p> : null}
        <ol className="deliveries">
          {groups.map((group) => (
            <DeliveryGroup
              key={group.endpointId}
              appId={appId}
              msgId={msg.id}
              endpointId={group.endpointId}
              destination={group.destination}
              attempts={group.attempts}
              onReplayed={deliveries.reload}
            />
          ))}
        </ol>
        <ResendElsewhere appId={appId} msgId={msg.id} exclude={groups.map((g) => g.endpointId)} onSent={deliveries.reload} />
      </Section>
    </>
  );
}

/** A message sent with `deliverAt`: when it goes, and (for the tenant, not a portal) a cancel until then. */
function ScheduledNotice({
  appId,
  msgId,
  deliverAt,
  canCancel,
  onCanceled,
}: {
  appId: string;
  msgId: string;
  deliverAt: string;
  canCancel: boolean;
  onCanceled: () => void;
}) {
  const now = useNow(1000);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [canceled, setCanceled] = useState<number | null>(null);
  const due = Date.parse(deliverAt);
  if (canceled !== null) {
    return <Notice>{`Canceled: ${canceled} ${canceled === 1 ? 'delivery' : 'deliveries'} will not be made.`}</Notice>;
  }
  if (due <= now) return null;
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      const out = await cancelMessage(appId, msgId);
      setCanceled(out.canceled);
      onCanceled();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="notice" role="status">
      Scheduled: delivered {formatRelative(deliverAt, now)}.{' '}
      {canCancel ? (
        <button type="button" onClick={cancel} disabled={busy}>
          Cancel delivery
        </button>
      ) : null}
      <ErrorBox error={error} />
    </div>
  );
}

function DeliveryGroup({
  appId,
  msgId,
  endpointId,
  destination,
  attempts,
  onReplayed,
}: {
  appId: string;
  msgId: string;
  endpointId: string;
  destination: MessageEndpointOut | null;
  attempts: Attempt[];
  onReplayed: () => void;
}) {
  const now = useNow(1000);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const url = destination?.url ?? attempts[0]?.url ?? endpointId;
  // Without planned attempts (final, or an ordered delivery waiting its turn) only `nextAttempt` is shown, if any.
  const schedule = describeRetrySchedule(destination?.upcomingAttempts, now);

  const replay = async () => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await resendMessage(appId, msgId, endpointId);
      setNotice('Replay queued: a new attempt follows shortly.');
      onReplayed();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="delivery card-inner" data-endpoint-id={endpointId}>
      <div className="delivery-head">
        <div className="row-main">
          <Link to={`/apps/${encodeURIComponent(appId)}/endpoints/${encodeURIComponent(endpointId)}`} className="url">
            {url}
          </Link>
        </div>
        <div className="row-side">
          {destination ? <Badge label={messageStatus(destination.status)} /> : <Badge label={{ text: 'Endpoint removed', tone: 'neutral' }} />}
          {destination?.nextAttempt && !schedule ? (
            <span className="next-retry">
              {Date.parse(destination.nextAttempt) > now ? capitalize(formatNextRetry(destination.nextAttempt, now)) : 'Next retry due now'}{' '}
              <span className="muted small">({formatTimestamp(destination.nextAttempt)})</span>
            </span>
          ) : null}
          <button type="button" onClick={replay} disabled={busy} aria-label={`Replay to ${url}`}>
            Replay
          </button>
        </div>
      </div>
      {schedule ? <RetryScheduleView schedule={schedule} upcoming={destination?.upcomingAttempts ?? []} /> : null}
      <Notice>{notice}</Notice>
      <ErrorBox error={error} />
      {attempts.length === 0 ? <p className="muted small">No attempt yet.</p> : null}
      <ol className="attempts">
        {attempts.map((attempt) => (
          <AttemptItem key={attempt.id} attempt={attempt} now={now} />
        ))}
      </ol>
    </li>
  );
}

/** The attempts still planned if each fails: the next one stands out, the rest follow in a sentence. */
function RetryScheduleView({ schedule, upcoming }: { schedule: RetrySchedule; upcoming: string[] }) {
  const [next, ...later] = upcoming;
  return (
    <div className="retry-schedule" role="group" aria-label="Upcoming attempts">
      <p className="next-retry">
        Next attempt <time dateTime={next}>{schedule.nextAt}</time> <span className="muted small">({schedule.nextRelative})</span>
      </p>
      <p className="small">
        {schedule.laterSentence.charAt(0).toUpperCase() + schedule.laterSentence.slice(1)}.
        {later.length > 0 ? (
          <>
            {' '}
            <span className="muted">{RETRY_SCHEDULE_NOTE}</span>
          </>
        ) : null}
      </p>
    </div>
  );
}

function AttemptItem({ attempt, now }: { attempt: Attempt; now: number }) {
  const requestHeaders = headerPairs(attempt.requestHeaders);
  const responseHeaders = headerPairs(attempt.responseHeaders);
  return (
    <li className="attempt" data-attempt-id={attempt.id}>
      <div className="attempt-head">
        <span className="attempt-no">#{attempt.attemptNumber}</span>
        <Badge label={messageStatus(attempt.status)} />
        <Badge label={httpStatus(attempt.responseStatusCode)} title="Response status" />
        {attempt.outcome ? <span className="outcome">{outcomeLabel(attempt.outcome)}</span> : null}
        <span className="muted small">
          {formatTimestamp(attempt.timestamp)} · {formatDuration(attempt.responseDurationMs)} · {triggerType(attempt.triggerType)}
        </span>
        {attempt.nextAttempt ? <span className="muted small">· {formatNextRetry(attempt.nextAttempt, now)}</span> : null}
      </div>
      <details>
        <summary>Response body{attempt.response ? '' : ' (empty)'}</summary>
        <CodeBlock label="Response body">{attempt.response ? prettyJson(attempt.response) : '(empty)'}</CodeBlock>
        {requestHeaders.length > 0 ? <HeaderTable title="Request headers" pairs={requestHeaders} /> : null}
        {responseHeaders.length > 0 ? <HeaderTable title="Response headers" pairs={responseHeaders} /> : null}
        <p className="muted small">
          Attempt <Mono>{attempt.id}</Mono> to <span className="url">{attempt.url}</span>
        </p>
      </details>
    </li>
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function HeaderTable({ title, pairs }: { title: string; pairs: [string, string][] }) {
  return (
    <div className="table-wrap">
      <table className="table table-compact" aria-label={title}>
        <caption>{title}</caption>
        <tbody>
          {pairs.map(([name, value]) => (
            <tr key={name}>
              <th scope="row">
                <Mono>{name}</Mono>
              </th>
              <td>
                <Mono>{value}</Mono>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Resend works for an endpoint the message never went to (it creates the delivery). */
function ResendElsewhere({ appId, msgId, exclude, onSent }: { appId: string; msgId: string; exclude: string[]; onSent: () => void }) {
  const endpoints = useAsync(() => listAllEndpoints(appId), [appId]);
  const [choice, setChoice] = useState('');
  const [error, setError] = useState<unknown>(null);
  const others = (endpoints.data ?? []).filter((ep) => !exclude.includes(ep.id));
  if (others.length === 0) return null;
  const send = async () => {
    if (!choice) return;
    setError(null);
    try {
      await resendMessage(appId, msgId, choice);
      setChoice('');
      onSent();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <div className="toolbar">
      <label>
        Send to another endpoint
        <select value={choice} onChange={(event) => setChoice(event.target.value)}>
          <option value="">Choose…</option>
          {others.map((ep) => (
            <option key={ep.id} value={ep.id}>
              {ep.url}
            </option>
          ))}
        </select>
      </label>
      <button type="button" onClick={send} disabled={!choice}>
        Send
      </button>
      <ErrorBox error={error} />
    </div>
  );
}
