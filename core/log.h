/*
 * log: structured JSON-lines logging to stderr.
 *
 * One line per record: {"ts":..., "service":..., "level":..., "event_type":...,
 * "msg":..., <fields>}. Any thread may log; a line is written with a single
 * write(2) so lines from different threads never interleave. Logging is for
 * the edges (start, stop, errors, periodic progress), never per event: it
 * formats on the stack and makes a syscall.
 */
#ifndef FO_LOG_H
#define FO_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum fo_log_level {
	FO_LOG_DEBUG = 0,
	FO_LOG_INFO,
	FO_LOG_WARN,
	FO_LOG_ERROR,
} fo_log_level;

/* One extra field of a log line: a key and a typed value. */
typedef struct fo_kv {
	const char *k;
	char t; /* 's' string, 'i' integer, 'u' unsigned, 'f' double, 'b' bool */
	union {
		const char *s;
		long long i;
		unsigned long long u;
		double f;
	};
} fo_kv;

#define FO_KS(key, v) ((fo_kv){.k = (key), .t = 's', .s = (v)})
#define FO_KI(key, v) ((fo_kv){.k = (key), .t = 'i', .i = (long long)(v)})
#define FO_KU(key, v) ((fo_kv){.k = (key), .t = 'u', .u = (unsigned long long)(v)})
#define FO_KF(key, v) ((fo_kv){.k = (key), .t = 'f', .f = (double)(v)})
#define FO_KB(key, v) ((fo_kv){.k = (key), .t = 'b', .i = !!(v)})

/* Sets the service name and the minimum level (FO_LOG_LEVEL in the
 * environment overrides: debug|info|warn|error). Call once from main before
 * any thread starts. */
void fo_log_init(const char *service);

/* Raises or lowers the minimum level (a --quiet flag); main thread, before
 * other threads start. */
void fo_log_set_level(fo_log_level level);

/* Writes one line if level is enabled. kv may be NULL when n is 0. */
void fo_log_kv(fo_log_level level, const char *event_type, const char *msg, const fo_kv *kv,
               size_t n);

/* fo_log(level, "event_type", "human message", FO_KS("file", path), ...) */
#define fo_log(level, event_type, msg, ...)                                                        \
	do {                                                                                       \
		const fo_kv _fo_kv[] = {{.k = NULL}, ##__VA_ARGS__};                               \
		fo_log_kv((level), (event_type), (msg), _fo_kv + 1,                                \
		          sizeof(_fo_kv) / sizeof(_fo_kv[0]) - 1);                                 \
	} while (0)

int fo_log_enabled(fo_log_level level);

#endif
