/*
 * strbuf: a growable byte string for building answers off the hot path
 * (HTTP bodies, Prometheus text, WebSocket messages).
 *
 * Owned by one thread at a time. An allocation failure is sticky: later
 * appends do nothing and fo_sb_take returns NULL, so a builder checks once
 * at the end instead of after every append.
 */
#ifndef FO_STRBUF_H
#define FO_STRBUF_H

#include <stddef.h>

typedef struct fo_sb {
	char *buf; /* NUL-terminated while not NULL; malloc'd */
	size_t len, cap;
	int oom;
} fo_sb;

#define FO_SB_INIT                                                                                 \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

/* Appends n bytes of s. */
void fo_sb_add(fo_sb *sb, const char *s, size_t n);

/* Appends a C string. */
void fo_sb_str(fo_sb *sb, const char *s);

/* Appends printf-style text. */
void fo_sb_printf(fo_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string literal (quotes and escapes); NULL as null. */
void fo_sb_json_str(fo_sb *sb, const char *s);

/* The text (malloc'd, NUL-terminated; the caller frees) with its length in
 * *len, and sb emptied; NULL (and sb freed) if an allocation failed. */
char *fo_sb_take(fo_sb *sb, size_t *len);

/* Frees the text. */
void fo_sb_free(fo_sb *sb);

#endif
