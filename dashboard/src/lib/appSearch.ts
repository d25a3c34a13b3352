/**
 * The Applications screen's search: what was typed, kept in the address bar as
 * `?q=`, and the `GET /app` query it becomes. Herald searches: `search` matches
 * applications whose name or uid contains the text (ignoring case) or whose id it
 * is, so the browser filters nothing itself.
 */

/** The API takes 1 to 256 characters. */
export const APP_SEARCH_MAX_LENGTH = 256;

/** How long typing pauses before the search is sent. */
export const APP_SEARCH_DEBOUNCE_MS = 300;

/** The search to send for what was typed: trimmed, at most 256 characters, `''` for none. */
export function normalizeAppSearch(input: string): string {
  return input.trim().slice(0, APP_SEARCH_MAX_LENGTH).trim();
}

export function appSearchFromParams(params: URLSearchParams): string {
  return normalizeAppSearch(params.get('q') ?? '');
}

/** Writes the search into `params` as `q` (keeping the others); an empty search removes it. */
export function appSearchToParams(search: string, params: URLSearchParams = new URLSearchParams()): URLSearchParams {
  const next = new URLSearchParams(params);
  const value = normalizeAppSearch(search);
  if (value === '') next.delete('q');
  else next.set('q', value);
  return next;
}

export interface ApplicationListQuery {
  limit?: number;
  iterator?: string;
  search?: string;
}

export function buildApplicationListQuery(search: string, iterator?: string | null, limit = 50): ApplicationListQuery {
  const query: ApplicationListQuery = { limit };
  const value = normalizeAppSearch(search);
  if (value !== '') query.search = value;
  if (iterator) query.iterator = iterator;
  return query;
}
