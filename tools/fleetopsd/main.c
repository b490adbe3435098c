/*
 * fleetopsd: the FleetOps data plane.
 *
 * Roles (the first argument):
 *   replay  L5Kit zarr -> RawTelemetryEvents -> raw_telemetry
 *   run     replay, and detection in the same process (both topics)
 *   info    describe a dataset (scenes, frames, agents, dtypes); --json for
 *           one JSON object with the per-scene frame and agent counts
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
#include "detect.h"
#include "pipeline.h"
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
#include <unistd.h>

#define FO_MAX_PROPS 64

static volatile sig_atomic_t fo_stop;

static void fo_on_signal(int sig)
{
	(void)sig;
	fo_stop = 1;
}

/* What the replay callbacks share. */
typedef struct fo_daemon {
	fo_pipeline_conf pc;
	fo_pipeline *pipe;
	const char *dataset, *sink_spec;
	fo_replay_meta meta;
	uint64_t events_total;
} fo_daemon;

static int fo_on_start(void *arg, const fo_replay_result *res, char *err, size_t errsz)
{
	fo_daemon *d = arg;
	d->events_total = res->events_total;
	char wcpus[FO_MAX_WORKERS * 4 + 1] = "";
	for (unsigned i = 0, n = 0; i < d->pc.workers && n + 5 < sizeof(wcpus); i++)
		n += (unsigned)snprintf(wcpus + n, sizeof(wcpus) - n, "%s%d", i ? "," : "",
		                        d->pc.cpu_workers[i]);
	fo_log(FO_LOG_INFO, "replay_start", "replaying dataset", FO_KS("dataset", d->dataset),
	       FO_KS("io_backend", res->backend), FO_KS("sink", d->sink_spec),
	       FO_KS("replay_session_id", d->meta.session_str), FO_KU("scenes", res->scenes_total),
	       FO_KU("events", res->events_total), FO_KF("speed", d->meta.replay_rate),
	       FO_KU("workers", d->pc.workers), FO_KI("cpu_reader", d->pc.cpu_reader),
	       FO_KS("cpu_workers", wcpus), FO_KI("cpu_sink", d->pc.cpu_sink),
	       FO_KB("detect", d->pc.detect));
	d->pipe = fo_pipeline_start(&d->pc, err, errsz);
	return d->pipe ? 0 : -1;
}

static int fo_on_frame(void *arg, const fo_l5kit_frame *fr, char *err, size_t errsz)
{
	fo_daemon *d = arg;
	return fo_pipeline_frame(d->pipe, fr, err, errsz);
}

static void fo_on_progress(void *arg, const fo_replay_result *res)
{
	fo_daemon *d = arg;
	fo_log(FO_LOG_INFO, "replay_progress", NULL, FO_KU("events_read", res->events),
	       FO_KU("events_total", d->events_total),
	       FO_KF("percent", d->events_total
	                            ? 100.0 * (double)res->events / (double)d->events_total
	                            : 100.0),
	       FO_KU("scenes_read", res->scenes));
	fo_pipeline_log_stats(d->pipe);
}

/* One worker per online CPU (at least 1). */
static unsigned fo_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > FO_MAX_WORKERS ? FO_MAX_WORKERS : (unsigned)n;
}

/* "ndjson:DIR" -> "ndjson" for the summary (DIR is in the logs). */
static const char *fo_sink_kind_name(const char *spec)
{
	return strncmp(spec, "ndjson", 6) == 0 ? "ndjson" : spec;
}

static void fo_usage(FILE *out)
{
	fputs("usage: fleetopsd ROLE [options]\n"
	      "\n"
	      "FleetOps data plane: replays Lyft L5Kit driving logs (zarr) as live telemetry\n"
	      "for every tracked vehicle and moves it through Kafka.\n"
	      "\n"
	      "Roles:\n"
	      "  replay   read the dataset and produce RawTelemetryEvents (topic raw_telemetry)\n"
	      "  run      replay and detect in one process; produces raw_telemetry and\n"
	      "           anomalies\n"
	      "  detect   consume raw_telemetry (consumer group anomaly-service-group),\n"
	      "           detect, produce anomalies; at least once, until stopped\n"
	      "  info     print a dataset's scenes, frames, agents and array dtypes\n"
	      "           (--json: one JSON object on stdout with each scene's frames\n"
	      "           and agents)\n"
	      "\n"
	      "Options:\n"
	      "  --dataset PATH        L5Kit zarr directory (e.g. "
	      "../shared/l5kit/single_scene.zarr)\n"
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
	      "  --group NAME          detect: consumer group (default anomaly-service-group)\n"
	      "  -C KEY=VALUE          detect: extra librdkafka consumer setting (repeatable)\n"
	      "  --idle-exit SECONDS   detect: stop after this long without messages while\n"
	      "                        partitions are assigned\n"
	      "                        (default: run until SIGINT/SIGTERM)\n"
	      "  --commit-interval S   detect: seconds between offset commits (default: 1)\n"
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
	      "  --progress SECONDS    seconds between progress/stats lines (default: 2; 0 = off)\n"
	      "  --workers N           shard workers; vehicles go to a worker by a hash of\n"
	      "                        their id (default: one per online CPU)\n"
	      "  --cpus LIST           pin reader, workers and sink round robin over LIST\n"
	      "                        (e.g. 0,1); or place them with --cpu-reader N,\n"
	      "                        --cpu-workers LIST and --cpu-sink N (default: unpinned)\n"
	      "  --ring N              slots per ring between stages (default: 4096)\n"
	      "  --report FILE         write the final latency/throughput report as JSON\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "Logs are JSON lines on stderr, with a stats line every 2 s; at exit a latency\n"
	      "table (p50/p90/p99/p99.9/max per stage) on stderr and a one-line JSON summary\n"
	      "on stdout.\n"
	      "\n"
	      "Examples:\n"
	      "  fleetopsd run --dataset ../shared/l5kit/single_scene.zarr --speed max \\\n"
	      "      --sink ndjson:/tmp/out\n"
	      "  fleetopsd replay --dataset data.zarr --scenes 0-3 --speed 10 \\\n"
	      "      --brokers 127.0.0.1:9092\n"
	      "  fleetopsd info --dataset data.zarr [--json]\n",
	      out);
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

/* info --json: {"dataset","io","frames","agents","scenes":[{"scene_index",
 * "scene_id","frames","agents","host"}]} on one line; agents per scene come
 * from a pass begun (not read) over that scene alone. */
static int fo_info_json(fo_l5kit *ds, const char *path)
{
	char err[1024], q[4200];
	if (fo_json_quote(q, sizeof(q), path) < 0)
		snprintf(q, sizeof(q), "null");
	printf("{\"dataset\":%s,\"io\":\"%s\",\"frames\":%" PRIu64 ",\"agents\":%" PRIu64
	       ",\"scenes\":[",
	       q, fo_l5kit_backend(ds), fo_l5kit_frame_count(ds), fo_l5kit_agent_count(ds));
	uint32_t n = fo_l5kit_scene_count(ds);
	for (uint32_t s = 0; s < n; s++) {
		uint64_t frames, agents;
		if (fo_l5kit_begin(ds, &s, 1, &frames, &agents, err, sizeof(err)) < 0) {
			printf("]}\n");
			fo_log(FO_LOG_ERROR, "dataset_error", err, FO_KS("dataset", path));
			return 1;
		}
		const fo_l5kit_scene *sc = fo_l5kit_scene_get(ds, s);
		if (fo_json_quote(q, sizeof(q), sc->host) < 0)
			snprintf(q, sizeof(q), "null");
		printf("%s{\"scene_index\":%u,\"scene_id\":\"scene_%03u\",\"frames\":%" PRIu64
		       ",\"agents\":%" PRIu64 ",\"host\":%s}",
		       s ? "," : "", s, s, frames, agents, q);
	}
	printf("]}\n");
	return 0;
}

static int fo_info(const char *path, int json)
{
	char err[1024];
	fo_l5kit *ds = fo_l5kit_open(path, NULL, err, sizeof(err));
	if (!ds) {
		fo_log(FO_LOG_ERROR, "dataset_error", err, FO_KS("dataset", path));
		return 1;
	}
	if (json) {
		int r = fo_info_json(ds, path);
		fo_l5kit_close(ds);
		return r;
	}
	printf("dataset: %s\nscenes: %u\nframes: %" PRIu64 "\nagents: %" PRIu64 "\nio: %s\n", path,
	       fo_l5kit_scene_count(ds), fo_l5kit_frame_count(ds), fo_l5kit_agent_count(ds),
	       fo_l5kit_backend(ds));
	const char *names[] = {"scenes", "frames", "agents"};
	for (int i = 0; i < 3; i++) {
		fo_zarr_array a;
		if (fo_zarr_array_open(&a, path, names[i], err, sizeof(err)) < 0)
			continue;
		printf("%s: shape %" PRIu64 ", chunks %" PRIu64 " of %" PRIu64
		       " records, %zu bytes/record\n",
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
	int is_run = strcmp(role, "run") == 0, is_detect = strcmp(role, "detect") == 0;
	if (!is_run && !is_detect && strcmp(role, "replay") != 0 && strcmp(role, "info") != 0) {
		fprintf(stderr,
		        "fleetopsd: unknown role \"%s\" (expected replay, run, detect or info; see "
		        "--help)\n",
		        role);
		return 2;
	}

	fo_replay_conf rc = {.speed = 1.0, .progress_interval = 2.0, .stop = &fo_stop};
	rc.io.backend = FO_CHUNKIO_AUTO;
	rc.io.readahead = 4;
	rc.io.blosc_threads = 1;
	rc.io.decode_threads = 1;
	const char *sink_spec = "kafka";
	const char *thresholds_path = NULL, *report_path = NULL;
	fo_pipeline_conf pc = {.workers = fo_default_workers(),
	                       .ring_capacity = 4096,
	                       .cpu_reader = -1,
	                       .cpu_sink = -1};
	for (int i = 0; i < FO_MAX_WORKERS; i++)
		pc.cpu_workers[i] = -1;
	const char *brokers = getenv("KAFKA_BROKERS");
	const char *props[FO_MAX_PROPS];
	size_t nprops = 0;
	int cpus[FO_MAX_WORKERS], ncpus = 0, worker_cpus[FO_MAX_WORKERS], nworker_cpus = 0;
	const char *cprops[FO_MAX_PROPS];
	size_t ncprops = 0;
	fo_detect_conf dconf = {.commit_interval = 1.0, .stop = &fo_stop};
	int info_json = 0;

	static const struct option opts[] = {
	    {"dataset", required_argument, NULL, 'd'},
	    {"scenes", required_argument, NULL, 's'},
	    {"golden", required_argument, NULL, 'g'},
	    {"speed", required_argument, NULL, 'v'},
	    {"sink", required_argument, NULL, 'k'},
	    {"brokers", required_argument, NULL, 'b'},
	    {"session-id", required_argument, NULL, 'i'},
	    {"thresholds", required_argument, NULL, 'T'},
	    {"workers", required_argument, NULL, 'W'},
	    {"cpus", required_argument, NULL, 'P'},
	    {"cpu-reader", required_argument, NULL, 'R'},
	    {"cpu-sink", required_argument, NULL, 'S'},
	    {"cpu-workers", required_argument, NULL, 'K'},
	    {"ring", required_argument, NULL, 'Q'},
	    {"report", required_argument, NULL, 'O'},
	    {"group", required_argument, NULL, 'G'},
	    {"idle-exit", required_argument, NULL, 'I'},
	    {"commit-interval", required_argument, NULL, 'M'},
	    {"io", required_argument, NULL, 'o'},
	    {"readahead", required_argument, NULL, 'r'},
	    {"blosc-threads", required_argument, NULL, 't'},
	    {"decode-threads", required_argument, NULL, 'D'},
	    {"progress", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "hX:C:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': rc.dataset = optarg; break;
		case 's': rc.scenes = optarg; break;
		case 'g': rc.golden = optarg; break;
		case 'v':
			if (fo_parse_speed(optarg, &rc.speed) < 0) {
				fprintf(
				    stderr,
				    "fleetopsd: --speed \"%s\": expected 1, a number > 0, or max\n",
				    optarg);
				return 2;
			}
			break;
		case 'k': sink_spec = optarg; break;
		case 'b': brokers = optarg; break;
		case 'i': rc.session_id = optarg; break;
		case 'T': thresholds_path = optarg; break;
		case 'O': report_path = optarg; break;
		case 'G': dconf.group = optarg; break;
		case 'I':
		case 'M': {
			char *end;
			double v = strtod(optarg, &end);
			if (*end || !(v > 0)) {
				fprintf(stderr, "fleetopsd: --%s \"%s\": expected seconds > 0\n",
				        c == 'I' ? "idle-exit" : "commit-interval", optarg);
				return 2;
			}
			*(c == 'I' ? &dconf.idle_exit : &dconf.commit_interval) = v;
			break;
		}
		case 'C':
			if (ncprops == FO_MAX_PROPS) {
				fprintf(stderr, "fleetopsd: too many -C settings (at most %d)\n",
				        FO_MAX_PROPS);
				return 2;
			}
			cprops[ncprops++] = optarg;
			break;
		case 'W':
			if (fo_parse_uint(optarg, 1, FO_MAX_WORKERS, &pc.workers) < 0) {
				fprintf(stderr, "fleetopsd: --workers \"%s\": expected 1..%d\n",
				        optarg, FO_MAX_WORKERS);
				return 2;
			}
			break;
		case 'Q': {
			unsigned q;
			if (fo_parse_uint(optarg, 2, 1u << 20, &q) < 0) {
				fprintf(stderr,
				        "fleetopsd: --ring \"%s\": expected 2..1048576 slots\n",
				        optarg);
				return 2;
			}
			pc.ring_capacity = q;
			break;
		}
		case 'P':
			if ((ncpus = fo_parse_cpus(optarg, cpus, FO_MAX_WORKERS)) < 0) {
				fprintf(stderr,
				        "fleetopsd: --cpus \"%s\": expected a list such as 0,1\n",
				        optarg);
				return 2;
			}
			break;
		case 'R':
		case 'S': {
			int cpu;
			if (fo_parse_cpus(optarg, &cpu, 1) != 1) {
				fprintf(stderr,
				        "fleetopsd: --cpu-%s \"%s\": expected a CPU number\n",
				        c == 'R' ? "reader" : "sink", optarg);
				return 2;
			}
			*(c == 'R' ? &pc.cpu_reader : &pc.cpu_sink) = cpu;
			break;
		}
		case 'K':
			if ((nworker_cpus = fo_parse_cpus(optarg, worker_cpus, FO_MAX_WORKERS)) <
			    0) {
				fprintf(stderr,
				        "fleetopsd: --cpu-workers \"%s\": expected a list such as "
				        "0,1\n",
				        optarg);
				return 2;
			}
			break;
		case 'o':
			if (strcmp(optarg, "auto") == 0)
				rc.io.backend = FO_CHUNKIO_AUTO;
			else if (strcmp(optarg, "uring") == 0 || strcmp(optarg, "io_uring") == 0)
				rc.io.backend = FO_CHUNKIO_URING;
			else if (strcmp(optarg, "pread") == 0)
				rc.io.backend = FO_CHUNKIO_PREAD;
			else {
				fprintf(stderr,
				        "fleetopsd: --io \"%s\": expected auto, uring or pread\n",
				        optarg);
				return 2;
			}
			break;
		case 'r':
			if (fo_parse_uint(optarg, 1, 64, &rc.io.readahead) < 0) {
				fprintf(stderr, "fleetopsd: --readahead \"%s\": expected 1..64\n",
				        optarg);
				return 2;
			}
			break;
		case 't': {
			unsigned n;
			if (fo_parse_uint(optarg, 1, 64, &n) < 0) {
				fprintf(stderr,
				        "fleetopsd: --blosc-threads \"%s\": expected 1..64\n",
				        optarg);
				return 2;
			}
			rc.io.blosc_threads = (int)n;
			break;
		}
		case 'D':
			if (fo_parse_uint(optarg, 0, 16, &rc.io.decode_threads) < 0) {
				fprintf(stderr,
				        "fleetopsd: --decode-threads \"%s\": expected 0..16\n",
				        optarg);
				return 2;
			}
			break;
		case 'p': {
			char *end;
			rc.progress_interval = strtod(optarg, &end);
			if (*end || rc.progress_interval < 0) {
				fprintf(stderr,
				        "fleetopsd: --progress \"%s\": expected seconds >= 0\n",
				        optarg);
				return 2;
			}
			break;
		}
		case 'X':
			if (nprops == FO_MAX_PROPS) {
				fprintf(stderr, "fleetopsd: too many -X settings (at most %d)\n",
				        FO_MAX_PROPS);
				return 2;
			}
			props[nprops++] = optarg;
			break;
		case 'J': info_json = 1; break;
		case 'h': fo_usage(stdout); return 0;
		default: fprintf(stderr, "fleetopsd: see fleetopsd --help\n"); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetopsd: unexpected argument \"%s\" (see --help)\n",
		        argv[optind]);
		return 2;
	}
	if (rc.golden && rc.scenes) {
		fprintf(stderr, "fleetopsd: --golden and --scenes exclude each other\n");
		return 2;
	}
	if (!rc.dataset && !is_detect) {
		fprintf(stderr, "fleetopsd %s: --dataset PATH is required (see --help)\n", role);
		return 2;
	}
	if (info_json && strcmp(role, "info") != 0) {
		fprintf(stderr, "fleetopsd %s: --json is an option of info only\n", role);
		return 2;
	}
	if (strcmp(role, "info") == 0)
		return fo_info(rc.dataset, info_json);
	/* --cpus L: reader, workers, sink take L's CPUs round robin;
	 * --cpu-reader/--cpu-workers/--cpu-sink place each role explicitly */
	if (ncpus > 0) {
		unsigned k = 0;
		pc.cpu_reader = cpus[k++ % (unsigned)ncpus];
		for (unsigned i = 0; i < pc.workers; i++)
			pc.cpu_workers[i] = cpus[k++ % (unsigned)ncpus];
		pc.cpu_sink = cpus[k % (unsigned)ncpus];
	}
	for (unsigned i = 0; nworker_cpus > 0 && i < pc.workers; i++)
		pc.cpu_workers[i] = worker_cpus[i % (unsigned)nworker_cpus];

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
	    .topics = is_detect ? FO_TOPIC_BIT(FO_TOPIC_ANOMALIES)
	                        : FO_TOPIC_BIT(FO_TOPIC_RAW_TELEMETRY) |
	                              (is_run ? FO_TOPIC_BIT(FO_TOPIC_ANOMALIES) : 0),
	    .brokers = brokers,
	    .props = props,
	    .nprops = nprops,
	    .client_id = is_detect ? "fleetopsd-detect"
	                 : is_run  ? "fleetopsd-run"
	                           : "fleetopsd-replay",
	};
	fo_sink *sink = fo_sink_new(&sc, err, sizeof(err));
	if (!sink) {
		fo_log(FO_LOG_ERROR, "sink_error", err, FO_KS("sink", sink_spec));
		return 1;
	}
	if (is_detect) {
		pc.th = &th;
		pc.sink = sink;
		dconf.brokers = brokers;
		dconf.cprops = cprops;
		dconf.ncprops = ncprops;
		dconf.progress_interval = rc.progress_interval;
		dconf.report_path = report_path;
		int drc = fo_detect_run(&dconf, &pc);
		fo_sink_stats dst;
		char derr[1024] = "";
		if (fo_sink_close(sink, 120000, &dst, derr, sizeof(derr)) < 0) {
			fo_log(FO_LOG_ERROR, "sink_error", derr, FO_KS("sink", sink_spec));
			drc = 1;
		}
		return drc;
	}

	fo_daemon d = {.dataset = rc.dataset, .sink_spec = sink_spec};
	fo_uuid session;
	fo_replay_session_id(&session, rc.dataset, rc.golden ? rc.golden : rc.scenes,
	                     rc.session_id);
	fo_replay_meta_init(&d.meta, &session, rc.speed);
	d.pc = pc;
	d.pc.th = &th;
	d.pc.meta = &d.meta;
	d.pc.sink = sink;
	d.pc.emit_raw = 1;
	d.pc.detect = is_run;
	if (is_run)
		fo_log(FO_LOG_INFO, "detect_start", "detecting in process",
		       FO_KS("thresholds", th.source));
	rc.on_start = fo_on_start;
	rc.on_frame = fo_on_frame;
	rc.on_progress = fo_on_progress;
	rc.arg = &d;

	fo_replay_result res;
	int r = fo_replay_run(&rc, &res, err, sizeof(err));
	if (r < 0)
		fo_log(FO_LOG_ERROR, "replay_error", err, FO_KS("dataset", rc.dataset));
	char perr[1024] = "";
	int pr = d.pipe ? fo_pipeline_finish(d.pipe, perr, sizeof(perr)) : 0;
	if (pr < 0 && r == 0) /* the replay stopped because a stage failed: say which */
		fo_log(FO_LOG_ERROR, "pipeline_error", perr);
	fo_sink_stats st;
	char serr[1024] = "";
	int sr = fo_sink_close(sink, r < 0 || pr < 0 ? 5000 : 120000, &st, serr, sizeof(serr));
	if (sr < 0)
		fo_log(FO_LOG_ERROR, "sink_error", serr, FO_KS("sink", sink_spec));

	fo_pipeline_totals tot = {0};
	if (d.pipe)
		fo_pipeline_totals_get(d.pipe, &tot);
	const int failed = r < 0 || pr < 0 || sr < 0;
	double eps = tot.seconds > 0 ? (double)tot.observations / tot.seconds : 0;
	char dq[4200];
	if (fo_json_quote(dq, sizeof(dq), rc.dataset) < 0)
		snprintf(dq, sizeof(dq), "null");
	char summary[8192];
	snprintf(
	    summary, sizeof(summary),
	    "\"role\":\"%s\",\"status\":\"%s\",\"dataset\":%s,\"replay_session_id\":\"%s\","
	    "\"scenes\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"events\":%" PRIu64 ","
	    "\"raw_telemetry_delivered\":%" PRIu64 ",\"anomalies\":%" PRIu64 ","
	    "\"anomalies_delivered\":%" PRIu64 ",\"anomalies_per_1000\":%.3f,"
	    "\"failed\":%" PRIu64 ",\"seconds\":%.3f,\"events_per_s\":%.0f,"
	    "\"io_backend\":\"%s\",\"sink\":\"%s\",\"workers\":%u,\"thresholds\":\"%s\"",
	    role,
	    failed            ? "failed"
	    : res.interrupted ? "interrupted"
	                      : "ok",
	    dq, d.meta.session_str, res.scenes, res.frames, tot.observations,
	    st.delivered[FO_TOPIC_RAW_TELEMETRY], tot.anomalies, st.delivered[FO_TOPIC_ANOMALIES],
	    tot.observations ? 1000.0 * (double)tot.anomalies / (double)tot.observations : 0,
	    st.failed[FO_TOPIC_RAW_TELEMETRY] + st.failed[FO_TOPIC_ANOMALIES], tot.seconds, eps,
	    res.backend, fo_sink_kind_name(sink_spec), d.pc.workers, is_run ? th.source : "");
	printf("{%s}\n", summary);
	if (d.pipe) {
		fo_pipeline_report(d.pipe, stderr, report_path, summary);
		fo_pipeline_destroy(d.pipe);
	}
	fo_log(FO_LOG_INFO, "replay_done", NULL, FO_KU("events", tot.observations),
	       FO_KU("anomalies", tot.anomalies), FO_KF("seconds", tot.seconds),
	       FO_KF("events_per_s", eps), FO_KB("interrupted", res.interrupted));
	if (failed)
		return 1;
	return res.interrupted ? 130 : 0;
}
