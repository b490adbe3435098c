import { describe, expect, it } from 'vitest';
import { PushGovernor } from '../src/map/governor';

describe('PushGovernor', () => {
  it('pushes every frame while the main thread is on time', () => {
    const g = new PushGovernor();
    for (let t = 0; t < 5000; t += 100) g.observeLag(t, 3);
    expect(g.intervalMs(5000)).toBe(0);
    expect(g.mayPush(5000, 4999)).toBe(true);
  });

  it('spaces pushes by a multiple of the longest recent stall, up to a cap', () => {
    const g = new PushGovernor();
    g.observeLag(1000, 100);
    g.observeLag(1100, 300);
    g.observeLag(1200, 50);
    expect(g.costMs(1200)).toBe(300);
    expect(g.intervalMs(1200)).toBe(1500);
    expect(g.mayPush(2000, 1000)).toBe(false);
    expect(g.mayPush(2600, 1000)).toBe(true);
    g.observeLag(1300, 4000);
    expect(g.intervalMs(1300)).toBe(2500);
  });

  it('under periodic stalls (two per push) keeps frames to a minority of the time', () => {
    const g = new PushGovernor();
    let t = 0;
    let last = -1e9;
    let stalled = 0;
    while (t < 60_000) {
      if (g.mayPush(t, last)) {
        last = t;
        for (let k = 0; k < 2; k++) {
          t += 400; // a 400 ms software frame
          stalled += 400;
          g.observeLag(t, 400);
        }
      } else {
        t += 100;
        g.observeLag(t, 2);
      }
    }
    expect(stalled / t).toBeLessThan(0.45);
    expect(stalled / t).toBeGreaterThan(0.2); // but the map still moves
  });

  it('forgets stalls after its window', () => {
    const g = new PushGovernor();
    g.observeLag(1000, 300);
    expect(g.intervalMs(3999)).toBe(1500);
    expect(g.intervalMs(4001)).toBe(0);
  });
});
