import { useMemo, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { createApplication, getApplication, listApplications } from '../api/queries';
import { ApiError } from '../api/errors';
import { formatTimestamp } from '../lib/format';
import { useAsync, useTitle } from '../lib/hooks';
import { canGoBack, canGoForward, currentCursor, firstPage, nextPage, pageNumber, previousPage, type PagerState } from '../lib/paging';
import { ErrorBox, Loading, Mono, Pager, Section } from '../components/ui';

/** The tenant's applications: paged, filtered on the page, and looked up by id or uid. */
export function ApplicationsPage() {
  useTitle('Applications');
  const navigate = useNavigate();
  const [pager, setPager] = useState<PagerState>(firstPage);
  const [search, setSearch] = useState('');
  const [lookupError, setLookupError] = useState<unknown>(null);
  const [looking, setLooking] = useState(false);
  const cursor = currentCursor(pager);
  const list = useAsync(() => listApplications({ limit: 50, ...(cursor ? { iterator: cursor } : {}) }), [cursor]);

  const needle = search.trim().toLowerCase();
  const shown = useMemo(() => {
    const apps = list.data?.data ?? [];
    if (needle === '') return apps;
    return apps.filter((app) => [app.name, app.uid ?? '', app.id].some((field) => field.toLowerCase().includes(needle)));
  }, [list.data, needle]);

  const lookUp = async (event: FormEvent) => {
    event.preventDefault();
    const id = search.trim();
    if (id === '') return;
    setLookupError(null);
    setLooking(true);
    try {
      const app = await getApplication(id);
      navigate(`/apps/${encodeURIComponent(app.id)}`);
    } catch (error) {
      setLookupError(error instanceof ApiError && error.isNotFound ? new Error(`No application has the id or uid “${id}”.`) : error);
    } finally {
      setLooking(false);
    }
  };

  return (
    <>
      <h1>Applications</h1>
      <Section
        title="Your customers' applications"
        actions={<CreateApplication onCreated={(id) => navigate(`/apps/${encodeURIComponent(id)}`)} />}
      >
        <form className="toolbar" onSubmit={lookUp} role="search">
          <label htmlFor="app-search" className="visually-hidden">
            Search applications
          </label>
          <input
            id="app-search"
            type="search"
            placeholder="Filter by name, uid or id"
            value={search}
            onChange={(event) => {
              setSearch(event.target.value);
              setLookupError(null);
            }}
          />
          <button type="submit" disabled={looking || needle === ''}>
            Open by id or uid
          </button>
        </form>
        <p className="muted small">The filter applies to the page shown; “Open by id or uid” asks Herald for an exact match.</p>
        <ErrorBox error={lookupError} />
        <ErrorBox error={list.error} onRetry={list.reload} />
        {list.loading && !list.data ? <Loading /> : null}
        {list.data ? (
          shown.length === 0 ? (
            <p className="muted">{needle ? 'No application on this page matches.' : 'No applications yet.'}</p>
          ) : (
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">uid</th>
                    <th scope="col">id</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((app) => (
                    <tr key={app.id}>
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
