/*
 * dedup: which event ids a shard worker has already seen, for at most a
 * TTL, in fixed memory.
 *
 * At-least-once delivery redelivers messages (after a rebalance, a restart
 * or a producer retry) and a replay run twice produces the same ids; every
 * vehicle's events, and so every copy of an event id, reach the same
 * worker, so each worker keeps its own fo_dedup and nothing is shared or
 * locked. An id counts as a duplicate if it was first seen less than the TTL
 * ago (by the caller's clock; the TTL runs from the first sighting and a
 * duplicate does not extend it).
 *
 * Open addressing (linear probing, backward-shift deletion, at most half
 * full) over the 128-bit ids, and a FIFO of (id, insertion time) that expiry
 * pops from the front. Memory is allocated once by fo_dedup_new: about
 * 56 bytes per id of capacity. When all `capacity` ids are live, the oldest
 * is evicted before its TTL to make room, and counted: the window then
 * covers the last `capacity` ids rather than the TTL, which the stats make
 * visible. One thread (the owning worker) uses a fo_dedup; no allocation,
 * lock or system call per check.
 */
#ifndef FO_DEDUP_H
#define FO_DEDUP_H

#include "uuid5.h"

#include <stddef.h>
#include <stdint.h>

#define FO_DEDUP_TTL_NS (60 * 1000000000LL) /* default TTL: 60 s */

typedef struct fo_dedup fo_dedup;

typedef struct fo_dedup_stats {
	uint64_t checked;       /* calls to fo_dedup_check */
	uint64_t duplicates;    /* of which seen within the TTL */
	uint64_t expired;       /* ids forgotten at the end of their TTL */
	uint64_t evicted_early; /* ids forgotten before it, to make room */
	size_t live;            /* ids remembered now */
	size_t capacity;
	size_t bytes; /* memory held */
} fo_dedup_stats;

/* Creates a deduplicator remembering up to capacity ids for ttl_ns each.
 * Any thread, before use. Returns NULL if capacity is 0 or above 2^30, if
 * ttl_ns <= 0, or out of memory. Freed by fo_dedup_destroy. */
fo_dedup *fo_dedup_new(size_t capacity, int64_t ttl_ns);
void fo_dedup_destroy(fo_dedup *d);

/* Returns 1 if id was first seen within the TTL before now_ns (a
 * duplicate: drop it), else remembers it as seen at now_ns and returns 0.
 * now_ns is any clock in ns that does not run backwards (the wall clock:
 * a step back only keeps ids a little longer). Forgets expired ids first
 * and, when full, the oldest one. Owner thread; no allocation. */
int fo_dedup_check(fo_dedup *d, const fo_uuid *id, int64_t now_ns);

/* Starts loading id's home slot, which fo_dedup_check(d, id, ...) will
 * read. A worker that calls it for a batch of ids before checking them
 * hides most cache misses of a large table (the slots of ids about to
 * expire are prefetched inside). Owner thread; changes nothing. */
void fo_dedup_prefetch(const fo_dedup *d, const fo_uuid *id);

/* Counters and occupancy. Owner thread (or any thread once the owner has
 * stopped). */
void fo_dedup_stats_get(const fo_dedup *d, fo_dedup_stats *st);

#endif
