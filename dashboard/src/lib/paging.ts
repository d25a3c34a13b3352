/**
 * Cursor paging over Herald's list envelope `{data, iterator, prevIterator, done}`.
 *
 * The pager keeps the cursors of the pages already visited, so "Previous" returns
 * exactly to the page the person saw (the API's `prevIterator` would work too,
 * but from the first page it points at an empty page before it). The first page
 * has no cursor (`null`); re-fetching the current cursor is how live views poll.
 */

export interface ListPage<T> {
  data: T[];
  iterator?: string | null;
  prevIterator?: string | null;
  done: boolean;
}

export interface PagerState {
  /** Cursors of the visited pages; the last one is the current page. */
  stack: (string | null)[];
}

export const firstPage: PagerState = { stack: [null] };

export function currentCursor(state: PagerState): string | null {
  return state.stack[state.stack.length - 1] ?? null;
}

export function pageNumber(state: PagerState): number {
  return state.stack.length;
}

export function canGoBack(state: PagerState): boolean {
  return state.stack.length > 1;
}

/** Whether a page after `page` exists: not `done` and a cursor to continue from. */
export function canGoForward<T>(page: ListPage<T> | null | undefined): boolean {
  return !!page && !page.done && !!page.iterator;
}

export function nextPage<T>(state: PagerState, page: ListPage<T>): PagerState {
  if (!canGoForward(page)) return state;
  return { stack: [...state.stack, page.iterator ?? null] };
}

export function previousPage(state: PagerState): PagerState {
  return canGoBack(state) ? { stack: state.stack.slice(0, -1) } : state;
}

/**
 * Follows `iterator` until `done` (or `maxPages`), collecting every item; used
 * for short lists such as an application's endpoints in a filter menu.
 */
export async function collectAll<T>(
  fetchPage: (iterator: string | null) => Promise<ListPage<T>>,
  maxPages = 20,
): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i += 1) {
    const page: ListPage<T> = await fetchPage(cursor);
    items.push(...page.data);
    if (!canGoForward(page)) return { items, complete: true };
    cursor = page.iterator ?? null;
  }
  return { items, complete: false };
}
