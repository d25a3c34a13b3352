import { useEffect, useState, type FormEvent } from 'react';
import { getEndpointHeaders, patchEndpointHeaders, putEndpointHeaders } from '../api/queries';
import { planHeaderSave, rowsFromHeaders, validateHeaderRows, type HeaderRow } from '../lib/headers';
import { useAsync } from '../lib/hooks';
import { ErrorBox, Loading, Notice, Section } from './ui';

/** Custom headers sent with every delivery to the endpoint. */
export function HeadersEditor({ appId, endpointId }: { appId: string; endpointId: string }) {
  const current = useAsync(() => getEndpointHeaders(appId, endpointId), [appId, endpointId]);
  const [rows, setRows] = useState<HeaderRow[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (current.data) setRows(rowsFromHeaders(current.data.headers, current.data.sensitive));
  }, [current.data]);

  const update = (index: number, patch: Partial<HeaderRow>) => {
    setSaved(false);
    setRows((list) => list.map((row, i) => (i === index ? { ...row, ...patch } : row)));
  };
  const problems = validateHeaderRows(rows);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!current.data || problems.length > 0) return;
    setBusy(true);
    setError(null);
    try {
      const plan = planHeaderSave(current.data.headers, current.data.sensitive, rows);
      if (plan.method === 'put') await putEndpointHeaders(appId, endpointId, plan.headers);
      else await patchEndpointHeaders(appId, endpointId, plan.headers);
      setSaved(true);
      current.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section id="headers" title="Custom headers">
      <ErrorBox error={current.error} onRetry={current.reload} />
      {!current.data && !current.error ? <Loading /> : null}
      {current.data ? (
        <form onSubmit={save}>
          {rows.length === 0 ? <p className="muted">No custom headers.</p> : null}
          <ul className="header-rows">
            {rows.map((row, index) => (
              <li key={index} className="header-row">
                <label>
                  <span className="visually-hidden">Header name {index + 1}</span>
                  <input placeholder="X-Header-Name" value={row.name} onChange={(event) => update(index, { name: event.target.value })} />
                </label>
                <label>
                  <span className="visually-hidden">Header value {index + 1}</span>
                  <input
                    placeholder={row.sensitive ? 'hidden — leave blank to keep' : 'value'}
                    value={row.value}
                    onChange={(event) => update(index, { value: event.target.value })}
                  />
                </label>
                <button type="button" className="button-small" onClick={() => setRows((list) => list.filter((_, i) => i !== index))}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
          {problems.length > 0 ? (
            <ul className="problems" role="alert">
              {problems.map((problem) => (
                <li key={problem}>{problem}</li>
              ))}
            </ul>
          ) : null}
          <div className="actions-line">
            <button type="button" onClick={() => setRows((list) => [...list, { name: '', value: '', sensitive: false }])}>
              Add header
            </button>
            <button type="submit" className="button-primary" disabled={busy || problems.length > 0}>
              Save headers
            </button>
          </div>
          {saved ? <Notice>Headers saved.</Notice> : null}
          <ErrorBox error={error} />
        </form>
      ) : null}
    </Section>
  );
}
