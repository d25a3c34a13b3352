/**
 * The dead-letter API, through the generated types like every other call.
 *
 * - `GET  /api/v1/app/{app_id}/dead-letter?endpoint_id=&since=&until=&limit=&iterator=`
 * - `POST /api/v1/app/{app_id}/dead-letter/replay`  → 202 `{replayed, finishesBy}`
 * - `POST /api/v1/app/{app_id}/dead-letter/discard` → 200 `{discarded}`
 *
 * One call acts on at most 10,000 dead letters (and `msgIds` holds at most 1,000),
 * so "everything matching" repeats the call until a round comes back short.
 */

import { api, unwrap } from './client';
import type { components } from './schema';
import type { DeadLetterListQuery } from '../lib/filters';

export type DeadLetterOut = components['schemas']['DeadLetterOut'];
export type DeadLetterSelectionIn = components['schemas']['DeadLetterSelectionIn'];
export type ReplayOut = components['schemas']['ReplayOut'];
export type DiscardOut = components['schemas']['DiscardOut'];

/** The most dead letters one replay or discard call handles. */
export const DEAD_LETTER_CALL_LIMIT = 10_000;
/** The most message ids one call accepts. */
export const DEAD_LETTER_MSG_IDS_LIMIT = 1_000;

export function listDeadLetters(appId: string, query: DeadLetterListQuery) {
  return unwrap(api.GET('/api/v1/app/{app_id}/dead-letter', { params: { path: { app_id: appId }, query } }));
}

export function replayDeadLetters(appId: string, body: DeadLetterSelectionIn): Promise<ReplayOut> {
  return unwrap(api.POST('/api/v1/app/{app_id}/dead-letter/replay', { params: { path: { app_id: appId } }, body }));
}

export function discardDeadLetters(appId: string, body: DeadLetterSelectionIn): Promise<DiscardOut> {
  return unwrap(api.POST('/api/v1/app/{app_id}/dead-letter/discard', { params: { path: { app_id: appId } }, body }));
}
