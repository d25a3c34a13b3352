/**
 * Parsing of the customer portal link, `<public_url>/portal#token=<token>&app=<app_id>`.
 *
 * The token travels in the fragment so that it never reaches a server log or a
 * `Referer` header. Herald's links also carry the application id (`app=`); the
 * token alone cannot be resolved to its application, because the API has no
 * "who am I" route for portal tokens.
 */

export interface PortalLink {
  token: string;
  appId: string | null;
}

/** Parses a location hash (with or without its leading `#`); `null` without a token. */
export function parsePortalHash(hash: string): PortalLink | null {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash;
  if (raw.trim() === '') return null;
  const params = new URLSearchParams(raw);
  const token = params.get('token')?.trim() ?? '';
  if (token === '') return null;
  const appId = params.get('app')?.trim() || params.get('appId')?.trim() || null;
  return { token, appId };
}
