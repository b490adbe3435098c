/*
 * timefmt: clocks and ISO-8601 UTC formatting without libc's locale-aware
 * paths. fo_time_iso8601 is a pure function (days-from-civil arithmetic), safe
 * from any thread and cheap enough for per-event use.
 */
#ifndef FO_TIMEFMT_H
#define FO_TIMEFMT_H

#include <stdint.h>
#include <time.h>

#define FO_ISO8601_LEN 24 /* "2019-10-23T16:28:01.502Z" */

/* CLOCK_REALTIME / CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t fo_time_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t fo_time_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Writes ns since the Unix epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" plus a NUL
 * into out (at least FO_ISO8601_LEN + 1 bytes), truncating to milliseconds
 * toward minus infinity. Returns FO_ISO8601_LEN. Years outside 0..9999 are
 * clamped. */
int fo_time_iso8601(int64_t ns, char *out);

#endif
