/*
 * fleetops-operator: anomalies become alerts that operators act on.
 *
 * main parses flags and wires the threads (docs/architecture.md):
 *   ingest   (main)  anomalies -> alerts in PostgreSQL (ingest.h)
 *   fleet            raw_telemetry -> the live vehicle view (fleet.h)
 *   api              database work for requests, pull-overs (api.h)
 *   network          REST, WebSocket /ws, the dashboard (http.h)
 *   outbox           operator_actions rows -> Kafka (outbox.h)
 *   replay monitor   fleetopsd children (replayctl.h)
 * Changes are announced through the hub (hub.h) after their COMMIT.
 * On SIGINT/SIGTERM the ingest writes the batch in hand if PostgreSQL
 * answers and commits, then the others stop in dependency order, and the
 * process exits 0. Logs are JSON lines on stderr.
 * Exit status: 0 stopped cleanly (or --migrate-only / --token done), 1
 * runtime failure (a changed migration, Kafka), 2 usage.
 */
#include "api.h"
#include "db.h"
#include "fleet.h"
#include "http.h"
#include "hub.h"
#include "ingest.h"
#include "lifecycle.h"
#include "log.h"
#include "migrations.h"
#include "outbox.h"
#include "replayctl.h"

#include <limits.h>
#include <stdatomic.h>
#include <unistd.h>

#include <getopt.h>
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

static void fo_usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: fleetops-operator [OPTIONS]\n"
	    "       fleetops-operator --token NAME [--pg-dsn DSN]\n"
	    "\n"
	    "Turns the anomalies that fleetopsd detects into alerts an operator can act on,\n"
	    "and serves the dashboard where they do.\n"
	    "  - Consumes the Kafka topic `anomalies` (group operator-service-group) and writes\n"
	    "    one alert per anomaly_id into PostgreSQL (a repeated anomaly changes nothing);\n"
	    "    Kafka offsets are committed only once the rows are. Messages that are not\n"
	    "    AnomalyEvents go to `anomalies.dlq` with the reason. If PostgreSQL goes away\n"
	    "    it holds what it has, retries with backoff and catches up when it is back.\n"
	    "  - Follows `raw_telemetry` (its own group) for every vehicle's live position.\n"
	    "  - Runs the alert lifecycle (acknowledge, assign, simulated pull-over, remote\n"
	    "    assist, resume, resolve, dismiss) and each vehicle's state, records every\n"
	    "    action and publishes it to `operator_actions`.\n"
	    "  - Serves REST, the WebSocket /ws and the dashboard on one port\n"
	    "    (docs/operator_api.md), and can start fleetopsd replays for the dashboard.\n"
	    "The schema is created or upgraded at start (versioned migrations, recorded in\n"
	    "the table schema_migrations).\n"
	    "\n"
	    "Options:\n"
	    "  --brokers HOST:PORT   Kafka bootstrap servers (default 127.0.0.1:9092)\n"
	    "  --pg-dsn DSN          PostgreSQL connection string or URI (default: $PG_DSN),\n"
	    "                        e.g. postgresql://fleetops:fleetops@127.0.0.1:5433/fleetops\n"
	    "  --listen HOST:PORT    where to serve HTTP and WebSocket (default 127.0.0.1:8080)\n"
	    "  --ui DIR              the built dashboard to serve (e.g. ui/dist; default none)\n"
	    "  --dataset PATH        L5Kit zarr that POST /replay/start replays (default none)\n"
	    "  --fleetopsd PATH      the fleetopsd to run replays with (default: next to this\n"
	    "                        program)\n"
	    "  --thresholds FILE     detection thresholds for those replays (fleetopsd's flag)\n"
	    "  --replay-logs DIR     keep each replay's output in DIR/replay-ID.log\n"
	    "  --pullover-delay S    seconds until a simulated pull-over completes (default 5)\n"
	    "  --no-telemetry        do not follow raw_telemetry (no live positions)\n"
	    "  --telemetry-topic T   raw_telemetry topic (default raw_telemetry)\n"
	    "  --telemetry-group G   its consumer group (default operator-telemetry-group)\n"
	    "  --actions-topic T     where actions are published (default operator_actions)\n"
	    "  --group NAME          anomalies consumer group (default operator-service-group)\n"
	    "  --topic NAME          topic to consume (default anomalies; DLQ NAME.dlq)\n"
	    "  --batch N             anomalies per PostgreSQL transaction, at most (default "
	    "1000)\n"
	    "  --progress SECONDS    log ingest counters this often (default 10; 0: never)\n"
	    "  --idle-exit SECONDS   stop after this long without messages (default: never)\n"
	    "  -X key=value          a librdkafka consumer setting (repeatable)\n"
	    "  --migrate-only        apply the schema migrations, print how many, and exit\n"
	    "  --token NAME          create operator NAME, or give it a new token (the old one\n"
	    "                        stops working), print the token as the only line on\n"
	    "                        stdout, and exit; only its SHA-256 is stored\n"
	    "  --quiet               log warnings and errors only\n"
	    "  -h, --help            this text\n"
	    "\n"
	    "Start Kafka and PostgreSQL first (./tools/services.sh start; it prints the\n"
	    "endpoints with ./tools/services.sh env), or let ./tools/fleetops up start\n"
	    "everything. For example:\n"
	    "  fleetops-operator --brokers 127.0.0.1:9092 --ui ui/dist \\\n"
	    "      --pg-dsn postgresql://fleetops:fleetops@127.0.0.1:5433/fleetops\n"
	    "  TOKEN=$(fleetops-operator --token alice --pg-dsn ...)\n"
	    "  curl -H \"Authorization: Bearer $TOKEN\" -X POST \\\n"
	    "      http://127.0.0.1:8080/alerts/ALERT_ID/acknowledge\n"
	    "Stop it with Ctrl-C or SIGTERM: it finishes the batch in hand and commits.\n"
	    "\n"
	    "Exit status: 0 stopped cleanly, 1 runtime failure, 2 bad usage.\n");
}

/* A positive number from a flag, or -1. */
static double fo_num(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	return end != s && *end == '\0' && v >= 0 ? v : -1;
}

/* The API, once started, for the fleet thread's stats (it starts first). */
static _Atomic(fo_api *) fo_the_api;

static int fo_open_alerts(void *arg, uint64_t *info, uint64_t *warning, uint64_t *critical)
{
	(void)arg;
	fo_api *api = atomic_load(&fo_the_api);
	return api ? fo_api_open_alerts(api, info, warning, critical) : -1;
}

static void fo_emit(void *arg, const char *json, size_t len)
{
	fo_hub_publish(arg, json, len);
}

/* --migrate-only and --token: one connection, then exit. */
static int fo_db_command(const char *dsn, const char *token_name)
{
	char err[1024], token[FO_LC_TOKEN_LEN + 1];
	fo_db *db = fo_db_new(dsn);
	int applied = 0;
	int64_t op = 0;
	fo_db_rc rc = db ? fo_db_connect(db, err, sizeof(err)) : FO_DB_EFAIL;
	if (rc == FO_DB_OK)
		rc = fo_db_migrate(db, &applied, err, sizeof(err));
	if (rc == FO_DB_OK && token_name)
		rc = fo_lc_token_issue(db, token_name, token, &op, err, sizeof(err));
	fo_db_destroy(db);
	if (rc != FO_DB_OK) {
		fo_log(FO_LOG_ERROR, token_name ? "token_failed" : "migrate_failed", err);
		return rc == FO_DB_EDATA ? 2 : 1;
	}
	if (token_name) {
		fo_log(FO_LOG_INFO, "token_issued", "the operator's previous token no longer works",
		       FO_KS("operator", token_name), FO_KI("operator_id", op));
		printf("%s\n", token);
		return 0;
	}
	fo_log(FO_LOG_INFO, "migrations_done", NULL, FO_KI("applied", applied),
	       FO_KU("schema_version", fo_migrations_count));
	printf("{\"applied\":%d,\"schema_version\":%zu}\n", applied, fo_migrations_count);
	return 0;
}

/* The schema before any thread uses it. PostgreSQL not answering yet is
 * no reason to stop (the ingest thread waits for it and migrates then);
 * a migration that cannot apply is. Returns 1 applied, 0 PostgreSQL not
 * answering, -1 a migration refused. */
static int fo_migrate_early(const char *dsn)
{
	char err[1024];
	int applied = 0;
	fo_db *db = fo_db_new(dsn);
	fo_db_rc rc = db ? fo_db_connect(db, err, sizeof(err)) : FO_DB_EAGAIN;
	if (rc == FO_DB_OK)
		rc = fo_db_migrate(db, &applied, err, sizeof(err));
	fo_db_destroy(db);
	if (rc == FO_DB_OK)
		fo_log(FO_LOG_INFO, "migrations_done", NULL, FO_KI("applied", applied),
		       FO_KU("schema_version", fo_migrations_count));
	if (rc == FO_DB_OK || rc == FO_DB_EAGAIN)
		return rc == FO_DB_OK;
	fo_log(FO_LOG_ERROR, "migrate_failed", err);
	return -1;
}

/* The fleetopsd next to this program, if there is one. */
static const char *fo_default_fleetopsd(char *buf, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	snprintf(buf, cap, "%s/fleetopsd", self);
	return access(buf, X_OK) == 0 ? buf : NULL;
}

typedef struct fo_opts {
	fo_ingest_conf ic;
	const char *listen, *ui, *dataset, *fleetopsd, *thresholds, *replay_logs, *token;
	const char *telemetry_topic, *telemetry_group, *actions_topic;
	double pullover_delay;
	int migrate_only, telemetry;
} fo_opts;

/* Parses argv into o; returns -1 to go on, else the exit status. */
static int fo_parse(int argc, char **argv, fo_opts *o, const char **props)
{
	enum {
		O_BROKERS = 256,
		O_DSN,
		O_LISTEN,
		O_GROUP,
		O_TOPIC,
		O_BATCH,
		O_PROGRESS,
		O_IDLE,
		O_MIGRATE,
		O_QUIET,
		O_UI,
		O_DATASET,
		O_FLEETOPSD,
		O_THRESHOLDS,
		O_REPLAY_LOGS,
		O_PULLOVER,
		O_NO_TELEMETRY,
		O_TOKEN,
		O_TEL_TOPIC,
		O_TEL_GROUP,
		O_ACT_TOPIC
	};
	static const struct option opts[] = {
	    {"brokers", required_argument, NULL, O_BROKERS},
	    {"pg-dsn", required_argument, NULL, O_DSN},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"group", required_argument, NULL, O_GROUP},
	    {"topic", required_argument, NULL, O_TOPIC},
	    {"batch", required_argument, NULL, O_BATCH},
	    {"progress", required_argument, NULL, O_PROGRESS},
	    {"idle-exit", required_argument, NULL, O_IDLE},
	    {"migrate-only", no_argument, NULL, O_MIGRATE},
	    {"quiet", no_argument, NULL, O_QUIET},
	    {"ui", required_argument, NULL, O_UI},
	    {"dataset", required_argument, NULL, O_DATASET},
	    {"fleetopsd", required_argument, NULL, O_FLEETOPSD},
	    {"thresholds", required_argument, NULL, O_THRESHOLDS},
	    {"replay-logs", required_argument, NULL, O_REPLAY_LOGS},
	    {"pullover-delay", required_argument, NULL, O_PULLOVER},
	    {"no-telemetry", no_argument, NULL, O_NO_TELEMETRY},
	    {"token", required_argument, NULL, O_TOKEN},
	    {"telemetry-topic", required_argument, NULL, O_TEL_TOPIC},
	    {"telemetry-group", required_argument, NULL, O_TEL_GROUP},
	    {"actions-topic", required_argument, NULL, O_ACT_TOPIC},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	double v;
	while ((c = getopt_long(argc, argv, "hX:", opts, NULL)) != -1) {
		switch (c) {
		case O_BROKERS: o->ic.brokers = optarg; break;
		case O_DSN: o->ic.dsn = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_GROUP: o->ic.group = optarg; break;
		case O_TOPIC: o->ic.topic = optarg; break;
		case O_UI: o->ui = optarg; break;
		case O_DATASET: o->dataset = optarg; break;
		case O_FLEETOPSD: o->fleetopsd = optarg; break;
		case O_THRESHOLDS: o->thresholds = optarg; break;
		case O_REPLAY_LOGS: o->replay_logs = optarg; break;
		case O_NO_TELEMETRY: o->telemetry = 0; break;
		case O_TOKEN: o->token = optarg; break;
		case O_TEL_TOPIC: o->telemetry_topic = optarg; break;
		case O_TEL_GROUP: o->telemetry_group = optarg; break;
		case O_ACT_TOPIC: o->actions_topic = optarg; break;
		case O_BATCH:
			if ((v = fo_num(optarg)) < 1 || v > 100000 || v != (double)(size_t)v) {
				fprintf(stderr,
				        "fleetops-operator: --batch wants 1..100000, not %s\n",
				        optarg);
				return 2;
			}
			o->ic.batch_max = (size_t)v;
			break;
		case O_PROGRESS:
		case O_IDLE:
		case O_PULLOVER:
			if ((v = fo_num(optarg)) < 0) {
				fprintf(stderr,
				        "fleetops-operator: --%s wants seconds >= 0, not %s\n",
				        c == O_IDLE       ? "idle-exit"
				        : c == O_PULLOVER ? "pullover-delay"
				                          : "progress",
				        optarg);
				return 2;
			}
			*(c == O_IDLE       ? &o->ic.idle_exit
			  : c == O_PULLOVER ? &o->pullover_delay
			                    : &o->ic.progress_interval) = v;
			break;
		case 'X':
			if (!strchr(optarg, '=') || o->ic.nprops == FO_MAX_PROPS) {
				fprintf(stderr,
				        "fleetops-operator: -X wants key=value (at most %d)\n",
				        FO_MAX_PROPS);
				return 2;
			}
			props[o->ic.nprops++] = optarg;
			break;
		case O_MIGRATE: o->migrate_only = 1; break;
		case O_QUIET: fo_log_set_level(FO_LOG_WARN); break;
		case 'h': fo_usage(stdout); return 0;
		default: fprintf(stderr, "Try 'fleetops-operator --help'.\n"); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetops-operator: unexpected argument '%s'; try --help\n",
		        argv[optind]);
		return 2;
	}
	if (!o->ic.dsn || !*o->ic.dsn) {
		fprintf(stderr, "fleetops-operator: no database: pass --pg-dsn or set PG_DSN "
		                "(./tools/services.sh env prints it)\n");
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	fo_log_init("fleetops-operator");
	const char *props[FO_MAX_PROPS];
	fo_opts o = {.ic = {.dsn = getenv("PG_DSN"), .progress_interval = 10, .migrate = 1},
	             .listen = "127.0.0.1:8080",
	             .pullover_delay = 5,
	             .telemetry = 1};
	int rc = fo_parse(argc, argv, &o, props);
	if (rc >= 0)
		return rc;
	if (o.migrate_only || o.token)
		return fo_db_command(o.ic.dsn, o.token);
	if (!o.ic.brokers)
		o.ic.brokers = "127.0.0.1:9092";
	o.ic.props = props;
	o.ic.stop = &fo_stop;
	struct sigaction sa = {.sa_handler = fo_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char err[1024], fleetopsd[PATH_MAX];
	int migrated = fo_migrate_early(o.ic.dsn);
	if (migrated < 0)
		return 1;
	o.ic.migrate = !migrated; /* else the ingest thread migrates once connected */
	fo_hub *hub = fo_hub_new(NULL, NULL);
	fo_fleet *fleet = NULL;
	fo_outbox *outbox = NULL;
	fo_replayctl *replay = NULL;
	fo_api *api = NULL;
	fo_http *http = NULL;
	fo_ingest *in = NULL;
	rc = 1;
	o.ic.hub = hub;
	if (!hub || !(in = fo_ingest_new(&o.ic, err, sizeof(err)))) {
		fprintf(stderr, "fleetops-operator: %s\n", hub ? err : "out of memory");
		fo_hub_destroy(hub);
		return 2;
	}
	if (o.telemetry) {
		fo_fleet_conf fc = {.brokers = o.ic.brokers,
		                    .topic = o.telemetry_topic,
		                    .group = o.telemetry_group,
		                    .dsn = o.ic.dsn,
		                    .emit = fo_emit,
		                    .emit_arg = hub,
		                    .open_alerts = fo_open_alerts};
		if (!(fleet = fo_fleet_start(&fc, err, sizeof(err)))) {
			fo_log(FO_LOG_ERROR, "fleet_failed", err);
			goto out;
		}
	}
	o.ic.fleet = fleet;
	fo_outbox_conf oc = {.brokers = o.ic.brokers, .dsn = o.ic.dsn, .topic = o.actions_topic};
	if (!(outbox = fo_outbox_start(&oc, err, sizeof(err)))) {
		fo_log(FO_LOG_ERROR, "outbox_failed", err);
		goto out;
	}
	if (!o.fleetopsd)
		o.fleetopsd = fo_default_fleetopsd(fleetopsd, sizeof(fleetopsd));
	if (o.fleetopsd) {
		fo_replayctl_conf rcc = {.fleetopsd = o.fleetopsd,
		                         .dataset = o.dataset,
		                         .brokers = o.ic.brokers,
		                         .thresholds = o.thresholds,
		                         .log_dir = o.replay_logs};
		if (!(replay = fo_replayctl_new(&rcc, err, sizeof(err)))) {
			fo_log(FO_LOG_ERROR, "replay_control_failed", err);
			goto out;
		}
	}
	fo_api_conf ac = {.dsn = o.ic.dsn,
	                  .hub = hub,
	                  .fleet = fleet,
	                  .outbox = outbox,
	                  .replay = replay,
	                  .pullover_delay = o.pullover_delay};
	if (!(api = fo_api_start(&ac, err, sizeof(err)))) {
		fo_log(FO_LOG_ERROR, "api_failed", err);
		goto out;
	}
	atomic_store(&fo_the_api, api);
	fo_http_conf hc = {.listen = o.listen,
	                   .ui_dir = o.ui,
	                   .api = api,
	                   .hub = hub,
	                   .in = in,
	                   .fleet = fleet,
	                   .outbox = outbox,
	                   .replay = replay};
	if (!(http = fo_http_start(&hc, err, sizeof(err)))) {
		fo_log(FO_LOG_ERROR, "http_failed", err);
		goto out;
	}
	if (fo_ingest_run(in, err, sizeof(err)) < 0)
		fo_log(FO_LOG_ERROR, "operator_failed", err);
	else
		rc = 0;
out:
	/* producers of jobs and messages first, their consumers after */
	fo_http_stop(http);
	fo_api_stop(api);
	fo_fleet_stop(fleet);
	atomic_store(&fo_the_api, NULL);
	fo_api_destroy(api);
	fo_outbox_stop(outbox);
	fo_replayctl_destroy(replay);
	fo_ingest_destroy(in);
	fo_hub_destroy(hub);
	if (rc == 0)
		fo_log(FO_LOG_INFO, "operator_stopped", NULL, FO_KB("signal", fo_stop));
	return rc;
}
