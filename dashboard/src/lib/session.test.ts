import { describe, expect, it } from 'vitest';
import { bearerOf, clearSession, loadSession, normalizeApiKey, saveSession, type KeyValueStore } from './session';

function memoryStore(): KeyValueStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  };
}

describe('session', () => {
  it('round-trips an operator and a portal session', () => {
    const store = memoryStore();
    saveSession({ kind: 'operator', apiKey: 'sk_1' }, store);
    expect(loadSession(store)).toEqual({ kind: 'operator', apiKey: 'sk_1' });
    saveSession({ kind: 'portal', token: 'hpt_1', appId: 'app_1' }, store);
    expect(loadSession(store)).toEqual({ kind: 'portal', token: 'hpt_1', appId: 'app_1' });
    clearSession(store);
    expect(loadSession(store)).toBeNull();
  });
  it('ignores garbage and incomplete entries', () => {
    const store = memoryStore();
    store.setItem('herald.session', '{not json');
    expect(loadSession(store)).toBeNull();
    store.setItem('herald.session', JSON.stringify({ kind: 'portal', token: 'hpt_1' }));
    expect(loadSession(store)).toBeNull();
    store.setItem('herald.session', JSON.stringify({ kind: 'operator', apiKey: '' }));
    expect(loadSession(store)).toBeNull();
  });
  it('works without storage', () => {
    expect(loadSession(null)).toBeNull();
  });
  it('gives the bearer credential of each kind', () => {
    expect(bearerOf({ kind: 'operator', apiKey: 'sk_1' })).toBe('sk_1');
    expect(bearerOf({ kind: 'portal', token: 'hpt_1', appId: 'a' })).toBe('hpt_1');
  });
  it('normalizes pasted keys', () => {
    expect(normalizeApiKey('  sk_abc \n')).toBe('sk_abc');
    expect(normalizeApiKey('Bearer sk_abc')).toBe('sk_abc');
  });
});
