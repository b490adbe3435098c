import { describe, expect, it } from 'vitest';
import { PushGovernor } from '../src/map/governor';

describe('PushGovernor', () => {
  it('pushes every frame while the main thread is on time', () => {
    const g = new PushGovernor();
    for (let i = 0; i < 50; i++) g.observeLag(3);
    expect(g.intervalMs).toBe(0);
    expect(g.mayPush(1000, 999)).toBe(true);
  });

  it('spaces pushes by a multiple of what a stall costs', () => {
    const g = new PushGovernor();
    g.observeLag(400);
    expect(g.intervalMs).toBe(1000);
    expect(g.mayPush(1500, 1000)).toBe(false);
    expect(g.mayPush(2000, 1000)).toBe(true);
    for (let i = 0; i < 20; i++) g.observeLag(5000);
    expect(g.intervalMs).toBe(2000); // capped
  });

  it('holds the pace under periodic stalls (one per push), so frames stay a minority', () => {
    const g = new PushGovernor();
    // a 400 ms frame, then on-time samples every 100 ms until the next push
    let onTime = 0;
    const gaps: number[] = [];
    for (let round = 0; round < 20; round++) {
      g.observeLag(400);
      const gap = g.intervalMs;
      gaps.push(gap);
      for (let t = 0; t < gap; t += 100) {
        g.observeLag(2);
        onTime += 100;
      }
    }
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(800);
    expect(onTime / (onTime + 20 * 400)).toBeGreaterThan(0.6);
  });

  it('recovers when the stalls stop', () => {
    const g = new PushGovernor();
    g.observeLag(300);
    for (let i = 0; i < 100; i++) g.observeLag(1);
    expect(g.intervalMs).toBe(0);
  });
});
