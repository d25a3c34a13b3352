import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { createPoller, listPollers } from '../api/queries';
import { useAsync } from '../lib/hooks';
import { splitNames } from '../lib/names';
import { canGoBack, canGoForward, currentCursor, firstPage, nextPage, pageNumber, previousPage, type PagerState } from '../lib/paging';
import { Badge, ErrorBox, Loading, Mono, Pager, Section } from './ui';

/**
 * The application's polling endpoints: pull views of its messages that a consumer
 * reads when push does not suit it (behind a firewall, catching up after an outage).
 */
export function PollerList({ appId }: { appId: string }) {
  const [pager, setPager] = useState<PagerState>(firstPage);
  const cursor = currentCursor(pager);
  const list = useAsync(() => listPollers(appId, { limit: 50, ...(cursor ? { iterator: cursor } : {}) }), [appId, cursor]);
  const [description, setDescription] = useState('');
  const [eventTypes, setEventTypes] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const base = `/apps/${encodeURIComponent(appId)}`;

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await createPoller(appId, { description, eventTypes: splitNames(eventTypes) });
      setDescription('');
      setEventTypes('');
      setPager(firstPage);
      list.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section id="pollers" title="Polling endpoints">
      <p className="muted small">
        A consumer that cannot receive webhooks, or missed some, reads the same messages here, from where it left off.
      </p>
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.data.length === 0 ? <p className="muted small">No polling endpoints.</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <ul className="rows" aria-label="Polling endpoints">
          {list.data.data.map((poller) => (
            <li key={poller.id} className="row">
              <div className="row-main">
                <Link to={`${base}/pollers/${encodeURIComponent(poller.id)}`}>{poller.description || poller.id}</Link>
                <div className="muted small">
                  <Mono>{poller.id}</Mono>
                </div>
              </div>
              <div className="row-side">
                <Badge label={poller.disabled ? { text: 'Disabled', tone: 'fail' } : { text: 'Enabled', tone: 'ok' }} />
                <span className="muted small">{poller.eventTypes?.length ? poller.eventTypes.join(', ') : 'all event types'}</span>
              </div>
            </li>
          ))}
        </ul>
      ) : null}
      <Pager
        page={pageNumber(pager)}
        canBack={canGoBack(pager)}
        canForward={canGoForward(list.data)}
        onBack={() => setPager(previousPage(pager))}
        onForward={() => list.data && setPager(nextPage(pager, list.data))}
      />
      <form className="toolbar" onSubmit={create} aria-label="New polling endpoint">
        <label>
          Description
          <input value={description} onChange={(event) => setDescription(event.target.value)} placeholder="Nightly import" />
        </label>
        <label>
          Event types (comma-separated, empty for all)
          <input value={eventTypes} onChange={(event) => setEventTypes(event.target.value)} placeholder="invoice.paid" />
        </label>
        <button type="submit" disabled={busy}>
          Add polling endpoint
        </button>
      </form>
      <ErrorBox error={error} />
    </Section>
  );
}
