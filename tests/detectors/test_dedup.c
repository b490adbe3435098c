/*
 * Unit: event-id deduplication (detectors/dedup.c).
 *
 *   basics      new, duplicate, other; the nil UUID; bad arguments
 *   ttl         an id is a duplicate until exactly ttl after its first
 *               sighting, and a duplicate does not extend it; a clock step
 *               back expires nothing
 *   capacity    a full table evicts its oldest ids early, and counts them
 *   model       a million random checks (ids from a small pool so that
 *               duplicates, expiry and eviction all happen constantly,
 *               sequential ids to stress probe runs) against a plain
 *               reference model of the same semantics
 *   many ids    four million random ids through a 2^20 table
 */
#include "dedup.h"
#include "fo_test.h"

#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static fo_uuid id_of(uint64_t lo, uint64_t hi)
{
	fo_uuid u;
	memcpy(u.b, &lo, 8);
	memcpy(u.b + 8, &hi, 8);
	return u;
}

static void test_basics(void)
{
	FO_CHECK(fo_dedup_new(0, FO_DEDUP_TTL_NS) == NULL);
	FO_CHECK(fo_dedup_new(16, 0) == NULL);
	FO_CHECK(fo_dedup_new((size_t)1 << 31, FO_DEDUP_TTL_NS) == NULL);
	fo_dedup *d = fo_dedup_new(100, FO_DEDUP_TTL_NS);
	FO_CHECK(d != NULL);
	fo_uuid a, b, nil = id_of(0, 0);
	fo_uuid5(&a, &fo_uuid_ns_fleetops, "a", 1);
	fo_uuid5(&b, &fo_uuid_ns_fleetops, "b", 1);
	FO_CHECK(fo_dedup_check(d, &a, 1000) == 0);
	FO_CHECK(fo_dedup_check(d, &a, 1001) == 1);
	FO_CHECK(fo_dedup_check(d, &b, 1002) == 0);
	FO_CHECK(fo_dedup_check(d, &nil, 1003) == 0);
	FO_CHECK(fo_dedup_check(d, &nil, 1004) == 1);
	FO_CHECK(fo_dedup_check(d, &b, 1005) == 1);
	fo_dedup_stats st;
	fo_dedup_stats_get(d, &st);
	FO_CHECK(st.checked == 6 && st.duplicates == 3 && st.live == 3 && st.capacity == 100);
	FO_CHECK(st.expired == 0 && st.evicted_early == 0 && st.bytes > 100 * 40);
	fo_dedup_destroy(d);
	fo_dedup_destroy(NULL);
}

static void test_ttl(void)
{
	const int64_t ttl = 60 * 1000000000LL, t0 = 1700000000LL * 1000000000LL;
	fo_dedup *d = fo_dedup_new(1000, ttl);
	fo_uuid a = id_of(1, 2), b = id_of(3, 4), nil = id_of(0, 0);
	FO_CHECK(fo_dedup_check(d, &a, t0) == 0);
	FO_CHECK(fo_dedup_check(d, &nil, t0) == 0);
	FO_CHECK(fo_dedup_check(d, &b, t0 + ttl / 2) == 0);
	FO_CHECK(fo_dedup_check(d, &a, t0 + ttl / 2) == 1); /* does not extend a's TTL */
	FO_CHECK(fo_dedup_check(d, &a, t0 + ttl - 1) == 1);
	FO_CHECK(fo_dedup_check(d, &nil, t0 + ttl - 1) == 1);
	FO_CHECK(fo_dedup_check(d, &a, t0 + ttl) == 0); /* expired: seen anew */
	FO_CHECK(fo_dedup_check(d, &nil, t0 + ttl) == 0);
	FO_CHECK(fo_dedup_check(d, &b, t0 + ttl) == 1); /* b is younger */
	fo_dedup_stats st;
	fo_dedup_stats_get(d, &st);
	FO_CHECK_MSG(st.expired == 2 && st.live == 3, "expired %llu live %zu",
	             (unsigned long long)st.expired, st.live);
	/* the clock steps back a minute: nothing expires, duplicates stay */
	FO_CHECK(fo_dedup_check(d, &b, t0 - ttl) == 1);
	/* and far ahead everything goes at once */
	FO_CHECK(fo_dedup_check(d, &b, t0 + 10 * ttl) == 0);
	fo_dedup_stats_get(d, &st);
	FO_CHECK(st.expired == 5 && st.live == 1);
	fo_dedup_destroy(d);
}

static void test_capacity(void)
{
	fo_dedup *d = fo_dedup_new(1000, FO_DEDUP_TTL_NS);
	for (uint64_t i = 0; i < 1500; i++) {
		fo_uuid u = id_of(i + 1, i * 7);
		FO_CHECK(fo_dedup_check(d, &u, 5) == 0);
	}
	fo_dedup_stats st;
	fo_dedup_stats_get(d, &st);
	FO_CHECK(st.evicted_early == 500 && st.live == 1000 && st.expired == 0);
	for (uint64_t i = 500; i < 1500; i++) { /* the newest 1000 are remembered */
		fo_uuid u = id_of(i + 1, i * 7);
		FO_CHECK(fo_dedup_check(d, &u, 6) == 1);
	}
	for (uint64_t i = 0; i < 500; i++) { /* the oldest were forgotten early */
		fo_uuid u = id_of(i + 1, i * 7);
		FO_CHECK(fo_dedup_check(d, &u, 7) == 0);
	}
	fo_dedup_stats_get(d, &st);
	FO_CHECK(st.evicted_early == 1000 && st.live == 1000 && st.duplicates == 1000);
	fo_dedup_destroy(d);
}

/* Reference: a FIFO of pool indices and a live flag per index. */
#define POOL 3000
#define CAP  512
static void test_model(void)
{
	const int64_t ttl = 1000;
	fo_dedup *d = fo_dedup_new(CAP, ttl);
	static int live[POOL];
	static struct {
		int idx;
		int64_t t;
	} q[CAP];
	size_t qh = 0, qn = 0;
	uint64_t expired = 0, evicted = 0, dups = 0;
	int64_t now = 0;
	for (long n = 0; n < 1000000; n++) {
		/* sometimes the same instant; slow phases fill the table */
		now += (int64_t)(rnd() % (n % 200000 < 100000 ? 5 : 2));
		int idx = (int)(rnd() % (n % 100000 < 50000 ? POOL : 600));
		/* index 0 is the nil UUID; sequential ids share high words */
		fo_uuid u = idx == 0 ? id_of(0, 0) : id_of((uint64_t)idx, idx % 3 ? 0 : 42);
		while (qn && now - q[qh].t >= ttl) {
			live[q[qh].idx] = 0;
			qh = (qh + 1) % CAP;
			qn--;
			expired++;
		}
		int want = live[idx];
		if (want) {
			dups++;
		} else {
			if (qn == CAP) {
				live[q[qh].idx] = 0;
				qh = (qh + 1) % CAP;
				qn--;
				evicted++;
			}
			live[idx] = 1;
			q[(qh + qn) % CAP].idx = idx;
			q[(qh + qn) % CAP].t = now;
			qn++;
		}
		int got = fo_dedup_check(d, &u, now);
		if (got != want) {
			FO_CHECK_MSG(got == want, "check %ld id %d at %lld: got %d, want %d", n,
			             idx, (long long)now, got, want);
			break;
		}
	}
	fo_dedup_stats st;
	fo_dedup_stats_get(d, &st);
	FO_CHECK(st.duplicates == dups && st.expired == expired && st.evicted_early == evicted);
	FO_CHECK(st.live == qn);
	printf("model: %llu duplicates, %llu expired, %llu evicted early\n",
	       (unsigned long long)dups, (unsigned long long)expired, (unsigned long long)evicted);
	FO_CHECK(dups > 100000 && expired > 100000 && evicted > 10000);
	fo_dedup_destroy(d);
}

static void test_many(void)
{
	const size_t cap = (size_t)1 << 20;
	fo_dedup *d = fo_dedup_new(cap, FO_DEDUP_TTL_NS);
	const uint64_t seed = rng;
	const long n = 4 * (long)cap;
	for (long i = 0; i < n; i++) {
		fo_uuid u = id_of(rnd(), rnd());
		FO_CHECK(fo_dedup_check(d, &u, 1000 + i) == 0);
	}
	/* replay the same ids: the last cap are duplicates, the rest are not */
	rng = seed;
	long dup = 0;
	for (long i = 0; i < n - (long)cap; i++) {
		rnd();
		rnd();
	}
	for (long i = 0; i < (long)cap; i++) {
		fo_uuid u = id_of(rnd(), rnd());
		dup += fo_dedup_check(d, &u, 1000 + n);
	}
	FO_CHECK_MSG(dup == (long)cap, "%ld of %zu recent ids found", dup, cap);
	fo_dedup_stats st;
	fo_dedup_stats_get(d, &st);
	FO_CHECK(st.evicted_early == (uint64_t)(n - (long)cap) && st.live == cap);
	printf("many: %ld ids through a table of %zu (%.1f MiB)\n", n, cap,
	       (double)st.bytes / (1 << 20));
	fo_dedup_destroy(d);
}

int main(void)
{
	test_basics();
	test_ttl();
	test_capacity();
	test_model();
	test_many();
	return fo_test_done("test_dedup");
}
