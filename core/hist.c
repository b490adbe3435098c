/*
 * hist: see hist.h. Everything here runs at report time: passes over the
 * 3968 buckets with relaxed atomic loads and stores, a few microseconds
 * each. The recording fast path is inline in the header.
 */
#include "hist.h"

#include <math.h>
#include <mimalloc.h>

static inline uint64_t fo_hist_load(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static inline void fo_hist_store(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

void fo_hist_init(fo_hist *h)
{
	atomic_init(&h->_count, 0);
	atomic_init(&h->_sum, 0);
	atomic_init(&h->_min, UINT64_MAX);
	atomic_init(&h->_max, 0);
	atomic_init(&h->_clamped, 0);
	for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
		atomic_init(&h->_b[i], 0);
}

fo_hist *fo_hist_new(void)
{
	fo_hist *h = mi_malloc_aligned(sizeof(*h), 64);
	if (h)
		fo_hist_init(h);
	return h;
}

void fo_hist_destroy(fo_hist *h)
{
	mi_free(h);
}

void fo_hist_reset(fo_hist *h)
{
	fo_hist_store(&h->_count, 0);
	fo_hist_store(&h->_sum, 0);
	fo_hist_store(&h->_min, UINT64_MAX);
	fo_hist_store(&h->_max, 0);
	fo_hist_store(&h->_clamped, 0);
	for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
		fo_hist_store(&h->_b[i], 0);
}

void fo_hist_merge(fo_hist *dst, const fo_hist *src)
{
	uint64_t added = 0;
	for (size_t i = 0; i < FO_HIST_BUCKETS; i++) {
		uint64_t c = fo_hist_load(&src->_b[i]);
		if (c) {
			fo_hist_bump(&dst->_b[i], c);
			added += c;
		}
	}
	/* count from the buckets read, not src's own count, so the snapshot is
	 * self-consistent even while src is being recorded into */
	fo_hist_bump(&dst->_count, added);
	fo_hist_bump(&dst->_sum, fo_hist_load(&src->_sum));
	fo_hist_bump(&dst->_clamped, fo_hist_load(&src->_clamped));
	uint64_t mn = fo_hist_load(&src->_min), mx = fo_hist_load(&src->_max);
	if (added && mn < fo_hist_load(&dst->_min))
		fo_hist_store(&dst->_min, mn);
	if (added && mx > fo_hist_load(&dst->_max))
		fo_hist_store(&dst->_max, mx);
}

void fo_hist_snapshot(fo_hist *dst, const fo_hist *src)
{
	fo_hist_reset(dst);
	fo_hist_merge(dst, src);
}

void fo_hist_delta(fo_hist *dst, const fo_hist *now, const fo_hist *then)
{
	if (fo_hist_load(&now->_count) < fo_hist_load(&then->_count)) {
		fo_hist_snapshot(dst, now);
		return;
	}
	uint64_t count = 0;
	size_t lo = FO_HIST_BUCKETS, hi = 0;
	for (size_t i = 0; i < FO_HIST_BUCKETS; i++) {
		uint64_t a = fo_hist_load(&now->_b[i]), b = fo_hist_load(&then->_b[i]);
		uint64_t d = a >= b ? a - b : a;
		fo_hist_store(&dst->_b[i], d);
		if (d) {
			count += d;
			if (lo == FO_HIST_BUCKETS)
				lo = i;
			hi = i;
		}
	}
	uint64_t sa = fo_hist_load(&now->_sum), sb = fo_hist_load(&then->_sum);
	uint64_t ca = fo_hist_load(&now->_clamped), cb = fo_hist_load(&then->_clamped);
	fo_hist_store(&dst->_count, count);
	fo_hist_store(&dst->_sum, sa >= sb ? sa - sb : sa);
	fo_hist_store(&dst->_clamped, ca >= cb ? ca - cb : ca);
	if (!count) {
		fo_hist_store(&dst->_min, UINT64_MAX);
		fo_hist_store(&dst->_max, 0);
		return;
	}
	/* the interval's extremes to bucket accuracy, never beyond the
	 * cumulative ones (which are exact) */
	uint64_t mn = fo_hist_bucket_lo(lo);
	uint64_t mx = fo_hist_bucket_lo(hi) + fo_hist_bucket_width(hi) - 1;
	uint64_t now_min = fo_hist_load(&now->_min), now_max = fo_hist_load(&now->_max);
	fo_hist_store(&dst->_min, mn > now_min ? mn : now_min);
	fo_hist_store(&dst->_max, mx < now_max ? mx : now_max);
}

uint64_t fo_hist_count(const fo_hist *h)
{
	return fo_hist_load(&h->_count);
}

uint64_t fo_hist_clamped(const fo_hist *h)
{
	return fo_hist_load(&h->_clamped);
}

int64_t fo_hist_min(const fo_hist *h)
{
	uint64_t v = fo_hist_load(&h->_min);
	return v == UINT64_MAX ? 0 : (int64_t)v;
}

int64_t fo_hist_max(const fo_hist *h)
{
	return (int64_t)fo_hist_load(&h->_max);
}

double fo_hist_mean(const fo_hist *h)
{
	uint64_t n = fo_hist_load(&h->_count);
	return n ? (double)fo_hist_load(&h->_sum) / (double)n : 0.0;
}

int64_t fo_hist_value_at_percentile(const fo_hist *h, double p)
{
	/* On a live histogram the total is taken from the buckets themselves
	 * so that the walk below always reaches its rank. */
	uint64_t total = 0;
	for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
		total += fo_hist_load(&h->_b[i]);
	if (!total)
		return 0;
	if (!(p > 0)) /* also NaN */
		p = 0;
	if (p > 100)
		p = 100;
	/* nearest rank, with a relative tolerance so that e.g. 99.9% of 1000
	 * is rank 999 despite 99.9 / 100 * 1000 = 999.0000000000001 */
	double x = p / 100.0 * (double)total;
	uint64_t rank = (uint64_t)ceil(x - x * 1e-12);
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	uint64_t cum = 0;
	size_t i = 0;
	for (; i < FO_HIST_BUCKETS; i++) {
		cum += fo_hist_load(&h->_b[i]);
		if (cum >= rank)
			break;
	}
	if (i == FO_HIST_BUCKETS) /* cannot happen: live counters only grow */
		i = FO_HIST_BUCKETS - 1;
	/* the midpoint of the bucket's part inside [min, max]; the extreme
	 * ranks are the exact min and max */
	uint64_t lo = fo_hist_bucket_lo(i), hi = lo + fo_hist_bucket_width(i) - 1;
	uint64_t mn = fo_hist_load(&h->_min), mx = fo_hist_load(&h->_max);
	if (mn <= mx) { /* not so while a live first record is half done */
		if (rank == total)
			return (int64_t)mx;
		if (rank == 1)
			return (int64_t)mn;
		if (lo < mn)
			lo = mn;
		if (hi > mx)
			hi = mx;
		if (lo > hi) /* a fuzzy live read */
			lo = hi;
	}
	return (int64_t)(lo + (hi - lo) / 2);
}

static void fo_hist_json_us(fo_jw *jw, const char *key, size_t keylen, double ns)
{
	fo_jw_raw(jw, key, keylen);
	fo_jw_fixed(jw, ns / 1000.0, 3);
}

#define FO_JSON_US(jw, key, ns) fo_hist_json_us((jw), (key), sizeof(key) - 1, (double)(ns))

void fo_hist_json(const fo_hist *h, fo_jw *jw)
{
	fo_jw_lit(jw, "{\"count\":");
	fo_jw_u64(jw, fo_hist_count(h));
	FO_JSON_US(jw, ",\"p50_us\":", fo_hist_value_at_percentile(h, 50));
	FO_JSON_US(jw, ",\"p90_us\":", fo_hist_value_at_percentile(h, 90));
	FO_JSON_US(jw, ",\"p99_us\":", fo_hist_value_at_percentile(h, 99));
	FO_JSON_US(jw, ",\"p999_us\":", fo_hist_value_at_percentile(h, 99.9));
	FO_JSON_US(jw, ",\"max_us\":", fo_hist_max(h));
	FO_JSON_US(jw, ",\"mean_us\":", fo_hist_mean(h));
	fo_jw_char(jw, '}');
}

struct fo_hist_ival {
	fo_hist h[3]; /* the last two cumulative snapshots and the interval */
	fo_hist *total, *prev, *interval;
};

fo_hist_ival *fo_hist_ival_new(void)
{
	fo_hist_ival *iv = mi_malloc_aligned(sizeof(*iv), 64);
	if (!iv)
		return NULL;
	for (int i = 0; i < 3; i++)
		fo_hist_init(&iv->h[i]);
	iv->total = &iv->h[0];
	iv->prev = &iv->h[1];
	iv->interval = &iv->h[2];
	return iv;
}

void fo_hist_ival_destroy(fo_hist_ival *iv)
{
	mi_free(iv);
}

const fo_hist *fo_hist_ival_tick(fo_hist_ival *iv, const fo_hist *const *src, size_t n)
{
	fo_hist *t = iv->prev;
	iv->prev = iv->total;
	iv->total = t;
	fo_hist_reset(iv->total);
	for (size_t i = 0; i < n; i++)
		fo_hist_merge(iv->total, src[i]);
	fo_hist_delta(iv->interval, iv->total, iv->prev);
	return iv->interval;
}

const fo_hist *fo_hist_ival_total(const fo_hist_ival *iv)
{
	return iv->total;
}
