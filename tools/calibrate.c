/*
 * fleetops-calibrate: derives detection thresholds from golden scenes.
 *
 * Replays the scenes (no sink), computes every rule's raw feature for every
 * observation of a settled track (at least --min-track-length observations),
 * and sets each threshold to the larger of the rule book's default and the
 * feature's --percentile over that normal driving: a threshold the real
 * data's own noise crosses only (100 - percentile)% of the time. Braking
 * is calibrated on the lower tail of the speed change over its window
 * (per-frame acceleration is mostly velocity jitter; its bounds stay the
 * rule book's). Writes thresholds.json with the
 * values, the percentile, the dataset, the date and, per feature, the
 * sample count and quantiles it was derived from; prints the anomaly rate
 * per 1,000 vehicle-frames on the same data for the defaults without
 * cool-down, the defaults with cool-down, and the calibrated thresholds.
 * Single-threaded offline tool.
 */
#include "detector.h"
#include "l5kit.h"
#include "log.h"
#include "replay.h"
#include "thresholds.h"
#include "vmap.h"

#include <getopt.h>
#include <math.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fo_samples {
	double *v;
	size_t n, cap;
} fo_samples;

static void fo_samples_add(fo_samples *s, double x)
{
	if (!isfinite(x))
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = mi_realloc(s->v, s->cap * sizeof(double));
		if (!s->v) {
			fprintf(stderr, "fleetops-calibrate: out of memory\n");
			exit(1);
		}
	}
	s->v[s->n++] = x;
}

static int fo_dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* p-th percentile (0..100) by linear interpolation; NAN when empty. */
static double fo_pct(fo_samples *s, double p)
{
	if (s->n == 0)
		return NAN;
	double r = p / 100.0 * (double)(s->n - 1);
	size_t i = (size_t)r;
	double f = r - (double)i;
	return i + 1 < s->n ? s->v[i] * (1 - f) + s->v[i + 1] * f : s->v[i];
}

enum { F_ACCEL, F_DV, F_LABEL, F_POS, F_YAW, F_AGENTS, F_COUNT };
static const char *const fo_fnames[F_COUNT] = {
    "acceleration_magnitude", "velocity_delta", "label_drop",
    "position_jump",          "yaw_jump",       "scene_agent_drop"};

typedef struct fo_pass {
	const fo_thresholds *th; /* NULL: collect features only */
	fo_samples f[F_COUNT];
	uint64_t obs, anomalies;
} fo_pass;

typedef struct fo_vstate {
	fo_track tr;
	fo_vdet det;
} fo_vstate;

/* One pass over the picks: derive telemetry, then collect or detect. */
static int fo_run_pass(const char *dataset, const fo_l5kit_pick *picks, size_t npicks,
                       const fo_thresholds *gate, fo_pass *ps, char *err, size_t errsz)
{
	fo_l5kit *ds = fo_l5kit_open(dataset, NULL, err, errsz);
	if (!ds)
		return -1;
	int rc = -1;
	fo_vmap *m = fo_vmap_new(sizeof(fo_vstate), 4096);
	if (!m || fo_l5kit_begin_picks(ds, picks, npicks, NULL, NULL, err, errsz) < 0)
		goto out;
	uint32_t scene = UINT32_MAX;
	fo_l5kit_frame fr;
	int r;
	while ((r = fo_l5kit_next(ds, &fr, err, errsz)) == 1) {
		if (fr.scene != scene) {
			fo_vmap_clear(m);
			scene = fr.scene;
		}
		for (size_t i = 0; i < fr.n; i++) {
			const fo_obs *o = &fr.obs[i];
			fo_vstate *v = fo_vmap_upsert(m, (fo_vkey){o->scene, o->track}, NULL);
			if (!v) {
				snprintf(err, errsz, "out of memory");
				goto out;
			}
			fo_telemetry t;
			fo_telemetry_derive(&v->tr, o, &t);
			uint32_t agents = i == 0 ? (uint32_t)(fr.n - 1) : FO_AGENTS_UNKNOWN;
			ps->obs++;
			if (ps->th) {
				fo_anomaly an[FO_RULE_COUNT];
				ps->anomalies +=
				    (uint64_t)fo_detect(ps->th, &v->det, &t, agents, an);
				continue;
			}
			if (agents != FO_AGENTS_UNKNOWN) {
				if (v->det.have_agents)
					fo_samples_add(&ps->f[F_AGENTS],
					               (double)v->det.agents - agents);
				v->det.agents = agents;
				v->det.have_agents = 1;
			}
			if (t.track_length >= gate->min_track_length) {
				fo_features f;
				fo_detect_features(gate, &v->det, &t, &f);
				fo_samples_add(&ps->f[F_ACCEL], f.accel);
				fo_samples_add(&ps->f[F_DV], f.dv);
				fo_samples_add(&ps->f[F_LABEL], f.label_drop);
				fo_samples_add(&ps->f[F_POS], f.position_jump);
				if (t.vel_mag >= gate->yaw_min_speed)
					fo_samples_add(&ps->f[F_YAW], f.yaw_jump);
			}
			fo_detect_record(&v->det, &t);
		}
	}
	rc = r < 0 ? -1 : 0;
out:
	fo_vmap_destroy(m);
	fo_l5kit_close(ds);
	return rc;
}

static void fo_usage(FILE *out)
{
	fputs("usage: fleetops-calibrate --dataset PATH [--golden FILE | --scenes SPEC] [options]\n"
	      "\n"
	      "Derives detection thresholds from normal driving in golden scenes and writes\n"
	      "thresholds.json for `fleetopsd run|detect --thresholds FILE`.\n"
	      "\n"
	      "  --dataset PATH          L5Kit zarr to learn from (real data is best:\n"
	      "                          ../shared/l5kit/single_scene.zarr)\n"
	      "  --golden FILE           scenes and frame ranges to use (config/golden/*.json)\n"
	      "  --scenes SPEC           or scene indices/ranges (default: all)\n"
	      "  --percentile P          quantile of each feature to set thresholds at\n"
	      "                          (default 99.9; never below the rule book's default)\n"
	      "  --min-track-length N    observations before a track counts as settled and\n"
	      "                          braking/perception rules judge it (default 10)\n"
	      "  --yaw-min-speed V       m/s below which heading changes are not judged\n"
	      "                          (default 2.0: a slow object's heading is not defined)\n"
	      "  --cooldown N            frames a rule stays quiet after firing (default 20)\n"
	      "  --out FILE              where to write (default: thresholds.json)\n"
	      "  -h, --help              this text\n"
	      "\n"
	      "Prints the anomaly rate per 1,000 vehicle-frames on the same scenes for the\n"
	      "defaults without cool-down, the defaults with cool-down, and the result.\n",
	      out);
}

int main(int argc, char **argv)
{
	fo_log_init("fleetops-calibrate");
	const char *dataset = NULL, *golden = NULL, *scenes = NULL, *out = "thresholds.json";
	double pct = 99.9, yaw_min_speed = 2.0;
	unsigned min_len = 10, cooldown = 20;
	static const struct option opts[] = {
	    {"dataset", required_argument, NULL, 'd'},
	    {"golden", required_argument, NULL, 'g'},
	    {"scenes", required_argument, NULL, 's'},
	    {"percentile", required_argument, NULL, 'p'},
	    {"min-track-length", required_argument, NULL, 'm'},
	    {"yaw-min-speed", required_argument, NULL, 'y'},
	    {"cooldown", required_argument, NULL, 'c'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dataset = optarg; break;
		case 'g': golden = optarg; break;
		case 's': scenes = optarg; break;
		case 'o': out = optarg; break;
		case 'p':
			pct = strtod(optarg, &end);
			if (*end || !(pct > 50 && pct < 100)) {
				fprintf(stderr,
				        "fleetops-calibrate: --percentile must be in (50, 100)\n");
				return 2;
			}
			break;
		case 'y':
			yaw_min_speed = strtod(optarg, &end);
			if (*end || yaw_min_speed < 0) {
				fprintf(stderr,
				        "fleetops-calibrate: --yaw-min-speed must be >= 0\n");
				return 2;
			}
			break;
		case 'm':
		case 'c': {
			long v = strtol(optarg, &end, 10);
			if (*end || v < (c == 'm' ? 1 : 0) || v > 100000) {
				fprintf(stderr, "fleetops-calibrate: --%s: expected a count\n",
				        c == 'm' ? "min-track-length" : "cooldown");
				return 2;
			}
			*(c == 'm' ? &min_len : &cooldown) = (unsigned)v;
			break;
		}
		case 'h': fo_usage(stdout); return 0;
		default: fo_usage(stderr); return 2;
		}
	}
	if (!dataset || optind < argc || (golden && scenes)) {
		fo_usage(stderr);
		return 2;
	}

	char err[1024];
	fo_l5kit_pick *picks = NULL;
	long np;
	if (golden) {
		np = fo_golden_load(golden, &picks, err, sizeof(err));
	} else {
		fo_l5kit *ds = fo_l5kit_open(dataset, NULL, err, sizeof(err));
		np = -1;
		if (ds) {
			uint32_t *idx = NULL;
			uint32_t count = fo_l5kit_scene_count(ds);
			np = scenes ? fo_l5kit_parse_scenes(scenes, count, &idx, err, sizeof(err))
			            : count;
			if (np >= 0) {
				picks = mi_calloc((size_t)(np ? np : 1), sizeof(*picks));
				for (long i = 0; i < np; i++)
					picks[i] = (fo_l5kit_pick){idx ? idx[i] : (uint32_t)i, 0,
					                           UINT32_MAX};
			}
			mi_free(idx);
			fo_l5kit_close(ds);
		}
	}
	if (np < 0) {
		fo_log(FO_LOG_ERROR, "calibrate_error", err, FO_KS("dataset", dataset));
		return 1;
	}

	fo_thresholds def, cal;
	fo_thresholds_default(&def);
	cal = def;
	cal.min_track_length = min_len;
	cal.yaw_min_speed = yaw_min_speed;
	cal.cooldown_frames = cooldown;

	fo_pass feat = {0};
	if (fo_run_pass(dataset, picks, (size_t)np, &cal, &feat, err, sizeof(err)) < 0) {
		fo_log(FO_LOG_ERROR, "calibrate_error", err, FO_KS("dataset", dataset));
		return 1;
	}
	double q[F_COUNT][4];
	for (int i = 0; i < F_COUNT; i++) {
		fo_samples *s = &feat.f[i];
		qsort(s->v, s->n, sizeof(double), fo_dcmp);
		q[i][0] = fo_pct(s, 50);
		q[i][1] = fo_pct(s, 99);
		q[i][2] = fo_pct(s, pct);
		q[i][3] = fo_pct(s, 100 - pct); /* lower tail, for the speed change */
	}
#define FO_AT_LEAST(dst, v) ((dst) = isfinite(v) && (v) > (dst) ? (v) : (dst))
	/* braking: per-frame |a| is dominated by velocity jitter, so the speed
	 * drop over the window is what separates braking from noise; the
	 * acceleration bounds stay the rule book's */
	if (isfinite(q[F_DV][3]) && q[F_DV][3] < cal.decel_dv)
		cal.decel_dv = q[F_DV][3];
	FO_AT_LEAST(cal.label_drop, q[F_LABEL][2]);
	FO_AT_LEAST(cal.position_jump, q[F_POS][2]);
	FO_AT_LEAST(cal.yaw_jump, q[F_YAW][2]);
	double agents = ceil(q[F_AGENTS][2]);
	FO_AT_LEAST(cal.scene_agent_drop, agents);
#undef FO_AT_LEAST
	cal.percentile = pct;
	snprintf(cal.dataset, sizeof(cal.dataset), "%s", dataset);

	/* the rates on the same scenes */
	fo_thresholds raw = def;
	raw.cooldown_frames = 0;
	fo_pass r0 = {.th = &raw}, r1 = {.th = &def}, r2 = {.th = &cal};
	if (fo_run_pass(dataset, picks, (size_t)np, &cal, &r0, err, sizeof(err)) < 0 ||
	    fo_run_pass(dataset, picks, (size_t)np, &cal, &r1, err, sizeof(err)) < 0 ||
	    fo_run_pass(dataset, picks, (size_t)np, &cal, &r2, err, sizeof(err)) < 0) {
		fo_log(FO_LOG_ERROR, "calibrate_error", err, FO_KS("dataset", dataset));
		return 1;
	}
	double rate[3] = {1000.0 * (double)r0.anomalies / (double)(r0.obs ? r0.obs : 1),
	                  1000.0 * (double)r1.anomalies / (double)(r1.obs ? r1.obs : 1),
	                  1000.0 * (double)r2.anomalies / (double)(r2.obs ? r2.obs : 1)};

	char extra[4096];
	int n = snprintf(extra, sizeof(extra), "{\"vehicle_frames\":%llu,\"features\":{",
	                 (unsigned long long)feat.obs);
	for (int i = 0; i < F_COUNT; i++)
		n += snprintf(extra + n, sizeof(extra) - (size_t)n,
		              "%s\"%s\":{\"samples\":%zu,\"p50\":%.4f,\"p99\":%.4f,\"p%g\":%.4f,"
		              "\"p%g\":%.4f}",
		              i ? "," : "", fo_fnames[i], feat.f[i].n,
		              isfinite(q[i][0]) ? q[i][0] : 0, isfinite(q[i][1]) ? q[i][1] : 0, pct,
		              isfinite(q[i][2]) ? q[i][2] : 0, 100 - pct,
		              isfinite(q[i][3]) ? q[i][3] : 0);
	snprintf(extra + n, sizeof(extra) - (size_t)n,
	         "},\"anomalies_per_1000\":{\"defaults_no_cooldown\":%.3f,\"defaults\":%.3f,"
	         "\"calibrated\":%.3f}}",
	         rate[0], rate[1], rate[2]);
	if (fo_thresholds_save(&cal, out, extra, err, sizeof(err)) < 0) {
		fo_log(FO_LOG_ERROR, "calibrate_error", err, FO_KS("out", out));
		return 1;
	}
	printf("%-24s %10s %10s %10s %10s\n", "feature", "samples", "p50", "p99", "chosen p");
	for (int i = 0; i < F_COUNT; i++)
		printf("%-24s %10zu %10.3f %10.3f %10.3f\n", fo_fnames[i], feat.f[i].n, q[i][0],
		       q[i][1], i == F_DV ? q[i][3] : q[i][2]);
	printf("\nthresholds: decel_accel %.3f decel_dv %.3f decel_critical %.3f label_drop %.3f\n"
	       "            position_jump %.3f yaw_jump %.3f (>= %.1f m/s) scene_agent_drop %u\n"
	       "            min_track_length %u cooldown_frames %u\n",
	       cal.decel_accel, cal.decel_dv, cal.decel_critical, cal.label_drop, cal.position_jump,
	       cal.yaw_jump, cal.yaw_min_speed, cal.scene_agent_drop, cal.min_track_length,
	       cal.cooldown_frames);
	printf("\nanomalies per 1,000 vehicle-frames on %llu vehicle-frames:\n"
	       "  defaults, no cool-down  %8.3f\n  defaults, cool-down     %8.3f\n"
	       "  calibrated              %8.3f\n\nwrote %s\n",
	       (unsigned long long)feat.obs, rate[0], rate[1], rate[2], out);
	for (int i = 0; i < F_COUNT; i++)
		mi_free(feat.f[i].v);
	mi_free(picks);
	return 0;
}
