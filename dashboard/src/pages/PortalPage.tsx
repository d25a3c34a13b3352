import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { parsePortalHash } from '../lib/portalHash';
import { useTitle } from '../lib/hooks';
import { useSession } from '../session';

/**
 * `/portal#token=…&app=…`: keeps the token in session storage, removes it from the
 * address bar and history, and opens the one application it is for.
 */
export function PortalPage() {
  useTitle('Customer portal');
  const { session, signIn } = useSession();
  const navigate = useNavigate();
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const link = parsePortalHash(window.location.hash);
    if (link && link.appId) {
      signIn({ kind: 'portal', token: link.token, appId: link.appId });
      navigate(`/apps/${encodeURIComponent(link.appId)}`, { replace: true });
      return;
    }
    if (link && !link.appId) {
      setProblem('This portal link is incomplete: it has a token but does not say which application it is for.');
      return;
    }
    if (session?.kind === 'portal') {
      navigate(`/apps/${encodeURIComponent(session.appId)}`, { replace: true });
      return;
    }
    setProblem('This address needs the full portal link, including the part after “#”.');
    // Runs once per visit: the hash is consumed on the first run.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return (
    <main id="main" className="signin">
      <div className="card signin-card">
        <h1>Customer portal</h1>
        {problem ? (
          <>
            <p role="alert">{problem}</p>
            <p className="muted">Ask the service that sent you the link for a new one.</p>
            <p>
              <Link to="/signin">Operator sign-in</Link>
            </p>
          </>
        ) : (
          <p role="status">Opening…</p>
        )}
      </div>
    </main>
  );
}
