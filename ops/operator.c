/*
 * fleetops-operator: anomalies become alerts in PostgreSQL.
 *
 * main parses flags, starts the HTTP API (http.h: its network and query
 * threads), and runs the ingest (ingest.h: migrations, then the topic into
 * PostgreSQL) on the main thread until SIGINT/SIGTERM: the batch in hand is
 * written if PostgreSQL answers, offsets are committed, the consumer leaves
 * its group, the HTTP threads stop, and the process exits 0. Logs are JSON
 * lines on stderr.
 * Exit status: 0 stopped cleanly (or migrations applied with
 * --migrate-only), 1 runtime failure (a changed migration, Kafka), 2 usage.
 */
#include "db.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "migrations.h"

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
	    "\n"
	    "Turns the anomalies that fleetopsd detects into alerts an operator can act on.\n"
	    "It consumes the Kafka topic `anomalies` (consumer group operator-service-group),\n"
	    "writes one alert per anomaly_id into PostgreSQL (a repeated anomaly changes\n"
	    "nothing), keeps each vehicle's state (NORMAL, DEGRADED, ALERTING) in step with\n"
	    "its open alerts, and commits Kafka offsets only once the rows are committed.\n"
	    "Messages that are not valid AnomalyEvents go to `anomalies.dlq` with the reason.\n"
	    "If PostgreSQL goes away it holds what it has, retries with backoff and catches\n"
	    "up when the database is back. The schema is created or upgraded at start\n"
	    "(versioned migrations, recorded in the table schema_migrations).\n"
	    "\n"
	    "Options:\n"
	    "  --brokers HOST:PORT   Kafka bootstrap servers (default 127.0.0.1:9092)\n"
	    "  --pg-dsn DSN          PostgreSQL connection string or URI (default: $PG_DSN),\n"
	    "                        e.g. postgresql://fleetops:fleetops@127.0.0.1:5433/fleetops\n"
	    "  --group NAME          consumer group (default operator-service-group)\n"
	    "  --topic NAME          topic to consume (default anomalies; DLQ NAME.dlq)\n"
	    "  --batch N             anomalies per PostgreSQL transaction, at most (default "
	    "1000)\n"
	    "  --progress SECONDS    log ingest counters this often (default 10; 0: never)\n"
	    "  --idle-exit SECONDS   stop after this long without messages (default: never)\n"
	    "  -X key=value          a librdkafka consumer setting (repeatable)\n"
	    "  --migrate-only        apply the schema migrations, print how many, and exit\n"
	    "  --quiet               log warnings and errors only\n"
	    "  -h, --help            this text\n"
	    "\n"
	    "Start Kafka and PostgreSQL first (./tools/services.sh start; it prints the\n"
	    "endpoints with ./tools/services.sh env), then for example:\n"
	    "  fleetops-operator --brokers 127.0.0.1:9092 \\\n"
	    "      --pg-dsn postgresql://fleetops:fleetops@127.0.0.1:5433/fleetops\n"
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

int main(int argc, char **argv)
{
	fo_log_init("fleetops-operator");
	const char *props[FO_MAX_PROPS];
	fo_ingest_conf ic = {.dsn = getenv("PG_DSN"), .progress_interval = 10, .migrate = 1};
	int migrate_only = 0;
	const char *listen = "127.0.0.1:8080";
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
		O_QUIET
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
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	double v;
	while ((c = getopt_long(argc, argv, "hX:", opts, NULL)) != -1) {
		switch (c) {
		case O_BROKERS: ic.brokers = optarg; break;
		case O_DSN: ic.dsn = optarg; break;
		case O_LISTEN: listen = optarg; break;
		case O_GROUP: ic.group = optarg; break;
		case O_TOPIC: ic.topic = optarg; break;
		case O_BATCH:
			if ((v = fo_num(optarg)) < 1 || v > 100000 || v != (double)(size_t)v) {
				fprintf(stderr,
				        "fleetops-operator: --batch wants 1..100000, not %s\n",
				        optarg);
				return 2;
			}
			ic.batch_max = (size_t)v;
			break;
		case O_PROGRESS:
		case O_IDLE:
			if ((v = fo_num(optarg)) < 0) {
				fprintf(stderr,
				        "fleetops-operator: --%s wants seconds >= 0, not %s\n",
				        c == O_IDLE ? "idle-exit" : "progress", optarg);
				return 2;
			}
			*(c == O_IDLE ? &ic.idle_exit : &ic.progress_interval) = v;
			break;
		case 'X':
			if (!strchr(optarg, '=') || ic.nprops == FO_MAX_PROPS) {
				fprintf(stderr,
				        "fleetops-operator: -X wants key=value (at most %d)\n",
				        FO_MAX_PROPS);
				return 2;
			}
			props[ic.nprops++] = optarg;
			break;
		case O_MIGRATE: migrate_only = 1; break;
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
	if (!ic.dsn || !*ic.dsn) {
		fprintf(stderr, "fleetops-operator: no database: pass --pg-dsn or set PG_DSN "
		                "(./tools/services.sh env prints it)\n");
		return 2;
	}
	ic.props = props;
	ic.stop = &fo_stop;
	struct sigaction sa = {.sa_handler = fo_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char err[1024];
	if (migrate_only) {
		fo_db *db = fo_db_new(ic.dsn);
		int applied = 0;
		fo_db_rc rc = db ? fo_db_connect(db, err, sizeof(err)) : FO_DB_EFAIL;
		if (rc == FO_DB_OK)
			rc = fo_db_migrate(db, &applied, err, sizeof(err));
		fo_db_destroy(db);
		if (rc != FO_DB_OK) {
			fo_log(FO_LOG_ERROR, "migrate_failed", err);
			return 1;
		}
		fo_log(FO_LOG_INFO, "migrations_done", NULL, FO_KI("applied", applied),
		       FO_KU("schema_version", fo_migrations_count));
		printf("{\"applied\":%d,\"schema_version\":%zu}\n", applied, fo_migrations_count);
		return 0;
	}

	fo_ingest *in = fo_ingest_new(&ic, err, sizeof(err));
	if (!in) {
		fprintf(stderr, "fleetops-operator: %s\n", err);
		return 2;
	}
	fo_http_conf hc = {.listen = listen, .dsn = ic.dsn, .in = in};
	fo_http *http = fo_http_start(&hc, err, sizeof(err));
	if (!http) {
		fo_log(FO_LOG_ERROR, "http_failed", err);
		fo_ingest_destroy(in);
		return 1;
	}
	int rc = fo_ingest_run(in, err, sizeof(err));
	fo_http_stop(http);
	if (rc < 0)
		fo_log(FO_LOG_ERROR, "operator_failed", err);
	else
		fo_log(FO_LOG_INFO, "operator_stopped", NULL, FO_KB("signal", fo_stop));
	fo_ingest_destroy(in);
	return rc < 0 ? 1 : 0;
}
