/*
 * fleetopsd: the FleetOps data plane.
 *
 * Roles (the first argument):
 *   replay  L5Kit zarr -> RawTelemetryEvents -> raw_telemetry
 *   run     replay, and detection in the same process (both topics)
 *   info    describe a dataset (scenes, frames, agents, dtypes)
 *
 * main parses flags, builds the sink and runs the role on the main thread;
 * SIGINT/SIGTERM stop the replay at the next frame, flush, and exit 130.
 * Exit status: 0 done, 1 runtime failure (data, I/O, Kafka), 2 usage.
 */
#include "anomaly.h"
#include "json.h"
#include "l5kit.h"
#include "log.h"
#include "replay.h"
#include "shard.h"
#include "sink.h"
#include "thresholds.h"
#include "timefmt.h"
#include "zarr.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FO_MAX_PROPS 64

static volatile sig_atomic_t fo_stop;

static void fo_on_signal(int sig)
{
	(void)sig;
	fo_stop = 1;
}

/* In-process detection for `run`: the replay thread feeds every telemetry
 * to one shard and emits what it raises. */
typedef struct fo_run_detect {
	fo_shard *shard;
	fo_sink *sink;
	uint32_t scene;
	int have_scene;
	uint64_t anomalies;
} fo_run_detect;

static int fo_run_on_telemetry(void *arg, const fo_telemetry *t, const fo_uuid *event_id,
                               uint32_t frame_agents, char *err, size_t errsz)
{
	fo_run_detect *rd = arg;
	if (rd->have_scene && t->scene != rd->scene)
		fo_shard_forget_scene(rd->shard, rd->scene);
	rd->scene = t->scene;
	rd->have_scene = 1;
	fo_anomaly an[FO_RULE_COUNT];
	int n = fo_shard_observe(rd->shard, t, frame_agents, an);
	if (n < 0) {
		snprintf(err, errsz, "out of memory for detector state");
		return -1;
	}
	if (n == 0)
		return 0;
	char proc[FO_ISO8601_LEN + 1], buf[FO_ANOMALY_JSON_MAX], key[FO_VEHICLE_ID_MAX];
	fo_time_iso8601(fo_time_wall_ns(), proc);
	for (int i = 0; i < n; i++) {
		size_t klen, len = fo_anomaly_encode(&an[i], event_id, proc, buf, sizeof(buf), key, &klen);
		if (len == 0) {
			snprintf(err, errsz, "anomaly for %s does not fit %zu bytes", key, sizeof(buf));
			return -1;
		}
		if (fo_sink_emit(rd->sink, FO_TOPIC_ANOMALIES, key, klen, buf, len, err, errsz) < 0)
			return -1;
		rd->anomalies++;
	}
	return 0;
}

static void fo_usage(FILE *out)
{
	fputs(
"usage: fleetopsd ROLE [options]\n"
"\n"
"FleetOps data plane: replays Lyft L5Kit driving logs (zarr) as live telemetry\n"
"for every tracked vehicle and moves it through Kafka.\n"
"\n"
"Roles:\n"
"  replay   read the dataset and produce RawTelemetryEvents (topic raw_telemetry)\n"
"  run      replay and detect in one process; produces raw_telemetry and\n"
"           anomalies\n"
"  info     print a dataset's scenes, frames, agents and array dtypes\n"
"\n"
"Options:\n"
"  --dataset PATH        L5Kit zarr directory (e.g. ../shared/l5kit/single_scene.zarr)\n"
"  --scenes SPEC         scene indices or ranges: 0-9,12,20- (default: all)\n"
"  --golden FILE         replay the scenes and frame ranges a golden-scenes file\n"
"                        names (config/golden/*.json) instead of --scenes\n"
"  --speed 1|N|max       1 = the data's own 10 Hz, N = N times faster,\n"
"                        max = as fast as the pipeline goes (default: 1)\n"
"  --sink SPEC           kafka (default), ndjson:DIR (DIR/raw_telemetry.ndjson,\n"
"                        DIR/anomalies.ndjson), or null (encode and discard)\n"
"  --brokers HOST:PORT   Kafka bootstrap servers (default: $KAFKA_BROKERS or\n"
"                        127.0.0.1:9092)\n"
"  --thresholds FILE     detection thresholds (thresholds.json from\n"
"                        fleetops-calibrate; default: the rule book's defaults)\n"
"  -X KEY=VALUE          extra librdkafka producer setting (repeatable),\n"
"                        e.g. -X linger.ms=50\n"
"  --session-id ID       replay session id (default: derived from the dataset\n"
"                        path and --scenes, so a re-run reproduces event ids)\n"
"  --io auto|uring|pread chunk read backend (default: auto = io_uring if the\n"
"                        kernel allows it, else pread)\n"
"  --readahead N         chunk reads in flight per array (default: 4)\n"
"  --blosc-threads N     Blosc threads per chunk decode (default: 1)\n"
"  --decode-threads N    threads decoding agents chunks ahead of the replay\n"
"                        (default: 1; 0 = decode on the replay thread)\n"
"  --progress SECONDS    seconds between progress lines (default: 2; 0 = off)\n"
"  -h, --help            this help\n"
"\n"
"Logs are JSON lines on stderr; the final summary is one JSON line on stdout.\n"
"\n"
"Examples:\n"
"  fleetopsd run --dataset ../shared/l5kit/single_scene.zarr --speed max \\\n"
"      --sink ndjson:/tmp/out\n"
"  fleetopsd replay --dataset data.zarr --scenes 0-3 --speed 10 \\\n"
"      --brokers 127.0.0.1:9092\n"
"  fleetopsd info --dataset data.zarr\n", out);
}

static int fo_parse_speed(const char *s, double *out)
{
	if (strcmp(s, "max") == 0) {
		*out = 0;
		return 0;
	}
	char *end;
	double v = strtod(s, &end);
	if (*end || !(v > 0) || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static int fo_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || *s == '\0' || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int fo_info(const char *path)
{
	char err[1024];
	fo_l5kit *ds = fo_l5kit_open(path, NULL, err, sizeof(err));
	if (!ds) {
		fo_log(FO_LOG_ERROR, "dataset_error", err, FO_KS("dataset", path));
		return 1;
	}
	printf("dataset: %s\nscenes: %u\nframes: %" PRIu64 "\nagents: %" PRIu64 "\nio: %s\n",
	       path, fo_l5kit_scene_count(ds), fo_l5kit_frame_count(ds), fo_l5kit_agent_count(ds),
	       fo_l5kit_backend(ds));
	const char *names[] = {"scenes", "frames", "agents"};
	for (int i = 0; i < 3; i++) {
		fo_zarr_array a;
		if (fo_zarr_array_open(&a, path, names[i], err, sizeof(err)) < 0)
			continue;
		printf("%s: shape %" PRIu64 ", chunks %" PRIu64 " of %" PRIu64 " records, %zu bytes/record\n",
		       names[i], a.shape, a.nchunks, a.chunk_len, a.itemsize);
		for (int f = 0; f < a.nfields; f++)
			printf("  %-36s %-6s x%-3u @%u\n", a.fields[f].name, a.fields[f].typestr,
			       a.fields[f].count, a.fields[f].offset);
		fo_zarr_array_close(&a);
	}
	uint32_t n = fo_l5kit_scene_count(ds);
	for (uint32_t s = 0; s < n && s < 20; s++) {
		const fo_l5kit_scene *sc = fo_l5kit_scene_get(ds, s);
		printf("scene_%03u: frames [%" PRIu64 ", %" PRIu64 ") host %s\n", s, sc->frame_lo,
		       sc->frame_hi, sc->host);
	}
	if (n > 20)
		printf("... %u more scenes\n", n - 20);
	fo_l5kit_close(ds);
	return 0;
}

int main(int argc, char **argv)
{
	fo_log_init("fleetopsd");
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fo_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *role = argv[1];
	int is_run = strcmp(role, "run") == 0;
	if (!is_run && strcmp(role, "replay") != 0 && strcmp(role, "info") != 0) {
		fprintf(stderr, "fleetopsd: unknown role \"%s\" (expected replay, run or info; see --help)\n", role);
		return 2;
	}

	fo_replay_conf rc = {.speed = 1.0, .progress_interval = 2.0, .stop = &fo_stop};
	rc.io.backend = FO_CHUNKIO_AUTO;
	rc.io.readahead = 4;
	rc.io.blosc_threads = 1;
	rc.io.decode_threads = 1;
	const char *sink_spec = "kafka";
	const char *thresholds_path = NULL;
	const char *brokers = getenv("KAFKA_BROKERS");
	const char *props[FO_MAX_PROPS];
	size_t nprops = 0;

	static const struct option opts[] = {
		{"dataset", required_argument, NULL, 'd'},
		{"scenes", required_argument, NULL, 's'},
		{"golden", required_argument, NULL, 'g'},
		{"speed", required_argument, NULL, 'v'},
		{"sink", required_argument, NULL, 'k'},
		{"brokers", required_argument, NULL, 'b'},
		{"session-id", required_argument, NULL, 'i'},
		{"thresholds", required_argument, NULL, 'T'},
		{"io", required_argument, NULL, 'o'},
		{"readahead", required_argument, NULL, 'r'},
		{"blosc-threads", required_argument, NULL, 't'},
		{"decode-threads", required_argument, NULL, 'D'},
		{"progress", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "hX:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': rc.dataset = optarg; break;
		case 's': rc.scenes = optarg; break;
		case 'g': rc.golden = optarg; break;
		case 'v':
			if (fo_parse_speed(optarg, &rc.speed) < 0) {
				fprintf(stderr, "fleetopsd: --speed \"%s\": expected 1, a number > 0, or max\n", optarg);
				return 2;
			}
			break;
		case 'k': sink_spec = optarg; break;
		case 'b': brokers = optarg; break;
		case 'i': rc.session_id = optarg; break;
		case 'T': thresholds_path = optarg; break;
		case 'o':
			if (strcmp(optarg, "auto") == 0)
				rc.io.backend = FO_CHUNKIO_AUTO;
			else if (strcmp(optarg, "uring") == 0 || strcmp(optarg, "io_uring") == 0)
				rc.io.backend = FO_CHUNKIO_URING;
			else if (strcmp(optarg, "pread") == 0)
				rc.io.backend = FO_CHUNKIO_PREAD;
			else {
				fprintf(stderr, "fleetopsd: --io \"%s\": expected auto, uring or pread\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (fo_parse_uint(optarg, 1, 64, &rc.io.readahead) < 0) {
				fprintf(stderr, "fleetopsd: --readahead \"%s\": expected 1..64\n", optarg);
				return 2;
			}
			break;
		case 't': {
			unsigned n;
			if (fo_parse_uint(optarg, 1, 64, &n) < 0) {
				fprintf(stderr, "fleetopsd: --blosc-threads \"%s\": expected 1..64\n", optarg);
				return 2;
			}
			rc.io.blosc_threads = (int)n;
			break;
		}
		case 'D':
			if (fo_parse_uint(optarg, 0, 16, &rc.io.decode_threads) < 0) {
				fprintf(stderr, "fleetopsd: --decode-threads \"%s\": expected 0..16\n", optarg);
				return 2;
			}
			break;
		case 'p': {
			char *end;
			rc.progress_interval = strtod(optarg, &end);
			if (*end || rc.progress_interval < 0) {
				fprintf(stderr, "fleetopsd: --progress \"%s\": expected seconds >= 0\n", optarg);
				return 2;
			}
			break;
		}
		case 'X':
			if (nprops == FO_MAX_PROPS) {
				fprintf(stderr, "fleetopsd: too many -X settings (at most %d)\n", FO_MAX_PROPS);
				return 2;
			}
			props[nprops++] = optarg;
			break;
		case 'h': fo_usage(stdout); return 0;
		default:
			fprintf(stderr, "fleetopsd: see fleetopsd --help\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetopsd: unexpected argument \"%s\" (see --help)\n", argv[optind]);
		return 2;
	}
	if (rc.golden && rc.scenes) {
		fprintf(stderr, "fleetopsd: --golden and --scenes exclude each other\n");
		return 2;
	}
	if (!rc.dataset) {
		fprintf(stderr, "fleetopsd %s: --dataset PATH is required (see --help)\n", role);
		return 2;
	}
	if (strcmp(role, "info") == 0)
		return fo_info(rc.dataset);

	struct sigaction sa = {.sa_handler = fo_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char err[1024] = "";
	fo_thresholds th;
	fo_thresholds_default(&th);
	if (thresholds_path && fo_thresholds_load(&th, thresholds_path, err, sizeof(err)) < 0) {
		fo_log(FO_LOG_ERROR, "thresholds_error", err, FO_KS("file", thresholds_path));
		return 1;
	}
	fo_sink_conf sc = {
		.spec = sink_spec,
		.topics = FO_TOPIC_BIT(FO_TOPIC_RAW_TELEMETRY) |
		          (is_run ? FO_TOPIC_BIT(FO_TOPIC_ANOMALIES) : 0),
		.brokers = brokers,
		.props = props,
		.nprops = nprops,
		.client_id = is_run ? "fleetopsd-run" : "fleetopsd-replay",
	};
	fo_sink *sink = fo_sink_new(&sc, err, sizeof(err));
	if (!sink) {
		fo_log(FO_LOG_ERROR, "sink_error", err, FO_KS("sink", sink_spec));
		return 1;
	}
	fo_run_detect rd = {.sink = sink};
	if (is_run) {
		if (!(rd.shard = fo_shard_new(&th, 4096))) {
			fo_log(FO_LOG_ERROR, "detect_error", "out of memory");
			return 1;
		}
		rc.on_telemetry = fo_run_on_telemetry;
		rc.arg = &rd;
		fo_log(FO_LOG_INFO, "detect_start", "detecting in process",
		       FO_KS("thresholds", th.source));
	}
	fo_replay_result res;
	int r = fo_replay_run(&rc, sink, &res, err, sizeof(err));
	if (r < 0)
		fo_log(FO_LOG_ERROR, "replay_error", err, FO_KS("dataset", rc.dataset));
	fo_sink_stats st;
	char serr[1024] = "";
	int sr = fo_sink_close(sink, r < 0 ? 5000 : 120000, &st, serr, sizeof(serr));
	if (sr < 0)
		fo_log(FO_LOG_ERROR, "sink_error", serr, FO_KS("sink", sink_spec));

	double eps = res.seconds > 0 ? (double)res.events / res.seconds : 0;
	char dq[4200];
	if (fo_json_quote(dq, sizeof(dq), rc.dataset) < 0)
		snprintf(dq, sizeof(dq), "null");
	printf("{\"role\":\"%s\",\"status\":\"%s\",\"dataset\":%s,\"replay_session_id\":\"%s\","
	       "\"scenes\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"events\":%" PRIu64 ","
	       "\"raw_telemetry_delivered\":%" PRIu64 ",\"anomalies_delivered\":%" PRIu64 ","
	       "\"failed\":%" PRIu64 ",\"seconds\":%.3f,\"events_per_s\":%.0f,\"io_backend\":\"%s\","
	       "\"sink\":\"%s\",\"chunk_bytes\":%" PRIu64 ",\"decoded_bytes\":%" PRIu64 "}\n",
	       role, r < 0 || sr < 0 ? "failed" : res.interrupted ? "interrupted" : "ok", dq,
	       res.session_id, res.scenes, res.frames, res.events,
	       st.delivered[FO_TOPIC_RAW_TELEMETRY], st.delivered[FO_TOPIC_ANOMALIES],
	       st.failed[FO_TOPIC_RAW_TELEMETRY] + st.failed[FO_TOPIC_ANOMALIES], res.seconds, eps,
	       res.backend, sink_spec, res.file_bytes, res.decoded_bytes);
	if (rd.shard) {
		fo_shard_stats ss;
		fo_shard_stats_get(rd.shard, &ss);
		fo_log(FO_LOG_INFO, "detect_done", NULL, FO_KU("observations", ss.observations),
		       FO_KU("anomalies", rd.anomalies),
		       FO_KU("hard_braking", ss.anomalies[FO_RULE_HARD_BRAKING]),
		       FO_KU("label_drop", ss.anomalies[FO_RULE_LABEL_DROP]),
		       FO_KU("position_jump", ss.anomalies[FO_RULE_POSITION_JUMP]),
		       FO_KU("yaw_jump", ss.anomalies[FO_RULE_YAW_JUMP]),
		       FO_KU("track_dropout", ss.anomalies[FO_RULE_TRACK_DROPOUT]),
		       FO_KU("scene_agent_drop", ss.anomalies[FO_RULE_SCENE_AGENT_DROP]),
		       FO_KF("per_1000", ss.observations ? 1000.0 * (double)rd.anomalies / (double)ss.observations : 0));
		fo_shard_destroy(rd.shard);
	}
	fo_log(FO_LOG_INFO, "replay_done", NULL, FO_KU("events", res.events),
	       FO_KF("seconds", res.seconds), FO_KF("events_per_s", eps),
	       FO_KB("interrupted", res.interrupted));
	if (r < 0 || sr < 0)
		return 1;
	return res.interrupted ? 130 : 0;
}
