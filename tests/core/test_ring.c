/* Unit: the SPSC ring (core/ring.c). Single-thread semantics against a
 * reference queue (claim/publish batches, peek/release batches, full and
 * empty, capacity rounding, index wrap-around past SIZE_MAX, close), then
 * two-thread stress runs checking that every sequence number arrives once,
 * in order, intact: a roomy ring, the minimum ring, and both threads pinned
 * to one CPU. FO_RING_STRESS_ITEMS overrides the length of the main run
 * (default 50 M, 20 M under the thread sanitizer). */
#include "fo_test.h"
#include "ring.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

#if defined(__SANITIZE_THREAD__)
#define FO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FO_TEST_TSAN 1
#endif
#endif

typedef struct item {
	uint64_t seq;
	uint64_t neg; /* ~seq */
	uint64_t mix; /* seq * odd constant */
} item;

#define MIX 0x9e3779b97f4a7c15ULL

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_new(void)
{
	static const size_t cases[][2] = {{0, 2}, {1, 2},       {2, 2},      {3, 4},
	                                  {5, 8}, {1024, 1024}, {1025, 2048}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fo_ring *r = fo_ring_new(sizeof(item), cases[i][0]);
		FO_CHECK(r != NULL);
		FO_CHECK_MSG(fo_ring_capacity(r) == cases[i][1], "min %zu -> %zu", cases[i][0],
		             fo_ring_capacity(r));
		FO_CHECK(fo_ring_slot_size(r) == sizeof(item));
		FO_CHECK(fo_ring_valid(r));
		FO_CHECK((uintptr_t)fo_ring_claim(r) % FO_CACHE_LINE == 0);
		fo_ring_destroy(r);
	}
	errno = 0;
	FO_CHECK(fo_ring_new(0, 16) == NULL && errno == EINVAL);
	errno = 0;
	FO_CHECK(fo_ring_new(8, ((size_t)1 << 30) + 1) == NULL && errno == EINVAL);
	errno = 0;
	FO_CHECK(fo_ring_new(SIZE_MAX / 4, 16) == NULL && errno == EINVAL);
	/* the shared indices and the private state of each side on separate lines */
	FO_CHECK(offsetof(fo_ring, _claim) % FO_CACHE_LINE == 0);
	FO_CHECK(offsetof(fo_ring, _tail) - offsetof(fo_ring, _claim) >= FO_CACHE_LINE);
	FO_CHECK(offsetof(fo_ring, _read) - offsetof(fo_ring, _tail) >= FO_CACHE_LINE);
	FO_CHECK(offsetof(fo_ring, _head) - offsetof(fo_ring, _read) >= FO_CACHE_LINE);
	FO_CHECK(sizeof(fo_ring) - offsetof(fo_ring, _head) >= FO_CACHE_LINE);
}

static void test_full_empty(void)
{
	fo_ring *r = fo_ring_new(sizeof(item), 8);
	item it = {0}, out;
	FO_CHECK(fo_ring_peek(r, 4) == 0);
	FO_CHECK(fo_ring_try_pop(r, &out) == 0);
	FO_CHECK(fo_ring_count(r) == 0);
	FO_CHECK(fo_ring_done(r) == 0);
	for (uint64_t i = 0; i < 8; i++) {
		it.seq = i;
		FO_CHECK(fo_ring_try_push(r, &it) == 1);
	}
	FO_CHECK(fo_ring_count(r) == 8);
	FO_CHECK(fo_ring_full_waits(r) == 0);
	it.seq = 99;
	FO_CHECK(fo_ring_try_push(r, &it) == 0);
	FO_CHECK(fo_ring_try_claim(r) == NULL);
	FO_CHECK(fo_ring_full_waits(r) == 2);
	FO_CHECK(fo_ring_valid(r));
	for (uint64_t i = 0; i < 8; i++) {
		FO_CHECK(fo_ring_try_pop(r, &out) == 1);
		FO_CHECK(out.seq == i);
	}
	FO_CHECK(fo_ring_try_pop(r, &out) == 0);
	FO_CHECK(fo_ring_count(r) == 0);
	/* one slot free again: room for exactly one more after popping one */
	for (uint64_t i = 0; i < 8; i++)
		FO_CHECK(fo_ring_try_push(r, &it) == 1);
	FO_CHECK(fo_ring_try_pop(r, &out) == 1);
	FO_CHECK(fo_ring_try_push(r, &it) == 1);
	FO_CHECK(fo_ring_try_push(r, &it) == 0);
	fo_ring_destroy(r);
}

static void test_batches(void)
{
	fo_ring *r = fo_ring_new(sizeof(item), 8);
	/* claimed slots stay invisible until published, then appear at once */
	for (uint64_t i = 0; i < 5; i++) {
		item *s = fo_ring_try_claim(r);
		FO_CHECK(s != NULL);
		s->seq = i;
	}
	FO_CHECK(fo_ring_peek(r, 8) == 0);
	FO_CHECK(fo_ring_count(r) == 0);
	fo_ring_publish(r);
	fo_ring_publish(r); /* nothing new: no effect */
	FO_CHECK(fo_ring_count(r) == 5);
	FO_CHECK(fo_ring_peek(r, 3) == 3);
	FO_CHECK(fo_ring_peek(r, 8) == 5);
	for (size_t i = 0; i < 5; i++)
		FO_CHECK(((item *)fo_ring_at(r, i))->seq == i);
	/* partial release: the rest stays readable from the new head */
	fo_ring_release(r, 2);
	FO_CHECK(fo_ring_count(r) == 3);
	FO_CHECK(fo_ring_peek(r, 8) == 3);
	FO_CHECK(((item *)fo_ring_at(r, 0))->seq == 2);
	fo_ring_release(r, 0);
	FO_CHECK(fo_ring_peek(r, 8) == 3);
	/* a producer that claims a whole ring without publishing gets NULL
	 * and its claims are published, so a consumer can make room */
	fo_ring_release(r, 3);
	for (int i = 0; i < 8; i++)
		FO_CHECK(fo_ring_try_claim(r) != NULL);
	FO_CHECK(fo_ring_peek(r, 8) == 0);
	FO_CHECK(fo_ring_try_claim(r) == NULL);
	FO_CHECK(fo_ring_peek(r, 16) == 8);
	fo_ring_destroy(r);
}

/* Random claims, publishes, peeks and releases against a model queue; the
 * indices start just below SIZE_MAX so they wrap during the run. */
static void test_model(size_t start)
{
	enum { CAP = 16 };
	fo_ring *r = fo_ring_new(sizeof(item), CAP);
	r->_claim = r->_pub = r->_head_cache = r->_read = r->_tail_cache = start;
	atomic_store(&r->_tail, start);
	atomic_store(&r->_head, start);
	uint64_t rng = 0x9abcdef + start;
	uint64_t next_in = 0, next_out = 0; /* sequence numbers */
	uint64_t published = 0;             /* model: items visible to the consumer */
	size_t peeked = 0;
	for (int step = 0; step < 200000 && fo_test_failures < 10; step++) {
		switch (next_rand(&rng) % 4) {
		case 0: { /* claim a random number of slots */
			size_t k = (size_t)(next_rand(&rng) % 6);
			for (size_t i = 0; i < k; i++) {
				int room = next_in - next_out < CAP;
				item *s = fo_ring_try_claim(r);
				FO_CHECK((s != NULL) == room);
				if (!s) {
					published = next_in; /* a failed claim publishes */
					break;
				}
				*s = (item){next_in, ~next_in, next_in * MIX};
				next_in++;
			}
			break;
		}
		case 1:
			fo_ring_publish(r);
			published = next_in;
			break;
		case 2: {
			size_t max = 1 + (size_t)(next_rand(&rng) % 10);
			size_t n = fo_ring_peek(r, max);
			uint64_t avail = published - next_out;
			FO_CHECK(n == (avail < max ? avail : max));
			for (size_t i = 0; i < n; i++) {
				item *s = fo_ring_at(r, i);
				FO_CHECK(s->seq == next_out + i && s->neg == ~s->seq &&
				         s->mix == s->seq * MIX);
			}
			peeked = n;
			break;
		}
		case 3: {
			size_t m = peeked ? (size_t)(next_rand(&rng) % (peeked + 1)) : 0;
			fo_ring_release(r, m);
			next_out += m;
			peeked = 0;
			break;
		}
		}
		FO_CHECK(fo_ring_valid(r));
		FO_CHECK(fo_ring_count(r) == published - next_out);
	}
	FO_CHECK_MSG(next_out > 20000, "only %llu items went through",
	             (unsigned long long)next_out);
	FO_CHECK(r->_claim - start == next_in); /* it did wrap when asked to */
	fo_ring_destroy(r);
}

static void test_close(void)
{
	fo_ring *r = fo_ring_new(sizeof(item), 4);
	item it = {0}, out;
	it.seq = 1;
	fo_ring_push(r, &it);
	item *s = fo_ring_claim(r); /* claimed, not published: close publishes */
	s->seq = 2;
	FO_CHECK(fo_ring_done(r) == 0);
	fo_ring_close(r);
	FO_CHECK(fo_ring_done(r) == 0); /* still two to read */
	FO_CHECK(fo_ring_wait(r, 8) == 2);
	FO_CHECK(((item *)fo_ring_at(r, 1))->seq == 2);
	FO_CHECK(fo_ring_done(r) == 0); /* peeked but not released */
	fo_ring_release(r, 2);
	FO_CHECK(fo_ring_done(r) == 1);
	FO_CHECK(fo_ring_wait(r, 8) == 0);
	FO_CHECK(fo_ring_pop(r, &out) == 0);
	FO_CHECK(fo_ring_try_pop(r, &out) == 0);
	fo_ring_destroy(r);

	r = fo_ring_new(sizeof(item), 4); /* closed while empty */
	fo_ring_close(r);
	FO_CHECK(fo_ring_done(r) == 1);
	FO_CHECK(fo_ring_pop(r, &out) == 0);
	fo_ring_destroy(r);
}

/* ---- two threads ------------------------------------------------------ */

typedef struct stress {
	fo_ring *r;
	uint64_t items;    /* producer stops after this many... */
	double deadline;   /* ...or at this time, whichever first */
	int cpu;           /* pin both threads here, or -1 */
	uint64_t produced; /* written by the producer, read after join */
	uint64_t consumed; /* written by the consumer, read after join */
	uint64_t errors;
} stress;

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *producer(void *arg)
{
	stress *st = arg;
	pin(st->cpu);
	uint64_t rng = 0x1234567, seq = 0, batches = 0;
	while (seq < st->items) {
		if ((++batches & 1023) == 0 && now_s() > st->deadline)
			break;
		uint64_t k = 1 + next_rand(&rng) % 100;
		if (k > st->items - seq)
			k = st->items - seq;
		int how = (int)(next_rand(&rng) % 8);
		if (how == 0) { /* one push at a time */
			for (uint64_t i = 0; i < k; i++, seq++)
				fo_ring_push(st->r, &(item){seq, ~seq, seq * MIX});
		} else if (how == 1) { /* polling try_push */
			for (uint64_t i = 0; i < k; i++, seq++) {
				unsigned round = 0;
				while (!fo_ring_try_push(st->r, &(item){seq, ~seq, seq * MIX}))
					fo_ring_pause(&round);
			}
		} else { /* claim a batch in place, publish once */
			for (uint64_t i = 0; i < k; i++, seq++) {
				item *s = fo_ring_claim(st->r);
				s->seq = seq;
				s->neg = ~seq;
				s->mix = seq * MIX;
			}
			fo_ring_publish(st->r);
		}
	}
	st->produced = seq;
	fo_ring_close(st->r);
	return NULL;
}

static void *consumer(void *arg)
{
	stress *st = arg;
	pin(st->cpu);
	uint64_t rng = 0x7654321, expect = 0, errors = 0;
	for (;;) {
		int how = (int)(next_rand(&rng) % 8);
		if (how == 0) {
			item out;
			if (!fo_ring_pop(st->r, &out))
				break;
			errors +=
			    out.seq != expect || out.neg != ~expect || out.mix != expect * MIX;
			expect++;
			continue;
		}
		size_t n = fo_ring_wait(st->r, 1 + (size_t)(next_rand(&rng) % 100));
		if (!n)
			break;
		size_t keep = how == 1 ? (size_t)(next_rand(&rng) % n) : n; /* partial release */
		for (size_t i = 0; i < keep; i++) {
			const item *s = fo_ring_at(st->r, i);
			uint64_t e = expect + i;
			errors += s->seq != e || s->neg != ~e || s->mix != e * MIX;
		}
		fo_ring_release(st->r, keep);
		expect += keep;
		if (errors && errors < 5)
			fprintf(stderr, "stress: out of order or torn near %llu\n",
			        (unsigned long long)expect);
	}
	st->consumed = expect;
	st->errors = errors;
	FO_CHECK(fo_ring_done(st->r));
	return NULL;
}

static void run_stress(const char *name, size_t cap, uint64_t items, double seconds, int cpu)
{
	stress st = {.r = fo_ring_new(sizeof(item), cap), .items = items, .cpu = cpu};
	FO_CHECK(st.r != NULL);
	double t0 = now_s();
	st.deadline = t0 + seconds;
	pthread_t p, c;
	FO_CHECK(pthread_create(&c, NULL, consumer, &st) == 0);
	FO_CHECK(pthread_create(&p, NULL, producer, &st) == 0);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	double dt = now_s() - t0;
	FO_CHECK_MSG(st.errors == 0, "%s: %llu bad items", name, (unsigned long long)st.errors);
	FO_CHECK_MSG(st.consumed == st.produced, "%s: produced %llu, consumed %llu", name,
	             (unsigned long long)st.produced, (unsigned long long)st.consumed);
	FO_CHECK(st.produced > 0);
	FO_CHECK(fo_ring_valid(st.r));
	FO_CHECK(fo_ring_count(st.r) == 0);
	printf("%s: %llu items through %zu slots in %.2f s (%.1f M/s), producer waited %llu "
	       "times\n",
	       name, (unsigned long long)st.consumed, fo_ring_capacity(st.r), dt,
	       (double)st.consumed / dt / 1e6, (unsigned long long)fo_ring_full_waits(st.r));
	fo_ring_destroy(st.r);
}

int main(void)
{
	test_new();
	test_full_empty();
	test_batches();
	test_model(0);
	test_model(SIZE_MAX - 1000); /* indices wrap past SIZE_MAX */
	test_close();

#ifdef FO_TEST_TSAN
	uint64_t items = 20000000;
#else
	uint64_t items = 50000000;
#endif
	const char *env = getenv("FO_RING_STRESS_ITEMS");
	if (env)
		items = strtoull(env, NULL, 10);
	run_stress("stress", 1024, items, 30.0, -1);
	run_stress("stress_min_ring", 2, items / 20, 10.0, -1);
	run_stress("stress_one_cpu", 64, items / 50, 10.0, 0);
	return fo_test_done("test_ring");
}
