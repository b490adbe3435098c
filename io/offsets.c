/*
 * offsets: see offsets.h.
 *
 * Per partition: base (the committable offset: the lowest pending offset,
 * or next when none is pending), next (one past the last consumed) and a
 * circular bitmap in which offset x is bit x & (window - 1). Invariants:
 * every pending offset lies in [base, next), next - base <= window, and
 * every bit outside the pending set is zero, so a bit reused for offset
 * x + window is already clear when x is done. Completing the base scans
 * the bitmap a word at a time to the next pending offset.
 */
#include "offsets.h"

#include <mimalloc.h>
#include <string.h>

typedef struct fo_opart {
	int64_t base;      /* committable offset; valid when next >= 0 */
	int64_t next;      /* one past the last consumed; -1: nothing yet */
	int64_t committed; /* last recorded commit; -1: none */
	uint64_t pending;
	uint8_t epoch; /* bumped by every assignment */
	uint8_t assigned;
} fo_opart;

struct fo_offsets {
	fo_opart *part;
	uint64_t *bits; /* max_partitions * words */
	size_t words;   /* per partition */
	uint64_t mask;  /* window - 1 */
	unsigned nparts;
	fo_offsets_stats st;
};

fo_offsets *fo_offsets_new(unsigned max_partitions, size_t window)
{
	if (max_partitions == 0 || max_partitions > FO_OFFSETS_MAX_PARTITIONS || window == 0 ||
	    window > ((size_t)1 << 30))
		return NULL;
	size_t w = 64;
	while (w < window)
		w <<= 1;
	fo_offsets *o = mi_zalloc(sizeof(*o));
	if (!o)
		return NULL;
	o->words = w / 64;
	o->mask = w - 1;
	o->nparts = max_partitions;
	o->part = mi_zalloc(max_partitions * sizeof(fo_opart));
	o->bits = mi_zalloc_aligned(max_partitions * o->words * sizeof(uint64_t), 64);
	if (!o->part || !o->bits) {
		fo_offsets_destroy(o);
		return NULL;
	}
	return o;
}

void fo_offsets_destroy(fo_offsets *o)
{
	if (!o)
		return;
	mi_free(o->part);
	mi_free(o->bits);
	mi_free(o);
}

static inline fo_opart *fo_offsets_part(const fo_offsets *o, int32_t partition)
{
	if (partition < 0 || (unsigned)partition >= o->nparts)
		return NULL;
	return &o->part[partition];
}

static inline uint64_t *fo_offsets_bits(const fo_offsets *o, int32_t partition)
{
	return o->bits + (size_t)partition * o->words;
}

static void fo_offsets_clear(fo_offsets *o, int32_t partition, fo_opart *p)
{
	if (p->pending) {
		memset(fo_offsets_bits(o, partition), 0, o->words * sizeof(uint64_t));
		o->st.in_flight -= p->pending;
	}
	p->base = p->next = p->committed = -1;
	p->pending = 0;
}

int fo_offsets_assign(fo_offsets *o, int32_t partition)
{
	fo_opart *p = fo_offsets_part(o, partition);
	if (!p)
		return -1;
	fo_offsets_clear(o, partition, p);
	if (!p->assigned)
		o->st.partitions++;
	p->assigned = 1;
	p->epoch++;
	return 0;
}

void fo_offsets_revoke(fo_offsets *o, int32_t partition)
{
	fo_opart *p = fo_offsets_part(o, partition);
	if (!p || !p->assigned)
		return;
	fo_offsets_clear(o, partition, p);
	p->assigned = 0;
	p->epoch++; /* notifications still on their way become stale */
	o->st.partitions--;
}

int fo_offsets_assigned(const fo_offsets *o, int32_t partition)
{
	const fo_opart *p = fo_offsets_part(o, partition);
	return p && p->assigned;
}

int fo_offsets_consumed(fo_offsets *o, int32_t partition, int64_t offset, uint64_t *tag)
{
	fo_opart *p = fo_offsets_part(o, partition);
	if (!p || !p->assigned || offset < 0 || offset > FO_OFFSETS_OFFSET_MAX ||
	    (p->next >= 0 && offset < p->next))
		return -1;
	if (p->next < 0 || !p->pending) {
		p->base = offset; /* the offsets skipped before it count as done */
	} else if ((uint64_t)(offset - p->base) > o->mask) {
		o->st.refused++;
		return FO_OFFSETS_FULL;
	}
	uint64_t *bits = fo_offsets_bits(o, partition);
	const uint64_t i = (uint64_t)offset & o->mask;
	bits[i >> 6] |= 1ull << (i & 63);
	p->next = offset + 1;
	p->pending++;
	o->st.consumed++;
	o->st.in_flight++;
	*tag = (uint64_t)p->epoch << 56 | (uint64_t)partition << 48 | (uint64_t)offset;
	return 0;
}

/* The lowest pending offset in [from, p->next), or p->next if none. */
static int64_t fo_offsets_scan(const fo_offsets *o, const uint64_t *bits, const fo_opart *p,
                               int64_t from)
{
	int64_t x = from;
	while (x < p->next) {
		const uint64_t i = (uint64_t)x & o->mask;
		const uint64_t w = bits[i >> 6] >> (i & 63); /* bits from x to the word's end */
		if (w)
			return x + __builtin_ctzll(w) < p->next ? x + __builtin_ctzll(w) : p->next;
		x += (int64_t)(64 - (i & 63));
	}
	return p->next;
}

int fo_offsets_done(fo_offsets *o, uint64_t tag)
{
	const int32_t partition = fo_offsets_tag_partition(tag);
	const int64_t offset = fo_offsets_tag_offset(tag);
	fo_opart *p = fo_offsets_part(o, partition);
	if (!p || !p->assigned || (uint8_t)(tag >> 56) != p->epoch || p->next < 0 ||
	    offset < p->base || offset >= p->next) {
		o->st.stale++;
		return 1;
	}
	uint64_t *bits = fo_offsets_bits(o, partition);
	const uint64_t i = (uint64_t)offset & o->mask, bit = 1ull << (i & 63);
	if (!(bits[i >> 6] & bit)) {
		o->st.stale++; /* done twice */
		return 1;
	}
	bits[i >> 6] &= ~bit;
	p->pending--;
	o->st.done++;
	o->st.in_flight--;
	if (offset == p->base)
		p->base = p->pending ? fo_offsets_scan(o, bits, p, offset + 1) : p->next;
	return 0;
}

int64_t fo_offsets_committable(const fo_offsets *o, int32_t partition)
{
	const fo_opart *p = fo_offsets_part(o, partition);
	if (!p || !p->assigned || p->next < 0)
		return -1;
	return p->base;
}

size_t fo_offsets_room(const fo_offsets *o, int32_t partition)
{
	const fo_opart *p = fo_offsets_part(o, partition);
	if (!p || !p->assigned)
		return 0;
	if (p->next < 0 || !p->pending)
		return (size_t)o->mask + 1;
	return (size_t)(o->mask + 1 - (uint64_t)(p->next - p->base));
}

size_t fo_offsets_pending(const fo_offsets *o, int32_t partition)
{
	const fo_opart *p = fo_offsets_part(o, partition);
	return p && p->assigned ? (size_t)p->pending : 0;
}

size_t fo_offsets_to_commit(const fo_offsets *o, fo_offsets_pos *out, size_t max)
{
	size_t n = 0;
	for (unsigned i = 0; i < o->nparts && n < max; i++) {
		const fo_opart *p = &o->part[i];
		if (p->assigned && p->next >= 0 && p->base > p->committed) {
			out[n].partition = (int32_t)i;
			out[n].offset = p->base;
			n++;
		}
	}
	return n;
}

void fo_offsets_committed(fo_offsets *o, int32_t partition, int64_t offset)
{
	fo_opart *p = fo_offsets_part(o, partition);
	if (p && p->assigned && offset > p->committed)
		p->committed = offset;
}

void fo_offsets_stats_get(const fo_offsets *o, fo_offsets_stats *st)
{
	*st = o->st;
}
