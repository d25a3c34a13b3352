import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { createPortalAccess, getApplication, listEndpoints } from '../api/queries';
import { formatRelative, formatTimestamp } from '../lib/format';
import { useAsync, useNow, useTitle } from '../lib/hooks';
import { canGoBack, canGoForward, currentCursor, firstPage, nextPage, pageNumber, previousPage, type PagerState } from '../lib/paging';
import { useSession } from '../session';
import { Badge, CopyButton, ErrorBox, Facts, Loading, Mono, Pager, Section } from '../components/ui';
import { MessageLog } from '../components/MessageLog';
import { Breadcrumbs } from '../components/Breadcrumbs';
import { PollerList } from '../components/PollerList';

/** One application: its endpoints, its live message log and its polling endpoints. */
export function ApplicationPage() {
  const { appId = '' } = useParams();
  const { session } = useSession();
  const app = useAsync(() => getApplication(appId), [appId]);
  useTitle(app.data?.name ?? 'Application');

  if (app.error) {
    return (
      <>
        <Breadcrumbs appId={appId} />
        <h1>Application</h1>
        <ErrorBox error={app.error} onRetry={app.reload} />
      </>
    );
  }
  if (!app.data) return <Loading />;
  const base = `/apps/${encodeURIComponent(appId)}`;

  return (
    <>
      <Breadcrumbs appId={appId} appName={app.data.name} />
      <div className="page-head">
        <h1>{app.data.name}</h1>
        <div className="page-actions">
          <Link className="button" to={`${base}/dead-letter`}>
            Dead-letter queue
          </Link>
        </div>
      </div>
      <Facts
        items={[
          ['id', <Mono key="id">{app.data.id}</Mono>],
          ['uid', app.data.uid ? <Mono key="uid">{app.data.uid}</Mono> : '—'],
          ['Created', formatTimestamp(app.data.createdAt)],
        ]}
      />
      {session?.kind === 'operator' ? <PortalLink appId={app.data.id} /> : null}
      <EndpointList appId={appId} />
      <MessageLog appId={appId} />
      <PollerList appId={appId} />
    </>
  );
}

function EndpointList({ appId }: { appId: string }) {
  const [pager, setPager] = useState<PagerState>(firstPage);
  const cursor = currentCursor(pager);
  const list = useAsync(() => listEndpoints(appId, { limit: 50, ...(cursor ? { iterator: cursor } : {}) }), [appId, cursor]);
  const base = `/apps/${encodeURIComponent(appId)}`;

  return (
    <Section
      id="endpoints"
      title="Endpoints"
      actions={
        <Link className="button button-primary" to={`${base}/endpoints/new`}>
          Add endpoint
        </Link>
      }
    >
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.data.length === 0 ? <p className="muted">No endpoints yet. Add one to start receiving webhooks.</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <ul className="rows">
          {list.data.data.map((endpoint) => (
            <li key={endpoint.id} className="row">
              <div className="row-main">
                <Link to={`${base}/endpoints/${encodeURIComponent(endpoint.id)}`} className="url">
                  {endpoint.url}
                </Link>
                {endpoint.description ? <div className="muted small">{endpoint.description}</div> : null}
              </div>
              <div className="row-side">
                <Badge label={endpoint.disabled ? { text: 'Disabled', tone: 'fail' } : { text: 'Enabled', tone: 'ok' }} />
                <span className="muted small">
                  {(endpoint.filterTypes ?? endpoint.eventTypes)?.length ? (endpoint.filterTypes ?? endpoint.eventTypes)!.join(', ') : 'all event types'}
                </span>
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
    </Section>
  );
}

/** Operators hand customers a portal link scoped to this application. */
function PortalLink({ appId }: { appId: string }) {
  const [access, setAccess] = useState<{ url: string; expiresAt: string } | null>(null);
  const [readOnly, setReadOnly] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Minutes are enough for "expires in 59 min".
  const now = useNow(15_000);
  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      const created = await createPortalAccess(appId, { readOnly });
      setAccess({ url: created.url, expiresAt: created.expiresAt });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="card disclosure">
      <summary>Customer portal link</summary>
      <p className="muted small">
        A link that signs your customer in to this application only, for one hour from when it is made. Anyone with the link has that access.
      </p>
      <div className="toolbar">
        <label className="checkbox">
          <input type="checkbox" checked={readOnly} onChange={(event) => setReadOnly(event.target.checked)} /> Read-only
        </label>
        <button type="button" onClick={create} disabled={busy}>
          Create link
        </button>
      </div>
      <ErrorBox error={error} />
      {access ? (
        <>
          <div className="secret-line">
            <Mono>{access.url}</Mono> <CopyButton text={access.url} />
          </div>
          <p className="small">
            {Date.parse(access.expiresAt) > now ? 'Expires' : 'Expired'} <time dateTime={access.expiresAt}>{formatTimestamp(access.expiresAt)}</time>{' '}
            <span className="muted">({formatRelative(access.expiresAt, now)})</span>
          </p>
        </>
      ) : null}
    </details>
  );
}
