/** React hooks for loading data from the API, with polling while the tab is visible. */

import { useCallback, useEffect, useRef, useState } from 'react';

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again now (keeps the current data on screen meanwhile). */
  reload: () => void;
}

export interface AsyncOptions {
  /** Re-runs the loader every `pollMs` while the document is visible. */
  pollMs?: number;
  /** Skips loading while false (e.g. until a required id is known). */
  enabled?: boolean;
}

function isVisible(): boolean {
  return typeof document === 'undefined' || document.visibilityState !== 'hidden';
}

/**
 * Runs `load` when `deps` change, and every `pollMs` while the tab is visible.
 * Answers of superseded runs are dropped, and a poll never overlaps a running load.
 */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[], options: AsyncOptions = {}): AsyncState<T> {
  const { pollMs, enabled = true } = options;
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState<boolean>(enabled);
  const generation = useRef(0);
  const running = useRef(false);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback((reset: boolean) => {
    const mine = ++generation.current;
    running.current = true;
    if (reset) {
      setLoading(true);
    }
    loadRef.current().then(
      (value) => {
        if (mine !== generation.current) return;
        running.current = false;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (failure: unknown) => {
        if (mine !== generation.current) return;
        running.current = false;
        setError(failure);
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    if (!enabled) {
      generation.current += 1;
      setLoading(false);
      return;
    }
    setData(undefined);
    setError(null);
    run(true);
    return () => {
      generation.current += 1;
      running.current = false;
    };
    // The caller's deps decide when to load afresh.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [enabled, run, ...deps]);

  useEffect(() => {
    if (!enabled || !pollMs) return;
    const timer = window.setInterval(() => {
      if (isVisible() && !running.current) run(false);
    }, pollMs);
    const onVisible = () => {
      if (isVisible() && !running.current) run(false);
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [enabled, pollMs, run]);

  const reload = useCallback(() => run(false), [run]);
  return { data, error, loading, reload };
}

/** `value` once it has stopped changing for `delayMs` (for searching while typing). */
export function useDebouncedValue<T>(value: T, delayMs: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), delayMs);
    return () => window.clearTimeout(timer);
  }, [value, delayMs]);
  return settled;
}

/** The current time, refreshed every `intervalMs` (for "in 5 s" labels). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/**
 * The rendered width of an element in whole CSS pixels, followed as it resizes
 * (for drawing an SVG at its real size, so its text is never scaled down on a
 * phone). Pass the returned callback as the element's `ref`; until the element
 * is measured the width is `fallback`.
 */
export function useElementWidth<E extends Element>(fallback: number): [(element: E | null) => void, number] {
  const [element, setElement] = useState<E | null>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    if (!element) return;
    const measure = () => {
      const measured = Math.floor(element.getBoundingClientRect().width);
      setWidth(measured > 0 ? measured : fallback);
    };
    measure();
    if (typeof ResizeObserver === 'undefined') {
      window.addEventListener('resize', measure);
      return () => window.removeEventListener('resize', measure);
    }
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, [element, fallback]);
  return [setElement, width];
}

/** Sets the document title while a screen is shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Herald` : 'Herald';
  }, [title]);
}
