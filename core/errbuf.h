/*
 * errbuf: the one way constructors and loaders report a failure — a
 * message naming the thing (file, array, chunk, field) formatted into the
 * caller's `char *err, size_t errsz`. Any thread.
 */
#ifndef FO_ERRBUF_H
#define FO_ERRBUF_H

#include <stddef.h>

/* snprintf into err (truncating, always NUL-terminated when errsz > 0). */
void fo_errf(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
