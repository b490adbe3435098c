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

/* Copies n bytes with fixed-size moves (two overlapping ones cover any
 * length in a size class), so that the many short appends of an event do
 * not each pay for a call to memcpy. Reads and writes only [0, n). */
static inline void fo_copy_small(char *d, const char *s, size_t n)
{
	if (n >= 16) {
		if (n > 32) {
			memcpy(d, s, n);
			return;
		}
		memcpy(d, s, 16);
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}

static inline void fo_jw_raw(fo_jw *jw, const char *s, size_t n)
{
	if (jw->len + n > jw->cap) {
		jw->overflow = 1;
		return;
	}
	fo_copy_small(jw->buf + jw->len, s, n);
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
/* Writes the decimal digits of v to out (no NUL); returns how many (1..20). */
size_t fo_fmt_u64(char *out, uint64_t v);

/* Appends v in a short round-trip form (%.15g, else %.17g); edges only. */
void fo_jw_double(fo_jw *jw, double v);

/* "00".."99", and the digits of v written right-aligned to end (returns
 * where they start): the building blocks of fo_jw_fixed. */
extern const char fo_digit_pairs[201];
char *fo_u64_digits(char *end, uint64_t v);

/* Appends v with exactly `decimals` digits after the point (0..9), rounded
 * half away from zero; NaN and infinities become null (JSON has neither);
 * magnitudes from 2^53 / 10^decimals on fall back to fo_jw_double. Inline
 * so that a constant `decimals` turns the divisions into multiplications:
 * this is most of the cost of encoding an event. */
static inline void fo_jw_fixed(fo_jw *jw, double v, int decimals)
{
	static const double pow10d[10] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
	static const uint64_t pow10u[10] = {1,      10,      100,      1000,      10000,
	                                    100000, 1000000, 10000000, 100000000, 1000000000};
	if (decimals < 0)
		decimals = 0;
	if (decimals > 9)
		decimals = 9;
	double scaled = __builtin_fabs(v) * pow10d[decimals] + 0.5;
	if (!(scaled < 9007199254740992.0)) { /* NaN, infinite, or beyond 2^53 */
		if (v != v || v - v != 0)
			fo_jw_lit(jw, "null");
		else
			fo_jw_double(jw, v);
		return;
	}
	uint64_t u = (uint64_t)scaled;
	uint64_t ip = u / pow10u[decimals], fp = u % pow10u[decimals];
	/* "-ddd.fff" right to left in one buffer, appended at once */
	char tmp[40];
	char *end = tmp + sizeof(tmp), *q = end;
	for (int d = decimals; d >= 2; d -= 2) {
		q -= 2;
		memcpy(q, fo_digit_pairs + 2 * (fp % 100), 2);
		fp /= 100;
	}
	if (decimals & 1)
		*--q = (char)('0' + fp);
	if (decimals)
		*--q = '.';
	q = fo_u64_digits(q, ip);
	if (v < 0 && u != 0) /* never "-0.000" */
		*--q = '-';
	fo_jw_raw(jw, q, (size_t)(end - q));
}

/* Formats a UTF-8 string into a JSON string literal in out (NUL-terminated);
 * returns the length or -1 if cap is too small. */
int fo_json_quote(char *out, size_t cap, const char *s);

#endif
