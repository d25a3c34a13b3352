/** The signed-in session as React state, kept in step with `sessionStorage`. */

import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { clearSession, loadSession, saveSession, type Session, type SessionEndReason } from './lib/session';
import { logout } from './api/queries';

interface SessionContextValue {
  session: Session | null;
  signIn: (session: Session) => void;
  /** Forgets the credential (a portal token is also revoked on the server) and says why it ended. */
  signOut: () => Promise<SessionEndReason>;
  /** Forgets the credential without calling the API (after a `401`), saying why. */
  drop: (reason?: SessionEndReason) => void;
  /** Why the last session ended (`expired`, `portal-expired`, …), for the sign-in screen. */
  endedBecause: string | null;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [endedBecause, setEndedBecause] = useState<string | null>(null);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setSession(next);
    setEndedBecause(null);
  }, []);

  const drop = useCallback((reason?: SessionEndReason) => {
    clearSession();
    setSession(null);
    setEndedBecause(reason ?? null);
  }, []);

  const signOut = useCallback(async (): Promise<SessionEndReason> => {
    const current = loadSession();
    if (current?.kind === 'portal') {
      // Best effort: the token expires on its own if this fails.
      await logout().catch(() => undefined);
    }
    const reason: SessionEndReason = current?.kind === 'portal' ? 'portal-signed-out' : 'signed-out';
    drop(reason);
    return reason;
  }, [drop]);

  const value = useMemo(() => ({ session, signIn, signOut, drop, endedBecause }), [session, signIn, signOut, drop, endedBecause]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
