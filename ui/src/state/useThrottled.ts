/*
 * useThrottled: a value derived from the store, recomputed at most once
 * every `ms` milliseconds while the store keeps changing (leading and
 * trailing edge), so that 10 Hz vehicle batches do not render React 10
 * times a second per panel. `deps` recompute at once when they change.
 */
import { useEffect, useRef, useState } from 'react';
import { useUi, type UiState } from './store';

export function useThrottled<T>(compute: (s: UiState) => T, ms: number, deps: readonly unknown[] = []): T {
  const computeRef = useRef(compute);
  computeRef.current = compute;
  const [value, setValue] = useState<T>(() => compute(useUi.getState()));

  useEffect(() => {
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const run = () => {
      timer = null;
      last = performance.now();
      setValue(computeRef.current(useUi.getState()));
    };
    run();
    const unsub = useUi.subscribe(() => {
      if (timer) return;
      const wait = Math.max(0, last + ms - performance.now());
      timer = setTimeout(run, wait);
    });
    return () => {
      unsub();
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ms, ...deps]);

  return value;
}
