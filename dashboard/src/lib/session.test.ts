import { describe, expect, it } from 'vitest';
import { bearerOf, clearSession, loadSession, normalizeApiKey, saveSession, signInPath, type KeyValueStore } from './session';

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

describe('signInPath', () => {
  it('says why and where to come back to', () => {
    expect(signInPath(null)).toBe('/signin');
    expect(signInPath(null, '/apps/app_1?status=2')).toBe('/signin?next=%2Fapps%2Fapp_1%3Fstatus%3D2');
    expect(signInPath('expired', '/apps')).toBe('/signin?reason=expired&next=%2Fapps');
  });
  it('comes back nowhere after signing out or for a portal user', () => {
    // The same address whether the guarded route or the sign-out button gets there first.
    expect(signInPath('signed-out', '/apps')).toBe(signInPath('signed-out'));
    expect(signInPath('portal-signed-out', '/apps/app_1/dead-letter')).toBe('/signin?reason=portal-signed-out');
    expect(signInPath('portal-expired', '/apps/app_1')).toBe('/signin?reason=portal-expired');
  });
});
