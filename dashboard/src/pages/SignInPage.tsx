import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api, unwrap } from '../api/client';
import { ApiError } from '../api/errors';
import { useTitle } from '../lib/hooks';
import { normalizeApiKey, OPERATOR_HOME } from '../lib/session';
import { parsePortalHash } from '../lib/portalHash';
import { useSession } from '../session';
import { ErrorBox } from '../components/ui';

const REASONS: Record<string, string> = {
  expired: 'Your API key was refused (revoked or mistyped). Sign in again.',
  'portal-expired': 'This portal link has expired or was revoked. Ask the service that sent it for a new link.',
  'portal-signed-out': 'You left the portal. Open your portal link again to come back.',
  'signed-out': 'You signed out.',
};

/** Operators sign in with a tenant API key; customers arrive by portal link instead. */
export function SignInPage() {
  useTitle('Sign in');
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const reason = REASONS[params.get('reason') ?? ''];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const apiKey = normalizeApiKey(key);
    // A pasted portal link goes to the portal instead.
    const hashAt = apiKey.indexOf('#');
    if (hashAt >= 0 && parsePortalHash(apiKey.slice(hashAt))) {
      navigate(`/portal${apiKey.slice(hashAt)}`);
      return;
    }
    if (apiKey === '') {
      setError(new Error('Paste a tenant API key (it starts with sk_).'));
      return;
    }
    setBusy(true);
    try {
      // Listing one application checks the key: a portal token gets 403 here.
      await unwrap(api.GET('/api/v1/app', { params: { query: { limit: 1 } }, headers: { Authorization: `Bearer ${apiKey}` } }));
      signIn({ kind: 'operator', apiKey });
      const next = params.get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : OPERATOR_HOME, { replace: true });
    } catch (failure) {
      if (failure instanceof ApiError && failure.isForbidden) {
        setError(new Error('This is a portal token, not an API key. Open the portal link instead.'));
      } else if (failure instanceof ApiError && failure.isUnauthorized) {
        setError(new Error('Herald did not accept this API key.'));
      } else {
        setError(failure);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="signin">
      <form className="card signin-card" onSubmit={submit}>
        <h1>Herald</h1>
        {reason ? <p className="notice notice-fail">{reason}</p> : null}
        <label htmlFor="api-key">Tenant API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="sk_…"
          value={key}
          onChange={(event) => setKey(event.target.value)}
          autoFocus
        />
        <p className="muted small">
          The key stays in this tab only (session storage) and is sent to this Herald as a bearer token.
        </p>
        <ErrorBox error={error} />
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="muted small">Customers: open the portal link you were given; it signs you in to your webhooks.</p>
      </form>
    </main>
  );
}
