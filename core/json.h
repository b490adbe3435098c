/*
 * json: a small, allocation-free JSON writer for the hot path.
 *
 * fo_jw appends into a caller-owned buffer; every append is bounds-checked
 * and a write past the end sets the overflow flag instead of writing, so a
 * whole event is encoded and checked once at the end. Doubles are printed
 * with a fixed number of decimals by integer arithmetic (no printf), which
 * is what makes encoding an event take a fraction of a microsecond.
 * Single-threaded per writer; no locks, no globals.
 */
#ifndef FO_JSON_H
#define FO_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fo_jw {
	char *buf;
	size_t cap;
	size_t len;
	int overflow;
} fo_jw;

static inline void fo_jw_init(fo_jw *jw, char *buf, size_t cap)
{
	jw->buf = buf;
	jw->cap = cap;
	jw->len = 0;
	jw->overflow = 0;
}

static inline void fo_jw_raw(fo_jw *jw, const char *s, size_t n)
{
	if (jw->len + n > jw->cap) {
		jw->overflow = 1;
		return;
	}
	memcpy(jw->buf + jw->len, s, n);
	jw->len += n;
}

/* Appends a string literal or NUL-terminated string without escaping. */
#define fo_jw_lit(jw, s) fo_jw_raw((jw), (s), sizeof(s) - 1)
static inline void fo_jw_cstr(fo_jw *jw, const char *s)
{
	fo_jw_raw(jw, s, strlen(s));
}

static inline void fo_jw_char(fo_jw *jw, char c)
{
	if (jw->len + 1 > jw->cap) {
		jw->overflow = 1;
		return;
	}
	jw->buf[jw->len++] = c;
}

/* Appends "s" with JSON escaping (quotes included). */
void fo_jw_str(fo_jw *jw, const char *s, size_t n);
/* Appends a signed / unsigned integer. */
void fo_jw_i64(fo_jw *jw, int64_t v);
void fo_jw_u64(fo_jw *jw, uint64_t v);
/* Appends v with exactly `decimals` digits after the point (0..9), rounded
 * half away from zero; NaN and infinities become null (JSON has neither);
 * magnitudes beyond 1e15 fall back to %.17g. */
void fo_jw_fixed(fo_jw *jw, double v, int decimals);
/* Appends v in a short round-trip form (%.15g, else %.17g); edges only. */
void fo_jw_double(fo_jw *jw, double v);

/* Formats a UTF-8 string into a JSON string literal in out (NUL-terminated);
 * returns the length or -1 if cap is too small. */
int fo_json_quote(char *out, size_t cap, const char *s);

#endif
