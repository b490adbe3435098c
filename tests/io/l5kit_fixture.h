/*
 * l5kit_fixture: writes small L5Kit-format zarr datasets with exactly known
 * values for the io/ tests, independently of the code under test: the
 * records are laid out by hand for the dtypes declared here (those of the
 * real L5Kit arrays) and compressed with c-blosc like zarr-python does.
 */
#ifndef FO_L5KIT_FIXTURE_H
#define FO_L5KIT_FIXTURE_H

#include "fo_test.h"

#include <blosc.h>
#include <math.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fx_agent {
	double cx, cy;
	float yaw, vx, vy;
	uint64_t track;
	float label; /* max label probability (placed at index 3, CAR) */
} fx_agent;

typedef struct fx_frame {
	int64_t ts;
	double ego[3];
	double ego_yaw;
	int nagents;
	fx_agent agents[8];
} fx_frame;

#define FX_AGENT_SIZE 116
#define FX_FRAME_SIZE 136
#define FX_SCENE_SIZE 96

static const char fx_agents_dtype[] =
    "[[\"centroid\", \"<f8\", [2]], [\"extent\", \"<f4\", [3]], [\"yaw\", \"<f4\"], "
    "[\"velocity\", \"<f4\", [2]], [\"track_id\", \"<u8\"], "
    "[\"label_probabilities\", \"<f4\", [17]]]";
static const char fx_frames_dtype[] =
    "[[\"timestamp\", \"<i8\"], [\"agent_index_interval\", \"<i8\", [2]], "
    "[\"traffic_light_faces_index_interval\", \"<i8\", [2]], "
    "[\"ego_translation\", \"<f8\", [3]], [\"ego_rotation\", \"<f8\", [3, 3]]]";
static const char fx_scenes_dtype[] =
    "[[\"frame_index_interval\", \"<i8\", [2]], [\"host\", \"<U16\"], "
    "[\"start_time\", \"<i8\"], [\"end_time\", \"<i8\"]]";

static int fx_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(data, 1, len, f);
	return fclose(f) == 0 && w == len ? 0 : -1;
}

static int fx_write_array(const char *root, const char *name, const char *dtype,
                          const uint8_t *recs, size_t n, size_t itemsize, size_t chunk_len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		return -1;
	char meta[2048];
	snprintf(meta, sizeof(meta),
	         "{\"chunks\": [%zu], \"compressor\": {\"blocksize\": 0, \"clevel\": 5, "
	         "\"cname\": \"lz4\", \"id\": \"blosc\", \"shuffle\": 1}, \"dtype\": %s, "
	         "\"fill_value\": null, \"filters\": null, \"order\": \"C\", \"shape\": [%zu], "
	         "\"zarr_format\": 2}",
	         chunk_len, dtype, n);
	snprintf(path, sizeof(path), "%s/%s/.zarray", root, name);
	if (fx_write_file(path, meta, strlen(meta)) < 0)
		return -1;
	size_t raw = chunk_len * itemsize;
	uint8_t *buf = calloc(1, raw);
	uint8_t *out = malloc(raw + BLOSC_MAX_OVERHEAD);
	for (size_t c = 0; c * chunk_len < n; c++) {
		size_t m = n - c * chunk_len < chunk_len ? n - c * chunk_len : chunk_len;
		memset(buf, 0, raw);
		memcpy(buf, recs + c * chunk_len * itemsize, m * itemsize);
		int cs = blosc_compress_ctx(5, BLOSC_SHUFFLE, itemsize, raw, buf, out,
		                            raw + BLOSC_MAX_OVERHEAD, "lz4", 0, 1);
		snprintf(path, sizeof(path), "%s/%s/%zu", root, name, c);
		if (cs <= 0 || fx_write_file(path, out, (size_t)cs) < 0) {
			free(buf);
			free(out);
			return -1;
		}
	}
	free(buf);
	free(out);
	return 0;
}

static void fx_put(uint8_t *rec, size_t off, const void *v, size_t n)
{
	memcpy(rec + off, v, n);
}

/* Writes root (a new directory) with nscenes scenes; scene s holds frames
 * [bounds[s], bounds[s+1]). Agents are chunked by agents_chunk records. */
static int fx_write_dataset(const char *root, const fx_frame *fr, int nframes, const int *bounds,
                            int nscenes, size_t agents_chunk)
{
	if (mkdir(root, 0777) < 0 && errno != EEXIST)
		return -1;
	char path[4096];
	snprintf(path, sizeof(path), "%s/.zgroup", root);
	if (fx_write_file(path, "{\n    \"zarr_format\": 2\n}", 24) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/.zattrs", root);
	fx_write_file(path, "{}", 2);

	int nag = 0;
	for (int i = 0; i < nframes; i++)
		nag += fr[i].nagents;
	uint8_t *ag = calloc((size_t)(nag ? nag : 1), FX_AGENT_SIZE);
	uint8_t *fm = calloc((size_t)nframes, FX_FRAME_SIZE);
	uint8_t *sc = calloc((size_t)nscenes, FX_SCENE_SIZE);
	int a = 0;
	for (int i = 0; i < nframes; i++) {
		uint8_t *r = fm + (size_t)i * FX_FRAME_SIZE;
		int64_t iv[2] = {a, a + fr[i].nagents};
		double c = cos(fr[i].ego_yaw), s = sin(fr[i].ego_yaw);
		double rot[9] = {c, -s, 0, s, c, 0, 0, 0, 1};
		fx_put(r, 0, &fr[i].ts, 8);
		fx_put(r, 8, iv, 16);
		fx_put(r, 40, fr[i].ego, 24);
		fx_put(r, 64, rot, 72);
		for (int k = 0; k < fr[i].nagents; k++, a++) {
			const fx_agent *x = &fr[i].agents[k];
			uint8_t *q = ag + (size_t)a * FX_AGENT_SIZE;
			double cen[2] = {x->cx, x->cy};
			float ext[3] = {4.5f, 1.9f, 1.6f}, vel[2] = {x->vx, x->vy};
			float lab[17] = {0};
			lab[3] = x->label;
			lab[0] = 1.0f - x->label;
			fx_put(q, 0, cen, 16);
			fx_put(q, 16, ext, 12);
			fx_put(q, 28, &x->yaw, 4);
			fx_put(q, 32, vel, 8);
			fx_put(q, 40, &x->track, 8);
			fx_put(q, 48, lab, 68);
		}
	}
	for (int s = 0; s < nscenes; s++) {
		uint8_t *r = sc + (size_t)s * FX_SCENE_SIZE;
		int64_t iv[2] = {bounds[s], bounds[s + 1]};
		fx_put(r, 0, iv, 16);
		const char *host = "fixture";
		for (int k = 0; host[k]; k++) {
			uint32_t cp = (uint8_t)host[k];
			fx_put(r, 16 + 4 * (size_t)k, &cp, 4);
		}
		fx_put(r, 80, &fr[bounds[s]].ts, 8);
		fx_put(r, 88, &fr[bounds[s + 1] - 1].ts, 8);
	}
	int rc = fx_write_array(root, "agents", fx_agents_dtype, ag, (size_t)nag, FX_AGENT_SIZE,
	                        agents_chunk) |
	         fx_write_array(root, "frames", fx_frames_dtype, fm, (size_t)nframes, FX_FRAME_SIZE,
	                        10000) |
	         fx_write_array(root, "scenes", fx_scenes_dtype, sc, (size_t)nscenes, FX_SCENE_SIZE,
	                        10000);
	free(ag);
	free(fm);
	free(sc);
	return rc;
}

#define fx_sh fo_test_sh

#endif
