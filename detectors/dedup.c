/*
 * dedup: see dedup.h.
 *
 * Table slots hold the id as two 64-bit words; the all-zero pair marks an
 * empty slot, so the nil UUID (which no UUIDv5 ever is, but a malformed
 * producer could send) is tracked by a flag beside the table. The FIFO is
 * a ring of `capacity` entries in insertion order; the front is always the
 * oldest live id, so expiry and early eviction both pop it and delete its
 * key from the table. Deleting shifts later members of the probe run back
 * instead of leaving tombstones, so lookups never slow down with churn.
 */
#include "dedup.h"

#include <mimalloc.h>
#include <string.h>

typedef struct fo_dkey {
	uint64_t lo, hi;
} fo_dkey;

typedef struct fo_dfifo {
	fo_dkey key;
	int64_t t; /* when first seen */
} fo_dfifo;

struct fo_dedup {
	fo_dkey *slot; /* table, mask + 1 slots */
	size_t mask;
	fo_dfifo *fifo; /* ring of cap entries */
	size_t cap;
	size_t head;  /* oldest entry */
	size_t count; /* live ids (table members + the nil flag) */
	int64_t ttl;
	int nil_live; /* the all-zero id is live */
	fo_dedup_stats st;
};

static inline fo_dkey fo_dkey_of(const fo_uuid *id)
{
	fo_dkey k;
	memcpy(&k.lo, id->b, 8);
	memcpy(&k.hi, id->b + 8, 8);
	return k;
}

static inline int fo_dkey_nil(fo_dkey k)
{
	return (k.lo | k.hi) == 0;
}

/* The ids are mostly SHA-1 output already; the mix only guards against
 * structured ids (sequential test ids, fixed version nibbles). */
static inline size_t fo_dkey_hash(fo_dkey k)
{
	uint64_t x = k.lo ^ (k.hi * 0x9e3779b97f4a7c15ULL);
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (size_t)x;
}

fo_dedup *fo_dedup_new(size_t capacity, int64_t ttl_ns)
{
	if (capacity == 0 || capacity > (1u << 30) || ttl_ns <= 0)
		return NULL;
	size_t tsize = 16;
	while (tsize < 2 * capacity)
		tsize <<= 1;
	fo_dedup *d = mi_zalloc(sizeof(*d));
	if (!d)
		return NULL;
	d->slot = mi_zalloc_aligned(tsize * sizeof(fo_dkey), 64);
	d->fifo = mi_malloc_aligned(capacity * sizeof(fo_dfifo), 64);
	if (!d->slot || !d->fifo) {
		fo_dedup_destroy(d);
		return NULL;
	}
	d->mask = tsize - 1;
	d->cap = capacity;
	d->ttl = ttl_ns;
	d->st.capacity = capacity;
	d->st.bytes = sizeof(*d) + tsize * sizeof(fo_dkey) + capacity * sizeof(fo_dfifo);
	return d;
}

void fo_dedup_destroy(fo_dedup *d)
{
	if (!d)
		return;
	mi_free(d->slot);
	mi_free(d->fifo);
	mi_free(d);
}

/* Index of k's slot, or of the empty slot that ends its probe run. */
static inline size_t fo_dedup_find(const fo_dedup *d, fo_dkey k, int *found)
{
	size_t i = fo_dkey_hash(k) & d->mask;
	for (;; i = (i + 1) & d->mask) {
		const fo_dkey *s = &d->slot[i];
		if (s->lo == k.lo && s->hi == k.hi) {
			*found = 1;
			return i;
		}
		if (fo_dkey_nil(*s)) {
			*found = 0;
			return i;
		}
	}
}

/* Deletes k (present by construction: it comes from the FIFO). */
static void fo_dedup_delete(fo_dedup *d, fo_dkey k)
{
	if (fo_dkey_nil(k)) {
		d->nil_live = 0;
		return;
	}
	int found;
	size_t i = fo_dedup_find(d, k, &found);
	if (!found)
		return;
	/* backward shift: pull later members of the run into the hole when
	 * their home slot does not lie cyclically in (hole, j] */
	size_t j = i;
	for (;;) {
		j = (j + 1) & d->mask;
		if (fo_dkey_nil(d->slot[j]))
			break;
		size_t home = fo_dkey_hash(d->slot[j]) & d->mask;
		if (((j - home) & d->mask) >= ((j - i) & d->mask)) {
			d->slot[i] = d->slot[j];
			i = j;
		}
	}
	d->slot[i].lo = d->slot[i].hi = 0;
}

#define FO_DEDUP_AHEAD 16 /* pops between a prefetch and its use */

/* Forgets the oldest id. Pops come one per check in steady state, so the
 * slot of the id FO_DEDUP_AHEAD places behind it is fetched now, to be in
 * cache when its turn comes. */
static inline void fo_dedup_pop(fo_dedup *d)
{
	if (d->count > FO_DEDUP_AHEAD) {
		size_t a = d->head + FO_DEDUP_AHEAD;
		if (a >= d->cap)
			a -= d->cap;
		__builtin_prefetch(&d->slot[fo_dkey_hash(d->fifo[a].key) & d->mask]);
	}
	fo_dedup_delete(d, d->fifo[d->head].key);
	d->head = d->head + 1 == d->cap ? 0 : d->head + 1;
	d->count--;
}

int fo_dedup_check(fo_dedup *d, const fo_uuid *id, int64_t now_ns)
{
	d->st.checked++;
	/* expire: the front is the oldest; stop at the first one still live
	 * (a clock step back leaves t > now: not expired) */
	while (d->count) {
		const int64_t t = d->fifo[d->head].t;
		if (now_ns < t || (uint64_t)now_ns - (uint64_t)t < (uint64_t)d->ttl)
			break;
		fo_dedup_pop(d);
		d->st.expired++;
	}
	const fo_dkey k = fo_dkey_of(id);
	int found;
	size_t i = 0;
	if (fo_dkey_nil(k))
		found = d->nil_live;
	else
		i = fo_dedup_find(d, k, &found);
	if (found) {
		d->st.duplicates++;
		return 1;
	}
	if (d->count == d->cap) {
		fo_dedup_pop(d);
		d->st.evicted_early++;
		if (!fo_dkey_nil(k))
			i = fo_dedup_find(d, k, &found); /* the deletion may have moved the hole */
	}
	if (fo_dkey_nil(k))
		d->nil_live = 1;
	else
		d->slot[i] = k;
	size_t tail = d->head + d->count;
	if (tail >= d->cap)
		tail -= d->cap;
	d->fifo[tail].key = k;
	d->fifo[tail].t = now_ns;
	d->count++;
	return 0;
}

void fo_dedup_prefetch(const fo_dedup *d, const fo_uuid *id)
{
	__builtin_prefetch(&d->slot[fo_dkey_hash(fo_dkey_of(id)) & d->mask]);
}

void fo_dedup_stats_get(const fo_dedup *d, fo_dedup_stats *st)
{
	*st = d->st;
	st->live = d->count;
}
