/*
 * bench_zarr_read: agents/s for reading + decoding an L5Kit dataset through
 * FleetOps' reader (io_uring read-ahead, Blosc, dtype-driven field access
 * into observations), next to c-blosc alone decoding the same chunks from
 * memory, in the same run. A benchmark, not a test: it never fails on speed.
 *
 * usage: bench_zarr_read DATASET.zarr [--threads N] [--repeat N] [--io auto|pread] [--cold 1]
 * Prints a table and one JSON line per measurement on stdout.
 */
#include "l5kit.h"
#include "timefmt.h"
#include "zarr.h"

#include <blosc.h>
#include <inttypes.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cold;          /* drop the page cache before every timed pass */
static unsigned decoders; /* decode threads (0: decode on the reading thread) */

static double best_of(double a, double b)
{
	return a < b || b == 0 ? a : b;
}

/* Empties the page cache so the next pass reads from the device (root). */
static void drop_caches(void)
{
	if (!cold)
		return;
	sync();
	FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
	if (!f || fputs("3", f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "--cold needs root: cannot write /proc/sys/vm/drop_caches\n");
		exit(2);
	}
}

typedef struct blosc_share {
	uint8_t **bufs;
	size_t n, first, step, raw;
	int threads;
} blosc_share;

/* Decodes chunks first, first + step, ... of the in-memory files. */
static void *blosc_share_main(void *arg)
{
	blosc_share *sh = arg;
	uint8_t *dst = mi_malloc_aligned(sh->raw, 64);
	for (size_t i = sh->first; i < sh->n; i += sh->step)
		if (sh->bufs[i] &&
		    blosc_decompress_ctx(sh->bufs[i], dst, sh->raw, sh->threads) <= 0) {
			fprintf(stderr, "chunk %zu: blosc error\n", i);
			exit(1);
		}
	mi_free(dst);
	return NULL;
}

/* c-blosc alone: every agents chunk decoded from memory; with decoders > 0,
 * whole chunks on that many threads at once (the same split as the reader's
 * decode threads), else one chunk at a time with `threads` Blosc threads. */
static double bench_blosc(const char *path, int threads, int repeat, uint64_t *agents)
{
	char err[1024];
	fo_zarr_array a;
	if (fo_zarr_array_open(&a, path, "agents", err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	size_t n = a.nchunks;
	uint8_t **bufs = calloc(n, sizeof(*bufs));
	size_t *lens = calloc(n, sizeof(*lens));
	for (size_t i = 0; i < n; i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/%zu", a.dir, i);
		FILE *f = fopen(p, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		lens[i] = (size_t)ftell(f);
		fseek(f, 0, SEEK_SET);
		bufs[i] = malloc(lens[i]);
		if (fread(bufs[i], 1, lens[i], f) != lens[i])
			exit(1);
		fclose(f);
	}
	size_t raw = a.chunk_len * a.itemsize;
	double best = 0;
	unsigned nt = decoders ? decoders : 1;
	pthread_t th[16];
	blosc_share sh[16];
	for (int r = 0; r < repeat; r++) {
		int64_t t0 = fo_time_mono_ns();
		for (unsigned k = 0; k < nt && k < 16; k++) {
			sh[k] = (blosc_share){bufs, n, k, nt, raw, decoders ? 1 : threads};
			if (nt == 1)
				blosc_share_main(&sh[k]);
			else
				pthread_create(&th[k], NULL, blosc_share_main, &sh[k]);
		}
		for (unsigned k = 0; nt > 1 && k < nt && k < 16; k++)
			pthread_join(th[k], NULL);
		best = best_of((double)(fo_time_mono_ns() - t0) * 1e-9, best);
	}
	*agents = a.shape;
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(lens);
	fo_zarr_array_close(&a);
	return best;
}

/* FleetOps reading + decoding: every agents chunk through chunkio
 * (read-ahead) and the cursor's Blosc decode, no field access. */
static double bench_cursor(const char *path, int threads, int repeat, fo_chunkio_backend be,
                           uint64_t *agents)
{
	char err[1024];
	fo_zarr_array a;
	if (fo_zarr_array_open(&a, path, "agents", err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	fo_chunkio *cio = fo_chunkio_new(be, 4, err, sizeof(err));
	fo_zarr_cursor *c = fo_zarr_cursor_new(&a, cio, threads);
	if (decoders && fo_zarr_cursor_set_decoders(c, decoders, be, 4, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	double best = 0;
	volatile uint8_t sink = 0;
	for (int r = 0; r < repeat; r++) {
		drop_caches();
		int64_t t0 = fo_time_mono_ns();
		uint64_t lo = 0, hi = a.shape;
		if (fo_zarr_cursor_begin(c, &lo, &hi, 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			exit(1);
		}
		for (uint64_t i = 0; i < a.shape; i += a.chunk_len) {
			const uint8_t *rec = fo_zarr_cursor_get(c, i, err, sizeof(err));
			if (!rec) {
				fprintf(stderr, "%s\n", err);
				exit(1);
			}
			sink ^= rec[0];
		}
		best = best_of((double)(fo_time_mono_ns() - t0) * 1e-9, best);
	}
	(void)sink;
	*agents = a.shape;
	fo_zarr_cursor_destroy(c);
	fo_chunkio_destroy(cio);
	fo_zarr_array_close(&a);
	return best;
}

/* FleetOps reader: files through chunkio, decode, every agent into fo_obs. */
static double bench_reader(const char *path, int threads, int repeat, fo_chunkio_backend be,
                           uint64_t *agents, char *backend, size_t bcap)
{
	char err[1024];
	fo_l5kit_conf conf = {be, 4, threads, decoders};
	fo_l5kit *ds = fo_l5kit_open(path, &conf, err, sizeof(err));
	if (!ds) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	snprintf(backend, bcap, "%s", fo_l5kit_backend(ds));
	double best = 0;
	volatile double sink = 0;
	for (int r = 0; r < repeat; r++) {
		drop_caches();
		int64_t t0 = fo_time_mono_ns();
		if (fo_l5kit_begin(ds, NULL, 0, NULL, NULL, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			exit(1);
		}
		uint64_t n = 0;
		fo_l5kit_frame f;
		int rc;
		double acc = 0;
		while ((rc = fo_l5kit_next(ds, &f, err, sizeof(err))) == 1) {
			n += f.n - 1;
			acc += f.obs[f.n - 1].pos[0];
		}
		if (rc < 0) {
			fprintf(stderr, "%s\n", err);
			exit(1);
		}
		sink += acc;
		*agents = n;
		best = best_of((double)(fo_time_mono_ns() - t0) * 1e-9, best);
	}
	(void)sink;
	fo_l5kit_close(ds);
	return best;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf(
		    "usage: bench_zarr_read DATASET.zarr [--threads N] [--repeat N] [--io "
		    "auto|pread] [--cold 1]\n"
		    "       [--decoders N]   decode threads off the reading thread (default 0)\n"
		    "Measures agents/s of FleetOps' zarr reader against c-blosc alone decoding\n"
		    "the same agents chunks from memory (best of --repeat runs). Warm page cache\n"
		    "by default; --cold 1 drops the page cache before every pass (root).\n");
		return argc < 2 ? 2 : 0;
	}
	const char *path = argv[1];
	int threads = 2, repeat = 3;
	fo_chunkio_backend be = FO_CHUNKIO_AUTO;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--threads") == 0)
			threads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--repeat") == 0)
			repeat = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--decoders") == 0)
			decoders = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--cold") == 0 && strcmp(argv[i + 1], "1") == 0)
			cold = 1;
		else if (strcmp(argv[i], "--io") == 0)
			be = strcmp(argv[i + 1], "pread") == 0 ? FO_CHUNKIO_PREAD : FO_CHUNKIO_AUTO;
	}
	blosc_init();
	uint64_t na = 0, nb = 0;
	char backend[32];
	/* warm: read once so every pass reads from the page cache */
	if (!cold)
		bench_reader(path, threads, 1, be, &na, backend, sizeof(backend));
	double tb = bench_blosc(path, threads, repeat, &nb);
	double tr = bench_reader(path, threads, repeat, be, &na, backend, sizeof(backend));
	uint64_t nc = 0;
	double tc = bench_cursor(path, threads, repeat, be, &nc);
	double rb = (double)nb / tb, rr = (double)na / tr, rc = (double)nc / tc;
	printf("%-34s %12s %10s %14s\n", "measurement", "agents", "seconds", "agents/s");
	printf("%-34s %12" PRIu64 " %10.4f %14.0f\n",
	       decoders ? "c-blosc alone (chunk-parallel)" : "c-blosc alone (decode, memory)", nb,
	       tb, rb);
	char label[64];
	snprintf(label, sizeof(label), "fleetops read+decode (%s)", backend);
	printf("%-34s %12" PRIu64 " %10.4f %14.0f\n", label, nc, tc, rc);
	snprintf(label, sizeof(label), "fleetops frames+agents -> obs");
	printf("%-34s %12" PRIu64 " %10.4f %14.0f\n", label, na, tr, rr);
	printf("ratio read+decode / blosc-alone: %.3f; full stream / blosc-alone: %.3f "
	       "(blosc threads %d, decode threads %u, best of %d)\n",
	       rc / rb, rr / rb, threads, decoders, repeat);
	printf("{\"bench\":\"zarr_read\",\"dataset\":\"%s\",\"threads\":%d,\"decoders\":%u,\"blosc_"
	       "agents_per_s\":%.0f,"
	       "\"read_decode_agents_per_s\":%.0f,\"stream_agents_per_s\":%.0f,"
	       "\"ratio_read_decode\":%.3f,\"ratio_stream\":%.3f,\"io\":\"%s\",\"cache\":\"%s\"}\n",
	       path, threads, decoders, rb, rc, rr, rc / rb, rr / rb, backend,
	       cold ? "cold" : "warm");
	blosc_destroy();
	return 0;
}
