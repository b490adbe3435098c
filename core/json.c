/*
 * json: see json.h. The fixed-decimal path formats the scaled, rounded
 * integer with digit pairs from a table; it is exact for |v| * 10^decimals
 * below 2^53 and falls back to printf beyond that.
 */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char fo_digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Writes the decimal digits of v right-aligned ending at end; returns start. */
static char *fo_u64_digits(char *end, uint64_t v)
{
	char *p = end;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		p -= 2;
		memcpy(p, fo_digit_pairs + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, fo_digit_pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

void fo_jw_u64(fo_jw *jw, uint64_t v)
{
	char tmp[24];
	char *end = tmp + sizeof(tmp);
	char *p = fo_u64_digits(end, v);
	fo_jw_raw(jw, p, (size_t)(end - p));
}

void fo_jw_i64(fo_jw *jw, int64_t v)
{
	if (v < 0) {
		fo_jw_char(jw, '-');
		fo_jw_u64(jw, (uint64_t)0 - (uint64_t)v);
	} else {
		fo_jw_u64(jw, (uint64_t)v);
	}
}

static const double fo_pow10[10] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

void fo_jw_fixed(fo_jw *jw, double v, int decimals)
{
	if (!isfinite(v)) {
		fo_jw_lit(jw, "null");
		return;
	}
	if (decimals < 0)
		decimals = 0;
	if (decimals > 9)
		decimals = 9;
	double scaled = fabs(v) * fo_pow10[decimals] + 0.5;
	if (scaled >= 9007199254740992.0) { /* 2^53: no longer exact */
		fo_jw_double(jw, v);
		return;
	}
	uint64_t u = (uint64_t)scaled;
	if (u == 0) { /* avoid "-0.000" */
		fo_jw_char(jw, '0');
		if (decimals) {
			fo_jw_char(jw, '.');
			fo_jw_raw(jw, "000000000", (size_t)decimals);
		}
		return;
	}
	char tmp[32];
	char *end = tmp + sizeof(tmp);
	char *p = fo_u64_digits(end, u);
	/* pad with zeros so there is at least one digit before the point */
	while (end - p < decimals + 1)
		*--p = '0';
	if (v < 0)
		fo_jw_char(jw, '-');
	size_t ndig = (size_t)(end - p);
	fo_jw_raw(jw, p, ndig - (size_t)decimals);
	if (decimals) {
		fo_jw_char(jw, '.');
		fo_jw_raw(jw, end - decimals, (size_t)decimals);
	}
}

void fo_jw_double(fo_jw *jw, double v)
{
	if (!isfinite(v)) {
		fo_jw_lit(jw, "null");
		return;
	}
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (strtod(tmp, NULL) != v) /* shortest form that reads back exactly */
		n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	fo_jw_raw(jw, tmp, (size_t)n);
}

void fo_jw_str(fo_jw *jw, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	fo_jw_char(jw, '"');
	size_t run = 0; /* start of the current run of plain bytes */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		fo_jw_raw(jw, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': fo_jw_lit(jw, "\\\""); break;
		case '\\': fo_jw_lit(jw, "\\\\"); break;
		case '\n': fo_jw_lit(jw, "\\n"); break;
		case '\r': fo_jw_lit(jw, "\\r"); break;
		case '\t': fo_jw_lit(jw, "\\t"); break;
		default: {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			fo_jw_raw(jw, esc, sizeof(esc));
		}
		}
	}
	fo_jw_raw(jw, s + run, n - run);
	fo_jw_char(jw, '"');
}

int fo_json_quote(char *out, size_t cap, const char *s)
{
	fo_jw jw;
	fo_jw_init(&jw, out, cap ? cap - 1 : 0);
	fo_jw_str(&jw, s, strlen(s));
	if (jw.overflow || cap == 0)
		return -1;
	out[jw.len] = '\0';
	return (int)jw.len;
}
