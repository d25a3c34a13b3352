import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { createApplication, listApplications } from '../api/queries';
import { APP_SEARCH_DEBOUNCE_MS, APP_SEARCH_MAX_LENGTH, appSearchFromParams, appSearchToParams, buildApplicationListQuery, normalizeAppSearch } from '../lib/appSearch';
import { formatTimestamp } from '../lib/format';
import { useAsync, useDebouncedValue, useTitle } from '../lib/hooks';
import { canGoBack, canGoForward, currentCursor, firstPage, nextPage, pageNumber, previousPage, type PagerState } from '../lib/paging';
import { ErrorBox, Loading, Mono, Pager, Section } from '../components/ui';

/**
 * The tenant's applications: paged, and searched by Herald (name or uid containing
 * the text, or the id) as one types, with the search kept in the address bar as `?q=`.
 * Operators only: a portal session is sent to its own application before this loads.
 */
export function ApplicationsPage() {
  useTitle('Applications');
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const applied = appSearchFromParams(params);
  const [typed, setTyped] = useState(applied);
  const settled = useDebouncedValue(typed, APP_SEARCH_DEBOUNCE_MS);
  // The pages visited belong to one search; another search starts on its first page.
  const [paging, setPaging] = useState<{ search: string; pager: PagerState }>({ search: applied, pager: firstPage });
  const pager = paging.search === applied ? paging.pager : firstPage;
  const setPager = (next: PagerState) => setPaging({ search: applied, pager: next });

  // Read by the effect below without re-running it when the address changes
  // (react-router makes a new `setParams` whenever the query string changes): it
  // must run only when the typing settles, or Back would be undone by a stale search.
  const latest = useRef({ applied, setParams });
  latest.current = { applied, setParams };

  // Typing settles into the address bar (replacing the entry, so Back leaves the screen).
  useEffect(() => {
    if (normalizeAppSearch(settled) === latest.current.applied) return;
    latest.current.setParams((current) => appSearchToParams(settled, current), { replace: true });
  }, [settled]);

  // The address changed some other way (Back, a link to /apps): the box follows it.
  useEffect(() => {
    setTyped((current) => (normalizeAppSearch(current) === applied ? current : applied));
  }, [applied]);

  const cursor = currentCursor(pager);
  const list = useAsync(() => listApplications(buildApplicationListQuery(applied, cursor)), [applied, cursor]);

  // Enter searches at once instead of waiting for the pause.
  const searchNow = (event: FormEvent) => {
    event.preventDefault();
    if (normalizeAppSearch(typed) !== applied) setParams((current) => appSearchToParams(typed, current), { replace: true });
  };

  const apps = list.data?.data ?? [];
  return (
    <>
      <h1>Applications</h1>
      <Section
        title="Your customers' applications"
        actions={<CreateApplication onCreated={(id) => navigate(`/apps/${encodeURIComponent(id)}`)} />}
      >
        <form className="toolbar" onSubmit={searchNow} role="search">
          <label htmlFor="app-search" className="visually-hidden">
            Search applications
          </label>
          <input
            id="app-search"
            type="search"
            placeholder="Search by name, uid or id"
            maxLength={APP_SEARCH_MAX_LENGTH}
            value={typed}
            onChange={(event) => setTyped(event.target.value)}
            aria-describedby="app-search-hint"
          />
        </form>
        <p id="app-search-hint" className="muted small">
          Every application whose name or uid contains the text (ignoring case), or whose id it is.
        </p>
        <ErrorBox error={list.error} onRetry={list.reload} />
        {list.loading && !list.data ? <Loading /> : null}
        {list.data ? (
          apps.length === 0 ? (
            <p className="muted">{applied ? `No application's name, uid or id matches “${applied}”.` : 'No applications yet.'}</p>
          ) : (
            <div className="table-wrap">
              <table className="table" aria-label="Applications">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">uid</th>
                    <th scope="col">id</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {apps.map((app) => (
                    <tr key={app.id} data-app-id={app.id}>
                      <td data-label="Name">
                        <Link to={`/apps/${encodeURIComponent(app.id)}`}>{app.name}</Link>
                      </td>
                      <td data-label="uid">{app.uid ? <Mono>{app.uid}</Mono> : <span className="muted">—</span>}</td>
                      <td data-label="id">
                        <Mono>{app.id}</Mono>
                      </td>
                      <td data-label="Created">{formatTimestamp(app.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        ) : null}
        <Pager
          page={pageNumber(pager)}
          canBack={canGoBack(pager)}
          canForward={canGoForward(list.data)}
          onBack={() => setPager(previousPage(pager))}
          onForward={() => list.data && setPager(nextPage(pager, list.data))}
        />
      </Section>
    </>
  );
}

function CreateApplication({ onCreated }: { onCreated: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [uid, setUid] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        New application
      </button>
    );
  }
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const app = await createApplication({ name: name.trim(), uid: uid.trim() || null });
      onCreated(app.id);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <label>
        Name
        <input required value={name} onChange={(event) => setName(event.target.value)} />
      </label>
      <label>
        uid (optional)
        <input value={uid} onChange={(event) => setUid(event.target.value)} />
      </label>
      <button type="submit" className="button-primary" disabled={busy || name.trim() === ''}>
        Create
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorBox error={error} />
    </form>
  );
}
