/*
 * strbuf: see strbuf.h. Capacity doubles from 256 bytes.
 */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and a NUL; 0, or -1 (sticky oom). */
static int fo_sb_reserve(fo_sb *sb, size_t n)
{
	if (sb->oom)
		return -1;
	if (sb->len + n + 1 <= sb->cap)
		return 0;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + n + 1)
		cap *= 2;
	char *p = realloc(sb->buf, cap);
	if (!p) {
		sb->oom = 1;
		return -1;
	}
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

void fo_sb_add(fo_sb *sb, const char *s, size_t n)
{
	if (fo_sb_reserve(sb, n) < 0)
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void fo_sb_str(fo_sb *sb, const char *s)
{
	fo_sb_add(sb, s, strlen(s));
}

void fo_sb_printf(fo_sb *sb, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		fo_sb_add(sb, small, (size_t)n);
		return;
	}
	if (fo_sb_reserve(sb, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void fo_sb_json_str(fo_sb *sb, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (!s) {
		fo_sb_add(sb, "null", 4);
		return;
	}
	fo_sb_add(sb, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
		switch (*p) {
		case '"': fo_sb_add(sb, "\\\"", 2); break;
		case '\\': fo_sb_add(sb, "\\\\", 2); break;
		case '\n': fo_sb_add(sb, "\\n", 2); break;
		case '\t': fo_sb_add(sb, "\\t", 2); break;
		default:
			if (*p < 0x20)
				fo_sb_add(sb, esc, 6);
			else
				fo_sb_add(sb, (const char *)p, 1);
		}
	}
	fo_sb_add(sb, "\"", 1);
}

char *fo_sb_take(fo_sb *sb, size_t *len)
{
	if (sb->oom || fo_sb_reserve(sb, 0) < 0) {
		fo_sb_free(sb);
		return NULL;
	}
	char *s = sb->buf;
	if (len)
		*len = sb->len;
	*sb = (fo_sb)FO_SB_INIT;
	return s;
}

void fo_sb_free(fo_sb *sb)
{
	free(sb->buf);
	*sb = (fo_sb)FO_SB_INIT;
}
