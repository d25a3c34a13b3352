/**
 * Routes and the frame around them. Operators (tenant API key) land on the
 * Overview and get the application list; a portal session gets its one
 * application and no way to list or reach others (a hand-typed URL of another
 * application is refused by the API with `403`, which the screens show; the
 * operator-only screens send it back to its application).
 */

import { useEffect, type ReactNode } from 'react';
import { Link, Navigate, NavLink, Route, Routes, useLocation, useNavigate } from 'react-router';
import { UNAUTHORIZED_EVENT } from './api/client';
import { loadSession, OPERATOR_HOME, signInPath } from './lib/session';
import { useSession } from './session';
import { SignInPage } from './pages/SignInPage';
import { PortalPage } from './pages/PortalPage';
import { ApplicationsPage } from './pages/ApplicationsPage';
import { ApplicationPage } from './pages/ApplicationPage';
import { EndpointPage } from './pages/EndpointPage';
import { EndpointFormPage } from './pages/EndpointFormPage';
import { MessagePage } from './pages/MessagePage';
import { DeadLetterPage } from './pages/DeadLetterPage';
import { SignaturesPage } from './pages/SignaturesPage';
import { OverviewPage } from './pages/OverviewPage';
import { PollerPage } from './pages/PollerPage';

export function App() {
  const { drop } = useSession();

  useEffect(() => {
    // Dropping the session is enough: the guarded route redirects to sign-in, with
    // the reason and the page to come back to.
    const onUnauthorized = () => {
      const session = loadSession();
      if (!session) return;
      drop(session.kind === 'portal' ? 'portal-expired' : 'expired');
    };
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [drop]);

  return (
    <Routes>
      <Route path="/signin" element={<SignInPage />} />
      <Route path="/portal" element={<PortalPage />} />
      <Route path="/help/signatures" element={<Frame><SignaturesPage /></Frame>} />
      <Route path="/" element={<Home />} />
      <Route path="/overview" element={<RequireOperator><OverviewPage /></RequireOperator>} />
      <Route path="/apps" element={<RequireOperator><ApplicationsPage /></RequireOperator>} />
      <Route path="/apps/:appId" element={<RequireSession><ApplicationPage /></RequireSession>} />
      <Route path="/apps/:appId/endpoints/new" element={<RequireSession><EndpointFormPage /></RequireSession>} />
      <Route path="/apps/:appId/endpoints/:endpointId" element={<RequireSession><EndpointPage /></RequireSession>} />
      <Route path="/apps/:appId/endpoints/:endpointId/edit" element={<RequireSession><EndpointFormPage /></RequireSession>} />
      <Route path="/apps/:appId/messages/:msgId" element={<RequireSession><MessagePage /></RequireSession>} />
      <Route path="/apps/:appId/dead-letter" element={<RequireSession><DeadLetterPage /></RequireSession>} />
      <Route path="/apps/:appId/pollers/:pollerId" element={<RequireSession><PollerPage /></RequireSession>} />
      <Route path="*" element={<Frame><NotFound /></Frame>} />
    </Routes>
  );
}

/** `/`: the Overview for operators, the one application for a portal session. */
function Home() {
  const { session, endedBecause } = useSession();
  const location = useLocation();
  if (!session) return <Navigate to={signInPath(endedBecause)} replace />;
  if (session.kind === 'portal') return <Navigate to={`/apps/${encodeURIComponent(session.appId)}`} replace />;
  // Keeps `?window=…`, so `/?window=24h` opens that window.
  return <Navigate to={`${OPERATOR_HOME}${location.search}`} replace />;
}

function RequireSession({ children }: { children: ReactNode }) {
  const { session, endedBecause } = useSession();
  const location = useLocation();
  if (!session) return <Navigate to={signInPath(endedBecause, location.pathname + location.search)} replace />;
  return <Frame>{children}</Frame>;
}

function RequireOperator({ children }: { children: ReactNode }) {
  const { session } = useSession();
  if (session?.kind === 'portal') return <Navigate to={`/apps/${encodeURIComponent(session.appId)}`} replace />;
  return <RequireSession>{children}</RequireSession>;
}

function Frame({ children }: { children: ReactNode }) {
  const { session, signOut } = useSession();
  const navigate = useNavigate();
  const portal = session?.kind === 'portal' ? session : null;
  const home = portal ? `/apps/${encodeURIComponent(portal.appId)}` : OPERATOR_HOME;

  // The guarded route may redirect first, to the same address (see `signInPath`);
  // this covers the pages that are not guarded, such as the signature help.
  const onSignOut = async () => {
    const reason = await signOut();
    navigate(signInPath(reason), { replace: true });
  };

  return (
    <div className="layout">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to={session ? home : '/signin'} className="brand">
          Herald{portal ? <span className="brand-sub">customer portal</span> : null}
        </Link>
        <nav aria-label="Main" className="topnav">
          {session && !portal ? <NavLink to={OPERATOR_HOME}>Overview</NavLink> : null}
          {session && !portal ? <NavLink to="/apps">Applications</NavLink> : null}
          {portal ? <NavLink to={home} end>Your webhooks</NavLink> : null}
          {portal ? <NavLink to={`${home}/dead-letter`}>Dead letters</NavLink> : null}
          <NavLink to="/help/signatures">Verifying signatures</NavLink>
          {session ? (
            <button type="button" className="button-link" onClick={onSignOut}>
              Sign out
            </button>
          ) : (
            <NavLink to="/signin">Sign in</NavLink>
          )}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <div className="card">
      <h1>Not found</h1>
      <p>
        There is no page at this address. <Link to="/">Go to the start</Link>.
      </p>
    </div>
  );
}
