/*
 * fleetops-gen: write a synthetic L5Kit-format zarr dataset.
 *
 * Owns the command line, the output directory and the four array writers.
 * The main thread plans one scene at a time (gen_world), steps it frame by
 * frame and appends records; the agents writer compresses full chunks on
 * its own threads, so memory stays at one frame of records plus a few
 * chunk buffers whatever the dataset size. The dataset is built in
 * OUT.partial and renamed to OUT only when every file is written, so OUT
 * is either absent, the previous dataset, or complete.
 *
 * Besides the zarr arrays, OUT holds meta.json (the real dataset's
 * transforms, so positions land where the real data was driven) and
 * scripted_anomalies.json, every anomaly the generator planted:
 *   generator, seed, preset, scenes, vehicles_per_scene, frames_per_scene,
 *   frame_interval_ms, anomalies_enabled, anomalies: [{
 *     kind                   hard_braking_warning | hard_braking_critical |
 *                            position_jump | label_collapse | yaw_flip |
 *                            track_dropout | mass_vanish
 *     scene_index, scene_id  0, "scene_000"
 *     track_id, vehicle_id   7, "scene_000_track_7"; null, "scene_000_ego"
 *                            for mass_vanish (a per-frame condition)
 *     frame_index, frame_end first and last frame (within the scene) where
 *                            the condition is in the raw arrays: for braking
 *                            the frames where the hard-braking rule holds,
 *                            for a dropout the frames the track is missing
 *     detect_frame, detect_time  where a detector with default thresholds
 *                            first fires (a dropout: when the track returns)
 *     onset_frame            first frame the script changes anything
 *     expected_anomaly_type, expected_severity   what that detector raises
 *     vanished_track_ids, replacement_track_ids  mass_vanish only
 *     description            what happens, with the numbers }]
 *
 * Logs are JSON lines on stderr. Exit status: 0 done, 1 failed, 2 usage.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "gen_l5kit.h"
#include "log.h"
#include "telemetry.h"
#include "timefmt.h"
#include "gen_world.h"
#include "zarr_writer.h"

#define SERVICE          "fleetops-gen"
#define HOST_NAME        "fleetops-sim"
#define PROGRESS_EVERY_S 2.0
#define MAX_SCENES       1000000u
#define MAX_VEHICLES     100000u
#define MAX_FRAMES       1000000u
#define PATH_LEN         4096
#define ERR_LEN          (3 * PATH_LEN) /* room for two paths and a reason */

/* ---- logging: JSON lines through core/log ------------------------------------ */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *event, const char *msg)
{
	fo_log(FO_LOG_ERROR, event, msg);
	return 1;
}

/* ---- command line ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: fleetops-gen --out PATH [--preset demo|test|bench] [options]\n"
	           "\n"
	           "Write a synthetic driving dataset in the L5Kit zarr format (the format of\n"
	           "../shared/l5kit/single_scene.zarr): scenes, frames, agents and\n"
	           "traffic_light_faces arrays with the real dtypes, chunking and Blosc-lz4\n"
	           "compression, readable by zarr-python, l5kit and fleetopsd. Vehicles drive\n"
	           "a six-lane ring road at 10 Hz next to where the real data was recorded;\n"
	           "a few of them are scripted to misbehave (hard braking, perception\n"
	           "glitches, dropouts) at known frames, listed in\n"
	           "PATH/scripted_anomalies.json together with the anomaly the detector\n"
	           "should raise for each.\n"
	           "\n"
	           "  -o, --out PATH      dataset directory to create, e.g. data/demo.zarr\n"
	           "                      (built in PATH.partial, renamed when complete)\n"
	           "  -p, --preset NAME   sizes and anomaly layout (default: demo)\n"
	           "                        demo   4 scenes x 24 vehicles x 300 frames; scene 1:\n"
	           "                               WARNING braking, glitch, CRITICAL braking\n"
	           "                        test   3 scenes x 18 vehicles x 120 frames, every\n"
	           "                               anomaly kind, for tests (< 1 s)\n"
	           "                        bench  100 scenes x 200 vehicles x 250 frames\n"
	           "                               (5 M agents) for throughput runs\n"
	           "      --scenes N      override the preset's number of scenes\n"
	           "      --vehicles M    override tracked vehicles per scene\n"
	           "      --frames F      override frames per scene (10 Hz: 300 = 30 s)\n"
	           "      --seed S        random seed, 64-bit (default 42); same seed and sizes\n"
	           "                      give byte-identical files\n"
	           "      --no-anomalies  plant no anomalies (same traffic otherwise)\n"
	           "  -f, --force         replace PATH if it already holds a zarr dataset\n"
	           "      --threads N     compression threads for agents (default 2, 0 = none)\n"
	           "  -q, --quiet         log only warnings and errors\n"
	           "  -h, --help          this text\n"
	           "\n"
	           "Anomaly layout: the preset's per-scene plan repeats over the scenes; an\n"
	           "anomaly that does not fit (too few frames or vehicles) is skipped with a\n"
	           "warning. Logs are JSON lines on stderr.\n"
	           "\n"
	           "examples:\n"
	           "  fleetops-gen --out /tmp/demo.zarr\n"
	           "  fleetops-gen --preset bench --out /tmp/bench.zarr --force\n"
	           "  fleetops-gen --preset test --frames 600 --seed 7 --out /tmp/t.zarr\n");
}

typedef struct cli {
	const char *out;
	const char *preset;
	long scenes, vehicles, frames; /* -1: from the preset */
	uint64_t seed;
	int anomalies;
	int force;
	unsigned threads;
} cli;

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_cli(int argc, char **argv, cli *c)
{
	enum { O_SCENES = 256, O_VEHICLES, O_FRAMES, O_SEED, O_NOANOM, O_THREADS };
	static const struct option opts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"preset", required_argument, NULL, 'p'},
	    {"scenes", required_argument, NULL, O_SCENES},
	    {"vehicles", required_argument, NULL, O_VEHICLES},
	    {"frames", required_argument, NULL, O_FRAMES},
	    {"seed", required_argument, NULL, O_SEED},
	    {"no-anomalies", no_argument, NULL, O_NOANOM},
	    {"force", no_argument, NULL, 'f'},
	    {"threads", required_argument, NULL, O_THREADS},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	*c = (cli){NULL, "demo", -1, -1, -1, 42, 1, 0, 2};
	opterr = 0;
	int o;
	uint64_t v;
	char msg[512];
	while ((o = getopt_long(argc, argv, ":o:p:fqh", opts, NULL)) != -1) {
		switch (o) {
		case 'o': c->out = optarg; break;
		case 'p': c->preset = optarg; break;
		case 'f': c->force = 1; break;
		case 'q': fo_log_set_level(FO_LOG_WARN); break;
		case 'h': usage(stdout); exit(0);
		case O_NOANOM: c->anomalies = 0; break;
		case O_SCENES:
		case O_VEHICLES:
		case O_FRAMES: {
			uint64_t max = o == O_SCENES     ? MAX_SCENES
			               : o == O_VEHICLES ? MAX_VEHICLES
			                                 : MAX_FRAMES;
			uint64_t min = o == O_FRAMES ? 2 : 1;
			if (parse_u64(optarg, max, &v) || v < min) {
				snprintf(msg, sizeof msg,
				         "--%s wants an integer in %llu..%llu, "
				         "got '%s'",
				         opts[o - O_SCENES + 2].name, (unsigned long long)min,
				         (unsigned long long)max, optarg);
				return fail("usage_error", msg), -1;
			}
			long *dst = o == O_SCENES     ? &c->scenes
			            : o == O_VEHICLES ? &c->vehicles
			                              : &c->frames;
			*dst = (long)v;
			break;
		}
		case O_SEED:
			if (parse_u64(optarg, UINT64_MAX, &c->seed)) {
				snprintf(msg, sizeof msg,
				         "--seed wants a 64-bit unsigned "
				         "integer, got '%s'",
				         optarg);
				return fail("usage_error", msg), -1;
			}
			break;
		case O_THREADS:
			if (parse_u64(optarg, 64, &v)) {
				snprintf(msg, sizeof msg, "--threads wants 0..64, got '%s'",
				         optarg);
				return fail("usage_error", msg), -1;
			}
			c->threads = (unsigned)v;
			break;
		case ':':
			snprintf(msg, sizeof msg, "%s needs a value (see --help)",
			         argv[optind - 1]);
			return fail("usage_error", msg), -1;
		default:
			snprintf(msg, sizeof msg, "unknown option '%s' (see --help)",
			         argv[optind - 1]);
			return fail("usage_error", msg), -1;
		}
	}
	if (optind < argc) {
		snprintf(msg, sizeof msg, "unexpected argument '%s' (see --help)", argv[optind]);
		return fail("usage_error", msg), -1;
	}
	if (!c->out || !*c->out)
		return fail("usage_error", "--out PATH is required (see --help)"), -1;
	return 0;
}

/* ---- output directory ------------------------------------------------------------ */

typedef enum { P_ABSENT, P_EMPTY_DIR, P_ZARR, P_OTHER, P_ERROR } path_kind;

static path_kind classify(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? P_ABSENT : P_ERROR;
	if (!S_ISDIR(st.st_mode))
		return P_OTHER;
	char zg[PATH_LEN + 16];
	snprintf(zg, sizeof zg, "%s/.zgroup", path);
	if (access(zg, F_OK) == 0)
		return P_ZARR;
	DIR *d = opendir(path);
	if (!d)
		return P_ERROR;
	struct dirent *de;
	int empty = 1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty ? P_EMPTY_DIR : P_OTHER;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Remove a directory tree we have checked is a dataset (or empty). */
static int rm_tree(const char *path, char *msg, size_t len)
{
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		snprintf(msg, len, "cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Check OUT and clear OUT.partial. Returns 0 or -1 with msg. */
static int prepare_out(const cli *c, const char *partial, char *msg, size_t len)
{
	switch (classify(c->out)) {
	case P_ABSENT:
	case P_EMPTY_DIR: break;
	case P_ZARR:
		if (!c->force) {
			snprintf(msg, len,
			         "%s already holds a dataset; pass --force to "
			         "replace it",
			         c->out);
			return -1;
		}
		break;
	case P_OTHER:
		snprintf(msg, len,
		         "%s exists and is not a zarr dataset (no .zgroup) "
		         "or empty directory; refusing to replace it",
		         c->out);
		return -1;
	case P_ERROR:
		snprintf(msg, len, "cannot inspect %s: %s", c->out, strerror(errno));
		return -1;
	}
	/* the parent must exist; say so plainly rather than through .partial */
	char parent[PATH_LEN];
	snprintf(parent, sizeof parent, "%s", c->out);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		struct stat st;
		if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
			snprintf(msg, len, "parent directory %s of %s does not exist", parent,
			         c->out);
			return -1;
		}
	}
	switch (classify(partial)) {
	case P_ABSENT: return 0;
	case P_EMPTY_DIR:
	case P_ZARR: /* left by an interrupted run */ return rm_tree(partial, msg, len);
	default:
		snprintf(msg, len,
		         "%s exists and is not a dataset left by an "
		         "interrupted run; move it away",
		         partial);
		return -1;
	}
}

/* ---- dataset ---------------------------------------------------------------------- */

typedef struct gen {
	cli c;
	fo_gen_params p;
	char partial[PATH_LEN];
	fo_zarrw *zw[FO_GEN_NARRAYS];
	cJSON *anomalies; /* sidecar "anomalies" array */
	uint64_t nagents, nframes, nanomalies;
} gen;

static int open_arrays(gen *g, char *err, size_t len)
{
	cJSON *attrs = cJSON_CreateObject();
	cJSON *labels = cJSON_CreateStringArray(fo_gen_labels, FO_GEN_NLABELS);
	if (!attrs || !labels || !cJSON_AddNumberToObject(attrs, "format_version", 2)) {
		cJSON_Delete(attrs);
		cJSON_Delete(labels);
		snprintf(err, len, "out of memory");
		return -1;
	}
	cJSON_AddItemToObject(attrs, "labels", labels);
	int rc = fo_zarrw_group_create(g->partial, attrs, err, len);
	cJSON_Delete(attrs);
	if (rc)
		return -1;
	for (int i = 0; i < FO_GEN_NARRAYS; i++) {
		const fo_gen_array_def *d = &fo_gen_arrays[i];
		char dir[PATH_LEN + 64];
		snprintf(dir, sizeof dir, "%s/%s", g->partial, d->name);
		fo_zarrw_opts o = {
		    .fields = d->fields,
		    .nfields = d->nfields,
		    .chunk_len = d->chunk_len,
		    .cname = "lz4",
		    .clevel = 5,
		    .shuffle = 1,
		    .nworkers = i == FO_GEN_AGENTS ? g->c.threads : 0,
		};
		if (fo_zarrw_open(&g->zw[i], dir, &o, err, len))
			return -1;
		if (fo_zarrw_record_size(g->zw[i]) != d->record_size) {
			snprintf(err, len, "internal: %s dtype is %zu bytes, record %zu", d->name,
			         fo_zarrw_record_size(g->zw[i]), d->record_size);
			return -1;
		}
	}
	return 0;
}

static cJSON *anomaly_json(const gen *g, const fo_gen_anomaly *a)
{
	char sid[32], vid[96], t[40];
	fo_scene_id_format(sid, a->scene);
	fo_vehicle_id_format(vid, a->scene, a->track_id ? a->track_id : FO_TRACK_EGO);
	fo_time_iso8601(fo_gen_frame_time(&g->p, a->scene, a->detect_frame), t);

	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "kind", fo_gen_kind_name(a->kind));
	cJSON_AddNumberToObject(o, "scene_index", a->scene);
	cJSON_AddStringToObject(o, "scene_id", sid);
	if (a->track_id)
		cJSON_AddNumberToObject(o, "track_id", (double)a->track_id);
	else
		cJSON_AddNullToObject(o, "track_id");
	cJSON_AddStringToObject(o, "vehicle_id", vid);
	cJSON_AddNumberToObject(o, "frame_index", a->frame_index);
	cJSON_AddNumberToObject(o, "frame_end", a->frame_end);
	cJSON_AddNumberToObject(o, "detect_frame", a->detect_frame);
	cJSON_AddNumberToObject(o, "onset_frame", a->onset_frame);
	cJSON_AddStringToObject(o, "detect_time", t);
	cJSON_AddStringToObject(o, "expected_anomaly_type", fo_gen_kind_type(a->kind));
	cJSON_AddStringToObject(o, "expected_severity", fo_gen_kind_severity(a->kind));
	if (a->nvanished) {
		cJSON *v = cJSON_AddArrayToObject(o, "vanished_track_ids");
		cJSON *r = cJSON_AddArrayToObject(o, "replacement_track_ids");
		for (unsigned i = 0; v && r && i < a->nvanished; i++) {
			cJSON_AddItemToArray(v, cJSON_CreateNumber((double)a->vanished[i]));
			cJSON_AddItemToArray(r, cJSON_CreateNumber((double)a->replacement[i]));
		}
	}
	if (!cJSON_AddStringToObject(o, "description", a->description)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void utf32(uint32_t *dst, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = *s ? (uint32_t)(unsigned char)*s++ : 0;
}

static int gen_scene(gen *g, unsigned s, fo_gen_agent *agents, size_t cap, double t0,
                     double *next_log, char *err, size_t len)
{
	fo_gen_scene *sc;
	if (fo_gen_scene_new(&sc, &g->p, s, err, len))
		return -1;
	for (const char *const *n = fo_gen_scene_notes(sc); *n; n++)
		fo_log(FO_LOG_WARN, "anomaly_skipped", *n);
	if (fo_gen_scene_max_agents(sc) > cap) {
		fo_gen_scene_destroy(sc);
		snprintf(err, len, "internal: frame buffer too small");
		return -1;
	}
	const fo_gen_anomaly *an;
	size_t nan = fo_gen_scene_anomalies(sc, &an);
	for (size_t i = 0; i < nan; i++) {
		cJSON *o = anomaly_json(g, &an[i]);
		if (!o) {
			fo_gen_scene_destroy(sc);
			snprintf(err, len, "out of memory");
			return -1;
		}
		cJSON_AddItemToArray(g->anomalies, o);
		g->nanomalies++;
	}

	fo_gen_scene_rec srec;
	memset(&srec, 0, sizeof srec);
	srec.frame_index_interval[0] = (int64_t)g->nframes;
	for (unsigned f = 0; f < g->p.frames; f++) {
		fo_gen_frame fr;
		size_t n = fo_gen_scene_step(sc, agents, &fr);
		fr.agent_index_interval[0] = (int64_t)g->nagents;
		fr.agent_index_interval[1] = (int64_t)(g->nagents + n);
		fr.traffic_light_faces_index_interval[0] = 0;
		fr.traffic_light_faces_index_interval[1] = 0;
		if (fo_zarrw_append(g->zw[FO_GEN_AGENTS], agents, n, err, len) ||
		    fo_zarrw_append(g->zw[FO_GEN_FRAMES], &fr, 1, err, len)) {
			fo_gen_scene_destroy(sc);
			return -1;
		}
		if (f == 0)
			srec.start_time = fr.timestamp;
		srec.end_time = fr.timestamp;
		g->nagents += n;
		g->nframes++;
	}
	fo_gen_scene_destroy(sc);
	srec.frame_index_interval[1] = (int64_t)g->nframes;
	utf32(srec.host, 16, HOST_NAME);
	if (fo_zarrw_append(g->zw[FO_GEN_SCENES], &srec, 1, err, len))
		return -1;

	double t = now_s();
	if (t >= *next_log) {
		*next_log = t + PROGRESS_EVERY_S;
		fo_log(FO_LOG_INFO, "gen_progress", NULL, FO_KU("scenes_done", s + 1),
		       FO_KU("scenes", g->p.scenes), FO_KU("agents", g->nagents),
		       FO_KF("agents_per_s", g->nagents / (t - t0 > 1e-9 ? t - t0 : 1e-9)));
	}
	return 0;
}

static int write_meta(const gen *g, char *err, size_t len)
{
	cJSON *m = cJSON_CreateObject();
	if (!m)
		return snprintf(err, len, "out of memory"), -1;
	static const char *names[2] = {"world_to_ecef", "ecef_to_aerial"};
	const char *const(*mats[2])[4] = {fo_gen_world_to_ecef, fo_gen_ecef_to_aerial};
	for (int k = 0; k < 2; k++) {
		cJSON *rows = cJSON_AddArrayToObject(m, names[k]);
		for (int i = 0; rows && i < 4; i++) {
			cJSON *row = cJSON_CreateArray();
			cJSON_AddItemToArray(rows, row);
			for (int j = 0; row && j < 4; j++)
				cJSON_AddItemToArray(row, cJSON_CreateRaw(mats[k][i][j]));
		}
	}
	char path[PATH_LEN + 64];
	snprintf(path, sizeof path, "%s/meta.json", g->partial);
	int rc = fo_zarrw_write_json(path, m, 0, err, len);
	cJSON_Delete(m);
	return rc ? -1 : 0;
}

static int write_sidecar(gen *g, char *err, size_t len)
{
	cJSON *o = cJSON_CreateObject();
	char seed[32];
	snprintf(seed, sizeof seed, "%" PRIu64, g->p.seed);
	if (!o)
		return snprintf(err, len, "out of memory"), -1;
	cJSON_AddStringToObject(o, "generator", SERVICE);
	cJSON_AddRawToObject(o, "seed", seed);
	cJSON_AddStringToObject(o, "preset", g->c.preset);
	cJSON_AddNumberToObject(o, "scenes", g->p.scenes);
	cJSON_AddNumberToObject(o, "vehicles_per_scene", g->p.vehicles);
	cJSON_AddNumberToObject(o, "frames_per_scene", g->p.frames);
	cJSON_AddNumberToObject(o, "frame_interval_ms", 100);
	cJSON_AddBoolToObject(o, "anomalies_enabled", g->p.anomalies);
	cJSON_AddItemToObject(o, "anomalies", g->anomalies);
	g->anomalies = NULL; /* owned by o now */
	char path[PATH_LEN + 64];
	snprintf(path, sizeof path, "%s/scripted_anomalies.json", g->partial);
	int rc = fo_zarrw_write_json(path, o, 0, err, len);
	cJSON_Delete(o);
	return rc ? -1 : 0;
}

static int run(gen *g, char *err, size_t len)
{
	size_t cap = g->p.vehicles;
	fo_gen_agent *agents = calloc(cap, sizeof *agents);
	g->anomalies = cJSON_CreateArray();
	if (!agents || !g->anomalies) {
		free(agents);
		return snprintf(err, len, "out of memory"), -1;
	}
	int rc = open_arrays(g, err, len);
	double t0 = now_s(), next_log = t0 + PROGRESS_EVERY_S;
	for (unsigned s = 0; rc == 0 && s < g->p.scenes; s++)
		rc = gen_scene(g, s, agents, cap, t0, &next_log, err, len);
	free(agents);
	for (int i = 0; rc == 0 && i < FO_GEN_NARRAYS; i++)
		if (fo_zarrw_finish(g->zw[i], err, len))
			rc = -1;
	if (rc == 0)
		rc = write_meta(g, err, len);
	if (rc == 0)
		rc = write_sidecar(g, err, len);
	return rc;
}

int main(int argc, char **argv)
{
	fo_log_init("fleetops-gen");
	gen g;
	memset(&g, 0, sizeof g);
	if (parse_cli(argc, argv, &g.c))
		return 2;

	const fo_gen_preset *pr = fo_gen_preset_find(g.c.preset);
	if (!pr) {
		char msg[256];
		snprintf(msg, sizeof msg,
		         "unknown preset '%.64s' (demo, test or "
		         "bench)",
		         g.c.preset);
		return fail("usage_error", msg) + 1;
	}
	g.p.preset = pr;
	g.p.seed = g.c.seed;
	g.p.anomalies = g.c.anomalies;
	fo_gen_preset_sizes(pr, &g.p.scenes, &g.p.vehicles, &g.p.frames);
	if (g.c.scenes > 0)
		g.p.scenes = (unsigned)g.c.scenes;
	if (g.c.vehicles > 0)
		g.p.vehicles = (unsigned)g.c.vehicles;
	if (g.c.frames > 0)
		g.p.frames = (unsigned)g.c.frames;

	/* strip trailing slashes so OUT.partial is a sibling */
	char out[PATH_LEN - 16];
	if (strlen(g.c.out) >= sizeof out)
		return fail("usage_error", "--out path is too long") + 1;
	strcpy(out, g.c.out);
	for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
		out[n - 1] = '\0';
	g.c.out = out;
	snprintf(g.partial, sizeof g.partial, "%s.partial", out);

	char err[ERR_LEN];
	if (prepare_out(&g.c, g.partial, err, sizeof err))
		return fail("gen_failed", err);

	fo_log(FO_LOG_INFO, "gen_start", NULL, FO_KS("out", out),
	       FO_KS("preset", fo_gen_preset_name(pr)), FO_KU("seed", g.p.seed),
	       FO_KU("scenes", g.p.scenes), FO_KU("vehicles_per_scene", g.p.vehicles),
	       FO_KU("frames_per_scene", g.p.frames), FO_KB("anomalies", g.p.anomalies),
	       FO_KU("threads", g.c.threads));

	double t0 = now_s();
	int rc = run(&g, err, sizeof err);
	for (int i = 0; i < FO_GEN_NARRAYS; i++)
		fo_zarrw_destroy(g.zw[i]);
	cJSON_Delete(g.anomalies);
	if (rc) {
		/* OUT.partial is ours and useless now; do not leave it filling a disk */
		char rmerr[ERR_LEN];
		if (classify(g.partial) == P_ZARR)
			rm_tree(g.partial, rmerr, sizeof rmerr);
		return fail("gen_failed", err);
	}

	/* replace only what prepare_out() accepted: a dataset or nothing */
	path_kind k = classify(out);
	if (k == P_OTHER || k == P_ERROR || (k == P_ZARR && !g.c.force)) {
		snprintf(err, sizeof err,
		         "%s changed while generating; the new "
		         "dataset is left in %s",
		         out, g.partial);
		return fail("gen_failed", err);
	}
	if (k != P_ABSENT && rm_tree(out, err, sizeof err))
		return fail("gen_failed", err);
	if (rename(g.partial, out) != 0) {
		snprintf(err, sizeof err, "cannot rename %s to %s: %s", g.partial, out,
		         strerror(errno));
		return fail("gen_failed", err);
	}
	double dt = now_s() - t0;
	fo_log(FO_LOG_INFO, "gen_done", NULL, FO_KS("out", out), FO_KU("scenes", g.p.scenes),
	       FO_KU("frames", g.nframes), FO_KU("agents", g.nagents),
	       FO_KU("anomalies", g.nanomalies), FO_KF("seconds", dt),
	       FO_KF("agents_per_s", g.nagents / (dt > 1e-9 ? dt : 1e-9)));
	return 0;
}
