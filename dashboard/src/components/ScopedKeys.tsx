import { useState } from 'react';
import type { ScopedKeyCalls } from '../api/queries';
import { formatTimestamp } from '../lib/format';
import { useAsync } from '../lib/hooks';
import { CopyButton, ErrorBox, Loading, Mono, Notice } from './ui';

/**
 * The keys of one polling endpoint or one webhook endpoint: each reaches that one
 * endpoint and nothing else. A new key is shown once, here, right after it is made.
 */
export function ScopedKeys({ calls, deps, purpose }: { calls: ScopedKeyCalls; deps: unknown[]; purpose: string }) {
  const keys = useAsync(() => calls.list(), deps);
  const [created, setCreated] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const act = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await work();
      keys.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const create = () =>
    act(async () => {
      const out = await calls.create();
      setCreated(out.key ?? null);
    });
  const revoke = (keyId: string) => {
    if (!window.confirm(`Revoke the key ${keyId}? Whatever uses it is refused at once.`)) return;
    return act(async () => {
      await calls.revoke(keyId);
      setCreated(null);
      setNotice(`Key ${keyId} revoked.`);
    });
  };

  return (
    <div className="scoped-keys">
      <h3>Keys</h3>
      <p className="muted small">{purpose}</p>
      {keys.loading && !keys.data ? <Loading /> : null}
      {keys.data && keys.data.length === 0 ? <p className="muted small">No keys.</p> : null}
      {keys.data && keys.data.length > 0 ? (
        <ul className="rows" aria-label="Keys">
          {keys.data.map((key) => (
            <li key={key.id} className="row">
              <div className="row-main">
                <Mono>{key.id}</Mono>
                <div className="muted small">created {formatTimestamp(key.createdAt)}</div>
              </div>
              <div className="row-side">
                <button type="button" className="button-small button-danger" disabled={busy} onClick={() => revoke(key.id)} aria-label={`Revoke ${key.id}`}>
                  Revoke
                </button>
              </div>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="toolbar">
        <button type="button" onClick={create} disabled={busy}>
          Create key
        </button>
      </div>
      {created ? (
        <div className="new-key" role="status">
          <p className="small">Copy this key now: it is not shown again.</p>
          <div className="secret-line">
            <Mono>{created}</Mono> <CopyButton text={created} />
          </div>
        </div>
      ) : null}
      <Notice>{notice}</Notice>
      <ErrorBox error={error ?? keys.error} />
    </div>
  );
}
