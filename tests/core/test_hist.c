/* Unit: latency histograms (core/hist.c). The bucket layout is contiguous
 * and within its error bound; percentiles match a sorted reference on
 * several distributions; merging equals recording everything in one;
 * intervals equal what was recorded between ticks; edge values clamp and
 * are counted; and a reporter snapshotting live histograms while their
 * owners record gets consistent snapshots and, at the end, every value
 * (run under the thread sanitizer to check the protocol is race-free). */
#include "fo_test.h"
#include "hist.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__SANITIZE_THREAD__)
#define FO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FO_TEST_TSAN 1
#endif
#endif

#define N 200000

static const double pcts[] = {0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double uniform01(void) /* (0, 1] */
{
	return ((double)(next_rand() >> 11) + 1.0) / 9007199254740992.0;
}

static double normal(double mean, double sd)
{
	return mean + sd * sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array (the definition in hist.h). */
static int64_t ref_percentile(const int64_t *sorted, size_t n, double p)
{
	double x = p / 100.0 * (double)n;
	size_t rank = (size_t)ceil(x - x * 1e-12);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static void test_layout(void)
{
	FO_CHECK(FO_HIST_BUCKETS == 3968);
	FO_CHECK(fo_hist_index(0) == 0);
	FO_CHECK(fo_hist_index(255) == 255);
	FO_CHECK(fo_hist_index(256) == 256);
	FO_CHECK(fo_hist_index((uint64_t)FO_HIST_MAX_NS) == FO_HIST_BUCKETS - 1);
	uint64_t next = 0;
	for (size_t i = 0; i < FO_HIST_BUCKETS; i++) {
		uint64_t lo = fo_hist_bucket_lo(i), w = fo_hist_bucket_width(i);
		FO_CHECK_MSG(lo == next, "bucket %zu starts at %llu, not %llu", i,
		             (unsigned long long)lo, (unsigned long long)next);
		FO_CHECK(fo_hist_index(lo) == i);
		FO_CHECK(fo_hist_index(lo + w - 1) == i);
		FO_CHECK(i < 256 ? w == 1 : w * 128 <= lo);
		next = lo + w;
		if (fo_test_failures > 10)
			return;
	}
	FO_CHECK(next == (uint64_t)FO_HIST_MAX_NS + 1);
	FO_CHECK(sizeof(fo_hist) % 64 == 0 && _Alignof(fo_hist) == 64);
}

/* Records the values, checks every percentile against the reference. */
static void check_dist(const char *name, int64_t *v, size_t n)
{
	fo_hist *h = fo_hist_new();
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		fo_hist_record(h, v[i]);
		sum += (uint64_t)v[i];
	}
	qsort(v, n, sizeof(v[0]), cmp_i64);
	FO_CHECK(fo_hist_count(h) == n);
	FO_CHECK(fo_hist_min(h) == v[0]);
	FO_CHECK(fo_hist_max(h) == v[n - 1]);
	FO_CHECK_NEAR(fo_hist_mean(h), (double)sum / (double)n, 1e-9 * (double)sum / (double)n);
	FO_CHECK(fo_hist_clamped(h) == 0);
	double worst = 0;
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		int64_t ref = ref_percentile(v, n, pcts[k]);
		int64_t got = fo_hist_value_at_percentile(h, pcts[k]);
		double err = fabs((double)(got - ref));
		/* midpoint of a bucket at most ref/128 wide */
		FO_CHECK_MSG(err <= (double)ref / 256.0, "%s p%g: %lld vs reference %lld", name,
		             pcts[k], (long long)got, (long long)ref);
		if (ref > 0 && err / (double)ref > worst)
			worst = err / (double)ref;
	}
	printf("%s: %zu values, worst percentile error %.3f%%\n", name, n, worst * 100);
	fo_hist_destroy(h);
}

static void test_distributions(void)
{
	static int64_t v[N];
	for (size_t i = 0; i < N; i++)
		v[i] = (int64_t)(next_rand() % 1000000);
	check_dist("uniform_0_1ms", v, N);
	for (size_t i = 0; i < N; i++)
		v[i] = (int64_t)(-log(uniform01()) * 50000.0);
	check_dist("exponential_50us", v, N);
	for (size_t i = 0; i < N; i++) {
		double x = exp(normal(log(20000.0), 1.5));
		v[i] = x > 1e10 ? (int64_t)1e10 : (int64_t)x;
	}
	check_dist("lognormal_20us", v, N);
	for (size_t i = 0; i < N; i++) {
		double x = next_rand() % 10 ? normal(10000, 1000) : normal(5e6, 1e6);
		v[i] = x < 0 ? 0 : (int64_t)x;
	}
	check_dist("bimodal_10us_5ms", v, N);
	for (size_t i = 0; i < N; i++)
		v[i] = (int64_t)(next_rand() % 400);
	check_dist("small_0_400ns", v, N);
	for (size_t i = 0; i < N; i++)
		v[i] = (int64_t)(next_rand() % 10 ? 123456789 : 99999999999LL); /* ~0.12 s, 100 s */
	check_dist("two_values_up_to_100s", v, N);
	for (size_t i = 0; i < 7; i++)
		v[i] = 777777;
	check_dist("few_constant", v, 7);
}

static int same_hist(const fo_hist *a, const fo_hist *b)
{
	if (fo_hist_count(a) != fo_hist_count(b) || fo_hist_min(a) != fo_hist_min(b) ||
	    fo_hist_max(a) != fo_hist_max(b) || fo_hist_clamped(a) != fo_hist_clamped(b) ||
	    atomic_load(&a->_sum) != atomic_load(&b->_sum))
		return 0;
	for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
		if (atomic_load(&a->_b[i]) != atomic_load(&b->_b[i]))
			return 0;
	return 1;
}

static void test_merge(void)
{
	fo_hist *all = fo_hist_new(), *dst = fo_hist_new(), *part[4];
	for (int k = 0; k < 4; k++)
		part[k] = fo_hist_new();
	for (int i = 0; i < N; i++) {
		int64_t x = (int64_t)exp(normal(log(50000.0), 2.0));
		if (i % 1000 == 0)
			x = -x; /* clamped ones merge too */
		fo_hist_record(all, x);
		fo_hist_record(part[next_rand() % 3], x); /* part[3] stays empty */
	}
	fo_hist_record_n(all, 4242, 5);
	fo_hist_record_n(part[0], 4242, 5);
	for (int k = 0; k < 4; k++)
		fo_hist_merge(dst, part[k]);
	FO_CHECK(same_hist(dst, all));
	FO_CHECK(fo_hist_clamped(dst) == N / 1000);
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++)
		FO_CHECK(fo_hist_value_at_percentile(dst, pcts[k]) ==
		         fo_hist_value_at_percentile(all, pcts[k]));
	/* an empty histogram merges as nothing; a snapshot is a copy */
	fo_hist_merge(all, part[3]);
	FO_CHECK(same_hist(dst, all));
	fo_hist_snapshot(part[3], all);
	FO_CHECK(same_hist(part[3], all));
	fo_hist_destroy(all);
	fo_hist_destroy(dst);
	for (int k = 0; k < 4; k++)
		fo_hist_destroy(part[k]);
}

static void test_edges(void)
{
	fo_hist h;
	fo_hist_init(&h);
	char buf[256];
	fo_jw jw;
	fo_jw_init(&jw, buf, sizeof(buf));
	fo_hist_json(&h, &jw);
	fo_jw_char(&jw, 0);
	FO_CHECK_STR(buf, "{\"count\":0,\"p50_us\":0.000,\"p90_us\":0.000,\"p99_us\":0.000,"
	                  "\"p999_us\":0.000,\"max_us\":0.000,\"mean_us\":0.000}");
	FO_CHECK(fo_hist_value_at_percentile(&h, 50) == 0);
	FO_CHECK(fo_hist_min(&h) == 0 && fo_hist_max(&h) == 0 && fo_hist_mean(&h) == 0);

	fo_hist_record(&h, 0);
	FO_CHECK(fo_hist_count(&h) == 1 && fo_hist_min(&h) == 0 && fo_hist_max(&h) == 0);
	FO_CHECK(atomic_load(&h._b[0]) == 1);
	fo_hist_record(&h, -5); /* negative: clamped to 0, counted */
	FO_CHECK(fo_hist_count(&h) == 2 && fo_hist_clamped(&h) == 1);
	FO_CHECK(atomic_load(&h._b[0]) == 2);
	fo_hist_record(&h, FO_HIST_MAX_NS); /* top of the range: not clamped */
	FO_CHECK(fo_hist_clamped(&h) == 1 && fo_hist_max(&h) == FO_HIST_MAX_NS);
	fo_hist_record(&h, INT64_MAX); /* beyond: the top bucket, counted */
	fo_hist_record_n(&h, (int64_t)200e9, 3);
	FO_CHECK(fo_hist_count(&h) == 7 && fo_hist_clamped(&h) == 5);
	FO_CHECK(atomic_load(&h._b[FO_HIST_BUCKETS - 1]) == 5);
	FO_CHECK(fo_hist_max(&h) == FO_HIST_MAX_NS);
	FO_CHECK(fo_hist_value_at_percentile(&h, 100) == FO_HIST_MAX_NS);
	FO_CHECK(fo_hist_value_at_percentile(&h, 0) == 0);
	FO_CHECK(fo_hist_value_at_percentile(&h, NAN) == 0);
	FO_CHECK(fo_hist_value_at_percentile(&h, 250) == FO_HIST_MAX_NS);
	fo_hist_record_n(&h, 5, 0); /* nothing */
	FO_CHECK(fo_hist_count(&h) == 7 && fo_hist_min(&h) == 0);

	fo_hist_reset(&h);
	FO_CHECK(fo_hist_count(&h) == 0 && fo_hist_clamped(&h) == 0 && fo_hist_max(&h) == 0);
	for (int64_t v = 1; v <= 199; v++) /* below 256 ns every value is exact */
		fo_hist_record(&h, v);
	fo_jw_init(&jw, buf, sizeof(buf));
	fo_hist_json(&h, &jw);
	fo_jw_char(&jw, 0);
	FO_CHECK_STR(buf, "{\"count\":199,\"p50_us\":0.100,\"p90_us\":0.180,\"p99_us\":0.198,"
	                  "\"p999_us\":0.199,\"max_us\":0.199,\"mean_us\":0.100}");
	fo_hist_reset(&h);
	fo_hist_record(&h, 2500000); /* one value: every percentile is it */
	fo_jw_init(&jw, buf, sizeof(buf));
	fo_hist_json(&h, &jw);
	fo_jw_char(&jw, 0);
	FO_CHECK_STR(buf, "{\"count\":1,\"p50_us\":2500.000,\"p90_us\":2500.000,"
	                  "\"p99_us\":2500.000,\"p999_us\":2500.000,\"max_us\":2500.000,"
	                  "\"mean_us\":2500.000}");
}

static void test_interval(void)
{
	fo_hist *h = fo_hist_new(), *only_b = fo_hist_new(), *all = fo_hist_new();
	fo_hist_ival *iv = fo_hist_ival_new();
	const fo_hist *src[] = {h};
	const fo_hist *d = fo_hist_ival_tick(iv, src, 1);
	FO_CHECK(fo_hist_count(d) == 0);
	for (int i = 0; i < N; i++) { /* phase A: around 1 ms */
		int64_t x = (int64_t)normal(1e6, 1e5);
		fo_hist_record(h, x);
		fo_hist_record(all, x);
	}
	d = fo_hist_ival_tick(iv, src, 1);
	FO_CHECK(fo_hist_count(d) == N);
	FO_CHECK(atomic_load(&d->_sum) == atomic_load(&all->_sum));
	for (int i = 0; i < N / 2; i++) { /* phase B: around 20 us */
		int64_t x = (int64_t)normal(20000, 3000);
		fo_hist_record(h, x);
		fo_hist_record(only_b, x);
		fo_hist_record(all, x);
	}
	d = fo_hist_ival_tick(iv, src, 1);
	FO_CHECK(fo_hist_count(d) == N / 2);
	FO_CHECK(atomic_load(&d->_sum) == atomic_load(&only_b->_sum));
	int same_buckets = 1;
	for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
		same_buckets &= atomic_load(&d->_b[i]) == atomic_load(&only_b->_b[i]);
	FO_CHECK(same_buckets);
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		double a = (double)fo_hist_value_at_percentile(d, pcts[k]);
		double b = (double)fo_hist_value_at_percentile(only_b, pcts[k]);
		FO_CHECK_MSG(fabs(a - b) <= b / 128.0, "interval p%g %.0f vs %.0f", pcts[k], a, b);
	}
	FO_CHECK(fo_hist_max(d) < 200000); /* not phase A's max */
	FO_CHECK(same_hist(fo_hist_ival_total(iv), all));
	d = fo_hist_ival_tick(iv, src, 1); /* nothing new */
	FO_CHECK(fo_hist_count(d) == 0 && fo_hist_max(d) == 0);
	fo_hist_reset(h); /* a reset source: the interval is what it holds now */
	fo_hist_record(h, 5);
	d = fo_hist_ival_tick(iv, src, 1);
	FO_CHECK(fo_hist_count(d) == 1 && fo_hist_max(d) == 5);
	fo_hist_ival_destroy(iv);
	fo_hist_destroy(h);
	fo_hist_destroy(only_b);
	fo_hist_destroy(all);
}

/* ---- owners record while a reporter snapshots ------------------------- */

#define OWNERS 2

typedef struct owner {
	fo_hist *h;
	uint64_t n, seed, sum; /* sum written by the owner, read after join */
} owner;

static atomic_int owners_running;

static void *owner_main(void *arg)
{
	owner *o = arg;
	uint64_t s = o->seed, sum = 0;
	for (uint64_t i = 0; i < o->n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		int64_t v = (int64_t)(s % 5000000); /* 0 .. 5 ms */
		fo_hist_record(o->h, v);
		sum += (uint64_t)v;
	}
	o->sum = sum;
	atomic_fetch_sub(&owners_running, 1);
	return NULL;
}

static void test_threads(void)
{
#ifdef FO_TEST_TSAN
	uint64_t n = 2000000;
#else
	uint64_t n = 20000000;
#endif
	owner o[OWNERS];
	const fo_hist *src[OWNERS];
	pthread_t t[OWNERS];
	atomic_store(&owners_running, OWNERS);
	for (int k = 0; k < OWNERS; k++) {
		o[k] = (owner){.h = fo_hist_new(), .n = n, .seed = 0x1234567ULL + (uint64_t)k};
		src[k] = o[k].h;
	}
	fo_hist_ival *iv = fo_hist_ival_new();
	fo_hist *snap = fo_hist_new();
	double t0 = (double)clock() / CLOCKS_PER_SEC;
	for (int k = 0; k < OWNERS; k++)
		FO_CHECK(pthread_create(&t[k], NULL, owner_main, &o[k]) == 0);
	uint64_t ticks = 0, seen = 0, last_total = 0;
	int running;
	do {
		running = atomic_load(&owners_running);
		const fo_hist *d = fo_hist_ival_tick(iv, src, OWNERS);
		const fo_hist *tot = fo_hist_ival_total(iv);
		uint64_t c = fo_hist_count(tot);
		FO_CHECK(c >= last_total);
		FO_CHECK(c - last_total == fo_hist_count(d));
		last_total = c;
		seen += fo_hist_count(d);
		if (fo_hist_count(d)) {
			int64_t p99 = fo_hist_value_at_percentile(d, 99);
			FO_CHECK(p99 >= fo_hist_min(d) && p99 <= fo_hist_max(d));
			FO_CHECK(fo_hist_max(d) < 5000000 + 5000000 / 128);
		}
		/* a reporter may also read one live histogram directly */
		fo_hist_snapshot(snap, src[ticks % OWNERS]);
		uint64_t b = 0;
		for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
			b += atomic_load_explicit(&snap->_b[i], memory_order_relaxed);
		FO_CHECK(b == fo_hist_count(snap));
		(void)fo_hist_value_at_percentile(src[ticks % OWNERS], 50);
		ticks++;
	} while (running > 0);
	for (int k = 0; k < OWNERS; k++)
		pthread_join(t[k], NULL);
	/* after the owners finished: exact */
	fo_hist_ival_tick(iv, src, OWNERS);
	const fo_hist *tot = fo_hist_ival_total(iv);
	FO_CHECK(fo_hist_count(tot) == OWNERS * n);
	FO_CHECK(atomic_load(&tot->_sum) == o[0].sum + o[1].sum);
	FO_CHECK(seen <= OWNERS * n);
	printf("threads: %d owners x %llu values, %llu reporter ticks, %.2f s cpu\n", OWNERS,
	       (unsigned long long)n, (unsigned long long)ticks,
	       (double)clock() / CLOCKS_PER_SEC - t0);
	FO_CHECK(ticks > 1);
	fo_hist_ival_destroy(iv);
	fo_hist_destroy(snap);
	for (int k = 0; k < OWNERS; k++)
		fo_hist_destroy(o[k].h);
}

int main(void)
{
	test_layout();
	test_distributions();
	test_merge();
	test_edges();
	test_interval();
	test_threads();
	return fo_test_done("test_hist");
}
