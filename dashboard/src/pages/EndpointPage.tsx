import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import {
  deleteEndpoint,
  getApplication,
  getEndpoint,
  getEndpointSecret,
  listAllEventTypes,
  listEndpointAttempts,
  patchEndpoint,
  recoverEndpoint,
  resendMessage,
  rotateEndpointSecret,
  sendExample,
  getEndpointSigningKey,
  createEndpointSigningKey,
  deleteEndpointSigningKey,
} from '../api/queries';
import type { EndpointOut } from '../api/client';
import { buildEndpointAttemptQuery } from '../lib/filters';
import { formatDuration, formatNextRetry, formatTimestamp, httpStatus, maskSecret, messageStatus, outcomeLabel, triggerType } from '../lib/format';
import { useAsync, useNow, useTitle } from '../lib/hooks';
import { canGoBack, canGoForward, currentCursor, firstPage, nextPage, pageNumber, previousPage, type PagerState } from '../lib/paging';
import { hoursAgoLocalInput, localInputToIso } from '../lib/time';
import { Badge, CopyButton, ErrorBox, Facts, Loading, Mono, Notice, Pager, Section } from '../components/ui';
import { Breadcrumbs } from '../components/Breadcrumbs';
import { HeadersEditor } from '../components/HeadersEditor';
import { EndpointHealth } from '../components/EndpointHealth';
import { Receipts } from '../components/Receipts';

/** One endpoint: settings, health, secret, headers, test event, recovery, receipts and recent attempts. */
export function EndpointPage() {
  const { appId = '', endpointId = '' } = useParams();
  const app = useAsync(() => getApplication(appId), [appId]);
  const endpoint = useAsync(() => getEndpoint(appId, endpointId), [appId, endpointId]);
  useTitle(endpoint.data ? `Endpoint ${endpoint.data.url}` : 'Endpoint');
  const base = `/apps/${encodeURIComponent(appId)}`;
  const trail: [string, string | null][] = [['Endpoint', null]];

  if (endpoint.error) {
    return (
      <>
        <Breadcrumbs appId={appId} appName={app.data?.name} trail={trail} />
        <h1>Endpoint</h1>
        <ErrorBox error={endpoint.error} onRetry={endpoint.reload} />
      </>
    );
  }
  if (!endpoint.data) return <Loading />;
  const ep = endpoint.data;
  const filterTypes = ep.filterTypes ?? ep.eventTypes ?? null;
  const rateLimit = ep.rateLimit ?? ep.throttleRate ?? null;

  return (
    <>
      <Breadcrumbs appId={appId} appName={app.data?.name} trail={trail} />
      <div className="page-head">
        <h1 className="url-title">{ep.url}</h1>
        <Badge label={ep.disabled ? { text: 'Disabled', tone: 'fail' } : { text: 'Enabled', tone: 'ok' }} />
      </div>
      {ep.description ? <p>{ep.description}</p> : null}
      <EndpointActions appId={appId} endpoint={ep} onChanged={endpoint.reload} />
      <Facts
        items={[
          ['id', <Mono key="id">{ep.id}</Mono>],
          ['uid', ep.uid ? <Mono key="uid">{ep.uid}</Mono> : '—'],
          ['Event types', filterTypes && filterTypes.length > 0 ? filterTypes.join(', ') : 'All event types'],
          ['Channels', ep.channels && ep.channels.length > 0 ? ep.channels.join(', ') : 'Any channel'],
          ['Rate limit', rateLimit ? `${rateLimit} per second` : 'None'],
          ['Ordered delivery', ep.ordered ? 'On' : 'Off'],
          ['Automatic redrive', ep.autoRedrive === false ? 'Off' : 'On'],
          ['Receipts', ep.receiptWindow ? `Expected within ${formatDuration(ep.receiptWindow * 1000)}` : 'Not expected'],
          ['Version', String(ep.version)],
          ['Created', formatTimestamp(ep.createdAt)],
          ['Updated', formatTimestamp(ep.updatedAt)],
        ]}
      />
      <p className="links-line">
        <Link to={`${base}?endpoint=${encodeURIComponent(ep.id)}#messages`}>Messages to this endpoint</Link>
        <Link to={`${base}/dead-letter?endpoint=${encodeURIComponent(ep.id)}`}>Dead letters of this endpoint</Link>
      </p>
      <div className="grid-2">
        <EndpointHealth appId={appId} endpointId={ep.id} />
        <Secret appId={appId} endpointId={ep.id} />
      </div>
      <SigningKey appId={appId} endpointId={ep.id} />
      <HeadersEditor appId={appId} endpointId={ep.id} />
      <div className="grid-2">
        <SendTestEvent appId={appId} endpoint={ep} />
        <Recover appId={appId} endpointId={ep.id} />
      </div>
      <Receipts appId={appId} endpoint={ep} onChanged={endpoint.reload} />
      <RecentAttempts appId={appId} endpointId={ep.id} />
    </>
  );
}

function EndpointActions({ appId, endpoint, onChanged }: { appId: string; endpoint: EndpointOut; onChanged: () => void }) {
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const base = `/apps/${encodeURIComponent(appId)}`;

  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      await patchEndpoint(appId, endpoint.id, { disabled: !endpoint.disabled });
      onChanged();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the endpoint ${endpoint.url}? Pending deliveries to it end in the dead-letter queue.`)) return;
    setBusy(true);
    setError(null);
    try {
      await deleteEndpoint(appId, endpoint.id);
      navigate(base, { replace: true });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  return (
    <div className="actions-line">
      <Link className="button" to={`${base}/endpoints/${encodeURIComponent(endpoint.id)}/edit`}>
        Edit
      </Link>
      <button type="button" onClick={toggle} disabled={busy}>
        {endpoint.disabled ? 'Enable' : 'Disable'}
      </button>
      <button type="button" className="button-danger" onClick={remove} disabled={busy}>
        Delete
      </button>
      <ErrorBox error={error} />
    </div>
  );
}

function Secret({ appId, endpointId }: { appId: string; endpointId: string }) {
  const [key, setKey] = useState<string | null>(null);
  const [visible, setVisible] = useState(false);
  const [grace, setGrace] = useState('86400');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const reveal = async () => {
    if (visible) {
      setVisible(false);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setKey((await getEndpointSecret(appId, endpointId)).key);
      setVisible(true);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const rotate = async (event: FormEvent) => {
    event.preventDefault();
    if (!window.confirm('Rotate the signing secret? The old one keeps signing during the grace period.')) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const seconds = Number(grace);
      const out = await rotateEndpointSecret(appId, endpointId, { gracePeriodSeconds: Number.isFinite(seconds) ? seconds : null });
      setKey(out.key);
      setVisible(true);
      setNotice(`Rotated. The previous secret keeps signing for ${formatDuration(seconds * 1000)}.`);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section id="secret" title="Signing secret">
      <div className="secret-line">
        <Mono>{visible && key ? key : maskSecret(key ?? 'whsec_xxxxxxxxxxxxxxxx')}</Mono>
        <button type="button" className="button-small" onClick={reveal} disabled={busy} aria-pressed={visible}>
          {visible ? 'Hide' : 'Reveal'}
        </button>
        {visible && key ? <CopyButton text={key} /> : null}
      </div>
      <form className="toolbar" onSubmit={rotate}>
        <label>
          Grace period (seconds)
          <input type="number" min={0} max={604800} value={grace} onChange={(event) => setGrace(event.target.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Rotate secret
        </button>
      </form>
      <Notice>{notice}</Notice>
      <ErrorBox error={error} />
      <p className="muted small">
        <Link to="/help/signatures">How to verify signatures</Link>
      </p>
    </Section>
  );
}

/** Standard Webhooks `v1a` (ed25519): the public key receivers verify with, and opting in or out. */
function SigningKey({ appId, endpointId }: { appId: string; endpointId: string }) {
  const key = useAsync(() => getEndpointSigningKey(appId, endpointId), [appId, endpointId]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const change = async (create: boolean) => {
    const question = create
      ? 'Create a new ed25519 key pair? Deliveries carry a v1a signature with it at once; receivers need the new public key.'
      : 'Stop ed25519 signatures? Deliveries keep their HMAC (v1) signatures only.';
    if (!window.confirm(question)) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      if (create) {
        await createEndpointSigningKey(appId, endpointId);
        setNotice('Deliveries now carry a v1a signature made with this key pair.');
      } else {
        await deleteEndpointSigningKey(appId, endpointId);
        setNotice('Deliveries carry HMAC signatures only.');
      }
      key.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const publicKey = key.data?.publicKey ?? null;
  return (
    <Section id="signing-key" title="Asymmetric signatures (ed25519)">
      {key.loading && !key.data ? <Loading /> : null}
      {publicKey ? (
        <>
          <p className="muted small">Receivers verify the v1a signature with this public key. It is not a secret.</p>
          <div className="secret-line">
            <Mono>{publicKey}</Mono>
            <CopyButton text={publicKey} />
          </div>
        </>
      ) : key.data === null ? (
        <p className="muted small">This endpoint signs with its HMAC secret only.</p>
      ) : null}
      <div className="toolbar">
        <button type="button" disabled={busy || key.loading} onClick={() => change(true)}>
          {publicKey ? 'Replace key pair' : 'Add ed25519 signatures'}
        </button>
        {publicKey ? (
          <button type="button" className="button-danger" disabled={busy} onClick={() => change(false)}>
            Stop ed25519 signatures
          </button>
        ) : null}
      </div>
      <Notice>{notice}</Notice>
      <ErrorBox error={error ?? key.error} />
    </Section>
  );
}

function SendTestEvent({ appId, endpoint }: { appId: string; endpoint: EndpointOut }) {
  const eventTypes = useAsync(() => listAllEventTypes(), []);
  const filter = endpoint.filterTypes ?? endpoint.eventTypes ?? [];
  const [eventType, setEventType] = useState(filter[0] ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState<string | null>(null);
  const options = filter.length > 0 ? filter : (eventTypes.data ?? []).map((et) => et.name);
  const chosen = eventType || options[0] || '';

  const send = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen) return;
    setBusy(true);
    setError(null);
    setSent(null);
    try {
      const message = await sendExample(appId, endpoint.id, { eventType: chosen });
      setSent(message.id);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section id="test" title="Send a test event">
      <form className="toolbar" onSubmit={send}>
        <label>
          Event type
          <input list="test-event-types" value={chosen} onChange={(event) => setEventType(event.target.value)} placeholder="invoice.paid" />
          <datalist id="test-event-types">
            {options.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        <button type="submit" disabled={busy || !chosen}>
          Send test event
        </button>
      </form>
      <p className="muted small">Sends the event type's example payload to this endpoint only.</p>
      <ErrorBox error={error} />
      {sent ? (
        <Notice>
          Sent as <Link to={`/apps/${encodeURIComponent(appId)}/messages/${encodeURIComponent(sent)}`}>{sent}</Link>.
        </Notice>
      ) : null}
    </Section>
  );
}

function Recover({ appId, endpointId }: { appId: string; endpointId: string }) {
  const [since, setSince] = useState(() => hoursAgoLocalInput(24));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const iso = localInputToIso(since);
    if (!iso) {
      setError(new Error('Choose a start time.'));
      return;
    }
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const out = await recoverEndpoint(appId, endpointId, { since: iso });
      setNotice(
        out.recovered === 1
          ? '1 failed delivery is being restarted at the endpoint’s pace.'
          : `${out.recovered} failed deliveries are being restarted at the endpoint’s pace.`,
      );
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section id="recover" title="Recover failed since…">
      <form className="toolbar" onSubmit={submit}>
        <label>
          Since
          <input type="datetime-local" value={since} onChange={(event) => setSince(event.target.value)} required />
        </label>
        <button type="submit" disabled={busy}>
          Recover
        </button>
      </form>
      <p className="muted small">Sends every dead-lettered delivery to this endpoint created since then again, with a fresh retry schedule.</p>
      <Notice>{notice}</Notice>
      <ErrorBox error={error} />
    </Section>
  );
}

function RecentAttempts({ appId, endpointId }: { appId: string; endpointId: string }) {
  const [status, setStatus] = useState<'' | '0' | '2'>('');
  const [pager, setPager] = useState<PagerState>(firstPage);
  const now = useNow(1000);
  const cursor = currentCursor(pager);
  const attempts = useAsync(
    () => listEndpointAttempts(appId, endpointId, buildEndpointAttemptQuery(status, cursor)),
    [appId, endpointId, status, cursor],
    { pollMs: 3000 },
  );
  const base = `/apps/${encodeURIComponent(appId)}`;
  return (
    <Section
      id="attempts"
      title="Recent attempts"
      actions={
        <label>
          <span className="visually-hidden">Attempt status</span>
          <select
            value={status}
            onChange={(event) => {
              setStatus(event.target.value as '' | '0' | '2');
              setPager(firstPage);
            }}
          >
            <option value="">All attempts</option>
            <option value="0">Succeeded</option>
            <option value="2">Failed</option>
          </select>
        </label>
      }
    >
      <ErrorBox error={attempts.error} onRetry={attempts.reload} />
      {attempts.loading && !attempts.data ? <Loading /> : null}
      {attempts.data && attempts.data.data.length === 0 ? <p className="muted">No attempts yet.</p> : null}
      {attempts.data && attempts.data.data.length > 0 ? (
        <div className="table-wrap">
          <table className="table" aria-label="Attempts">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Message</th>
                <th scope="col">Result</th>
                <th scope="col">Response</th>
                <th scope="col">Duration</th>
                <th scope="col">Trigger</th>
                <th scope="col">Next retry</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {attempts.data.data.map((attempt) => (
                <tr key={attempt.id} data-attempt-id={attempt.id} data-msg-id={attempt.msgId}>
                  <td data-label="Time">{formatTimestamp(attempt.timestamp)}</td>
                  <td data-label="Message">
                    <Link to={`${base}/messages/${encodeURIComponent(attempt.msgId)}`}>
                      <Mono>{attempt.msgId}</Mono>
                    </Link>
                  </td>
                  <td data-label="Result">
                    <Badge label={messageStatus(attempt.status)} /> <span className="muted small">{outcomeLabel(attempt.outcome)}</span>
                  </td>
                  <td data-label="Response">
                    <Badge label={httpStatus(attempt.responseStatusCode)} />
                  </td>
                  <td data-label="Duration">{formatDuration(attempt.responseDurationMs)}</td>
                  <td data-label="Trigger">
                    {triggerType(attempt.triggerType)} #{attempt.attemptNumber}
                  </td>
                  <td data-label="Next retry">{attempt.nextAttempt ? formatNextRetry(attempt.nextAttempt, now) : '—'}</td>
                  <td data-label="Replay">
                    <ReplayAttempt appId={appId} endpointId={endpointId} msgId={attempt.msgId} attemptNumber={attempt.attemptNumber} onReplayed={attempts.reload} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager
        page={pageNumber(pager)}
        canBack={canGoBack(pager)}
        canForward={canGoForward(attempts.data)}
        onBack={() => setPager(previousPage(pager))}
        onForward={() => attempts.data && setPager(nextPage(pager, attempts.data))}
      />
    </Section>
  );
}

/**
 * Replays an attempt: sends its message to this endpoint again now, as a manual
 * attempt (the API resends a message to an endpoint; an attempt names both).
 */
function ReplayAttempt({
  appId,
  endpointId,
  msgId,
  attemptNumber,
  onReplayed,
}: {
  appId: string;
  endpointId: string;
  msgId: string;
  attemptNumber: number;
  onReplayed: () => void;
}) {
  const [state, setState] = useState<'idle' | 'busy' | 'queued'>('idle');
  const [error, setError] = useState<unknown>(null);
  const replay = async () => {
    setState('busy');
    setError(null);
    try {
      await resendMessage(appId, msgId, endpointId);
      setState('queued');
      onReplayed();
    } catch (failure) {
      setError(failure);
      setState('idle');
    }
  };
  return (
    <>
      <button type="button" className="button-small" onClick={replay} disabled={state === 'busy'} aria-label={`Replay attempt #${attemptNumber} of ${msgId}`}>
        Replay
      </button>
      {state === 'queued' ? <span className="muted small"> queued</span> : null}
      <ErrorBox error={error} />
    </>
  );
}
