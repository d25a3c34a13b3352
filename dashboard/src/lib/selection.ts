/**
 * Selection state of the dead-letter screen. An entry of the queue is one
 * delivery, a (message, endpoint) pair, so the key is both ids. Selections survive
 * paging; the replay and discard requests group the selected entries by endpoint.
 */

export interface DeliveryRef {
  msgId: string;
  endpointId: string;
}

export type Selection = ReadonlyMap<string, DeliveryRef>;

export const emptySelection: Selection = new Map();

export function deliveryKey(ref: DeliveryRef): string {
  return `${ref.endpointId}\u0000${ref.msgId}`;
}

export function isSelected(selection: Selection, ref: DeliveryRef): boolean {
  return selection.has(deliveryKey(ref));
}

export type SelectionAction =
  | { type: 'toggle'; ref: DeliveryRef }
  | { type: 'selectAll'; refs: DeliveryRef[] }
  | { type: 'deselectAll'; refs: DeliveryRef[] }
  | { type: 'remove'; refs: DeliveryRef[] }
  | { type: 'clear' };

export function selectionReducer(selection: Selection, action: SelectionAction): Selection {
  switch (action.type) {
    case 'toggle': {
      const next = new Map(selection);
      const key = deliveryKey(action.ref);
      if (next.has(key)) next.delete(key);
      else next.set(key, { msgId: action.ref.msgId, endpointId: action.ref.endpointId });
      return next;
    }
    case 'selectAll': {
      const next = new Map(selection);
      for (const ref of action.refs) next.set(deliveryKey(ref), { msgId: ref.msgId, endpointId: ref.endpointId });
      return next;
    }
    case 'deselectAll':
    case 'remove': {
      const next = new Map(selection);
      for (const ref of action.refs) next.delete(deliveryKey(ref));
      return next;
    }
    case 'clear':
      return emptySelection;
  }
}

/** `all` when every entry of the page is selected, `some`, or `none` (drives the header checkbox). */
export function pageSelectionState(selection: Selection, page: DeliveryRef[]): 'all' | 'some' | 'none' {
  if (page.length === 0) return 'none';
  const count = page.filter((ref) => isSelected(selection, ref)).length;
  if (count === 0) return 'none';
  return count === page.length ? 'all' : 'some';
}

export interface DeadLetterBatch {
  endpointId: string;
  msgIds: string[];
}

/**
 * Splits the selection into requests of at most `chunkSize` messages of one
 * endpoint each, in a stable order (by endpoint, then message), so progress can be
 * reported request by request and a failure stops at a known point.
 */
export function planBatches(selection: Selection, chunkSize = 100): DeadLetterBatch[] {
  if (chunkSize < 1) throw new Error('chunkSize must be at least 1');
  const byEndpoint = new Map<string, string[]>();
  for (const ref of selection.values()) {
    const list = byEndpoint.get(ref.endpointId) ?? [];
    list.push(ref.msgId);
    byEndpoint.set(ref.endpointId, list);
  }
  const batches: DeadLetterBatch[] = [];
  for (const endpointId of [...byEndpoint.keys()].sort()) {
    const msgIds = [...(byEndpoint.get(endpointId) ?? [])].sort();
    for (let i = 0; i < msgIds.length; i += chunkSize) {
      batches.push({ endpointId, msgIds: msgIds.slice(i, i + chunkSize) });
    }
  }
  return batches;
}

export interface BatchProgress {
  /** Deliveries sent in finished requests. */
  done: number;
  total: number;
  /** What the server reported as affected (replayed or discarded), summed. */
  affected: number;
  /** The background tasks a replay started (one per endpoint), to follow. */
  taskIds: string[];
  error: string | null;
  finished: boolean;
}

/**
 * Runs the batches one after another, reporting progress after each. Stops at the
 * first failure: what was sent stays sent, and the error says how far it got.
 */
export async function runBatches(
  batches: DeadLetterBatch[],
  send: (batch: DeadLetterBatch) => Promise<{ affected: number; taskIds?: string[] }>,
  onProgress: (progress: BatchProgress) => void,
): Promise<BatchProgress> {
  const total = batches.reduce((sum, batch) => sum + batch.msgIds.length, 0);
  let progress: BatchProgress = { done: 0, total, affected: 0, taskIds: [], error: null, finished: false };
  onProgress(progress);
  for (const batch of batches) {
    try {
      const result = await send(batch);
      progress = {
        ...progress,
        done: progress.done + batch.msgIds.length,
        affected: progress.affected + result.affected,
        taskIds: [...progress.taskIds, ...(result.taskIds ?? [])],
      };
      onProgress(progress);
    } catch (error) {
      progress = { ...progress, error: error instanceof Error ? error.message : String(error), finished: true };
      onProgress(progress);
      return progress;
    }
  }
  progress = { ...progress, finished: true };
  onProgress(progress);
  return progress;
}

/** How far a replay's background tasks have got, summed over them. */
export interface TaskProgress {
  done: number;
  total: number;
  /** Every task finished or failed. */
  settled: boolean;
  failed: number;
}

/** Sums the tasks' `data.done` of `data.total`. */
export function taskProgress(tasks: { status: string; data: { done: number; total: number } }[]): TaskProgress {
  return {
    done: tasks.reduce((sum, task) => sum + task.data.done, 0),
    total: tasks.reduce((sum, task) => sum + task.data.total, 0),
    settled: tasks.every((task) => task.status !== 'running'),
    failed: tasks.filter((task) => task.status === 'failed').length,
  };
}

/**
 * Repeats a bulk call that handles at most `limit` items per round until a round
 * comes back short (so "everything matching" is not cut at the server's cap), at
 * most `maxRounds` times. Reports the running total after every round.
 */
export async function repeatUntilShort(
  call: () => Promise<{ affected: number }>,
  limit: number,
  onRound: (total: number) => void,
  maxRounds = 20,
): Promise<{ total: number; rounds: number; complete: boolean }> {
  let total = 0;
  for (let round = 1; round <= maxRounds; round += 1) {
    const result = await call();
    total += result.affected;
    onRound(total);
    if (result.affected < limit) return { total, rounds: round, complete: true };
  }
  return { total, rounds: maxRounds, complete: false };
}
