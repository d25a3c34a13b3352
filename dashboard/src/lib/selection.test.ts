import { describe, expect, it } from 'vitest';
import {
  emptySelection,
  isSelected,
  pageSelectionState,
  planBatches,
  repeatUntilShort,
  runBatches,
  selectionReducer,
  taskProgress,
  type BatchProgress,
  type DeliveryRef,
} from './selection';

const a1: DeliveryRef = { msgId: 'msg_1', endpointId: 'ep_a' };
const a2: DeliveryRef = { msgId: 'msg_2', endpointId: 'ep_a' };
const b1: DeliveryRef = { msgId: 'msg_1', endpointId: 'ep_b' };

describe('selectionReducer', () => {
  it('toggles one delivery; the same message to another endpoint is a different entry', () => {
    let s = selectionReducer(emptySelection, { type: 'toggle', ref: a1 });
    expect(isSelected(s, a1)).toBe(true);
    expect(isSelected(s, b1)).toBe(false);
    s = selectionReducer(s, { type: 'toggle', ref: a1 });
    expect(s.size).toBe(0);
  });
  it('selects and deselects a page while keeping other pages', () => {
    let s = selectionReducer(emptySelection, { type: 'toggle', ref: b1 });
    s = selectionReducer(s, { type: 'selectAll', refs: [a1, a2] });
    expect(s.size).toBe(3);
    expect(pageSelectionState(s, [a1, a2])).toBe('all');
    s = selectionReducer(s, { type: 'deselectAll', refs: [a1, a2] });
    expect([...s.values()]).toEqual([b1]);
    expect(pageSelectionState(s, [a1, a2])).toBe('none');
    expect(pageSelectionState(selectionReducer(s, { type: 'toggle', ref: a1 }), [a1, a2])).toBe('some');
    expect(pageSelectionState(s, [])).toBe('none');
  });
  it('removes handled entries and clears', () => {
    let s = selectionReducer(emptySelection, { type: 'selectAll', refs: [a1, a2, b1] });
    s = selectionReducer(s, { type: 'remove', refs: [a2] });
    expect(s.size).toBe(2);
    expect(selectionReducer(s, { type: 'clear' }).size).toBe(0);
  });
  it('does not mutate the previous state', () => {
    const before = selectionReducer(emptySelection, { type: 'toggle', ref: a1 });
    selectionReducer(before, { type: 'toggle', ref: a2 });
    expect(before.size).toBe(1);
  });
});

describe('planBatches', () => {
  it('groups by endpoint and chunks in a stable order', () => {
    const refs = [
      { msgId: 'msg_3', endpointId: 'ep_b' },
      { msgId: 'msg_2', endpointId: 'ep_a' },
      { msgId: 'msg_1', endpointId: 'ep_a' },
      { msgId: 'msg_3', endpointId: 'ep_a' },
    ];
    const s = selectionReducer(emptySelection, { type: 'selectAll', refs });
    expect(planBatches(s, 2)).toEqual([
      { endpointId: 'ep_a', msgIds: ['msg_1', 'msg_2'] },
      { endpointId: 'ep_a', msgIds: ['msg_3'] },
      { endpointId: 'ep_b', msgIds: ['msg_3'] },
    ]);
  });
  it('plans nothing for an empty selection and refuses a zero chunk', () => {
    expect(planBatches(emptySelection)).toEqual([]);
    expect(() => planBatches(emptySelection, 0)).toThrow();
  });
});

describe('runBatches', () => {
  it('reports progress after each request and sums the answers', async () => {
    const seen: BatchProgress[] = [];
    const result = await runBatches(
      [
        { endpointId: 'ep_a', msgIds: ['m1', 'm2'] },
        { endpointId: 'ep_b', msgIds: ['m3'] },
      ],
      async (batch) => ({ affected: batch.msgIds.length, taskIds: [`qtask_${batch.endpointId}`] }),
      (p) => seen.push(p),
    );
    expect(seen.map((p) => p.done)).toEqual([0, 2, 3, 3]);
    expect(result).toEqual({ done: 3, total: 3, affected: 3, taskIds: ['qtask_ep_a', 'qtask_ep_b'], error: null, finished: true });
  });
  it('stops at the first failure and says how far it got', async () => {
    let calls = 0;
    const result = await runBatches(
      [
        { endpointId: 'ep_a', msgIds: ['m1'] },
        { endpointId: 'ep_b', msgIds: ['m2'] },
        { endpointId: 'ep_c', msgIds: ['m3'] },
      ],
      async () => {
        calls += 1;
        if (calls === 2) throw new Error('boom');
        return { affected: 1 };
      },
      () => {},
    );
    expect(calls).toBe(2);
    expect(result).toMatchObject({ done: 1, total: 3, affected: 1, error: 'boom', finished: true });
  });
});

describe('taskProgress', () => {
  const task = (status: string, done: number, total: number) => ({ status, data: { done, total } });
  it('sums what the tasks released of what they selected', () => {
    expect(taskProgress([task('running', 3, 10), task('finished', 5, 5)])).toEqual({ done: 8, total: 15, settled: false, failed: 0 });
  });
  it('is settled once no task is running, and counts the failed ones', () => {
    expect(taskProgress([task('finished', 5, 5), task('failed', 1, 4)])).toEqual({ done: 6, total: 9, settled: true, failed: 1 });
    expect(taskProgress([])).toEqual({ done: 0, total: 0, settled: true, failed: 0 });
  });
});

describe('repeatUntilShort', () => {
  it('calls again while rounds come back full', async () => {
    const answers = [10, 10, 3];
    const totals: number[] = [];
    const result = await repeatUntilShort(async () => ({ affected: answers.shift()! }), 10, (total) => totals.push(total));
    expect(result).toEqual({ total: 23, rounds: 3, complete: true });
    expect(totals).toEqual([10, 20, 23]);
  });
  it('stops after one short round', async () => {
    const result = await repeatUntilShort(async () => ({ affected: 0 }), 10, () => {});
    expect(result).toEqual({ total: 0, rounds: 1, complete: true });
  });
  it('gives up after maxRounds', async () => {
    const result = await repeatUntilShort(async () => ({ affected: 5 }), 5, () => {}, 3);
    expect(result).toEqual({ total: 15, rounds: 3, complete: false });
  });
});
