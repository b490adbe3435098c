/*
 * ring: see ring.h. This file holds creation, the waiting slow paths and
 * the queries; the per-slot fast paths are inline in the header. The ring
 * header and its slots are one 64-byte aligned allocation, written once
 * here so no page fault lands on the data path.
 */
#include "ring.h"

#include <errno.h>
#include <mimalloc.h>
#include <sched.h>
#include <time.h>

#define FO_RING_MAX_CAPACITY ((size_t)1 << 30)
#define FO_RING_SPINS        32   /* pause-only rounds of fo_ring_pause */
#define FO_RING_YIELDS       1024 /* then this many sched_yield rounds */
#define FO_RING_SLEEP_NS     50000

static inline void fo_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

fo_ring *fo_ring_new(size_t slot_size, size_t min_capacity)
{
	if (slot_size == 0 || min_capacity > FO_RING_MAX_CAPACITY) {
		errno = EINVAL;
		return NULL;
	}
	size_t cap = 2;
	while (cap < min_capacity)
		cap <<= 1;
	if (slot_size > (SIZE_MAX - sizeof(fo_ring)) / cap) {
		errno = EINVAL;
		return NULL;
	}
	size_t bytes = sizeof(fo_ring) + cap * slot_size;
	fo_ring *r = mi_malloc_aligned(bytes, FO_CACHE_LINE);
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	memset(r, 0, bytes); /* also faults every page in now */
	r->_slots = (uint8_t *)(r + 1);
	r->_stride = slot_size;
	r->_mask = cap - 1;
	atomic_init(&r->_waits, 0);
	atomic_init(&r->_tail, 0);
	atomic_init(&r->_closed, 0);
	atomic_init(&r->_head, 0);
	return r;
}

void fo_ring_destroy(fo_ring *r)
{
	mi_free(r);
}

size_t fo_ring_capacity(const fo_ring *r)
{
	return r->_mask + 1;
}

size_t fo_ring_slot_size(const fo_ring *r)
{
	return r->_stride;
}

size_t fo_ring_count(const fo_ring *r)
{
	/* relaxed: a statistic; the two loads are not a consistent pair, so
	 * clamp to what the ring can hold. */
	size_t head = atomic_load_explicit(&r->_head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&r->_tail, memory_order_relaxed);
	size_t n = tail - head;
	if (n > r->_mask + 1)
		n = (n > SIZE_MAX / 2) ? 0 : r->_mask + 1; /* head read ahead of tail */
	return n;
}

uint64_t fo_ring_full_waits(const fo_ring *r)
{
	return atomic_load_explicit(&r->_waits, memory_order_relaxed);
}

int fo_ring_valid(const fo_ring *r)
{
	size_t cap = r->_mask + 1;
	if (!r->_slots || r->_slots != (const uint8_t *)(r + 1) || r->_stride == 0)
		return 0;
	if (cap < 2 || (cap & r->_mask) != 0 || cap > FO_RING_MAX_CAPACITY)
		return 0;
	if ((uintptr_t)r % FO_CACHE_LINE != 0)
		return 0;
	/* acquire on both: pair with the release stores in fo_ring_publish
	 * and fo_ring_release. The caller owns one of the two indices, so the
	 * pair read here is one that existed. */
	size_t head = atomic_load_explicit(&r->_head, memory_order_acquire);
	size_t tail = atomic_load_explicit(&r->_tail, memory_order_acquire);
	return tail - head <= cap;
}

void fo_ring_pause(unsigned *round)
{
	unsigned k = (*round)++;
	if (k < FO_RING_SPINS) {
		fo_cpu_relax();
	} else if (k < FO_RING_SPINS + FO_RING_YIELDS) {
		sched_yield();
	} else {
		*round = FO_RING_SPINS + FO_RING_YIELDS; /* stay here, no overflow */
		struct timespec ts = {0, FO_RING_SLEEP_NS};
		nanosleep(&ts, NULL);
	}
}

void *fo_ring_claim_wait(fo_ring *r)
{
	/* fo_ring_try_claim has failed once: it published every claimed slot
	 * and counted the wait, so only the head needs watching now. */
	size_t c = r->_claim;
	unsigned round = 0;
	for (;;) {
		fo_ring_pause(&round);
		/* acquire: pairs with the release store of _head in
		 * fo_ring_release (as in fo_ring_try_claim). */
		r->_head_cache = atomic_load_explicit(&r->_head, memory_order_acquire);
		if (c - r->_head_cache <= r->_mask)
			break;
	}
	r->_claim = c + 1;
	return r->_slots + (c & r->_mask) * r->_stride;
}

size_t fo_ring_wait_slow(fo_ring *r, size_t max)
{
	unsigned round = 0;
	for (;;) {
		fo_ring_pause(&round);
		size_t n = fo_ring_peek(r, max);
		if (n)
			return n;
		/* acquire: pairs with the release store of _closed in
		 * fo_ring_close, which follows the producer's last publish; the
		 * peek after it therefore sees the final tail. */
		if (atomic_load_explicit(&r->_closed, memory_order_acquire))
			return fo_ring_peek(r, max);
	}
}

void fo_ring_close(fo_ring *r)
{
	fo_ring_publish(r);
	FO_RING_ASSERT(fo_ring_valid(r));
	/* release: pairs with the acquire loads of _closed in fo_ring_done and
	 * fo_ring_wait_slow; the final tail is visible to whoever sees it. */
	atomic_store_explicit(&r->_closed, 1, memory_order_release);
}

int fo_ring_done(fo_ring *r)
{
	/* acquire: pairs with the release store of _closed in fo_ring_close. */
	if (!atomic_load_explicit(&r->_closed, memory_order_acquire))
		return 0;
	/* acquire: pairs with the release store of _tail in fo_ring_publish;
	 * after the close was seen this is the final tail. */
	r->_tail_cache = atomic_load_explicit(&r->_tail, memory_order_acquire);
	return r->_tail_cache == r->_read;
}
