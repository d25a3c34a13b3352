/**
 * The typed API client: `openapi-fetch` over the types `openapi-typescript`
 * generates from `docs/openapi.json` (`npm run gen` → `schema.d.ts`). Screens call
 * `api.GET('/api/v1/…', …)` and pass the result through `unwrap`, which turns an
 * error answer into an `ApiError` and a `401` into a return to sign-in.
 */

import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';
import { ApiError, apiErrorFrom } from './errors';
import { bearerOf, loadSession } from '../lib/session';

export type Schemas = components['schemas'];
export type ApplicationOut = Schemas['ApplicationOut'];
export type EndpointOut = Schemas['EndpointOut'];
export type EndpointStats = Schemas['EndpointStats'];
export type MessageOut = Schemas['MessageOut'];
export type MessageAttemptOut = Schemas['MessageAttemptOut'];
export type MessageEndpointOut = Schemas['MessageEndpointOut'];
export type EndpointMessageOut = Schemas['EndpointMessageOut'];
export type EventTypeOut = Schemas['EventTypeOut'];
export type OverviewOut = Schemas['OverviewOut'];
export type ApplicationOverviewOut = Schemas['ApplicationOverviewOut'];

/** Fired on `window` when the API answers `401`; the app returns to sign-in. */
export const UNAUTHORIZED_EVENT = 'herald:unauthorized';

const authMiddleware: Middleware = {
  onRequest({ request }) {
    const session = loadSession();
    if (session && !request.headers.has('Authorization')) {
      request.headers.set('Authorization', `Bearer ${bearerOf(session)}`);
    }
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && typeof window !== 'undefined') {
      window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
    }
    return response;
  },
};

/** The client of the running page: same origin, so `herald serve` and `vite` (proxy) both work. */
export function createApiClient<P extends {} = paths>(baseUrl = '') {
  const client = createClient<P>({ baseUrl });
  client.use(authMiddleware);
  return client;
}

export const api = createApiClient<paths>();

interface ClientResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Awaits an `openapi-fetch` call: its data, or an `ApiError` thrown. */
export async function unwrap<T>(call: Promise<ClientResult<T>>): Promise<T> {
  let result: ClientResult<T>;
  try {
    result = await call;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(0, 'network', error instanceof Error ? `could not reach Herald: ${error.message}` : 'could not reach Herald');
  }
  if (!result.response.ok) throw apiErrorFrom(result.response.status, result.error);
  return result.data as T;
}
