import { describe, expect, it } from 'vitest';
import { hashWithoutToken, initialToken, loadToken, tokenFromHash, type TokenStore } from '../src/lib/auth';

function memory(): TokenStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe('token from a link', () => {
  it('reads #token= and leaves the rest of the hash', () => {
    expect(tokenFromHash('#token=abc')).toBe('abc');
    expect(tokenFromHash('#x=1&token=abc')).toBe('abc');
    expect(tokenFromHash('#x=1')).toBeNull();
    expect(tokenFromHash('')).toBeNull();
    expect(hashWithoutToken('#token=abc')).toBe('');
    expect(hashWithoutToken('#x=1&token=abc')).toBe('#x=1');
  });
  it('a link wins over storage, is stored, and is removed from the URL', () => {
    const s = memory();
    s.setItem('fleetops.token', 'old');
    let hash: string | null = null;
    expect(initialToken(s, '#token=new', (h) => (hash = h))).toBe('new');
    expect(loadToken(s)).toBe('new');
    expect(hash).toBe('');
  });
  it('without a link, the stored token (or none)', () => {
    const s = memory();
    expect(initialToken(s, '', () => {})).toBeNull();
    s.setItem('fleetops.token', 'kept');
    expect(initialToken(s, '', () => {})).toBe('kept');
  });
});
