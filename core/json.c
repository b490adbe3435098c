/*
 * json: see json.h. The fixed-decimal path formats the scaled, rounded
 * integer with digit pairs from a table; it is exact for |v| * 10^decimals
 * below 2^53 and falls back to printf beyond that.
 */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char fo_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char *fo_u64_digits(char *end, uint64_t v)
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

size_t fo_fmt_u64(char *out, uint64_t v)
{
	char tmp[24];
	char *end = tmp + sizeof(tmp);
	char *p = fo_u64_digits(end, v);
	size_t n = (size_t)(end - p);
	memcpy(out, p, n);
	return n;
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
