import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { createEndpoint, getApplication, getEndpoint, listAllEventTypes, patchEndpoint } from '../api/queries';
import { createBody, emptyEndpointForm, formFromEndpoint, patchBody, validateEndpointForm, type EndpointFormState } from '../lib/endpointForm';
import { splitList } from '../lib/format';
import { useAsync, useTitle } from '../lib/hooks';
import { Breadcrumbs } from '../components/Breadcrumbs';
import { ErrorBox, Loading } from '../components/ui';

/** Creates an endpoint (`/endpoints/new`) or edits one (`/endpoints/:id/edit`). */
export function EndpointFormPage() {
  const { appId = '', endpointId } = useParams();
  const editing = !!endpointId;
  useTitle(editing ? 'Edit endpoint' : 'Add endpoint');
  const navigate = useNavigate();
  const app = useAsync(() => getApplication(appId), [appId]);
  const existing = useAsync(() => getEndpoint(appId, endpointId ?? ''), [appId, endpointId], { enabled: editing });
  const eventTypes = useAsync(() => listAllEventTypes(), []);
  const [form, setForm] = useState<EndpointFormState>(emptyEndpointForm);
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const base = `/apps/${encodeURIComponent(appId)}`;

  useEffect(() => {
    if (existing.data) setForm(formFromEndpoint(existing.data));
  }, [existing.data]);

  const problems = validateEndpointForm(form);
  const set = <K extends keyof EndpointFormState>(field: K, value: EndpointFormState[K]) => setForm((current) => ({ ...current, [field]: value }));
  const chosenTypes = new Set(splitList(form.eventTypes));
  const toggleType = (name: string) => {
    const next = new Set(chosenTypes);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    set('eventTypes', [...next].join(', '));
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (Object.keys(problems).length > 0) return;
    setBusy(true);
    setError(null);
    try {
      const saved = editing
        ? await patchEndpoint(appId, endpointId!, patchBody(form, formFromEndpoint(existing.data!)))
        : await createEndpoint(appId, createBody(form));
      navigate(`${base}/endpoints/${encodeURIComponent(saved.id)}`, { replace: editing });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  if (editing && existing.error) return <ErrorBox error={existing.error} onRetry={existing.reload} />;
  if (editing && !existing.data) return <Loading />;
  const show = (field: keyof EndpointFormState) => (touched ? problems[field] : undefined);

  return (
    <>
      <Breadcrumbs
        appId={appId}
        appName={app.data?.name}
        trail={editing ? [['Endpoint', `${base}/endpoints/${encodeURIComponent(endpointId!)}`], ['Edit', null]] : [['Add endpoint', null]]}
      />
      <h1>{editing ? 'Edit endpoint' : 'Add endpoint'}</h1>
      <form className="card form" onSubmit={submit} noValidate>
        <Field id="ep-url" label="URL" error={show('url')}>
          <input id="ep-url" name="url" type="url" inputMode="url" required value={form.url} onChange={(e) => set('url', e.target.value)} placeholder="https://example.com/webhooks" />
        </Field>
        <Field id="ep-description" label="Description">
          <input id="ep-description" name="description" value={form.description} onChange={(e) => set('description', e.target.value)} />
        </Field>
        <Field id="ep-event-types" label="Event types" hint="Comma-separated; blank receives every event type.">
          <input id="ep-event-types" name="eventTypes" value={form.eventTypes} onChange={(e) => set('eventTypes', e.target.value)} />
        </Field>
        {eventTypes.data && eventTypes.data.length > 0 ? (
          <fieldset className="chips">
            <legend className="small muted">Pick from the event types</legend>
            {eventTypes.data.map((et) => (
              <label key={et.name} className="chip">
                <input type="checkbox" checked={chosenTypes.has(et.name)} onChange={() => toggleType(et.name)} /> {et.name}
              </label>
            ))}
          </fieldset>
        ) : null}
        <Field id="ep-channels" label="Channels" hint="Comma-separated; blank ignores channels.">
          <input id="ep-channels" name="channels" value={form.channels} onChange={(e) => set('channels', e.target.value)} />
        </Field>
        <Field id="ep-rate" label="Rate limit (messages per second)" error={show('rateLimit')} hint="Blank for no limit.">
          <input id="ep-rate" name="rateLimit" inputMode="numeric" value={form.rateLimit} onChange={(e) => set('rateLimit', e.target.value)} />
        </Field>
        <div className="field">
          <label className="checkbox">
            <input type="checkbox" name="ordered" aria-describedby="ep-ordered-hint" checked={form.ordered} onChange={(e) => set('ordered', e.target.checked)} />{' '}
            Ordered delivery
          </label>
          <span id="ep-ordered-hint" className="muted small">
            Messages with the same ordering key arrive one after another; the next waits until the one before succeeded or was dead-lettered.
          </span>
        </div>
        <div className="field">
          <label className="checkbox">
            <input
              type="checkbox"
              name="autoRedrive"
              aria-describedby="ep-redrive-hint"
              checked={form.autoRedrive}
              onChange={(e) => set('autoRedrive', e.target.checked)}
            />{' '}
            Automatic redrive
          </label>
          <span id="ep-redrive-hint" className="muted small">
            When the endpoint comes back after an outage (or is enabled again), what was dead-lettered meanwhile, and what it missed while disabled, is sent again at its pace.
          </span>
        </div>
        <Field id="ep-uid" label="uid (optional)">
          <input id="ep-uid" name="uid" value={form.uid} onChange={(e) => set('uid', e.target.value)} />
        </Field>
        {!editing ? (
          <Field id="ep-secret" label="Signing secret (optional)" error={show('secret')} hint="Blank lets Herald generate one.">
            <input id="ep-secret" name="secret" autoComplete="off" value={form.secret} onChange={(e) => set('secret', e.target.value)} placeholder="whsec_…" />
          </Field>
        ) : null}
        <label className="checkbox">
          <input type="checkbox" checked={form.disabled} onChange={(e) => set('disabled', e.target.checked)} /> Disabled
        </label>
        <ErrorBox error={error} />
        <div className="actions-line">
          <button type="submit" className="button-primary" disabled={busy}>
            {editing ? 'Save' : 'Create endpoint'}
          </button>
          <Link className="button" to={editing ? `${base}/endpoints/${encodeURIComponent(endpointId!)}` : base}>
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}

function Field({ id, label, hint, error, children }: { id: string; label: string; hint?: string; error?: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? <span className="muted small">{hint}</span> : null}
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </div>
  );
}
