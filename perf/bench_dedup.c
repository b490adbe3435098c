/*
 * bench_dedup: nanoseconds per fo_dedup_check in steady state, one thread.
 *
 *   bench_dedup [CAPACITY [DUP_PERCENT [prefetch]]]
 *
 * Defaults: 1048576 ids, 10% duplicates, no prefetch; "prefetch" calls
 * fo_dedup_prefetch for each batch of 32 ids before checking them.
 *
 * Event ids are real UUIDv5s (precomputed, 8 M of them, so hashing SHA-1
 * is not timed); DUP_PERCENT of the checks repeat a recent id. Phases:
 *   fill     the table fills up (no expiry, no eviction)
 *   full     every new id evicts the oldest early (a TTL longer than the
 *            run): the worst case, a delete per insert
 *   expiry   the clock runs so that ids expire at the rate they arrive
 *            (a TTL worth about half the capacity): the steady state
 * Prints one JSON line with ns per check for each phase.
 */
#include "dedup.h"
#include "json.h"
#include "timefmt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIDS (8u << 20)

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static fo_uuid *ids;
static volatile uint64_t sink_;

#define BATCH 32
static int prefetch;

/* Runs n checks drawing ids from *next on, repeating a recent one dup% of
 * the time, in batches of BATCH (prefetched first when prefetch is set,
 * as a worker would for a batch from its ring); the clock advances step ns
 * per check. Returns ns per check. */
static double phase(fo_dedup *d, size_t *next, size_t n, unsigned dup, int64_t *clock, int64_t step)
{
	uint64_t found = 0;
	size_t batch[BATCH];
	const int64_t t0 = fo_time_mono_ns();
	for (size_t i = 0; i < n; i += BATCH) {
		for (size_t b = 0; b < BATCH; b++) {
			if (*next > 1000 && rnd() % 100 < dup)
				batch[b] = (*next - 1 - rnd() % 1000) % NIDS;
			else
				batch[b] = (*next)++ % NIDS;
			if (prefetch)
				fo_dedup_prefetch(d, &ids[batch[b]]);
		}
		for (size_t b = 0; b < BATCH; b++) {
			found += (uint64_t)fo_dedup_check(d, &ids[batch[b]], *clock);
			*clock += step;
		}
	}
	const int64_t t1 = fo_time_mono_ns();
	sink_ += found;
	return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
	size_t cap = argc > 1 ? strtoull(argv[1], NULL, 10) : (size_t)1 << 20;
	unsigned dup = argc > 2 ? (unsigned)atoi(argv[2]) : 10;
	prefetch = argc > 3 && strcmp(argv[3], "prefetch") == 0;
	ids = malloc(sizeof(fo_uuid) * NIDS);
	for (uint32_t i = 0; i < NIDS; i++) {
		char name[32];
		int len =
		    snprintf(name, sizeof(name), "scene_%03u_track_%u:%u", i % 100, i % 997, i);
		fo_uuid5(&ids[i], &fo_uuid_ns_fleetops, name, (size_t)len);
	}
	size_t next = 0;
	int64_t clock = 0;

	fo_dedup *d = fo_dedup_new(cap, INT64_MAX / 2);
	if (!d) {
		fprintf(stderr, "bench_dedup: cannot create a table of %zu ids\n", cap);
		return 1;
	}
	const double fill = phase(d, &next, cap, dup, &clock, 1);
	const double full = phase(d, &next, 2 * cap, dup, &clock, 1);
	fo_dedup_stats st;
	fo_dedup_stats_get(d, &st);
	const size_t bytes = st.bytes;
	fo_dedup_destroy(d);

	/* 1 ns per check and a TTL of cap/2 checks: half full, ids expire */
	d = fo_dedup_new(cap, (int64_t)(cap / 2));
	next = 0;
	clock = 0;
	phase(d, &next, cap, dup, &clock, 1); /* reach the steady state */
	const double expiry = phase(d, &next, 2 * cap, dup, &clock, 1);
	fo_dedup_stats_get(d, &st);
	fo_dedup_destroy(d);

	char buf[512];
	fo_jw jw;
	fo_jw_init(&jw, buf, sizeof(buf));
	fo_jw_lit(&jw, "{\"bench\":\"dedup\",\"capacity\":");
	fo_jw_u64(&jw, cap);
	fo_jw_lit(&jw, ",\"MiB\":");
	fo_jw_fixed(&jw, (double)bytes / (1 << 20), 1);
	fo_jw_lit(&jw, ",\"dup_percent\":");
	fo_jw_u64(&jw, dup);
	fo_jw_lit(&jw, ",\"prefetch\":");
	fo_jw_cstr(&jw, prefetch ? "true" : "false");
	fo_jw_lit(&jw, ",\"fill_ns\":");
	fo_jw_fixed(&jw, fill, 1);
	fo_jw_lit(&jw, ",\"full_evicting_ns\":");
	fo_jw_fixed(&jw, full, 1);
	fo_jw_lit(&jw, ",\"steady_expiring_ns\":");
	fo_jw_fixed(&jw, expiry, 1);
	fo_jw_lit(&jw, ",\"steady_live\":");
	fo_jw_u64(&jw, st.live);
	fo_jw_char(&jw, '}');
	printf("%.*s\n", (int)jw.len, jw.buf);
	free(ids);
	return 0;
}
