/*
 * Unit: the per-vehicle reorder buffer (detectors/reorder.c).
 *
 *   in order        every frame released at once
 *   swaps           swaps of 1 and 2 frames come out in order, nothing lost
 *   gaps            a missing frame overtaken by more than 2 frames is given
 *                   up; a jump of more than 2 does not wait at all
 *   late/duplicate  dropped with a code, never released twice or backwards
 *   flush/advance   waiting events released on demand and when the scene
 *                   moves on; tags and ids come back untouched
 *   random          block permutations within the tolerance lose nothing;
 *                   arbitrary disorder with duplicates and gaps accounts for
 *                   every event exactly once and releases frames in order
 */
#include "fo_test.h"
#include "reorder.h"

#include <stdint.h>

static uint64_t rng = 0x6a09e667f3bcc909ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static fo_reorder_ev ev_of(uint32_t frame)
{
	fo_reorder_ev e;
	memset(&e, 0, sizeof(e));
	e.t.frame = frame;
	e.t.scene = 3;
	e.t.track = 9;
	e.t.pos[0] = frame * 0.5;
	e.tag = 1000 + frame;
	e.t.frame_agents = frame + 7;
	fo_uuid5(&e.event_id, &fo_uuid_ns_fleetops, &frame, sizeof(frame));
	return e;
}

/* Pushes frame; checks the flags and the frames released. */
static void push(fo_reorder *r, uint32_t frame, unsigned want_rc, const char *want_out)
{
	fo_reorder_ev e = ev_of(frame), out[FO_REORDER_OUT_MAX];
	unsigned n = 99;
	unsigned rc = fo_reorder_push(r, &e, out, &n);
	char got[128] = "";
	int len = 0;
	for (unsigned i = 0; i < n; i++) {
		len += snprintf(got + len, sizeof(got) - (size_t)len, "%s%u", i ? "," : "",
		                out[i].t.frame);
		fo_reorder_ev x = ev_of(out[i].t.frame);
		FO_CHECK(memcmp(&x, &out[i], sizeof(x)) == 0); /* intact, tag and id included */
	}
	FO_CHECK_MSG(rc == want_rc && strcmp(got, want_out) == 0,
	             "push %u: rc %u released [%s], want rc %u [%s]", frame, rc, got, want_rc,
	             want_out);
}

static void test_in_order(void)
{
	fo_reorder r;
	memset(&r, 0, sizeof(r));
	for (uint32_t f = 5; f < 100; f++) {
		char s[16];
		snprintf(s, sizeof(s), "%u", f);
		push(&r, f, 0, s);
	}
	FO_CHECK(fo_reorder_waiting(&r) == 0);
}

static void test_swaps(void)
{
	fo_reorder r;
	memset(&r, 0, sizeof(r));
	push(&r, 10, 0, "10");
	/* swap of 1 */
	push(&r, 12, FO_REORDER_HELD, "");
	FO_CHECK(fo_reorder_waiting(&r) == 1);
	push(&r, 11, 0, "11,12");
	push(&r, 13, 0, "13");
	/* swap of 2: 14 overtaken by 15 and 16 */
	push(&r, 15, FO_REORDER_HELD, "");
	push(&r, 16, FO_REORDER_HELD, "");
	FO_CHECK(fo_reorder_waiting(&r) == 2);
	push(&r, 14, 0, "14,15,16");
	/* 17 and 19 swapped around 18 */
	push(&r, 19, FO_REORDER_HELD, "");
	push(&r, 17, 0, "17");
	push(&r, 18, 0, "18,19");
	/* reversed block of three */
	push(&r, 22, FO_REORDER_HELD, "");
	push(&r, 21, FO_REORDER_HELD, "");
	push(&r, 20, 0, "20,21,22");
	FO_CHECK(fo_reorder_waiting(&r) == 0);
}

static void test_gaps(void)
{
	fo_reorder r;
	memset(&r, 0, sizeof(r));
	push(&r, 10, 0, "10");
	/* 11 missing: 12, 13 wait; 14 overtakes it by 3, so it is given up */
	push(&r, 12, FO_REORDER_HELD, "");
	push(&r, 13, FO_REORDER_HELD, "");
	push(&r, 14, FO_REORDER_GAP, "12,13,14");
	/* a jump of more than 2 is released at once */
	push(&r, 18, FO_REORDER_GAP, "18");
	/* 19 missing; 21 waits; 23 gives 19 up, releases 21, then 23 waits for 22 */
	push(&r, 21, FO_REORDER_HELD, "");
	push(&r, 23, FO_REORDER_GAP | FO_REORDER_HELD, "21");
	push(&r, 22, 0, "22,23");
	/* a jump of exactly 2 waits for the frame in between */
	push(&r, 26, FO_REORDER_HELD, "");
	push(&r, 25, FO_REORDER_HELD, "");
	push(&r, 27, FO_REORDER_GAP, "25,26,27");
	/* near the top of the frame range nothing wraps */
	memset(&r, 0, sizeof(r));
	push(&r, UINT32_MAX - 3, 0, "4294967292");
	push(&r, UINT32_MAX - 1, FO_REORDER_HELD, "");
	push(&r, UINT32_MAX, FO_REORDER_HELD, "");
	push(&r, UINT32_MAX - 2, 0, "4294967293,4294967294,4294967295");
}

static void test_late(void)
{
	fo_reorder r;
	memset(&r, 0, sizeof(r));
	push(&r, 10, 0, "10");
	push(&r, 10, FO_REORDER_DUPLICATE, "");
	push(&r, 9, FO_REORDER_LATE, ""); /* before the first released */
	push(&r, 12, FO_REORDER_HELD, "");
	push(&r, 12, FO_REORDER_DUPLICATE, ""); /* same as a waiting one */
	push(&r, 11, 0, "11,12");
	push(&r, 11, FO_REORDER_LATE, ""); /* a redelivery too, but older than the last */
	push(&r, 12, FO_REORDER_DUPLICATE, "");
	/* more than 2 late: its place was given up */
	push(&r, 14, FO_REORDER_HELD, "");
	push(&r, 15, FO_REORDER_HELD, "");
	push(&r, 16, FO_REORDER_GAP, "14,15,16");
	push(&r, 13, FO_REORDER_LATE, "");
	push(&r, 17, 0, "17");
}

static void test_flush_advance(void)
{
	fo_reorder r;
	memset(&r, 0, sizeof(r));
	fo_reorder_ev out[FO_REORDER_OUT_MAX];
	unsigned n = 99;
	fo_reorder_flush(&r, out, &n); /* empty */
	FO_CHECK(n == 0);
	FO_CHECK(fo_reorder_advance(&r, 1000, out, &n) == 0 && n == 0);
	push(&r, 10, 0, "10");
	push(&r, 12, FO_REORDER_HELD, "");
	push(&r, 13, FO_REORDER_HELD, "");
	fo_reorder_flush(&r, out, &n);
	FO_CHECK(n == 2 && out[0].t.frame == 12 && out[1].t.frame == 13);
	FO_CHECK(out[0].tag == 1012 && out[1].t.frame_agents == 20);
	FO_CHECK(fo_reorder_waiting(&r) == 0);
	push(&r, 11, FO_REORDER_LATE, ""); /* flushed past it */
	push(&r, 14, 0, "14");

	/* the scene moves on without the vehicle */
	push(&r, 16, FO_REORDER_HELD, "");
	FO_CHECK(fo_reorder_advance(&r, 17, out, &n) == 0 && n == 0); /* 15 + 2: still waits */
	FO_CHECK(fo_reorder_advance(&r, 18, out, &n) == FO_REORDER_GAP && n == 1);
	FO_CHECK(out[0].t.frame == 16 && fo_reorder_waiting(&r) == 0);
	push(&r, 17, 0, "17");
}

/* Pushes seq[0..len) and accounts for every event. Returns the number
 * dropped; writes the released frames to rel (and their count to *nrel). */
static unsigned run_seq(const uint32_t *seq, unsigned len, uint32_t *rel, unsigned *nrel)
{
	fo_reorder r;
	memset(&r, 0, sizeof(r));
	fo_reorder_ev out[FO_REORDER_OUT_MAX];
	unsigned n, dropped = 0, held_now = 0;
	*nrel = 0;
	for (unsigned i = 0; i < len; i++) {
		fo_reorder_ev e = ev_of(seq[i]);
		unsigned rc = fo_reorder_push(&r, &e, out, &n);
		FO_CHECK(n <= FO_REORDER_OUT_MAX);
		if (rc & (FO_REORDER_LATE | FO_REORDER_DUPLICATE)) {
			FO_CHECK(n == 0 && !(rc & FO_REORDER_HELD));
			dropped++;
		}
		for (unsigned k = 0; k < n; k++)
			rel[(*nrel)++] = out[k].t.frame;
		held_now = fo_reorder_waiting(&r);
		FO_CHECK(held_now <= FO_REORDER_TOLERANCE);
	}
	fo_reorder_flush(&r, out, &n);
	for (unsigned k = 0; k < n; k++)
		rel[(*nrel)++] = out[k].t.frame;
	/* every event released once or dropped with a code */
	FO_CHECK_MSG(*nrel + dropped == len, "released %u + dropped %u != %u", *nrel, dropped, len);
	for (unsigned k = 1; k < *nrel; k++)
		FO_CHECK_MSG(rel[k] > rel[k - 1], "released %u after %u", rel[k], rel[k - 1]);
	return dropped;
}

static void test_random(void)
{
	enum { LEN = 2000 };
	static uint32_t seq[LEN * 2], rel[LEN * 2];
	unsigned nrel;
	for (int round = 0; round < 500; round++) {
		/* blocks of T + 1 consecutive frames, each block in any order (the
		 * first frame stays first: it starts the vehicle) */
		unsigned len = 0;
		seq[len++] = 0;
		for (uint32_t b = 1; b + FO_REORDER_TOLERANCE < LEN;
		     b += FO_REORDER_TOLERANCE + 1) {
			uint32_t blk[FO_REORDER_TOLERANCE + 1];
			for (unsigned i = 0; i <= FO_REORDER_TOLERANCE; i++)
				blk[i] = b + i;
			for (unsigned i = FO_REORDER_TOLERANCE; i > 0; i--) {
				unsigned k = (unsigned)(rnd() % (i + 1));
				uint32_t t = blk[i];
				blk[i] = blk[k];
				blk[k] = t;
			}
			for (unsigned i = 0; i <= FO_REORDER_TOLERANCE; i++)
				seq[len++] = blk[i];
		}
		unsigned dropped = run_seq(seq, len, rel, &nrel);
		FO_CHECK(dropped == 0 && nrel == len);
		for (unsigned k = 0; k < nrel; k++)
			FO_CHECK(rel[k] == k);

		/* arbitrary disorder: random displacements, duplicates, gaps */
		len = 0;
		for (uint32_t f = 0; f < LEN; f++) {
			if (rnd() % 10 == 0)
				continue; /* a frame the vehicle was not seen in */
			seq[len++] = f;
			if (rnd() % 20 == 0)
				seq[len++] = f; /* redelivered */
		}
		for (unsigned i = 0; i + 1 < len; i++)
			if (rnd() % 4 == 0) {
				unsigned k = i + 1 + (unsigned)(rnd() % 4);
				if (k >= len)
					k = len - 1;
				uint32_t t = seq[i];
				seq[i] = seq[k];
				seq[k] = t;
			}
		run_seq(seq, len, rel, &nrel);
	}
}

int main(void)
{
	test_in_order();
	test_swaps();
	test_gaps();
	test_late();
	test_flush_advance();
	test_random();
	return fo_test_done("test_reorder");
}
