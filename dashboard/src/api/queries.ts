/**
 * The API calls the screens make, one small function each, all through the typed
 * `openapi-fetch` client. Keeping them here keeps the screens about layout.
 */

import { api, unwrap, type EndpointOut, type EventTypeOut, type MessageAttemptOut, type MessageEndpointOut } from './client';
import type { components } from './schema';
import { ApiError } from './errors';
import { collectAll } from '../lib/paging';
import type { ApplicationListQuery } from '../lib/appSearch';
import type { AppMessageQuery, EndpointAttemptQuery, EndpointMessageQuery } from '../lib/filters';

type S = components['schemas'];

/** The tenant's applications; `search` keeps those whose name or uid contains it, or whose id it is. */
export const listApplications = (query: ApplicationListQuery) =>
  unwrap(api.GET('/api/v1/app', { params: { query } }));

/**
 * The tenant's deliveries by state and application over a window, and the window
 * in slices (`GET /stats/overview`). Tenant API keys only: a portal token is refused.
 */
export const getOverview = (query: { since: string; until: string; buckets: number }) =>
  unwrap(api.GET('/api/v1/stats/overview', { params: { query } }));

export const getApplication = (appId: string) =>
  unwrap(api.GET('/api/v1/app/{app_id}', { params: { path: { app_id: appId } } }));

export const createApplication = (body: S['ApplicationIn']) => unwrap(api.POST('/api/v1/app', { body }));

export const createPortalAccess = (appId: string, body: S['AppPortalAccessIn'] = {}) =>
  unwrap(api.POST('/api/v1/auth/app-portal-access/{app_id}', { params: { path: { app_id: appId } }, body }));

export const logout = () => unwrap(api.POST('/api/v1/auth/logout'));

export const listEndpoints = (appId: string, query: { iterator?: string; limit?: number }) =>
  unwrap(api.GET('/api/v1/app/{app_id}/endpoint', { params: { path: { app_id: appId }, query } }));

/** Every endpoint of the application (for menus); stops after 20 pages of 250. */
export async function listAllEndpoints(appId: string): Promise<EndpointOut[]> {
  const { items } = await collectAll((iterator) => listEndpoints(appId, { limit: 250, ...(iterator ? { iterator } : {}) }));
  return items;
}

export const getEndpoint = (appId: string, endpointId: string) =>
  unwrap(api.GET('/api/v1/app/{app_id}/endpoint/{endpoint_id}', { params: { path: { app_id: appId, endpoint_id: endpointId } } }));

export const createEndpoint = (appId: string, body: S['EndpointIn']) =>
  unwrap(api.POST('/api/v1/app/{app_id}/endpoint', { params: { path: { app_id: appId } }, body }));

export const patchEndpoint = (appId: string, endpointId: string, body: S['EndpointPatch']) =>
  unwrap(api.PATCH('/api/v1/app/{app_id}/endpoint/{endpoint_id}', { params: { path: { app_id: appId, endpoint_id: endpointId } }, body }));

export const deleteEndpoint = (appId: string, endpointId: string) =>
  unwrap(api.DELETE('/api/v1/app/{app_id}/endpoint/{endpoint_id}', { params: { path: { app_id: appId, endpoint_id: endpointId } } }));

export const getEndpointHeaders = (appId: string, endpointId: string) =>
  unwrap(api.GET('/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers', { params: { path: { app_id: appId, endpoint_id: endpointId } } }));

export const putEndpointHeaders = (appId: string, endpointId: string, headers: Record<string, string>) =>
  unwrap(
    api.PUT('/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers', {
      params: { path: { app_id: appId, endpoint_id: endpointId } },
      body: { headers },
    }),
  );

export const patchEndpointHeaders = (appId: string, endpointId: string, headers: Record<string, string | null>) =>
  unwrap(
    api.PATCH('/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers', {
      params: { path: { app_id: appId, endpoint_id: endpointId } },
      body: { headers },
    }),
  );

export const getEndpointSecret = (appId: string, endpointId: string) =>
  unwrap(api.GET('/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret', { params: { path: { app_id: appId, endpoint_id: endpointId } } }));

export const rotateEndpointSecret = (appId: string, endpointId: string, body: S['EndpointSecretRotateIn']) =>
  unwrap(
    api.POST('/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate', {
      params: { path: { app_id: appId, endpoint_id: endpointId } },
      body,
    }),
  );

/** The endpoint's ed25519 public key, or `null` when it signs with HMAC only (404). */
export const getEndpointSigningKey = async (appId: string, endpointId: string) => {
  try {
    return await unwrap(
      api.GET('/api/v1/app/{app_id}/endpoint/{endpoint_id}/signing-key', { params: { path: { app_id: appId, endpoint_id: endpointId } } }),
    );
  } catch (failure) {
    if (failure instanceof ApiError && failure.isNotFound) return null;
    throw failure;
  }
};

export const createEndpointSigningKey = (appId: string, endpointId: string) =>
  unwrap(api.POST('/api/v1/app/{app_id}/endpoint/{endpoint_id}/signing-key', { params: { path: { app_id: appId, endpoint_id: endpointId } } }));

export const deleteEndpointSigningKey = (appId: string, endpointId: string) =>
  unwrap(
    api.DELETE('/api/v1/app/{app_id}/endpoint/{endpoint_id}/signing-key', { params: { path: { app_id: appId, endpoint_id: endpointId } } }),
  );

export const getEndpointStats = (appId: string, endpointId: string) =>
  unwrap(api.GET('/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats', { params: { path: { app_id: appId, endpoint_id: endpointId } } }));

export const sendExample = (appId: string, endpointId: string, body: S['EventExampleIn']) =>
  unwrap(
    api.POST('/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example', {
      params: { path: { app_id: appId, endpoint_id: endpointId } },
      body,
    }),
  );

export const recoverEndpoint = (appId: string, endpointId: string, body: S['RecoverIn']) =>
  unwrap(
    api.POST('/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover', {
      params: { path: { app_id: appId, endpoint_id: endpointId } },
      body,
    }),
  );

export const listEndpointAttempts = (appId: string, endpointId: string, query: EndpointAttemptQuery) =>
  unwrap(
    api.GET('/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}', {
      params: { path: { app_id: appId, endpoint_id: endpointId }, query },
    }),
  );

export const listMessages = (appId: string, query: AppMessageQuery) =>
  unwrap(api.GET('/api/v1/app/{app_id}/msg', { params: { path: { app_id: appId }, query } }));

export const listEndpointMessages = (appId: string, endpointId: string, query: EndpointMessageQuery) =>
  unwrap(
    api.GET('/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg', {
      params: { path: { app_id: appId, endpoint_id: endpointId }, query },
    }),
  );

/** A message by its id or by the producer's `eventId`. */
export const getMessage = (appId: string, msgIdOrEventId: string) =>
  unwrap(api.GET('/api/v1/app/{app_id}/msg/{msg_id}', { params: { path: { app_id: appId, msg_id: msgIdOrEventId } } }));

/** Where the message went, with the delivery status and next retry per endpoint. */
export async function listMessageDestinations(appId: string, msgId: string): Promise<MessageEndpointOut[]> {
  const { items } = await collectAll((iterator) =>
    unwrap(
      api.GET('/api/v1/app/{app_id}/msg/{msg_id}/endpoint', {
        params: { path: { app_id: appId, msg_id: msgId }, query: { limit: 250, ...(iterator ? { iterator } : {}) } },
      }),
    ),
  );
  return items;
}

/** Every attempt of a message, newest first (at most 5 pages of 250). */
export async function listMessageAttempts(appId: string, msgId: string): Promise<MessageAttemptOut[]> {
  const { items } = await collectAll(
    (iterator) =>
      unwrap(
        api.GET('/api/v1/app/{app_id}/attempt/msg/{msg_id}', {
          params: { path: { app_id: appId, msg_id: msgId }, query: { limit: 250, ...(iterator ? { iterator } : {}) } },
        }),
      ),
    5,
  );
  return items;
}

/** Calls off a scheduled message (`deliverAt` still ahead): none of its deliveries is made. */
export const cancelMessage = (appId: string, msgId: string) =>
  unwrap(api.POST('/api/v1/app/{app_id}/msg/{msg_id}/cancel', { params: { path: { app_id: appId, msg_id: msgId } } }));

export const resendMessage = (appId: string, msgId: string, endpointId: string) =>
  unwrap(
    api.POST('/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend', {
      params: { path: { app_id: appId, msg_id: msgId, endpoint_id: endpointId } },
    }),
  );

/** The tenant's event types (readable with a portal token too), for filters and test events. */
export async function listAllEventTypes(): Promise<EventTypeOut[]> {
  const { items } = await collectAll((iterator) =>
    unwrap(api.GET('/api/v1/event-type', { params: { query: { limit: 250, ...(iterator ? { iterator } : {}) } } })),
  );
  return items.filter((eventType) => !eventType.archived);
}

// ------------------------------------------------------------------ pull path: pollers, keys, receipts

const endpointPath = (appId: string, endpointId: string) => ({ path: { app_id: appId, endpoint_id: endpointId } });
const pollerPath = (appId: string, pollerId: string) => ({ path: { app_id: appId, poller_id: pollerId } });

export const listPollers = (appId: string, query: { iterator?: string; limit?: number }) =>
  unwrap(api.GET('/api/v1/app/{app_id}/poller', { params: { path: { app_id: appId }, query } }));

export const createPoller = (appId: string, body: S['PollerIn']) =>
  unwrap(api.POST('/api/v1/app/{app_id}/poller', { params: { path: { app_id: appId } }, body }));

export const getPoller = (appId: string, pollerId: string) =>
  unwrap(api.GET('/api/v1/app/{app_id}/poller/{poller_id}/details', { params: pollerPath(appId, pollerId) }));

export const patchPoller = (appId: string, pollerId: string, body: S['PollerPatch']) =>
  unwrap(api.PATCH('/api/v1/app/{app_id}/poller/{poller_id}', { params: pollerPath(appId, pollerId), body }));

export const deletePoller = (appId: string, pollerId: string) =>
  unwrap(api.DELETE('/api/v1/app/{app_id}/poller/{poller_id}', { params: pollerPath(appId, pollerId) }));

/** The keys of one poller or one endpoint: the same three calls for both kinds. */
export interface ScopedKeyCalls {
  list: () => Promise<S['ScopedKeyOut'][]>;
  create: () => Promise<S['ScopedKeyOut']>;
  revoke: (keyId: string) => Promise<unknown>;
}

export const pollerKeys = (appId: string, pollerId: string): ScopedKeyCalls => ({
  list: () => unwrap(api.GET('/api/v1/app/{app_id}/poller/{poller_id}/key', { params: pollerPath(appId, pollerId) })),
  create: () => unwrap(api.POST('/api/v1/app/{app_id}/poller/{poller_id}/key', { params: pollerPath(appId, pollerId) })),
  revoke: (keyId) =>
    unwrap(
      api.DELETE('/api/v1/app/{app_id}/poller/{poller_id}/key/{key_id}', {
        params: { path: { app_id: appId, poller_id: pollerId, key_id: keyId } },
      }),
    ),
});

export const endpointKeys = (appId: string, endpointId: string): ScopedKeyCalls => ({
  list: () => unwrap(api.GET('/api/v1/app/{app_id}/endpoint/{endpoint_id}/key', { params: endpointPath(appId, endpointId) })),
  create: () => unwrap(api.POST('/api/v1/app/{app_id}/endpoint/{endpoint_id}/key', { params: endpointPath(appId, endpointId) })),
  revoke: (keyId) =>
    unwrap(
      api.DELETE('/api/v1/app/{app_id}/endpoint/{endpoint_id}/key/{key_id}', {
        params: { path: { app_id: appId, endpoint_id: endpointId, key_id: keyId } },
      }),
    ),
});

/** Deliveries that succeeded more than `within` seconds ago (default: the endpoint's window) without a receipt. */
export const listUnconfirmed = (appId: string, endpointId: string, query: { within?: number; limit?: number; iterator?: string }) =>
  unwrap(
    api.GET('/api/v1/app/{app_id}/endpoint/{endpoint_id}/receipt/unconfirmed', {
      params: { ...endpointPath(appId, endpointId), query },
    }),
  );
