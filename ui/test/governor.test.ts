import { describe, expect, it } from 'vitest';
import { PushGovernor } from '../src/map/governor';

describe('PushGovernor', () => {
  it('pushes every frame while the main thread is on time', () => {
    const g = new PushGovernor();
    for (let i = 0; i < 50; i++) g.observeLag(2);
    expect(g.intervalMs).toBe(0);
    expect(g.mayPush(1000, 999)).toBe(true);
  });
  it('backs off while late, up to the cap, and recovers when on time again', () => {
    const g = new PushGovernor();
    g.observeLag(120);
    expect(g.intervalMs).toBe(50);
    g.observeLag(120);
    expect(g.intervalMs).toBe(75);
    for (let i = 0; i < 50; i++) g.observeLag(300);
    expect(g.intervalMs).toBe(1000);
    expect(g.mayPush(1500, 1000)).toBe(false);
    expect(g.mayPush(2000, 1000)).toBe(true);
    for (let i = 0; i < 200; i++) g.observeLag(1);
    expect(g.intervalMs).toBe(0);
  });
  it('holds steady between the two thresholds', () => {
    const g = new PushGovernor();
    g.observeLag(100);
    g.observeLag(100);
    const held = g.intervalMs;
    for (let i = 0; i < 20; i++) g.observeLag(25);
    expect(g.intervalMs).toBe(held);
  });
});
