/*
 * Unit: at-least-once commit tracking (io/offsets.c).
 *
 *   basics     the committable offset is the first not done, whatever the
 *              order of completion; skipped offsets count as done
 *   window     a full window refuses offsets until its oldest completes
 *   rebalance  revoke forgets a partition; late and repeated notifications
 *              are stale, also after the partition is assigned again
 *   commits    the list of partitions to commit and its bookkeeping
 *   random     six partitions, random skips, random completion order and
 *              random revokes, against a reference model, with the window
 *              wrapping thousands of times
 */
#include "fo_test.h"
#include "offsets.h"

#include <stdint.h>

static uint64_t rng = 0xbb67ae8584caa73bULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_basics(void)
{
	FO_CHECK(fo_offsets_new(0, 64) == NULL);
	FO_CHECK(fo_offsets_new(FO_OFFSETS_MAX_PARTITIONS + 1, 64) == NULL);
	FO_CHECK(fo_offsets_new(6, 0) == NULL);
	fo_offsets *o = fo_offsets_new(6, 100); /* rounded up to 128 */
	uint64_t tag[20];
	FO_CHECK(fo_offsets_consumed(o, 2, 0, &tag[0]) == -1); /* not assigned */
	FO_CHECK(fo_offsets_assign(o, 6) == -1 && fo_offsets_assign(o, -1) == -1);
	FO_CHECK(fo_offsets_assign(o, 2) == 0 && fo_offsets_assigned(o, 2));
	FO_CHECK(fo_offsets_committable(o, 2) == -1); /* nothing consumed yet */
	FO_CHECK(fo_offsets_room(o, 2) == 128);
	for (int i = 0; i < 10; i++)
		FO_CHECK(fo_offsets_consumed(o, 2, 1000 + i, &tag[i]) == 0);
	FO_CHECK(fo_offsets_tag_partition(tag[3]) == 2 && fo_offsets_tag_offset(tag[3]) == 1003);
	FO_CHECK(fo_offsets_consumed(o, 2, 1009, &tag[10]) == -1); /* not increasing */
	FO_CHECK(fo_offsets_committable(o, 2) == 1000 && fo_offsets_pending(o, 2) == 10);
	FO_CHECK(fo_offsets_done(o, tag[3]) == 0);
	FO_CHECK(fo_offsets_done(o, tag[1]) == 0);
	FO_CHECK(fo_offsets_committable(o, 2) == 1000);
	FO_CHECK(fo_offsets_done(o, tag[0]) == 0);
	FO_CHECK(fo_offsets_committable(o, 2) == 1002); /* 1002 is still in flight */
	FO_CHECK(fo_offsets_done(o, tag[2]) == 0);
	FO_CHECK(fo_offsets_committable(o, 2) == 1004);
	FO_CHECK(fo_offsets_done(o, tag[2]) == 1); /* twice: stale */
	for (int i = 9; i >= 4; i--)
		FO_CHECK(fo_offsets_done(o, tag[i]) == 0);
	FO_CHECK(fo_offsets_committable(o, 2) == 1010 && fo_offsets_pending(o, 2) == 0);
	/* offsets never seen (compacted, transaction markers) count as done */
	FO_CHECK(fo_offsets_consumed(o, 2, 1500, &tag[0]) == 0);
	FO_CHECK(fo_offsets_committable(o, 2) == 1500);
	FO_CHECK(fo_offsets_consumed(o, 2, 1505, &tag[1]) == 0);
	FO_CHECK(fo_offsets_done(o, tag[0]) == 0);
	FO_CHECK(fo_offsets_committable(o, 2) == 1505);
	FO_CHECK(fo_offsets_done(o, tag[1]) == 0);
	FO_CHECK(fo_offsets_committable(o, 2) == 1506);
	FO_CHECK(fo_offsets_consumed(o, 2, FO_OFFSETS_OFFSET_MAX + 1, &tag[0]) == -1);
	fo_offsets_stats st;
	fo_offsets_stats_get(o, &st);
	FO_CHECK(st.consumed == 12 && st.done == 12 && st.stale == 1 && st.in_flight == 0);
	FO_CHECK(st.partitions == 1);
	fo_offsets_destroy(o);
}

static void test_window(void)
{
	fo_offsets *o = fo_offsets_new(1, 64);
	uint64_t tag[200];
	fo_offsets_assign(o, 0);
	for (int i = 0; i < 64; i++)
		FO_CHECK(fo_offsets_consumed(o, 0, i, &tag[i]) == 0);
	FO_CHECK(fo_offsets_room(o, 0) == 0);
	FO_CHECK(fo_offsets_consumed(o, 0, 64, &tag[64]) == FO_OFFSETS_FULL);
	/* the newest completing does not help: the window starts at the oldest */
	FO_CHECK(fo_offsets_done(o, tag[63]) == 0);
	FO_CHECK(fo_offsets_consumed(o, 0, 64, &tag[64]) == FO_OFFSETS_FULL);
	FO_CHECK(fo_offsets_done(o, tag[0]) == 0);
	FO_CHECK(fo_offsets_room(o, 0) == 1);
	FO_CHECK(fo_offsets_consumed(o, 0, 64, &tag[64]) == 0);
	/* a skip also uses room */
	FO_CHECK(fo_offsets_done(o, tag[1]) == 0 && fo_offsets_room(o, 0) == 1);
	FO_CHECK(fo_offsets_consumed(o, 0, 67, &tag[67]) == FO_OFFSETS_FULL);
	FO_CHECK(fo_offsets_consumed(o, 0, 65, &tag[65]) == 0);
	/* complete everything: the window wraps and is empty again */
	for (int i = 2; i <= 65; i++)
		if (i != 63)
			FO_CHECK(fo_offsets_done(o, tag[i]) == 0);
	FO_CHECK(fo_offsets_committable(o, 0) == 66 && fo_offsets_room(o, 0) == 64);
	FO_CHECK(fo_offsets_consumed(o, 0, 1000, &tag[0]) == 0); /* far ahead: fine */
	FO_CHECK(fo_offsets_committable(o, 0) == 1000);
	fo_offsets_stats st;
	fo_offsets_stats_get(o, &st);
	FO_CHECK(st.refused == 3);
	fo_offsets_destroy(o);
}

static void test_rebalance(void)
{
	fo_offsets *o = fo_offsets_new(6, 1024);
	uint64_t a[3], b[3];
	fo_offsets_assign(o, 4);
	for (int i = 0; i < 3; i++)
		fo_offsets_consumed(o, 4, 10 + i, &a[i]);
	fo_offsets_done(o, a[0]);
	fo_offsets_revoke(o, 4);
	FO_CHECK(!fo_offsets_assigned(o, 4) && fo_offsets_committable(o, 4) == -1);
	FO_CHECK(fo_offsets_pending(o, 4) == 0 && fo_offsets_room(o, 4) == 0);
	FO_CHECK(fo_offsets_done(o, a[1]) == 1); /* after the revoke: stale */
	fo_offsets_revoke(o, 4);                 /* twice is harmless */
	/* assigned again, resuming at the committed offset 11 */
	fo_offsets_assign(o, 4);
	for (int i = 0; i < 3; i++)
		FO_CHECK(fo_offsets_consumed(o, 4, 11 + i, &b[i]) == 0);
	FO_CHECK(fo_offsets_done(o, a[2]) == 1); /* from the first assignment: stale */
	FO_CHECK(fo_offsets_pending(o, 4) == 3 && fo_offsets_committable(o, 4) == 11);
	FO_CHECK(a[1] != b[0]); /* same partition and offset, another epoch */
	FO_CHECK(fo_offsets_done(o, b[0]) == 0 && fo_offsets_committable(o, 4) == 12);
	fo_offsets_stats st;
	fo_offsets_stats_get(o, &st);
	FO_CHECK(st.stale == 2 && st.in_flight == 2 && st.partitions == 1);
	fo_offsets_revoke(o, 4);
	fo_offsets_stats_get(o, &st);
	FO_CHECK(st.in_flight == 0 && st.partitions == 0);
	fo_offsets_destroy(o);
}

static void test_commits(void)
{
	fo_offsets *o = fo_offsets_new(6, 1024);
	fo_offsets_pos pos[6];
	uint64_t t;
	FO_CHECK(fo_offsets_to_commit(o, pos, 6) == 0);
	fo_offsets_assign(o, 1);
	fo_offsets_assign(o, 3);
	fo_offsets_assign(o, 5);
	FO_CHECK(fo_offsets_to_commit(o, pos, 6) == 0); /* nothing consumed */
	fo_offsets_consumed(o, 1, 7, &t);
	fo_offsets_done(o, t);
	fo_offsets_consumed(o, 3, 70, &t); /* in flight: 70 is committable, as resumption point */
	size_t n = fo_offsets_to_commit(o, pos, 6);
	FO_CHECK(n == 2 && pos[0].partition == 1 && pos[0].offset == 8);
	FO_CHECK(pos[1].partition == 3 && pos[1].offset == 70);
	FO_CHECK(fo_offsets_to_commit(o, pos, 1) == 1); /* bounded by max */
	fo_offsets_committed(o, 1, 8);
	fo_offsets_committed(o, 3, 70);
	FO_CHECK(fo_offsets_to_commit(o, pos, 6) == 0);
	fo_offsets_done(o, t);
	n = fo_offsets_to_commit(o, pos, 6);
	FO_CHECK(n == 1 && pos[0].partition == 3 && pos[0].offset == 71);
	fo_offsets_committed(o, 3, 60); /* an older commit completing late changes nothing */
	FO_CHECK(fo_offsets_to_commit(o, pos, 6) == 1);
	fo_offsets_destroy(o);
}

#define NP 6
static void test_random(void)
{
	const size_t window = 256;
	fo_offsets *o = fo_offsets_new(NP, window);
	/* reference: per partition, the tags in flight and the offsets done */
	static uint64_t inflight[NP][4096];
	static size_t nin[NP];
	static int64_t next[NP], lo_pending[NP];
	int assigned[NP] = {0};
	uint64_t wraps = 0;
	for (long step = 0; step < 2000000; step++) {
		int p = (int)(rnd() % NP);
		unsigned act = (unsigned)(rnd() % 100);
		if (!assigned[p] || act == 0) { /* (re)assign, sometimes revoking first */
			if (assigned[p] && rnd() % 2)
				fo_offsets_revoke(o, p);
			fo_offsets_assign(o, p);
			assigned[p] = 1;
			nin[p] = 0;
			next[p] = next[p] + (int64_t)(rnd() % 3); /* resume near where it was */
			continue;
		}
		if (act < 55) { /* consume, sometimes skipping offsets */
			int64_t off = next[p] + (rnd() % 10 == 0 ? (int64_t)(rnd() % 5) : 0);
			uint64_t tag;
			int rc = fo_offsets_consumed(o, p, off, &tag);
			int64_t low = nin[p] ? lo_pending[p] : off;
			int fits = (uint64_t)(off - low) < window;
			if (!fits) {
				FO_CHECK_MSG(rc == FO_OFFSETS_FULL, "p%d off %lld low %lld rc %d",
				             p, (long long)off, (long long)low, rc);
				continue;
			}
			FO_CHECK(rc == 0);
			if (rc)
				break;
			inflight[p][nin[p]++] = tag;
			next[p] = off + 1;
			if ((uint64_t)off % window == 0)
				wraps++;
		} else if (nin[p]) { /* complete a random in-flight one */
			size_t k = (size_t)(rnd() % nin[p]);
			FO_CHECK(fo_offsets_done(o, inflight[p][k]) == 0);
			inflight[p][k] = inflight[p][--nin[p]];
		}
		/* the model: committable = lowest in flight, else next */
		int64_t want = next[p];
		for (size_t k = 0; k < nin[p]; k++) {
			int64_t off = fo_offsets_tag_offset(inflight[p][k]);
			if (off < want)
				want = off;
		}
		lo_pending[p] = want;
		int64_t got = fo_offsets_committable(o, p);
		if (got != want && !(got == -1 && nin[p] == 0)) {
			FO_CHECK_MSG(got == want, "step %ld p%d: committable %lld, want %lld", step,
			             p, (long long)got, (long long)want);
			break;
		}
		FO_CHECK(fo_offsets_pending(o, p) == nin[p]);
	}
	fo_offsets_stats st;
	fo_offsets_stats_get(o, &st);
	printf("random: %llu consumed, %llu done, %llu refused (window full), %llu wraps\n",
	       (unsigned long long)st.consumed, (unsigned long long)st.done,
	       (unsigned long long)st.refused, (unsigned long long)wraps);
	FO_CHECK(st.refused > 1000 && wraps > 1000 && st.stale == 0);
	fo_offsets_destroy(o);
}

int main(void)
{
	test_basics();
	test_window();
	test_rebalance();
	test_commits();
	test_random();
	return fo_test_done("test_offsets");
}
