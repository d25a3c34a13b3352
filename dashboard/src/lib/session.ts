/**
 * The signed-in credential, kept in `sessionStorage` so it dies with the tab and is
 * never written to disk by the app.
 *
 * - `operator`: a tenant API key (`sk_…`), pasted on the sign-in screen; sees every
 *   application of the tenant.
 * - `portal`: a portal token (`hpt_…`) from a portal link; sees one application.
 */

export type Session =
  | { kind: 'operator'; apiKey: string }
  | { kind: 'portal'; token: string; appId: string };

const STORAGE_KEY = 'herald.session';

/** Where an operator lands: after sign-in, from the brand link and from `/`. */
export const OPERATOR_HOME = '/overview';

/** The subset of the Storage API the session needs (tests pass a Map-backed one). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function defaultStore(): KeyValueStore | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    // Storage can throw when disabled by the browser's privacy settings.
    return null;
  }
}

export function loadSession(store: KeyValueStore | null = defaultStore()): Session | null {
  const raw = store?.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    return validateSession(JSON.parse(raw));
  } catch {
    return null;
  }
}

export function saveSession(session: Session, store: KeyValueStore | null = defaultStore()): void {
  store?.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearSession(store: KeyValueStore | null = defaultStore()): void {
  store?.removeItem(STORAGE_KEY);
}

/** The bearer credential of a session. */
export function bearerOf(session: Session): string {
  return session.kind === 'operator' ? session.apiKey : session.token;
}

function validateSession(value: unknown): Session | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (v.kind === 'operator' && typeof v.apiKey === 'string' && v.apiKey !== '') {
    return { kind: 'operator', apiKey: v.apiKey };
  }
  if (v.kind === 'portal' && typeof v.token === 'string' && typeof v.appId === 'string' && v.token && v.appId) {
    return { kind: 'portal', token: v.token, appId: v.appId };
  }
  return null;
}

/**
 * Why a session ended, for the sign-in screen (`?reason=`): the key or token was
 * refused (`expired`, `portal-expired`), or the user signed out.
 */
export type SessionEndReason = 'expired' | 'portal-expired' | 'signed-out' | 'portal-signed-out';

/**
 * The sign-in address for a signed-out visitor, with why and where to come back
 * to. There is nowhere to come back to after signing out, nor for a portal user,
 * who cannot sign in with a key.
 *
 * Signing out ends the session and then navigates here; the guarded route may
 * redirect first, at the old address, so both must arrive at the same address.
 */
export function signInPath(endedBecause: string | null, next?: string): string {
  const params = new URLSearchParams();
  if (endedBecause) params.set('reason', endedBecause);
  const comesBack = endedBecause !== 'portal-expired' && endedBecause !== 'signed-out' && endedBecause !== 'portal-signed-out';
  if (next && comesBack) params.set('next', next);
  const query = params.toString();
  return query ? `/signin?${query}` : '/signin';
}

/** Trims a pasted API key, also accepting a pasted `Bearer sk_…` header value. */
export function normalizeApiKey(input: string): string {
  return input.trim().replace(/^bearer\s+/i, '').trim();
}
