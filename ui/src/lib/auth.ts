/*
 * The operator token: read from a `#token=...` link (then removed from the
 * address bar), or typed into the login form; kept in sessionStorage for
 * this tab. Storage and location are injectable for tests.
 */
const KEY = 'fleetops.token';

export interface TokenStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The token carried by a location hash such as "#token=abc&x=1", or null. */
export function tokenFromHash(hash: string): string | null {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const params = new URLSearchParams(h);
  const t = params.get('token');
  return t && t.trim() ? t.trim() : null;
}

/** The hash with token removed ("" when nothing else is left). */
export function hashWithoutToken(hash: string): string {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const params = new URLSearchParams(h);
  params.delete('token');
  const rest = params.toString();
  return rest ? `#${rest}` : '';
}

export function loadToken(store: TokenStore): string | null {
  return store.getItem(KEY);
}

export function saveToken(store: TokenStore, token: string): void {
  store.setItem(KEY, token);
}

export function clearToken(store: TokenStore): void {
  store.removeItem(KEY);
}

/**
 * At start: a token in the URL wins (stored, and the hash is rewritten
 * without it through `replaceHash`), else the stored one.
 */
export function initialToken(store: TokenStore, hash: string, replaceHash: (h: string) => void): string | null {
  const fromLink = tokenFromHash(hash);
  if (fromLink) {
    saveToken(store, fromLink);
    replaceHash(hashWithoutToken(hash));
    return fromLink;
  }
  return loadToken(store);
}
