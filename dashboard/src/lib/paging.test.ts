import { describe, expect, it } from 'vitest';
import { canGoBack, canGoForward, collectAll, currentCursor, firstPage, nextPage, pageNumber, previousPage, type ListPage } from './paging';

const page = (iterator: string | null, done: boolean): ListPage<number> => ({ data: [1], iterator, prevIterator: null, done });

describe('pager', () => {
  it('starts on the first page without a cursor', () => {
    expect(currentCursor(firstPage)).toBeNull();
    expect(pageNumber(firstPage)).toBe(1);
    expect(canGoBack(firstPage)).toBe(false);
  });
  it('goes forward with the page iterator and back to the exact cursor', () => {
    const second = nextPage(firstPage, page('c1', false));
    expect(currentCursor(second)).toBe('c1');
    const third = nextPage(second, page('c2', false));
    expect(pageNumber(third)).toBe(3);
    expect(currentCursor(previousPage(third))).toBe('c1');
    expect(previousPage(previousPage(third))).toEqual(firstPage);
    expect(previousPage(firstPage)).toBe(firstPage);
  });
  it('does not go past the last page', () => {
    expect(canGoForward(page('c1', true))).toBe(false);
    expect(canGoForward(page(null, false))).toBe(false);
    expect(canGoForward(null)).toBe(false);
    expect(nextPage(firstPage, page('c1', true))).toBe(firstPage);
  });
});

describe('collectAll', () => {
  it('follows iterators until done', async () => {
    const pages: Record<string, ListPage<number>> = {
      start: { data: [1, 2], iterator: 'a', done: false },
      a: { data: [3], iterator: 'b', done: false },
      b: { data: [4], iterator: 'c', done: true },
    };
    const seen: (string | null)[] = [];
    const result = await collectAll(async (cursor) => {
      seen.push(cursor);
      return pages[cursor ?? 'start']!;
    });
    expect(result).toEqual({ items: [1, 2, 3, 4], complete: true });
    expect(seen).toEqual([null, 'a', 'b']);
  });
  it('stops after maxPages and says the list is incomplete', async () => {
    const result = await collectAll(async () => ({ data: [0], iterator: 'again', done: false }), 3);
    expect(result).toEqual({ items: [0, 0, 0], complete: false });
  });
});
