/*
 * hist: per-thread log-linear latency histograms in nanoseconds, merged by
 * a reporter.
 *
 * Each histogram is owned by one thread, which records into it with plain
 * arithmetic: no locks, no read-modify-write instructions, no sharing with
 * other recording threads. Every counter is a C11 atomic that only the
 * owner writes, with relaxed loads and stores (on 64-bit machines the same
 * instructions as plain ones), so a reporter thread may read a live
 * histogram at any time without a data race. What it reads is a fuzzy
 * snapshot: each counter is exact and never goes backwards, but records in
 * flight during the read may be partly included. fo_hist_merge computes the
 * snapshot's count from the buckets it copied, so a snapshot's count,
 * buckets and percentiles always agree. Counters only grow until a reset,
 * so the difference of two snapshots is the interval between them
 * (fo_hist_delta, fo_hist_ival).
 *
 * Buckets: values below 256 ns have a bucket each; above, every power of two
 * is split into 128 equal sub-buckets, so a bucket is at most 1/128 (0.78%)
 * of its lowest value wide. A percentile is the midpoint of its bucket's
 * part between the exact min and max (within 0.4% of the true order
 * statistic); the lowest and highest ranks are the exact min and max. The
 * range is 0 .. 2^37 - 1 ns (137 s) in 3968 buckets (31 KiB); values
 * outside it are clamped to the nearest end and counted as clamped.
 */
#ifndef FO_HIST_H
#define FO_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define FO_HIST_SUB_BITS 7  /* 128 sub-buckets per power of two */
#define FO_HIST_TOP_BITS 37 /* values below 2^37 ns */
#define FO_HIST_BUCKETS  ((FO_HIST_TOP_BITS - FO_HIST_SUB_BITS + 1) << FO_HIST_SUB_BITS)
#define FO_HIST_MAX_NS   ((INT64_C(1) << FO_HIST_TOP_BITS) - 1)

typedef struct fo_hist {
	_Alignas(64) _Atomic uint64_t _count;
	_Atomic uint64_t _sum; /* of recorded (clamped) values, ns */
	_Atomic uint64_t _min; /* UINT64_MAX while empty */
	_Atomic uint64_t _max;
	_Atomic uint64_t _clamped; /* values that were < 0 or > FO_HIST_MAX_NS */
	_Atomic uint64_t _b[FO_HIST_BUCKETS];
} fo_hist;

/* Makes h empty. Any thread, before h is shared; returns nothing. */
void fo_hist_init(fo_hist *h);

/* Allocates an empty histogram (64-byte aligned, so histograms of different
 * threads never share a cache line). Any thread. Returns NULL on allocation
 * failure. Freed by fo_hist_destroy. */
fo_hist *fo_hist_new(void);
void fo_hist_destroy(fo_hist *h);

/* Empties h. The owner thread, or any thread while nobody records into h;
 * a reporter holding an earlier snapshot must not take a delta across it. */
void fo_hist_reset(fo_hist *h);

/* Adds every value of src into dst. dst belongs to the calling thread (no
 * one else records into it); src may be a live histogram that its owner is
 * recording into at the same time (a fuzzy snapshot, see above). */
void fo_hist_merge(fo_hist *dst, const fo_hist *src);

/* dst = a snapshot of src (fo_hist_reset + fo_hist_merge). Same threads as
 * fo_hist_merge. */
void fo_hist_snapshot(fo_hist *dst, const fo_hist *src);

/* dst = now - then: the values recorded between two snapshots of the same
 * histograms. dst belongs to the caller; now and then are snapshots it
 * owns. If now has fewer values than then (a reset in between), dst is a
 * copy of now. min and max of dst are bucket bounds, clamped to now's. */
void fo_hist_delta(fo_hist *dst, const fo_hist *now, const fo_hist *then);

/* Queries. Exact on a histogram nobody is recording into; on a live one,
 * values that were true a moment ago. Any thread. */
uint64_t fo_hist_count(const fo_hist *h);
uint64_t fo_hist_clamped(const fo_hist *h);
int64_t fo_hist_min(const fo_hist *h); /* 0 if empty */
int64_t fo_hist_max(const fo_hist *h); /* 0 if empty */
double fo_hist_mean(const fo_hist *h); /* 0 if empty */

/* The value at percentile p (0..100) by nearest rank: the smallest recorded
 * value v such that at least p% of the values are <= v, to bucket accuracy
 * (see above). Returns 0 if h is empty. Any thread, as the queries above;
 * a pass over the buckets, so meant for report time. */
int64_t fo_hist_value_at_percentile(const fo_hist *h, double p);

/* Appends {"count":N,"p50_us":..,"p90_us":..,"p99_us":..,"p999_us":..,
 * "max_us":..,"mean_us":..} (microseconds, 3 decimals; all 0 when empty).
 * Any thread, as the queries above. */
void fo_hist_json(const fo_hist *h, fo_jw *jw);

/* Interval recorder for periodic stats, owned by the reporter thread: each
 * tick takes a cumulative snapshot of the sources (other threads'
 * histograms, live) and returns the values recorded since the previous tick.
 * Sources must not be reset while ticking. */
typedef struct fo_hist_ival fo_hist_ival;

/* Returns NULL on allocation failure. Freed by fo_hist_ival_destroy. */
fo_hist_ival *fo_hist_ival_new(void);
void fo_hist_ival_destroy(fo_hist_ival *iv);

/* Reporter: merges the n sources into a new cumulative snapshot and returns
 * the interval histogram (everything since the last tick; since creation on
 * the first). The returned pointer belongs to iv and is valid until the
 * next tick. */
const fo_hist *fo_hist_ival_tick(fo_hist_ival *iv, const fo_hist *const *src, size_t n);

/* Reporter: the cumulative snapshot taken by the last tick. */
const fo_hist *fo_hist_ival_total(const fo_hist_ival *iv);

/* ---- fast path -------------------------------------------------------- */

/* The bucket of v (0 <= v <= FO_HIST_MAX_NS). Pure. */
static inline size_t fo_hist_index(uint64_t v)
{
	/* s = 0 below 256 (one bucket per value), else log2(v) - 7 */
	unsigned s = (unsigned)(63 - __builtin_clzll(v | 255)) - FO_HIST_SUB_BITS;
	return ((size_t)s << FO_HIST_SUB_BITS) + (size_t)(v >> s);
}

/* The lowest value of bucket i and its width. Pure. */
static inline uint64_t fo_hist_bucket_lo(size_t i)
{
	if (i < (2u << FO_HIST_SUB_BITS))
		return i;
	unsigned s = (unsigned)(i >> FO_HIST_SUB_BITS) - 1;
	return (uint64_t)(i - ((size_t)s << FO_HIST_SUB_BITS)) << s;
}

static inline uint64_t fo_hist_bucket_width(size_t i)
{
	if (i < (2u << FO_HIST_SUB_BITS))
		return 1;
	return (uint64_t)1 << ((i >> FO_HIST_SUB_BITS) - 1);
}

/* Adds n to a counter that only the calling thread writes. */
static inline void fo_hist_bump(_Atomic uint64_t *c, uint64_t n)
{
	uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
	atomic_store_explicit(c, v + n, memory_order_relaxed);
}

/* Owner thread: records n occurrences of a value of ns nanoseconds (values
 * below 0 or above FO_HIST_MAX_NS are clamped and counted as clamped).
 * No locks, no allocation, no read-modify-write instructions. */
static inline void fo_hist_record_n(fo_hist *h, int64_t ns, uint64_t n)
{
	if (n == 0)
		return;
	uint64_t v = (uint64_t)ns;
	if (__builtin_expect(ns < 0 || ns > FO_HIST_MAX_NS, 0)) {
		v = ns < 0 ? 0 : (uint64_t)FO_HIST_MAX_NS;
		fo_hist_bump(&h->_clamped, n);
	}
	fo_hist_bump(&h->_b[fo_hist_index(v)], n);
	fo_hist_bump(&h->_count, n);
	fo_hist_bump(&h->_sum, v * n);
	if (v < atomic_load_explicit(&h->_min, memory_order_relaxed))
		atomic_store_explicit(&h->_min, v, memory_order_relaxed);
	if (v > atomic_load_explicit(&h->_max, memory_order_relaxed))
		atomic_store_explicit(&h->_max, v, memory_order_relaxed);
}

/* Owner thread: records one value, as fo_hist_record_n. */
static inline void fo_hist_record(fo_hist *h, int64_t ns)
{
	fo_hist_record_n(h, ns, 1);
}

#endif
