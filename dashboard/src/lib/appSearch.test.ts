import { describe, expect, it } from 'vitest';
import { appSearchFromParams, appSearchToParams, buildApplicationListQuery, normalizeAppSearch } from './appSearch';

describe('application search', () => {
  it('normalizes what was typed', () => {
    expect(normalizeAppSearch('  Acme ')).toBe('Acme');
    expect(normalizeAppSearch('   ')).toBe('');
    expect(normalizeAppSearch('x'.repeat(300))).toHaveLength(256);
  });

  it('builds the list query, leaving out an empty search', () => {
    expect(buildApplicationListQuery('')).toEqual({ limit: 50 });
    expect(buildApplicationListQuery(' acme ', 'cursor-1', 20)).toEqual({ limit: 20, search: 'acme', iterator: 'cursor-1' });
    expect(buildApplicationListQuery('50%_off')).toEqual({ limit: 50, search: '50%_off' });
  });

  it('keeps the search in the address bar as q', () => {
    const params = appSearchToParams(' acme ', new URLSearchParams('other=1'));
    expect(params.toString()).toBe('other=1&q=acme');
    expect(appSearchFromParams(params)).toBe('acme');
    expect(appSearchToParams('  ', params).toString()).toBe('other=1');
    expect(appSearchFromParams(new URLSearchParams())).toBe('');
  });
});
