/*
 * ring: a bounded lock-free single-producer single-consumer ring of
 * fixed-size slots, the link between pipeline stages (reader -> shard
 * worker -> sink).
 *
 * Exactly one producer thread writes and exactly one consumer thread reads;
 * any thread may ask for the occupancy. The producer claims slots, writes
 * them in place and publishes every claimed slot with one release store of
 * the tail; the consumer peeks a batch of published slots, reads them in
 * place and releases the batch with one release store of the head. Indices
 * run freely (unsigned wrap-around is harmless) and are masked by the
 * power-of-two capacity. Each side keeps a private copy of the other's index
 * and reloads the shared one only when its copy says full (producer) or
 * empty (consumer), so in steady state a batch costs one cache-line
 * transfer each way. The private state of each side, the tail and the head
 * live on four separate 64-byte lines.
 *
 * Nothing is dropped: a full ring makes the blocking producer wait (a few
 * pause instructions, then sched_yield, then short sleeps once the wait is
 * long), and an empty ring does the same to the blocking consumer, so it
 * works on one core. When the producer is finished it closes the ring; the
 * consumer drains what was published and then learns the ring is done.
 * All memory is allocated and touched by fo_ring_new; the fast paths below
 * are static inline and never allocate, lock or make a system call.
 */
#ifndef FO_RING_H
#define FO_RING_H

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FO_CACHE_LINE 64

/* Debug builds check each side's private invariants on the fast paths. */
#ifdef NDEBUG
#define FO_RING_ASSERT(c) ((void)0)
#else
#define FO_RING_ASSERT(c) assert(c)
#endif

typedef struct fo_ring {
	/* Read-only after fo_ring_new. */
	uint8_t *_slots;
	size_t _stride; /* bytes per slot */
	size_t _mask;   /* capacity - 1 */

	/* Producer's private line. */
	_Alignas(FO_CACHE_LINE) size_t _claim; /* next slot to claim; >= _pub */
	size_t _pub;                           /* last value stored to _tail */
	size_t _head_cache;                    /* producer's copy of _head */
	_Atomic size_t _waits;                 /* times the producer found it full */

	/* Written by the producer, read by the consumer. */
	_Alignas(FO_CACHE_LINE) _Atomic size_t _tail; /* slots ever published */
	atomic_int _closed;

	/* Consumer's private line. */
	_Alignas(FO_CACHE_LINE) size_t _read; /* consumer's copy of _head */
	size_t _tail_cache;                   /* consumer's copy of _tail */

	/* Written by the consumer, read by the producer. */
	_Alignas(FO_CACHE_LINE) _Atomic size_t _head; /* slots ever released */
} fo_ring;

/* Creates a ring of at least min_capacity slots (rounded up to a power of
 * two, at least 2) of slot_size bytes each; pass sizeof(T) so every slot is
 * aligned for T (the first slot is 64-byte aligned). Any thread, before the
 * ring is shared. Returns NULL with errno EINVAL (zero size, capacity above
 * 2^30 or overflow) or ENOMEM. Freed by fo_ring_destroy. */
fo_ring *fo_ring_new(size_t slot_size, size_t min_capacity);

/* Frees the ring and its slots. Any thread, once neither side uses it. */
void fo_ring_destroy(fo_ring *r);

/* Capacity in slots and slot size in bytes. Any thread. */
size_t fo_ring_capacity(const fo_ring *r);
size_t fo_ring_slot_size(const fo_ring *r);

/* Published slots not yet released, for stats: exact when both sides are
 * idle, otherwise a value that was true a moment ago (0..capacity). Any
 * thread; no locks. */
size_t fo_ring_count(const fo_ring *r);

/* How many times the producer found the ring full and had to wait (or got
 * NULL from fo_ring_try_claim): backpressure, for stats. Any thread. */
uint64_t fo_ring_full_waits(const fo_ring *r);

/* Returns 1 if the ring's invariants hold (geometry, 0 <= tail - head <=
 * capacity), 0 otherwise. Producer or consumer thread, or any thread when
 * both sides are idle. For assertions in debug builds and tests. */
int fo_ring_valid(const fo_ring *r);

/* Producer: publishes every claimed slot (if any), closes the ring and
 * never touches it again. The consumer still receives every slot published
 * before the close. */
void fo_ring_close(fo_ring *r);

/* Consumer: returns 1 when the ring is closed and every published slot has
 * been released, else 0. */
int fo_ring_done(fo_ring *r);

/* Slow paths of the blocking calls below (out of line on purpose). */
void *fo_ring_claim_wait(fo_ring *r);
size_t fo_ring_wait_slow(fo_ring *r, size_t max);

/* Waits a little, longer with each call on the same counter (start it at 0
 * and reset it after progress): a pause instruction for the first calls,
 * then sched_yield, then 50 us sleeps once the wait has lasted about a
 * millisecond. Any thread; for loops that poll several rings. */
void fo_ring_pause(unsigned *round);

/* ---- fast paths ------------------------------------------------------- */

/* Producer: publishes every slot claimed since the last publish with one
 * release store of the tail (nothing is stored if none was claimed). */
static inline void fo_ring_publish(fo_ring *r)
{
	if (r->_claim == r->_pub)
		return;
	r->_pub = r->_claim;
	/* release: pairs with the acquire loads of _tail in fo_ring_peek and
	 * fo_ring_done; the slot writes before it become visible to the
	 * consumer together with the new tail. */
	atomic_store_explicit(&r->_tail, r->_claim, memory_order_release);
}

/* Producer: counts one wait on a full ring. The counter has one writer, so
 * a relaxed load and store is enough; readers only want a statistic. */
static inline void fo_ring_note_full(fo_ring *r)
{
	size_t w = atomic_load_explicit(&r->_waits, memory_order_relaxed);
	atomic_store_explicit(&r->_waits, w + 1, memory_order_relaxed);
}

/* Producer: claims the next free slot and returns it for writing in place,
 * or NULL if the ring is full. A claimed slot is invisible to the consumer
 * until fo_ring_publish. On NULL, every slot already claimed is published
 * first, so polling try_claim can never wait on the producer itself. */
static inline void *fo_ring_try_claim(fo_ring *r)
{
	size_t c = r->_claim;
	if (c - r->_head_cache > r->_mask) {
		/* acquire: pairs with the release store of _head in
		 * fo_ring_release; the consumer has finished reading every slot
		 * it released before this producer overwrites it. */
		r->_head_cache = atomic_load_explicit(&r->_head, memory_order_acquire);
		if (c - r->_head_cache > r->_mask) {
			fo_ring_publish(r);
			fo_ring_note_full(r);
			return NULL;
		}
	}
	r->_claim = c + 1;
	return r->_slots + (c & r->_mask) * r->_stride;
}

/* Producer: claims the next free slot, waiting while the ring is full
 * (publishing what was claimed before it waits). Never returns NULL. */
static inline void *fo_ring_claim(fo_ring *r)
{
	void *s = fo_ring_try_claim(r);
	return s ? s : fo_ring_claim_wait(r);
}

/* Producer: copies one slot_size item in and publishes it. try_push returns
 * 1, or 0 if the ring is full; push waits for room. */
static inline int fo_ring_try_push(fo_ring *r, const void *item)
{
	void *s = fo_ring_try_claim(r);
	if (!s)
		return 0;
	memcpy(s, item, r->_stride);
	fo_ring_publish(r);
	return 1;
}

static inline void fo_ring_push(fo_ring *r, const void *item)
{
	memcpy(fo_ring_claim(r), item, r->_stride);
	fo_ring_publish(r);
}

/* Consumer: returns how many published slots can be read now, at most max
 * (max >= 1), without waiting; 0 if none. They are read in place with
 * fo_ring_at(r, 0 .. n-1) and handed back with fo_ring_release. */
static inline size_t fo_ring_peek(fo_ring *r, size_t max)
{
	FO_RING_ASSERT(max >= 1);
	size_t avail = r->_tail_cache - r->_read;
	if (avail < max) {
		/* acquire: pairs with the release store of _tail in
		 * fo_ring_publish; the slots below the tail are fully written. */
		r->_tail_cache = atomic_load_explicit(&r->_tail, memory_order_acquire);
		avail = r->_tail_cache - r->_read;
		FO_RING_ASSERT(avail <= r->_mask + 1);
	}
	return avail < max ? avail : max;
}

/* Consumer: like fo_ring_peek but waits while the ring is empty. Returns 0
 * only when the ring is closed and everything published has been seen. */
static inline size_t fo_ring_wait(fo_ring *r, size_t max)
{
	size_t n = fo_ring_peek(r, max);
	return n ? n : fo_ring_wait_slow(r, max);
}

/* Consumer: the i-th slot of the batch returned by fo_ring_peek/wait. */
static inline void *fo_ring_at(const fo_ring *r, size_t i)
{
	FO_RING_ASSERT(i < r->_tail_cache - r->_read);
	return r->_slots + ((r->_read + i) & r->_mask) * r->_stride;
}

/* Consumer: hands the first n peeked slots back to the producer with one
 * release store of the head; their contents must not be used afterwards. */
static inline void fo_ring_release(fo_ring *r, size_t n)
{
	FO_RING_ASSERT(n <= r->_tail_cache - r->_read);
	if (!n)
		return;
	r->_read += n;
	/* release: pairs with the acquire load of _head in fo_ring_try_claim;
	 * the reads of these slots happen before the producer reuses them. */
	atomic_store_explicit(&r->_head, r->_read, memory_order_release);
}

/* Consumer: copies one item out and releases its slot. try_pop returns 1,
 * or 0 if the ring is empty (fo_ring_done tells whether it ever will not
 * be); pop waits and returns 0 only when the ring is closed and drained. */
static inline int fo_ring_try_pop(fo_ring *r, void *out)
{
	if (!fo_ring_peek(r, 1))
		return 0;
	memcpy(out, fo_ring_at(r, 0), r->_stride);
	fo_ring_release(r, 1);
	return 1;
}

static inline int fo_ring_pop(fo_ring *r, void *out)
{
	if (!fo_ring_wait(r, 1))
		return 0;
	memcpy(out, fo_ring_at(r, 0), r->_stride);
	fo_ring_release(r, 1);
	return 1;
}

#endif
