import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { endpointKeys, listUnconfirmed, patchEndpoint } from '../api/queries';
import type { EndpointOut } from '../api/client';
import { formatDuration, formatRelative, formatTimestamp } from '../lib/format';
import { useAsync, useNow } from '../lib/hooks';
import { ErrorBox, Loading, Mono, Notice, Section } from './ui';
import { ScopedKeys } from './ScopedKeys';

/**
 * Delivery receipts: whether the endpoint's consumer is expected to confirm what it
 * processed (and within how long), what was delivered and not confirmed in time, and
 * the endpoint keys the consumer confirms and reconciles with.
 */
export function Receipts({ appId, endpoint, onChanged }: { appId: string; endpoint: EndpointOut; onChanged: () => void }) {
  const windowSecs = endpoint.receiptWindow ?? null;
  const [draft, setDraft] = useState(String(windowSecs ?? 300));
  const [within, setWithin] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const now = useNow(15_000);
  const withinSecs = within === '' ? undefined : Number(within);
  const unconfirmed = useAsync(
    () => listUnconfirmed(appId, endpoint.id, { limit: 20, ...(withinSecs !== undefined && Number.isFinite(withinSecs) ? { within: withinSecs } : {}) }),
    [appId, endpoint.id, windowSecs, within],
    { pollMs: 10_000 },
  );
  const base = `/apps/${encodeURIComponent(appId)}`;

  const save = async (receiptWindow: number | null) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await patchEndpoint(appId, endpoint.id, { receiptWindow });
      setNotice(receiptWindow === null ? 'Receipts are no longer expected.' : `Receipts expected within ${formatDuration(receiptWindow * 1000)}.`);
      onChanged();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save(Number(draft));
  };

  return (
    <Section id="receipts" title="Delivery receipts">
      <p className="muted small">
        A 2xx says the receiver took a delivery; a receipt says the consumer processed it (<Mono>POST …/endpoint/{'{id}'}/receipt</Mono> with
        the message ids).{' '}
        {windowSecs === null
          ? 'This endpoint expects no receipts.'
          : `This endpoint expects one within ${formatDuration(windowSecs * 1000)} of each delivery.`}
      </p>
      <form className="toolbar" onSubmit={submit}>
        <label>
          Receipt window (seconds)
          <input type="number" min={1} max={604800} value={draft} onChange={(event) => setDraft(event.target.value)} required />
        </label>
        <button type="submit" disabled={busy}>
          {windowSecs === null ? 'Expect receipts' : 'Save window'}
        </button>
        {windowSecs !== null ? (
          <button type="button" disabled={busy} onClick={() => save(null)}>
            Stop expecting receipts
          </button>
        ) : null}
      </form>
      <Notice>{notice}</Notice>
      <ErrorBox error={error} />

      <h3>Delivered, not confirmed</h3>
      <div className="toolbar">
        <label>
          Delivered more than (seconds) ago
          <input
            type="number"
            min={0}
            value={within}
            placeholder={windowSecs === null ? '0' : String(windowSecs)}
            onChange={(event) => setWithin(event.target.value)}
          />
        </label>
        <button type="button" onClick={unconfirmed.reload}>
          Refresh
        </button>
      </div>
      <ErrorBox error={unconfirmed.error} onRetry={unconfirmed.reload} />
      {unconfirmed.loading && !unconfirmed.data ? <Loading /> : null}
      {unconfirmed.data && unconfirmed.data.data.length === 0 ? (
        <p className="muted small" role="status">
          Nothing is waiting for a receipt.
        </p>
      ) : null}
      {unconfirmed.data && unconfirmed.data.data.length > 0 ? (
        <div className="table-wrap">
          <table className="table" aria-label="Unconfirmed deliveries">
            <thead>
              <tr>
                <th scope="col">Message</th>
                <th scope="col">Event type</th>
                <th scope="col">Delivered</th>
              </tr>
            </thead>
            <tbody>
              {unconfirmed.data.data.map((row) => (
                <tr key={row.msgId} data-msg-id={row.msgId}>
                  <td data-label="Message">
                    <Link to={`${base}/messages/${encodeURIComponent(row.msgId)}`}>
                      <Mono>{row.msgId}</Mono>
                    </Link>
                  </td>
                  <td data-label="Event type">{row.eventType ? <Mono>{row.eventType}</Mono> : '—'}</td>
                  <td data-label="Delivered">
                    <time dateTime={row.deliveredAt}>{formatTimestamp(row.deliveredAt)}</time>{' '}
                    <span className="muted small">({formatRelative(row.deliveredAt, now)})</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {!unconfirmed.data.done ? <p className="muted small">The oldest 20 are shown.</p> : null}
        </div>
      ) : null}

      <ScopedKeys
        calls={endpointKeys(appId, endpoint.id)}
        deps={[appId, endpoint.id]}
        purpose="An endpoint key (sk_ep_…) reads this endpoint's messages (for reconciliation) and sends its receipts, nothing else: give it to the consumer instead of an API key."
      />
    </Section>
  );
}
