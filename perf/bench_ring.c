/*
 * bench_ring: throughput and round-trip latency of the SPSC ring between two
 * threads pinned to the first two CPUs this process may use (unpinned when
 * there is only one), plus the cost of recording into a latency histogram.
 *
 *   bench_ring [SECONDS]    (per throughput phase; default 1)
 *
 * Throughput: the producer claims batches of 32 slots and publishes each
 * batch once; the consumer takes batches of up to 64 and reads every slot;
 * once with 8-byte slots, once with 192-byte ones (the size of a decoded
 * telemetry record), and once one item at a time with push/pop. Latency:
 * one item bounces between the threads over two rings; each round trip is
 * timed with CLOCK_MONOTONIC into an fo_hist. Prints one JSON line.
 */
#include "hist.h"
#include "json.h"
#include "ring.h"
#include "timefmt.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define RING_SLOTS 4096
#define RTT_ROUNDS 1000000

static int cpus[2] = {-1, -1};

static void pin(int which)
{
	if (cpus[which] < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpus[which], &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

typedef struct phase {
	fo_ring *r;
	size_t slot, batch;
	int64_t deadline_ns;
	uint64_t items;    /* produced; read after join */
	uint64_t checksum; /* consumed; read after join */
} phase;

static void *producer(void *arg)
{
	phase *ph = arg;
	pin(0);
	uint64_t seq = 0;
	for (uint64_t rounds = 0;; rounds++) {
		if ((rounds & 255) == 0 && fo_time_mono_ns() > ph->deadline_ns)
			break;
		if (ph->batch == 1) {
			uint8_t buf[256];
			*(uint64_t *)(void *)buf = seq++;
			fo_ring_push(ph->r, buf);
			continue;
		}
		for (size_t i = 0; i < ph->batch; i++) {
			uint64_t *s = fo_ring_claim(ph->r);
			s[ph->slot / 8 - 1] = seq; /* the slot's last word too */
			s[0] = seq++;
		}
		fo_ring_publish(ph->r);
	}
	ph->items = seq;
	fo_ring_close(ph->r);
	return NULL;
}

static void *consumer(void *arg)
{
	phase *ph = arg;
	pin(1);
	uint64_t sum = 0, bad = 0;
	if (ph->batch == 1) {
		uint8_t buf[256];
		while (fo_ring_pop(ph->r, buf))
			sum += *(uint64_t *)(void *)buf;
	} else {
		size_t n;
		while ((n = fo_ring_wait(ph->r, 64)) > 0) {
			for (size_t i = 0; i < n; i++) {
				const uint64_t *s = fo_ring_at(ph->r, i);
				sum += s[0];
				bad += s[ph->slot / 8 - 1] != s[0];
			}
			fo_ring_release(ph->r, n);
		}
	}
	ph->checksum = bad ? 0 : sum;
	return NULL;
}

/* Runs one throughput phase; returns items per second (0 on a failure). */
static double run_phase(size_t slot, size_t batch, double seconds)
{
	phase ph = {.r = fo_ring_new(slot, RING_SLOTS), .slot = slot, .batch = batch};
	if (!ph.r)
		return 0;
	pthread_t p, c;
	int64_t t0 = fo_time_mono_ns();
	ph.deadline_ns = t0 + (int64_t)(seconds * 1e9);
	pthread_create(&c, NULL, consumer, &ph);
	pthread_create(&p, NULL, producer, &ph);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	double dt = (double)(fo_time_mono_ns() - t0) * 1e-9;
	uint64_t n = ph.items;
	int ok = n > 1 && ph.checksum == n * (n - 1) / 2;
	fo_ring_destroy(ph.r);
	if (!ok) {
		fprintf(stderr, "bench_ring: lost or reordered items (slot %zu)\n", slot);
		return 0;
	}
	return (double)n / dt;
}

typedef struct pingpong {
	fo_ring *ab, *ba;
	fo_hist *rtt;
} pingpong;

static void *echo(void *arg)
{
	pingpong *pp = arg;
	pin(1);
	int64_t t;
	while (fo_ring_pop(pp->ab, &t))
		fo_ring_push(pp->ba, &t);
	fo_ring_close(pp->ba);
	return NULL;
}

static void run_rtt(fo_hist *rtt)
{
	pingpong pp = {fo_ring_new(sizeof(int64_t), 64), fo_ring_new(sizeof(int64_t), 64), rtt};
	pthread_t e;
	pthread_create(&e, NULL, echo, &pp);
	pin(0);
	for (int i = 0; i < RTT_ROUNDS + 10000; i++) {
		int64_t t0 = fo_time_mono_ns(), back;
		fo_ring_push(pp.ab, &t0);
		fo_ring_pop(pp.ba, &back);
		if (i >= 10000) /* warm-up excluded */
			fo_hist_record(rtt, fo_time_mono_ns() - back);
	}
	fo_ring_close(pp.ab);
	pthread_join(e, NULL);
	fo_ring_destroy(pp.ab);
	fo_ring_destroy(pp.ba);
}

static double hist_record_ns(void)
{
	fo_hist *h = fo_hist_new();
	enum { OPS = 100000000 };
	uint64_t x = 88172645463325252ULL;
	int64_t t0 = fo_time_mono_ns();
	for (int i = 0; i < OPS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		fo_hist_record(h, (int64_t)(x & 0xfffff));
	}
	double ns = (double)(fo_time_mono_ns() - t0) / OPS;
	if (fo_hist_count(h) != OPS)
		ns = 0;
	fo_hist_destroy(h);
	return ns;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	if (!(seconds > 0))
		seconds = 1.0;
	cpu_set_t set;
	int ncpu = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
			if (CPU_ISSET(c, &set))
				cpus[ncpu++] = c;
	if (ncpu < 2)
		cpus[0] = cpus[1] = -1; /* one CPU: let the scheduler place both */

	double batched8 = run_phase(8, 32, seconds);
	double batched192 = run_phase(192, 32, seconds);
	double single8 = run_phase(8, 1, seconds);
	fo_hist *rtt = fo_hist_new();
	run_rtt(rtt);
	double rec_ns = hist_record_ns();

	char buf[1024];
	fo_jw jw;
	fo_jw_init(&jw, buf, sizeof(buf));
	fo_jw_lit(&jw, "{\"bench\":\"ring\",\"pinned\":");
	fo_jw_cstr(&jw, cpus[0] >= 0 ? "true" : "false");
	fo_jw_lit(&jw, ",\"cpus\":[");
	fo_jw_i64(&jw, cpus[0]);
	fo_jw_char(&jw, ',');
	fo_jw_i64(&jw, cpus[1]);
	fo_jw_lit(&jw, "],\"slots\":");
	fo_jw_u64(&jw, RING_SLOTS);
	fo_jw_lit(&jw, ",\"batch32_8B_items_per_s\":");
	fo_jw_fixed(&jw, batched8, 0);
	fo_jw_lit(&jw, ",\"batch32_192B_items_per_s\":");
	fo_jw_fixed(&jw, batched192, 0);
	fo_jw_lit(&jw, ",\"batch32_192B_GB_per_s\":");
	fo_jw_fixed(&jw, batched192 * 192 / 1e9, 2);
	fo_jw_lit(&jw, ",\"single_8B_items_per_s\":");
	fo_jw_fixed(&jw, single8, 0);
	fo_jw_lit(&jw, ",\"rtt\":");
	fo_hist_json(rtt, &jw);
	fo_jw_lit(&jw, ",\"hist_record_ns\":");
	fo_jw_fixed(&jw, rec_ns, 2);
	fo_jw_char(&jw, '}');
	fo_hist_destroy(rtt);
	if (jw.overflow)
		return 1;
	printf("%.*s\n", (int)jw.len, jw.buf);
	return batched8 > 0 && batched192 > 0 && single8 > 0 ? 0 : 1;
}
