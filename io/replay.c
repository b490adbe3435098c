/*
 * replay: see replay.h.
 *
 * Pacing: frame k of a scene is due at scene_offset + (ts_k - ts_0) / speed
 * on the monotonic clock, where scene_offset is where the previous scene's
 * last frame was due plus one frame interval; the thread sleeps with
 * clock_nanosleep(TIMER_ABSTIME) so drift never accumulates.
 */
#include "replay.h"

#include "log.h"
#include "timefmt.h"

#include "jsonfile.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fo_replay_session_id(fo_uuid *out, const char *dataset, const char *scenes, const char *name)
{
	if (name) {
		if (fo_uuid_parse(out, name) == 0)
			return;
		fo_uuid5(out, &fo_uuid_ns_fleetops, name, strlen(name));
		return;
	}
	char real[PATH_MAX];
	if (!realpath(dataset, real))
		snprintf(real, sizeof(real), "%s", dataset);
	char buf[PATH_MAX + 512];
	int n = snprintf(buf, sizeof(buf), "replay:%s:%s", real, scenes ? scenes : "*");
	fo_uuid5(out, &fo_uuid_ns_fleetops, buf, (size_t)n);
}

long fo_golden_load(const char *path, fo_l5kit_pick **out, char *err, size_t errsz)
{
	cJSON *j = fo_json_load_file(path, err, errsz);
	if (!j)
		return -1;
	const cJSON *scenes = j ? cJSON_GetObjectItemCaseSensitive(j, "scenes") : NULL;
	if (!cJSON_IsArray(scenes) || cJSON_GetArraySize(scenes) == 0) {
		snprintf(err, errsz, "%s: %s", path, "expected a non-empty \"scenes\" list");
		cJSON_Delete(j);
		return -1;
	}
	long m = cJSON_GetArraySize(scenes), k = 0;
	fo_l5kit_pick *p = mi_calloc((size_t)m, sizeof(*p));
	const cJSON *sc;
	cJSON_ArrayForEach(sc, scenes)
	{
		const cJSON *idx = cJSON_GetObjectItemCaseSensitive(sc, "index");
		const cJSON *fr = cJSON_GetObjectItemCaseSensitive(sc, "frames");
		if (!cJSON_IsNumber(idx) || idx->valuedouble < 0 || idx->valuedouble > UINT32_MAX ||
		    (fr && !(cJSON_IsArray(fr) && cJSON_GetArraySize(fr) == 2 &&
		             cJSON_IsNumber(cJSON_GetArrayItem(fr, 0)) &&
		             cJSON_IsNumber(cJSON_GetArrayItem(fr, 1)) &&
		             cJSON_GetArrayItem(fr, 0)->valuedouble >= 0 &&
		             cJSON_GetArrayItem(fr, 1)->valuedouble >=
		                 cJSON_GetArrayItem(fr, 0)->valuedouble))) {
			snprintf(err, errsz,
			         "%s: scenes[%ld] needs \"index\" >= 0 and optional \"frames\": "
			         "[lo, hi] with 0 <= lo <= hi",
			         path, k);
			mi_free(p);
			cJSON_Delete(j);
			return -1;
		}
		p[k].scene = (uint32_t)idx->valuedouble;
		p[k].frame_lo = fr ? (uint32_t)cJSON_GetArrayItem(fr, 0)->valuedouble : 0;
		p[k].frame_hi =
		    fr ? (uint32_t)fmin(cJSON_GetArrayItem(fr, 1)->valuedouble, UINT32_MAX)
		       : UINT32_MAX;
		k++;
	}
	cJSON_Delete(j);
	*out = p;
	return m;
}

static void fo_sleep_until(int64_t mono_ns)
{
	struct timespec ts = {.tv_sec = mono_ns / 1000000000LL, .tv_nsec = mono_ns % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int fo_replay_run(const fo_replay_conf *conf, fo_replay_result *res, char *err, size_t errsz)
{
	memset(res, 0, sizeof(*res));
	const int64_t t_start = fo_time_mono_ns();
	fo_l5kit *ds = fo_l5kit_open(conf->dataset, &conf->io, err, errsz);
	if (!ds)
		return -1;
	snprintf(res->backend, sizeof(res->backend), "%s", fo_l5kit_backend(ds));

	int rc = -1;
	uint32_t *sel = NULL;
	fo_l5kit_pick *picks = NULL;
	long nsel = 0;
	uint64_t total_frames = 0, total_agents = 0;
	if (conf->golden) {
		nsel = fo_golden_load(conf->golden, &picks, err, errsz);
		if (nsel < 0 || fo_l5kit_begin_picks(ds, picks, (size_t)nsel, &total_frames,
		                                     &total_agents, err, errsz) < 0)
			goto out;
	} else {
		if (conf->scenes) {
			nsel = fo_l5kit_parse_scenes(conf->scenes, fo_l5kit_scene_count(ds), &sel,
			                             err, errsz);
			if (nsel < 0)
				goto out;
		}
		if (fo_l5kit_begin(ds, sel, (size_t)nsel, &total_frames, &total_agents, err,
		                   errsz) < 0)
			goto out;
	}
	res->events_total = total_frames + total_agents;
	res->scenes_total = nsel ? (uint64_t)nsel : fo_l5kit_scene_count(ds);
	if (conf->on_start && conf->on_start(conf->arg, res, err, errsz) < 0)
		goto out;

	const int64_t t0 = fo_time_mono_ns();
	int64_t next_progress = t0 + (int64_t)(conf->progress_interval * 1e9);
	/* pacing: see the top of this file */
	int64_t scene_offset = 0, scene_ts0 = 0, last_due = 0, last_ts = 0;
	int64_t frame_dt = conf->speed > 0 ? (int64_t)(100000000 / conf->speed) : 0;
	uint32_t cur_scene = UINT32_MAX;

	for (;;) {
		if (conf->stop && *conf->stop) {
			res->interrupted = 1;
			break;
		}
		fo_l5kit_frame fr;
		int r = fo_l5kit_next(ds, &fr, err, errsz);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (fr.scene != cur_scene) {
			cur_scene = fr.scene;
			scene_offset = res->frames ? last_due + frame_dt : 0;
			scene_ts0 = fr.ts_ns;
			res->scenes++;
		}
		if (conf->speed > 0) {
			int64_t gap = fr.ts_ns - last_ts;
			if (res->frames && gap > 0 && gap <= 1000000000LL)
				frame_dt = (int64_t)((double)gap / conf->speed);
			int64_t due =
			    scene_offset + (int64_t)((double)(fr.ts_ns - scene_ts0) / conf->speed);
			last_due = due;
			last_ts = fr.ts_ns;
			fo_sleep_until(t0 + due);
		}
		if (conf->on_frame(conf->arg, &fr, err, errsz) < 0)
			goto out;
		res->events += fr.n;
		res->frames++;
		if (conf->progress_interval > 0 && conf->on_progress) {
			int64_t now = fo_time_mono_ns();
			if (now >= next_progress) {
				conf->on_progress(conf->arg, res);
				next_progress = now + (int64_t)(conf->progress_interval * 1e9);
			}
		}
	}
	rc = 0;
out:
	res->seconds = (double)(fo_time_mono_ns() - t_start) * 1e-9;
	fo_l5kit_io_stats(ds, &res->file_bytes, &res->decoded_bytes, &res->chunks);
	mi_free(sel);
	mi_free(picks);
	fo_l5kit_close(ds);
	return rc;
}
