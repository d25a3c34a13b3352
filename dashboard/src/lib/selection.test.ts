import { describe, expect, it } from 'vitest';
import {
  emptySelection,
  isSelected,
  pageSelectionState,
  planBatches,
  repeatUntilShort,
  runBatches,
  selectionReducer,
  spreadProgress,
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
      async (batch) => ({ affected: batch.msgIds.length, finishesBy: batch.endpointId === 'ep_a' ? '2024-05-01T12:00:10Z' : '2024-05-01T12:00:05Z' }),
      (p) => seen.push(p),
    );
    expect(seen.map((p) => p.done)).toEqual([0, 2, 3, 3]);
    expect(result).toEqual({ done: 3, total: 3, affected: 3, finishesBy: '2024-05-01T12:00:10Z', error: null, finished: true });
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

describe('spreadProgress', () => {
  const start = Date.parse('2024-05-01T12:00:00Z');
  it('runs from 0 to 1 between the start and finishesBy', () => {
    expect(spreadProgress(start, '2024-05-01T12:00:10Z', start)).toBe(0);
    expect(spreadProgress(start, '2024-05-01T12:00:10Z', start + 5000)).toBe(0.5);
    expect(spreadProgress(start, '2024-05-01T12:00:10Z', start + 60_000)).toBe(1);
  });
  it('is done when there is nothing to wait for', () => {
    expect(spreadProgress(start, null, start)).toBe(1);
    expect(spreadProgress(start, '2024-05-01T11:00:00Z', start)).toBe(1);
  });
});

describe('repeatUntilShort', () => {
  it('calls again while rounds come back full', async () => {
    const answers = [10, 10, 3];
    const totals: number[] = [];
    const result = await repeatUntilShort(async () => ({ affected: answers.shift()! }), 10, (total) => totals.push(total));
    expect(result).toEqual({ total: 23, finishesBy: null, rounds: 3, complete: true });
    expect(totals).toEqual([10, 20, 23]);
  });
  it('stops after one short round and keeps the latest finishesBy', async () => {
    const result = await repeatUntilShort(async () => ({ affected: 0, finishesBy: '2024-05-01T12:00:00Z' }), 10, () => {});
    expect(result).toEqual({ total: 0, finishesBy: '2024-05-01T12:00:00Z', rounds: 1, complete: true });
  });
  it('gives up after maxRounds', async () => {
    const result = await repeatUntilShort(async () => ({ affected: 5 }), 5, () => {}, 3);
    expect(result).toEqual({ total: 15, finishesBy: null, rounds: 3, complete: false });
  });
});
