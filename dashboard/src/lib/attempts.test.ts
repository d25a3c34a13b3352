import { describe, expect, it } from 'vitest';
import { groupAttempts, headerPairs } from './attempts';

describe('groupAttempts', () => {
  it('puts attempts under their destination, newest first, and keeps unlisted endpoints', () => {
    const groups = groupAttempts(
      [{ id: 'ep_a' }, { id: 'ep_b' }],
      [
        { id: 'atmpt_1', endpointId: 'ep_a', timestamp: '2024-05-01T12:00:00Z' },
        { id: 'atmpt_3', endpointId: 'ep_a', timestamp: '2024-05-01T12:00:02Z' },
        { id: 'atmpt_2', endpointId: 'ep_gone', timestamp: '2024-05-01T12:00:01Z' },
      ],
    );
    expect(groups.map((g) => [g.endpointId, g.destination?.id ?? null, g.attempts.map((a) => a.id)])).toEqual([
      ['ep_a', 'ep_a', ['atmpt_3', 'atmpt_1']],
      ['ep_b', 'ep_b', []],
      ['ep_gone', null, ['atmpt_2']],
    ]);
  });
});

describe('headerPairs', () => {
  it('renders optional header maps and ignores anything else', () => {
    expect(headerPairs({ 'webhook-id': 'msg_1', Accept: ['a', 'b'] })).toEqual([
      ['Accept', 'a, b'],
      ['webhook-id', 'msg_1'],
    ]);
    expect(headerPairs(undefined)).toEqual([]);
    expect(headerPairs(null)).toEqual([]);
    expect(headerPairs(['x'])).toEqual([]);
  });
});
