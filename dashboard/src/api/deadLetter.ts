/**
 * The dead-letter API, through the generated types like every other call.
 *
 * - `GET  /api/v1/app/{app_id}/dead-letter?endpoint_id=&since=&until=&limit=&iterator=`
 * - `POST /api/v1/app/{app_id}/dead-letter/replay`  → 202 `{replayed, tasks}`: one
 *   background task per endpoint releases them at the endpoint's pace
 * - `POST /api/v1/app/{app_id}/dead-letter/discard` → 200 `{discarded}`
 * - `GET  /api/v1/background-task/{task_id}` → how far a replay's task has got (the
 *   tenant's sessions; a portal session gets 403 and follows the queue instead)
 *
 * A discard acts on at most 10,000 dead letters per call (and `msgIds` holds at most
 * 1,000), so "discard everything matching" repeats the call until a round comes back
 * short; a replay takes any number in one call.
 */

import { api, unwrap } from './client';
import type { components } from './schema';
import type { DeadLetterListQuery } from '../lib/filters';

export type DeadLetterOut = components['schemas']['DeadLetterOut'];
export type DeadLetterSelectionIn = components['schemas']['DeadLetterSelectionIn'];
export type DeadLetterReplayOut = components['schemas']['DeadLetterReplayOut'];
export type BackgroundTaskOut = components['schemas']['BackgroundTaskOut'];
export type DiscardOut = components['schemas']['DiscardOut'];

/** The most dead letters one discard call handles. */
export const DEAD_LETTER_CALL_LIMIT = 10_000;
/** The most message ids one call accepts. */
export const DEAD_LETTER_MSG_IDS_LIMIT = 1_000;

export function listDeadLetters(appId: string, query: DeadLetterListQuery) {
  return unwrap(api.GET('/api/v1/app/{app_id}/dead-letter', { params: { path: { app_id: appId }, query } }));
}

export function replayDeadLetters(appId: string, body: DeadLetterSelectionIn): Promise<DeadLetterReplayOut> {
  return unwrap(api.POST('/api/v1/app/{app_id}/dead-letter/replay', { params: { path: { app_id: appId } }, body }));
}

export function getBackgroundTask(taskId: string): Promise<BackgroundTaskOut> {
  return unwrap(api.GET('/api/v1/background-task/{task_id}', { params: { path: { task_id: taskId } } }));
}

export function discardDeadLetters(appId: string, body: DeadLetterSelectionIn): Promise<DiscardOut> {
  return unwrap(api.POST('/api/v1/app/{app_id}/dead-letter/discard', { params: { path: { app_id: appId } }, body }));
}
