import { useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { deletePoller, getApplication, getPoller, patchPoller, pollerKeys } from '../api/queries';
import { formatTimestamp } from '../lib/format';
import { useAsync, useTitle } from '../lib/hooks';
import { Badge, CodeBlock, ErrorBox, Facts, Loading, Mono, Section } from '../components/ui';
import { Breadcrumbs } from '../components/Breadcrumbs';
import { ScopedKeys } from '../components/ScopedKeys';

/** One polling endpoint: what it shows, how to read it, and its keys. */
export function PollerPage() {
  const { appId = '', pollerId = '' } = useParams();
  const navigate = useNavigate();
  const app = useAsync(() => getApplication(appId), [appId]);
  const poller = useAsync(() => getPoller(appId, pollerId), [appId, pollerId]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useTitle(poller.data ? `Polling endpoint ${poller.data.description || poller.data.id}` : 'Polling endpoint');
  const trail: [string, string | null][] = [['Polling endpoint', null]];
  const base = `/apps/${encodeURIComponent(appId)}`;

  if (poller.error) {
    return (
      <>
        <Breadcrumbs appId={appId} appName={app.data?.name} trail={trail} />
        <h1>Polling endpoint</h1>
        <ErrorBox error={poller.error} onRetry={poller.reload} />
      </>
    );
  }
  if (!poller.data) return <Loading />;
  const p = poller.data;

  const act = async (work: () => Promise<unknown>, then: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await work();
      then();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const toggle = () => act(() => patchPoller(appId, p.id, { disabled: !p.disabled }), poller.reload);
  const remove = () => {
    if (!window.confirm(`Delete the polling endpoint ${p.description || p.id}? Its consumers' positions and its keys go with it.`)) return;
    return act(() => deletePoller(appId, p.id), () => navigate(`${base}#pollers`, { replace: true }));
  };
  const origin = window.location.origin;
  const read = `curl -H "Authorization: Bearer $KEY" \\\n  "${origin}/api/v1/app/${appId}/poller/${p.id}/consumer/my-consumer?wait=25"`;

  return (
    <>
      <Breadcrumbs appId={appId} appName={app.data?.name} trail={trail} />
      <div className="page-head">
        <h1>{p.description || 'Polling endpoint'}</h1>
        <Badge label={p.disabled ? { text: 'Disabled', tone: 'fail' } : { text: 'Enabled', tone: 'ok' }} />
      </div>
      <div className="actions-line">
        <button type="button" onClick={toggle} disabled={busy}>
          {p.disabled ? 'Enable' : 'Disable'}
        </button>
        <button type="button" className="button-danger" onClick={remove} disabled={busy}>
          Delete
        </button>
        <ErrorBox error={error} />
      </div>
      <Facts
        items={[
          ['id', <Mono key="id">{p.id}</Mono>],
          ['uid', p.uid ? <Mono key="uid">{p.uid}</Mono> : '—'],
          ['Event types', p.eventTypes?.length ? p.eventTypes.join(', ') : 'All event types'],
          ['Channels', p.channels?.length ? p.channels.join(', ') : 'Any channel'],
          ['Created', formatTimestamp(p.createdAt)],
          ['Updated', formatTimestamp(p.updatedAt)],
        ]}
      />
      <Section id="reading" title="Reading it">
        <p className="muted small">
          A consumer names itself (here <Mono>my-consumer</Mono>); Herald keeps its place, and each read that sends the previous answer&apos;s{' '}
          <Mono>iterator</Mono> back commits it. <Mono>wait</Mono> long-polls: the answer comes as soon as a message arrives. The official Svix
          SDKs&apos; <Mono>message.poller</Mono> calls work unchanged.
        </p>
        <CodeBlock label="Reading with curl">{read}</CodeBlock>
        <ScopedKeys
          calls={pollerKeys(appId, p.id)}
          deps={[appId, p.id]}
          purpose="A poller key (sk_poll_…) reads this polling endpoint and nothing else: give it to the consumer instead of an API key."
        />
      </Section>
    </>
  );
}
