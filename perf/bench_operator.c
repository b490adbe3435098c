/*
 * bench_operator: what fleetops-operator sustains, against the real broker
 * and PostgreSQL on this machine.
 *
 *   ingest     N AnomalyEvents (default 200,000; ~50 vehicles, unique
 *              anomaly_id and event_id) are produced to a topic of this run
 *              (6 partitions, like `anomalies`) before the operator starts;
 *              then fleetops-operator starts on a throwaway database and
 *              the alerts table is counted every 100 ms until it holds N.
 *              Alerts/s is N over the time from the first row to the last
 *              (also from the process start, and from the rows' own
 *              created_at, which is each transaction's start). The
 *              operator's counters come from GET /metrics, CPU seconds of
 *              the operator and of its PostgreSQL backends from /proc.
 *   broadcast  a fresh operator (its own database and topic), caught up;
 *              CLIENTS WebSocket clients (one libwebsockets context, one
 *              service thread) connect with a bearer token and wait for
 *              their snapshot; then anomalies are produced at RATE/s for
 *              SECONDS s, each one's produce time (CLOCK_REALTIME) kept by
 *              its index, which its anomaly_id carries. Every client takes
 *              the receipt time of each alert_created message and records
 *              receipt - produce for every anomaly_id in it: p50/p99/max
 *              over all (client, alert) pairs, every alert missing or
 *              doubled on any client counted. Also the time from produce
 *              to the alert's transaction start (created_at), which splits
 *              Kafka + consume from PostgreSQL + broadcast, and the
 *              server's fleetops_broadcast_seconds from GET /metrics.
 *
 * Threads: main (setup, producing, polling PostgreSQL, reports) and, in
 * broadcast, the lws service thread, which owns the lws context, every
 * client and the latency histogram; main reads the clients' counters
 * through atomics while it runs and everything else after joining it. The
 * produce times are an array of atomics main writes before producing and
 * the service thread reads after the message came back through Kafka,
 * PostgreSQL and the operator.
 *
 * Everything it creates is removed at the end: the databases
 * (fo_bench_<pid>_<phase>), the topics (fo-bench-<pid>-<phase>-anomalies,
 * its .dlq, -actions) and the consumer groups. Human summaries go to
 * stdout, each followed by one JSON line of results; progress is JSON log
 * lines on stderr. A benchmark: it exits 0 whatever the figures are, 1
 * when it could not measure (a service away, the operator failing), 2 on
 * bad usage.
 */
#include "hist.h"
#include "json.h"
#include "log.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <libwebsockets.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PARTS    6
#define VEHICLES 50

static const char *const usage_text =
    "Usage: bench_operator [OPTIONS]\n"
    "\n"
    "Measures fleetops-operator against the real Kafka and PostgreSQL:\n"
    "  ingest     alerts/s from a topic into PostgreSQL: N anomalies are produced\n"
    "             first, then the operator starts on a throwaway database and the\n"
    "             alerts table is counted every 100 ms until it holds N.\n"
    "  broadcast  latency from producing an anomaly to its alert_created message\n"
    "             at each of CLIENTS WebSocket clients, at RATE anomalies/s for\n"
    "             SECONDS s; p50/p99/max over every (client, alert) pair, and every\n"
    "             alert a client did not get.\n"
    "Each prints a summary and one JSON line on stdout; progress goes to stderr.\n"
    "Topics, consumer groups and databases are this run's own and are removed\n"
    "at the end; the services' other data is not touched.\n"
    "\n"
    "Options:\n"
    "  --brokers HOST:PORT  Kafka (default $KAFKA_BROKERS, else 127.0.0.1:9092)\n"
    "  --pg-dsn DSN         a PostgreSQL role that may CREATE DATABASE (default $PG_DSN)\n"
    "  --operator PATH      fleetops-operator (default $FO_BINARY_DIR/bin/fleetops-operator,\n"
    "                       else next to this program)\n"
    "  --only PHASE         ingest or broadcast (default both)\n"
    "  --anomalies N        ingest: anomalies to produce (default 200000)\n"
    "  --batch N            ingest: the operator's --batch (default: its own, 1000)\n"
    "  --clients N          broadcast: WebSocket clients (default 100)\n"
    "  --rate N             broadcast: anomalies per second (default 2000)\n"
    "  --seconds N          broadcast: how long to produce (default 10)\n"
    "  --log-dir DIR        where the operator's logs go (default /tmp)\n"
    "  -h, --help           this text\n"
    "\n"
    "Start the services first (./tools/services.sh start; ./tools/services.sh env\n"
    "prints KAFKA_BROKERS and PG_DSN), or use perf/bench_operator.sh, which does.\n"
    "Example:\n"
    "  eval \"$(./tools/services.sh env | sed 's/^/export /')\"\n"
    "  build/bin/bench_operator --only ingest --anomalies 50000\n"
    "Producers use linger.ms=1 in broadcast, so Kafka adds about a millisecond.\n"
    "FO_BENCH_LWS_DEBUG=1 in the environment logs libwebsockets' client detail.\n"
    "Exit status: 0 measured, 1 could not measure, 2 bad usage.\n";

static struct {
	const char *brokers, *pg_dsn, *operator_path, *only, *log_dir;
	long anomalies, batch;
	int clients, rate, seconds;
} cfg = {.anomalies = 200000, .clients = 100, .rate = 2000, .seconds = 10, .log_dir = "/tmp"};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double secs_since(int64_t t0)
{
	return (double)(fo_time_mono_ns() - t0) / 1e9;
}

/* ------------------------------------------------------------- a phase --- */

/* What one phase creates: a database, topics, a group, an operator. */
typedef struct bench_env {
	const char *phase;
	char db[64], dsn[1024], topic[96], dlq[112], actions[96], group[96], log[512];
	pid_t pid;
	int port;
	int64_t started_ns; /* fo_time_mono_ns at the operator's fork */
	PGconn *pg;         /* to the phase's database, for counting */
} bench_env;

static bench_env *live_env; /* what to clean up on a fatal error */
static void env_destroy(bench_env *e);

static void fail(const char *what, const char *detail)
{
	fo_log(FO_LOG_ERROR, "bench_failed", what, FO_KS("detail", detail ? detail : ""));
	fprintf(stderr, "bench_operator: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	if (live_env)
		env_destroy(live_env);
	exit(1);
}

/* ---------------------------------------------------------- PostgreSQL --- */

static void pg_quiet(void *arg, const char *msg)
{
	(void)arg, (void)msg;
}

static PGconn *pg_admin(void)
{
	PGconn *c = PQconnectdb(cfg.pg_dsn);
	if (PQstatus(c) != CONNECTION_OK)
		fail("PostgreSQL at --pg-dsn not reachable", PQerrorMessage(c));
	PQsetNoticeProcessor(c, pg_quiet, NULL);
	return c;
}

static int pg_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok =
	    r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
	PQclear(r);
	return ok ? 0 : -1;
}

/* The first value of sql's first row as a number; -1 on error or NULL
 * (quietly: the table may not exist yet). */
static double pg_num(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	double v = -1;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = atof(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* ---------------------------------------------------------------- Kafka --- */

static rd_kafka_t *kafka(int linger_ms)
{
	char e[512], linger[16];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	snprintf(linger, sizeof(linger), "%d", linger_ms);
	if (rd_kafka_conf_set(c, "bootstrap.servers", cfg.brokers, e, sizeof(e)) ||
	    rd_kafka_conf_set(c, "log_level", "3", e, sizeof(e)) ||
	    rd_kafka_conf_set(c, "linger.ms", linger, e, sizeof(e)) ||
	    rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", e, sizeof(e)) ||
	    rd_kafka_conf_set(c, "partitioner", "murmur2_random", e, sizeof(e)))
		fail("Kafka configuration", e);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
	if (!rk)
		fail("Kafka producer", e);
	return rk;
}

/* Creates (parts > 0) or deletes the topics; returns 0 or -1 (logged).
 * Deleting a topic that is not there is not an error. */
static int topics_admin(const char *const *names, const int *parts, size_t n, int create)
{
	rd_kafka_t *rk = kafka(5);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	char e[512];
	int rc = 0;
	if (create) {
		rd_kafka_NewTopic_t *nt[4];
		for (size_t i = 0; i < n; i++)
			nt[i] = rd_kafka_NewTopic_new(names[i], parts[i], 1, e, sizeof(e));
		rd_kafka_CreateTopics(rk, nt, n, NULL, q);
		for (size_t i = 0; i < n; i++)
			rd_kafka_NewTopic_destroy(nt[i]);
	} else {
		rd_kafka_DeleteTopic_t *dt[4];
		for (size_t i = 0; i < n; i++)
			dt[i] = rd_kafka_DeleteTopic_new(names[i]);
		rd_kafka_DeleteTopics(rk, dt, n, NULL, q);
		for (size_t i = 0; i < n; i++)
			rd_kafka_DeleteTopic_destroy(dt[i]);
	}
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	if (!ev || rd_kafka_event_error(ev)) {
		fo_log(FO_LOG_WARN, "topic_admin",
		       create ? "cannot create topics" : "cannot delete",
		       FO_KS("error", ev ? rd_kafka_event_error_string(ev) : "timeout"));
		rc = -1;
	} else {
		size_t k = 0;
		const rd_kafka_topic_result_t **r =
		    create ? rd_kafka_CreateTopics_result_topics(
		                 rd_kafka_event_CreateTopics_result(ev), &k)
		           : rd_kafka_DeleteTopics_result_topics(
		                 rd_kafka_event_DeleteTopics_result(ev), &k);
		for (size_t i = 0; i < k; i++) {
			rd_kafka_resp_err_t err = rd_kafka_topic_result_error(r[i]);
			if (err && !(!create && err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)) {
				fo_log(FO_LOG_WARN, "topic_admin",
				       create ? "cannot create topic" : "cannot delete topic",
				       FO_KS("topic", rd_kafka_topic_result_name(r[i])),
				       FO_KS("error", rd_kafka_err2str(err)));
				rc = -1;
			}
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

static void group_delete(const char *group)
{
	rd_kafka_t *rk = kafka(5);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_DeleteGroup_t *g = rd_kafka_DeleteGroup_new(group);
	rd_kafka_DeleteGroups(rk, &g, 1, NULL, q);
	rd_kafka_DeleteGroup_destroy(g);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

/* Anomaly i of a phase as an AnomalyEvent (the shape of
 * tests/ops/test_ingest_kafka.c): anomaly_id
 * "<tag>-<kind>-5000-8000-<i, 12 digits>", vehicle bench_v<i % 50>. */
static size_t anomaly(char *msg, size_t cap, unsigned tag, int kind, long i, char *vid, size_t vcap)
{
	static const char *const sev[] = {"INFO", "WARNING", "CRITICAL"};
	char now[FO_ISO8601_LEN + 1];
	fo_time_iso8601(fo_time_wall_ns(), now);
	snprintf(vid, vcap, "bench_v%02ld", i % VEHICLES);
	int n =
	    snprintf(msg, cap,
	             "{\"event_version\":\"1.0.0\",\"anomaly_id\":\"%08x-%04x-5000-8000-%012ld\","
	             "\"event_id\":\"%08x-%04x-5000-9000-%012ld\",\"vehicle_id\":\"%s\","
	             "\"event_time\":\"2019-10-23T16:08:01.502Z\","
	             "\"processing_time\":\"%s\","
	             "\"anomaly_type\":\"sudden_deceleration\",\"severity\":\"%s\","
	             "\"triggered_rule\":\"hard_braking\",\"features\":{\"decel_mps2\":5.5},"
	             "\"thresholds\":{\"decel_mps2\":4.0},\"evidence\":{\"frame_indices\":[%ld],"
	             "\"velocity_history\":[9.5],\"acceleration_history\":[-5.5]}}",
	             tag, kind, i, tag, kind, i, vid, now, sev[i % 3], i);
	return (size_t)n;
}

/* Produces one message; waits while the producer's queue is full. */
static void produce(rd_kafka_t *rk, const char *topic, int partition, const char *key,
                    const char *msg, size_t len)
{
	rd_kafka_resp_err_t err;
	while ((err = rd_kafka_producev(
	            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
	            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)msg, len),
	            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
	       RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(rk, 10);
	if (err)
		fail("produce", rd_kafka_err2str(err));
}

/* ----------------------------------------------------------------- HTTP --- */

/* GET path from 127.0.0.1:port (HTTP/1.1, Connection: close). Returns the
 * status (-1 if no answer within 10 s); *body is malloc'd (the caller
 * frees it), NUL-terminated. */
static int http_get(int port, const char *path, char **body)
{
	*body = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char req[512];
	int rl = snprintf(req, sizeof(req),
	                  "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
	                  path, port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || write(fd, req, (size_t)rl) != rl) {
		close(fd);
		return -1;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	long want = -1; /* whole response length once the headers are in */
	while (buf) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		ssize_t k = read(fd, buf + len, cap - len - 1);
		if (k <= 0)
			break;
		len += (size_t)k;
		buf[len] = '\0';
		char *eoh = strstr(buf, "\r\n\r\n");
		if (eoh && want < 0) {
			char *cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl && cl < eoh)
				want = (eoh + 4 - buf) + atol(cl + 17);
		}
		if (want >= 0 && (long)len >= want)
			break;
	}
	close(fd);
	if (!buf)
		return -1;
	buf[len] = '\0';
	int code = -1;
	char *eoh = strstr(buf, "\r\n\r\n");
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || !eoh) {
		free(buf);
		return -1;
	}
	code = atoi(buf + 9);
	memmove(buf, eoh + 4, len - (size_t)(eoh + 4 - buf) + 1);
	*body = buf;
	return code;
}

/* The value of the Prometheus sample `key` (name and labels exactly as
 * printed) in text, or NAN. */
static double prom(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return strtod(p + kl + 1, NULL);
	return NAN;
}

/* ------------------------------------------------------------ processes --- */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* User + system CPU seconds of a process so far (0 if it is gone). */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* fields after the command name */
	unsigned long long ut = 0, st = 0;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The machine's busy and total CPU time so far (jiffies, /proc/stat). */
static void machine_cpu(double *busy, double *total)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	                 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		memset(v, 0, sizeof(v));
	if (f)
		fclose(f);
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += (double)v[i];
	*busy = *total - (double)v[3] - (double)v[4]; /* minus idle and iowait */
}

/* The PostgreSQL backends serving the phase's database (the operator's
 * connections; this process's own is left out) and their CPU seconds. */
typedef struct pg_procs {
	int n;
	pid_t pid[16];
	double s[16];
} pg_procs;

static void pg_backends(bench_env *e, pg_procs *c)
{
	PGresult *r = PQexec(e->pg, "SELECT pid FROM pg_stat_activity WHERE datname = "
	                            "current_database() AND pid <> pg_backend_pid()");
	c->n = 0;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
		for (int i = 0; i < PQntuples(r) && c->n < 16; i++, c->n++) {
			c->pid[c->n] = (pid_t)atoi(PQgetvalue(r, i, 0));
			c->s[c->n] = proc_cpu(c->pid[c->n]);
		}
	PQclear(r);
}

/* CPU seconds the backends used from `then` to now (a backend new since
 * counts whole; one gone since is missed). */
static double pg_backends_cpu(bench_env *e, const pg_procs *then)
{
	pg_procs now;
	pg_backends(e, &now);
	double s = 0;
	for (int i = 0; i < now.n; i++) {
		double before = 0;
		for (int j = 0; then && j < then->n; j++)
			if (then->pid[j] == now.pid[i])
				before = then->s[j];
		s += now.s[i] - before;
	}
	return s;
}

static void env_create(bench_env *e, const char *phase)
{
	memset(e, 0, sizeof(*e));
	e->phase = phase;
	e->pid = -1;
	int pid = (int)getpid();
	snprintf(e->db, sizeof(e->db), "fo_bench_%d_%s", pid, phase);
	snprintf(e->topic, sizeof(e->topic), "fo-bench-%d-%s-anomalies", pid, phase);
	snprintf(e->dlq, sizeof(e->dlq), "%s.dlq", e->topic);
	snprintf(e->actions, sizeof(e->actions), "fo-bench-%d-%s-actions", pid, phase);
	snprintf(e->group, sizeof(e->group), "fo-bench-%d-%s", pid, phase);
	snprintf(e->log, sizeof(e->log), "%s/fo-bench-operator-%d-%s.log", cfg.log_dir, pid, phase);
	PGconn *c = pg_admin();
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", e->db);
	pg_exec(c, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", e->db);
	if (pg_exec(c, sql) < 0)
		fail("CREATE DATABASE (the --pg-dsn role needs CREATEDB)", PQerrorMessage(c));
	snprintf(e->dsn, sizeof(e->dsn), "host=%s port=%s user=%s password=%s dbname=%s", PQhost(c),
	         PQport(c), PQuser(c), PQpass(c) ? PQpass(c) : "", e->db);
	PQfinish(c);
	live_env = e;
	e->pg = PQconnectdb(e->dsn);
	if (PQstatus(e->pg) != CONNECTION_OK)
		fail("connect to the bench database", PQerrorMessage(e->pg));
	PQsetNoticeProcessor(e->pg, pg_quiet, NULL);
	const char *names[] = {e->topic, e->dlq, e->actions};
	const int parts[] = {PARTS, 1, 1};
	if (topics_admin(names, parts, 3, 1) < 0)
		fail("cannot create the bench topics", e->topic);
	fo_log(FO_LOG_INFO, "bench_env", "database and topics created", FO_KS("phase", phase),
	       FO_KS("database", e->db), FO_KS("topic", e->topic));
}

/* Starts the operator on the phase's database and topic (its stderr to
 * e->log). */
static void operator_start(bench_env *e)
{
	char listen[64], batch[32];
	e->port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", e->port);
	snprintf(batch, sizeof(batch), "%ld", cfg.batch);
	const char *argv[32] = {"fleetops-operator",
	                        "--brokers",
	                        cfg.brokers,
	                        "--pg-dsn",
	                        e->dsn,
	                        "--topic",
	                        e->topic,
	                        "--group",
	                        e->group,
	                        "--no-telemetry",
	                        "--listen",
	                        listen,
	                        "--actions-topic",
	                        e->actions,
	                        "--progress",
	                        "1"};
	int argc = 16;
	if (cfg.batch > 0) {
		argv[argc++] = "--batch";
		argv[argc++] = batch;
	}
	argv[argc] = NULL;
	e->started_ns = fo_time_mono_ns();
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(e->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(cfg.operator_path, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", cfg.operator_path, strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		fail("fork", strerror(errno));
	e->pid = pid;
	fo_log(FO_LOG_INFO, "operator_start", "fleetops-operator started", FO_KI("pid", pid),
	       FO_KI("port", e->port), FO_KS("log", e->log));
}

/* 1 while the operator runs; 0 (and the reason logged) once it exited. */
static int operator_alive(bench_env *e)
{
	int st;
	if (e->pid <= 0)
		return 0;
	if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
		fo_log(FO_LOG_ERROR, "operator_exited", "fleetops-operator exited; see its log",
		       FO_KI("status", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)),
		       FO_KS("log", e->log));
		e->pid = -1;
		return 0;
	}
	return 1;
}

/* Waits until GET /health is 200 (Kafka and PostgreSQL up). */
static void operator_wait_healthy(bench_env *e, int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		char *b = NULL;
		int code = http_get(e->port, "/health", &b);
		free(b);
		if (code == 200)
			return;
		if (!operator_alive(e))
			fail("fleetops-operator exited at start", e->log);
		nap_ms(100);
	}
	fail("fleetops-operator not healthy in time (GET /health)", e->log);
}

static void operator_stop(bench_env *e)
{
	if (e->pid <= 0)
		return;
	kill(e->pid, SIGTERM);
	int st = 0;
	for (int i = 0; i < 150 && waitpid(e->pid, &st, WNOHANG) == 0; i++)
		nap_ms(100);
	if (waitpid(e->pid, &st, WNOHANG) == 0) {
		kill(e->pid, SIGKILL);
		waitpid(e->pid, &st, 0);
	}
	e->pid = -1;
}

/* `fleetops-operator --token NAME --pg-dsn DSN`: the token (its only line
 * on stdout) into tok. */
static void operator_token(bench_env *e, char *tok, size_t cap)
{
	int fd[2];
	if (pipe(fd) < 0)
		fail("pipe", strerror(errno));
	char name[64];
	snprintf(name, sizeof(name), "bench%d", (int)getpid());
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execl(cfg.operator_path, "fleetops-operator", "--token", name, "--pg-dsn", e->dsn,
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	size_t n = 0;
	ssize_t k;
	while (n + 1 < cap && (k = read(fd[0], tok + n, cap - n - 1)) > 0)
		n += (size_t)k;
	close(fd[0]);
	tok[n] = '\0';
	int st = 0;
	waitpid(pid, &st, 0);
	tok[strcspn(tok, "\r\n")] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !*tok)
		fail("fleetops-operator --token failed", name);
}

static void env_destroy(bench_env *e)
{
	live_env = NULL;
	operator_stop(e);
	if (e->pg)
		PQfinish(e->pg);
	e->pg = NULL;
	PGconn *c = PQconnectdb(cfg.pg_dsn);
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", e->db);
	if (PQstatus(c) != CONNECTION_OK || pg_exec(c, sql) < 0)
		fo_log(FO_LOG_WARN, "bench_cleanup", "cannot drop the bench database",
		       FO_KS("database", e->db));
	PQfinish(c);
	const char *names[] = {e->topic, e->dlq, e->actions};
	const int parts[] = {0, 0, 0};
	topics_admin(names, parts, 3, 0);
	group_delete(e->group);
	fo_log(FO_LOG_INFO, "bench_cleanup", "database, topics and group removed",
	       FO_KS("phase", e->phase));
}

/* The operator's counters from GET /metrics into jw as "operator":{...}
 * and printed; the text is returned (the caller frees it) or NULL. */
static char *operator_metrics(bench_env *e)
{
	char *body = NULL;
	int code = http_get(e->port, "/metrics", &body);
	if (code != 200) {
		fo_log(FO_LOG_WARN, "metrics", "GET /metrics failed", FO_KI("status", code));
		free(body);
		return NULL;
	}
	return body;
}

/* --------------------------------------------------------------- ingest --- */

static void bench_ingest(void)
{
	bench_env e;
	env_create(&e, "ingest");
	long n = cfg.anomalies;
	unsigned tag = (unsigned)getpid();

	/* 1. the topic holds every anomaly before the operator starts */
	rd_kafka_t *rk = kafka(5);
	int64_t t0 = fo_time_mono_ns(), last = t0;
	for (long i = 0; i < n && !interrupted; i++) {
		char msg[1024], vid[32];
		size_t len = anomaly(msg, sizeof(msg), tag, 0, i, vid, sizeof(vid));
		produce(rk, e.topic, RD_KAFKA_PARTITION_UA, vid, msg, len);
		rd_kafka_poll(rk, 0);
		if (fo_time_mono_ns() - last > 1000000000LL) {
			last = fo_time_mono_ns();
			fo_log(FO_LOG_INFO, "bench_produce", "producing", FO_KI("produced", i + 1),
			       FO_KI("of", n));
		}
	}
	if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		fail("Kafka flush", e.topic);
	rd_kafka_destroy(rk);
	double produce_s = secs_since(t0);
	fo_log(FO_LOG_INFO, "bench_produce", "topic filled", FO_KI("anomalies", n),
	       FO_KF("seconds", produce_s));

	/* 2. the operator drains it into PostgreSQL */
	double busy0, tot0, busy1, tot1;
	machine_cpu(&busy0, &tot0);
	operator_start(&e);
	int64_t t_first = 0, t_done = 0, t_prog = fo_time_mono_ns(), t_change = t_prog;
	long prev = 0, count = 0, prog_count = 0;
	double op_cpu = 0, pg_cpu = 0;
	while (!interrupted) {
		nap_ms(100);
		double c = pg_num(e.pg, "SELECT count(*) FROM alerts");
		int64_t now = fo_time_mono_ns();
		count = c < 0 ? 0 : (long)c;
		if (count > 0 && !t_first)
			t_first = now;
		if (count != prev)
			t_change = now;
		prev = count;
		if (count >= n) {
			t_done = now;
			op_cpu = proc_cpu(e.pid);
			pg_cpu = pg_backends_cpu(&e, NULL);
			machine_cpu(&busy1, &tot1);
			break;
		}
		if (now - t_prog >= 1000000000LL) {
			fo_log(FO_LOG_INFO, "bench_ingest", "alerts in PostgreSQL",
			       FO_KI("alerts", count), FO_KI("of", n),
			       FO_KF("per_s",
			             (double)(count - prog_count) * 1e9 / (double)(now - t_prog)));
			t_prog = now;
			prog_count = count;
		}
		if (!operator_alive(&e))
			fail("fleetops-operator exited during ingest", e.log);
		if (now - t_change > 60000000000LL)
			fail("no new alerts for 60 s", e.log);
	}
	if (interrupted)
		fail("interrupted", NULL);

	/* 3. what the rows and the operator say */
	double span = pg_num(e.pg, "SELECT extract(epoch FROM max(created_at) - min(created_at)) "
	                           "FROM alerts");
	double txns = pg_num(e.pg, "SELECT count(DISTINCT created_at) FROM alerts");
	double first_txn = pg_num(e.pg, "SELECT count(*) FROM alerts WHERE created_at = "
	                                "(SELECT min(created_at) FROM alerts)");
	char *health = NULL;
	http_get(e.port, "/health", &health);
	char *metrics = operator_metrics(&e);
	double startup_s = (double)(t_first - e.started_ns) / 1e9;
	double drain_s = (double)(t_done - t_first) / 1e9;
	double total_s = (double)(t_done - e.started_ns) / 1e9;
	double rate = drain_s > 0 ? (double)n / drain_s : 0;
	double rate_db = span > 0 ? ((double)n - first_txn) / span : 0;
	double busy_pct = tot1 > tot0 ? 100.0 * (busy1 - busy0) / (tot1 - tot0) : 0;
	double consumed = metrics ? prom(metrics, "fleetops_anomalies_consumed_total") : NAN;
	double inserted = metrics ? prom(metrics, "fleetops_alerts_inserted_total") : NAN;
	double dups = metrics ? prom(metrics, "fleetops_anomalies_duplicate_total") : NAN;
	double dlq = metrics ? prom(metrics, "fleetops_anomalies_dlq_total") : NAN;
	double lag = metrics ? prom(metrics, "fleetops_consumer_lag") : NAN;

	printf("== ingest: %ld anomalies, topic %s (%d partitions), operator batch %s\n", n,
	       e.topic, PARTS, cfg.batch > 0 ? "(--batch)" : "1000 (default)");
	printf("  produced in %.2f s (%.0f/s), before the operator started\n", produce_s,
	       (double)n / produce_s);
	printf("  operator start to first alert row: %.2f s (migrations, group join)\n", startup_s);
	printf("  first row to all %ld rows:          %.2f s = %.0f alerts/s  <- sustained\n", n,
	       drain_s, rate);
	printf("  by created_at (transaction starts): %.2f s over %.0f transactions = %.0f "
	       "alerts/s\n",
	       span, txns, rate_db);
	printf("  from the operator's start:          %.2f s = %.0f alerts/s\n", total_s,
	       (double)n / total_s);
	printf("  CPU while draining: operator %.2f s, its PostgreSQL backends %.2f s, machine "
	       "%.0f%% busy (%ld cores)\n",
	       op_cpu, pg_cpu, busy_pct, sysconf(_SC_NPROCESSORS_ONLN));
	printf("  operator /metrics: consumed %.0f, alerts inserted %.0f, duplicates %.0f, dlq "
	       "%.0f, consumer lag %.0f\n",
	       consumed, inserted, dups, dlq, lag);
	printf("  operator /health: %s\n", health ? health : "(no answer)");

	char out[4096];
	fo_jw jw;
	fo_jw_init(&jw, out, sizeof(out));
	fo_jw_lit(&jw, "{\"bench\":\"operator_ingest\",\"anomalies\":");
	fo_jw_i64(&jw, n);
	fo_jw_lit(&jw, ",\"partitions\":");
	fo_jw_i64(&jw, PARTS);
	fo_jw_lit(&jw, ",\"batch\":");
	fo_jw_i64(&jw, cfg.batch > 0 ? cfg.batch : 1000);
	fo_jw_lit(&jw, ",\"produce_s\":");
	fo_jw_fixed(&jw, produce_s, 3);
	fo_jw_lit(&jw, ",\"startup_s\":");
	fo_jw_fixed(&jw, startup_s, 3);
	fo_jw_lit(&jw, ",\"drain_s\":");
	fo_jw_fixed(&jw, drain_s, 3);
	fo_jw_lit(&jw, ",\"alerts_per_s\":");
	fo_jw_fixed(&jw, rate, 0);
	fo_jw_lit(&jw, ",\"alerts_per_s_created_at\":");
	fo_jw_fixed(&jw, rate_db, 0);
	fo_jw_lit(&jw, ",\"alerts_per_s_from_start\":");
	fo_jw_fixed(&jw, (double)n / total_s, 0);
	fo_jw_lit(&jw, ",\"transactions\":");
	fo_jw_fixed(&jw, txns, 0);
	fo_jw_lit(&jw, ",\"operator_cpu_s\":");
	fo_jw_fixed(&jw, op_cpu, 2);
	fo_jw_lit(&jw, ",\"postgres_cpu_s\":");
	fo_jw_fixed(&jw, pg_cpu, 2);
	fo_jw_lit(&jw, ",\"machine_busy_pct\":");
	fo_jw_fixed(&jw, busy_pct, 1);
	fo_jw_lit(&jw, ",\"operator\":{\"consumed\":");
	fo_jw_fixed(&jw, consumed, 0);
	fo_jw_lit(&jw, ",\"alerts_inserted\":");
	fo_jw_fixed(&jw, inserted, 0);
	fo_jw_lit(&jw, ",\"duplicates\":");
	fo_jw_fixed(&jw, dups, 0);
	fo_jw_lit(&jw, ",\"dlq\":");
	fo_jw_fixed(&jw, dlq, 0);
	fo_jw_lit(&jw, ",\"consumer_lag\":");
	fo_jw_fixed(&jw, lag, 0);
	fo_jw_lit(&jw, "}}");
	printf("%.*s\n", (int)jw.len, out);
	fflush(stdout);
	free(health);
	free(metrics);
	env_destroy(&e);
}

/* ------------------------------------------------------------ broadcast --- */

/* One WebSocket client; the service thread's, except the atomics. */
typedef struct ws_client {
	struct lws *wsi;
	char *buf; /* the message being reassembled */
	size_t len, cap;
	uint8_t *seen; /* per anomaly index */
	uint64_t got, dups, msgs;
	int64_t connect_ns, snapshot_ns; /* fo_time_mono_ns */
	int close_code;
	atomic_int snapshot, closed;
} ws_client;

static struct {
	struct lws_context *ctx;
	ws_client *c;
	int n;
	char path[256];
	int port;
	unsigned tag;
	long total;
	_Atomic int64_t *produced_ns; /* per anomaly index, CLOCK_REALTIME; 0 not yet */
	fo_hist *lat;                 /* receipt - produce, service thread */
	atomic_ullong received;       /* (client, alert) pairs, all clients */
	atomic_int stop, snapshots, closed, failed;
	uint64_t foreign, alert_msgs, other_msgs;
	atomic_ullong bytes; /* read by the clients, service thread writes */
} ws;

static void ws_message(ws_client *c, int64_t recv_wall)
{
	if (!atomic_load_explicit(&c->snapshot, memory_order_relaxed)) {
		if (c->len > 24 && memmem(c->buf, 32, "\"snapshot\"", 10)) {
			c->snapshot_ns = fo_time_mono_ns();
			atomic_store(&c->snapshot, 1);
			atomic_fetch_add(&ws.snapshots, 1);
		}
		return;
	}
	c->msgs++;
	if (c->len < 32 || !memmem(c->buf, 40, "\"alert_created\"", 15)) {
		ws.other_msgs++;
		return;
	}
	ws.alert_msgs++;
	/* "anomaly_id" : "TAG-0001-5000-8000-IIIIIIIIIIII", spaces allowed */
	char pre[16];
	snprintf(pre, sizeof(pre), "%08x-0001-", ws.tag);
	const char *p = c->buf, *end = c->buf + c->len;
	uint64_t got = 0;
	while ((p = memmem(p, (size_t)(end - p), "\"anomaly_id\"", 12))) {
		p += 12;
		while (p < end && (*p == ' ' || *p == ':'))
			p++;
		if (p + 38 > end || *p != '"')
			continue;
		p++;
		if (memcmp(p, pre, 14) != 0) {
			ws.foreign++; /* the warm-up's, or not this run's */
			continue;
		}
		long i = strtol(p + 24, NULL, 10);
		if (i < 0 || i >= ws.total) {
			ws.foreign++;
			continue;
		}
		int64_t sent = atomic_load_explicit(&ws.produced_ns[i], memory_order_relaxed);
		if (c->seen[i]) {
			c->dups++;
			continue;
		}
		c->seen[i] = 1;
		c->got++;
		got++;
		fo_hist_record(ws.lat, sent ? recv_wall - sent : -1);
	}
	atomic_fetch_add_explicit(&ws.received, got, memory_order_relaxed);
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	(void)user;
	ws_client *c = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fo_log(FO_LOG_WARN, "ws_connect_error", "WebSocket client could not connect",
		       FO_KS("error", in ? (const char *)in : ""));
		if (c) {
			atomic_store(&c->closed, 1);
			atomic_fetch_add(&ws.failed, 1);
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		int64_t now = fo_time_wall_ns();
		if (!c)
			break;
		if (c->len + len + 1 > c->cap) {
			size_t cap = c->cap ? c->cap : 65536;
			while (cap < c->len + len + 1)
				cap *= 2;
			char *nb = realloc(c->buf, cap);
			if (!nb)
				return -1;
			c->buf = nb;
			c->cap = cap;
		}
		memcpy(c->buf + c->len, in, len);
		c->len += len;
		atomic_fetch_add_explicit(&ws.bytes, len, memory_order_relaxed);
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			c->buf[c->len] = '\0';
			ws_message(c, now);
			c->len = 0;
		}
		break;
	}
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c && len >= 2)
			c->close_code =
			    ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c && !atomic_exchange(&c->closed, 1))
			atomic_fetch_add(&ws.closed, 1);
		break;
	default: break;
	}
	return 0;
}

static const struct lws_protocols ws_protocols[] = {
    {.name = "fo-bench", .callback = ws_cb, .rx_buffer_size = 65536}, {.name = NULL}};

/* The service thread: connects every client, then serves until ws.stop. */
static void *ws_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < ws.n; i++) {
		struct lws_client_connect_info ci;
		memset(&ci, 0, sizeof(ci));
		ci.context = ws.ctx;
		ci.address = "127.0.0.1";
		ci.port = ws.port;
		ci.path = ws.path;
		ci.host = "127.0.0.1";
		ci.origin = "127.0.0.1";
		ci.protocol = NULL;
		ci.local_protocol_name = "fo-bench";
		ci.opaque_user_data = &ws.c[i];
		ws.c[i].connect_ns = fo_time_mono_ns();
		ci.pwsi = &ws.c[i].wsi;
		if (!lws_client_connect_via_info(&ci)) {
			atomic_store(&ws.c[i].closed, 1);
			atomic_fetch_add(&ws.failed, 1);
		}
	}
	while (!atomic_load(&ws.stop))
		if (lws_service(ws.ctx, 0) < 0)
			break;
	return NULL;
}

static void ws_lws_log(int level, const char *line)
{
	(void)level;
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", line);
	msg[strcspn(msg, "\n")] = '\0';
	fo_log(FO_LOG_WARN, "lws", msg);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void bench_broadcast(void)
{
	bench_env e;
	env_create(&e, "broadcast");
	unsigned tag = (unsigned)getpid();
	long total = (long)cfg.rate * cfg.seconds;
	operator_start(&e);
	operator_wait_healthy(&e, 60);

	/* 1. warm-up: one anomaly per partition, so that the group has joined
	 *    and every partition is being fetched before the clock runs */
	rd_kafka_t *rk = kafka(1);
	for (int p = 0; p < PARTS; p++) {
		char msg[1024], vid[32];
		size_t len = anomaly(msg, sizeof(msg), tag, 2, p, vid, sizeof(vid));
		produce(rk, e.topic, p, vid, msg, len);
	}
	rd_kafka_flush(rk, 30000);
	for (int i = 0; i < 600 && pg_num(e.pg, "SELECT count(*) FROM alerts") < PARTS; i++) {
		if (!operator_alive(&e))
			fail("fleetops-operator exited", e.log);
		nap_ms(100);
	}
	if (pg_num(e.pg, "SELECT count(*) FROM alerts") < PARTS)
		fail("the warm-up anomalies did not become alerts in 60 s", e.log);
	char token[256];
	operator_token(&e, token, sizeof(token));

	/* 2. the clients, each waiting for its snapshot */
	ws.n = cfg.clients;
	ws.port = e.port;
	ws.tag = tag;
	ws.total = total;
	snprintf(ws.path, sizeof(ws.path), "/ws?token=%s", token);
	ws.c = calloc((size_t)ws.n, sizeof(*ws.c));
	ws.produced_ns = calloc((size_t)total, sizeof(*ws.produced_ns));
	ws.lat = fo_hist_new();
	if (!ws.c || !ws.produced_ns || !ws.lat)
		fail("out of memory", NULL);
	for (int i = 0; i < ws.n; i++)
		if (!(ws.c[i].seen = calloc((size_t)total, 1)))
			fail("out of memory", NULL);
	lws_set_log_level(getenv("FO_BENCH_LWS_DEBUG") ? 0xfff : LLL_ERR | LLL_WARN, ws_lws_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.fd_limit_per_thread = (unsigned)ws.n + 64;
	if (!(ws.ctx = lws_create_context(&info)))
		fail("lws_create_context", NULL);
	pthread_t svc;
	int64_t t_conn = fo_time_mono_ns();
	if (pthread_create(&svc, NULL, ws_main, NULL) != 0)
		fail("pthread_create", NULL);
	while (atomic_load(&ws.snapshots) + atomic_load(&ws.failed) + atomic_load(&ws.closed) <
	           ws.n &&
	       secs_since(t_conn) < 120 && !interrupted)
		nap_ms(10);
	double snap_all_s = secs_since(t_conn);
	if (atomic_load(&ws.snapshots) < ws.n) {
		atomic_store(&ws.stop, 1);
		lws_cancel_service(ws.ctx);
		pthread_join(svc, NULL);
		char d[128];
		snprintf(d, sizeof(d), "%d of %d clients got a snapshot (%d failed, %d closed)",
		         atomic_load(&ws.snapshots), ws.n, atomic_load(&ws.failed),
		         atomic_load(&ws.closed));
		fail("WebSocket clients", d);
	}
	fo_log(FO_LOG_INFO, "bench_clients", "every client has its snapshot",
	       FO_KI("clients", ws.n), FO_KF("seconds", snap_all_s));

	/* 3. anomalies at a steady rate */
	double busy0, tot0, busy1, tot1;
	machine_cpu(&busy0, &tot0);
	pg_procs pg0;
	pg_backends(&e, &pg0);
	double op_cpu0 = proc_cpu(e.pid), me_cpu0 = proc_cpu(getpid());
	uint64_t bytes0 = atomic_load(&ws.bytes);
	int64_t t0 = fo_time_mono_ns(), t_prog = t0;
	int64_t step = 1000000000LL / cfg.rate;
	for (long i = 0; i < total && !interrupted; i++) {
		int64_t due = t0 + i * step, now = fo_time_mono_ns();
		if (due > now) {
			struct timespec ts = {due / 1000000000LL, due % 1000000000LL};
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		char msg[1024], vid[32];
		size_t len = anomaly(msg, sizeof(msg), tag, 1, i, vid, sizeof(vid));
		atomic_store_explicit(&ws.produced_ns[i], fo_time_wall_ns(), memory_order_relaxed);
		produce(rk, e.topic, RD_KAFKA_PARTITION_UA, vid, msg, len);
		rd_kafka_poll(rk, 0);
		if (fo_time_mono_ns() - t_prog >= 1000000000LL) {
			t_prog = fo_time_mono_ns();
			fo_log(FO_LOG_INFO, "bench_broadcast", "producing",
			       FO_KI("produced", i + 1), FO_KI("of", total),
			       FO_KU("received_pairs", atomic_load(&ws.received)),
			       FO_KI("clients_closed", atomic_load(&ws.closed)));
		}
	}
	double produce_s = secs_since(t0);
	rd_kafka_flush(rk, 30000);
	rd_kafka_destroy(rk);

	/* 4. until every client has every alert, or nothing new for 10 s */
	uint64_t want = (uint64_t)total * (uint64_t)ws.n, prev = 0;
	int64_t t_change = fo_time_mono_ns();
	while (!interrupted) {
		uint64_t r = atomic_load(&ws.received);
		if (r >= want || atomic_load(&ws.closed) == ws.n)
			break;
		if (r != prev) {
			prev = r;
			t_change = fo_time_mono_ns();
		}
		if (!operator_alive(&e))
			fail("fleetops-operator exited during the broadcast (stopped from "
			     "elsewhere?)",
			     e.log);
		if (secs_since(t_change) > 10)
			break;
		nap_ms(20);
	}
	double drain_s = secs_since(t0) - produce_s;
	double op_cpu = proc_cpu(e.pid) - op_cpu0, pg_cpu = pg_backends_cpu(&e, &pg0);
	double me_cpu = proc_cpu(getpid()) - me_cpu0;
	machine_cpu(&busy1, &tot1);
	char *metrics = operator_metrics(&e);
	atomic_store(&ws.stop, 1);
	lws_cancel_service(ws.ctx);
	pthread_join(svc, NULL);
	lws_context_destroy(ws.ctx);

	/* 5. produce -> transaction start, from the rows' created_at */
	fo_hist *txn = fo_hist_new();
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT right(anomaly_id::text, 12)::bigint, "
	         "(extract(epoch FROM created_at) * 1000000)::bigint FROM alerts "
	         "WHERE anomaly_id::text LIKE '%08x-0001-%%'",
	         tag);
	PGresult *r = PQexec(e.pg, sql);
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK && txn)
		for (int i = 0; i < PQntuples(r); i++) {
			long k = atol(PQgetvalue(r, i, 0));
			int64_t created = atoll(PQgetvalue(r, i, 1)) * 1000;
			if (k >= 0 && k < total && ws.produced_ns[k])
				fo_hist_record(txn, created - ws.produced_ns[k]);
		}
	long rows = r && PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
	PQclear(r);

	/* 6. the report */
	uint64_t got = 0, dups = 0, msgs = 0;
	int complete = 0, closed_early = 0;
	int64_t *snap_ms = calloc((size_t)ws.n, sizeof(*snap_ms));
	for (int i = 0; i < ws.n; i++) {
		ws_client *c = &ws.c[i];
		got += c->got;
		dups += c->dups;
		msgs += c->msgs;
		complete += c->got == (uint64_t)total;
		closed_early += atomic_load(&c->closed) && c->got < (uint64_t)total;
		if (snap_ms)
			snap_ms[i] = (c->snapshot_ns - c->connect_ns) / 1000000;
		if (c->close_code)
			fo_log(FO_LOG_WARN, "ws_closed", "the operator closed a client",
			       FO_KI("client", i), FO_KI("code", c->close_code),
			       FO_KU("alerts", c->got));
	}
	if (snap_ms)
		qsort(snap_ms, (size_t)ws.n, sizeof(*snap_ms), cmp_i64);
	uint64_t missing = want - got;
	const fo_hist *h = ws.lat;
	double q50 = (double)fo_hist_value_at_percentile(h, 50) / 1e6;
	double q99 = (double)fo_hist_value_at_percentile(h, 99) / 1e6;
	double q999 = (double)fo_hist_value_at_percentile(h, 99.9) / 1e6;
	double qmax = (double)fo_hist_max(h) / 1e6;
	double t50 = txn ? (double)fo_hist_value_at_percentile(txn, 50) / 1e6 : NAN;
	double t99 = txn ? (double)fo_hist_value_at_percentile(txn, 99) / 1e6 : NAN;
	double s50 = NAN, s99 = NAN, s999 = NAN, scount = NAN, dropped = NAN, published = NAN;
	if (metrics) {
		s50 = prom(metrics, "fleetops_broadcast_seconds{quantile=\"0.5\"}") * 1e3;
		s99 = prom(metrics, "fleetops_broadcast_seconds{quantile=\"0.99\"}") * 1e3;
		s999 = prom(metrics, "fleetops_broadcast_seconds{quantile=\"0.999\"}") * 1e3;
		scount = prom(metrics, "fleetops_broadcast_seconds_count");
		dropped = prom(metrics, "fleetops_websocket_dropped_slow_total");
		published = prom(metrics, "fleetops_broadcasts_published_total");
	}
	double busy_pct = tot1 > tot0 ? 100.0 * (busy1 - busy0) / (tot1 - tot0) : 0;

	printf("== broadcast: %d WebSocket clients, %ld anomalies at %d/s for %d s (produced in "
	       "%.2f s)\n",
	       ws.n, total, cfg.rate, cfg.seconds, produce_s);
	printf("  snapshots: all %d in %.2f s (per client p50 %lld ms, max %lld ms)\n", ws.n,
	       snap_all_s, snap_ms ? (long long)snap_ms[ws.n / 2] : -1LL,
	       snap_ms ? (long long)snap_ms[ws.n - 1] : -1LL);
	printf("  produce -> alert_created at the client, over %llu (client, alert) pairs:\n"
	       "    p50 %.1f ms   p99 %.1f ms   p99.9 %.1f ms   max %.1f ms\n",
	       (unsigned long long)fo_hist_count(h), q50, q99, q999, qmax);
	printf("  received %llu of %llu (client, alert) pairs: %llu missing, %llu doubled; "
	       "%d of %d clients complete, %d closed early\n",
	       (unsigned long long)got, (unsigned long long)want, (unsigned long long)missing,
	       (unsigned long long)dups, complete, ws.n, closed_early);
	printf("  %llu alert_created messages (%.1f alerts each), %llu other messages, per "
	       "client\n",
	       (unsigned long long)(ws.alert_msgs / (uint64_t)ws.n),
	       ws.alert_msgs ? (double)got / (double)ws.alert_msgs : 0,
	       (unsigned long long)(ws.other_msgs / (uint64_t)ws.n));
	printf("  produce -> its transaction start (created_at, %ld rows): p50 %.1f ms, p99 %.1f "
	       "ms\n",
	       rows, t50, t99);
	printf("  server fleetops_broadcast_seconds (publish -> socket, %.0f sends): p50 %.2f ms, "
	       "p99 %.2f ms, p99.9 %.2f ms; %.0f published, %.0f clients dropped as slow\n",
	       scount, s50, s99, s999, published, dropped);
	printf("  CPU while producing and draining (%.1f s): operator %.2f s, its PostgreSQL "
	       "backends %.2f s, this bench (%d clients) %.2f s, machine %.0f%% busy\n",
	       produce_s + drain_s, op_cpu, pg_cpu, ws.n, me_cpu, busy_pct);
	printf("  the clients read %.1f MB (%.0f bytes per alert, %.1f MB/s)\n",
	       (double)(ws.bytes - bytes0) / 1e6,
	       got ? (double)(ws.bytes - bytes0) / (double)got : 0,
	       (double)(ws.bytes - bytes0) / 1e6 / (produce_s + drain_s));

	char out[4096];
	fo_jw jw;
	fo_jw_init(&jw, out, sizeof(out));
	fo_jw_lit(&jw, "{\"bench\":\"operator_broadcast\",\"clients\":");
	fo_jw_i64(&jw, ws.n);
	fo_jw_lit(&jw, ",\"rate\":");
	fo_jw_i64(&jw, cfg.rate);
	fo_jw_lit(&jw, ",\"seconds\":");
	fo_jw_i64(&jw, cfg.seconds);
	fo_jw_lit(&jw, ",\"anomalies\":");
	fo_jw_i64(&jw, total);
	fo_jw_lit(&jw, ",\"expected_pairs\":");
	fo_jw_u64(&jw, want);
	fo_jw_lit(&jw, ",\"received_pairs\":");
	fo_jw_u64(&jw, got);
	fo_jw_lit(&jw, ",\"missing_pairs\":");
	fo_jw_u64(&jw, missing);
	fo_jw_lit(&jw, ",\"doubled_pairs\":");
	fo_jw_u64(&jw, dups);
	fo_jw_lit(&jw, ",\"clients_complete\":");
	fo_jw_i64(&jw, complete);
	fo_jw_lit(&jw, ",\"e2e_ms\":{\"p50\":");
	fo_jw_fixed(&jw, q50, 2);
	fo_jw_lit(&jw, ",\"p99\":");
	fo_jw_fixed(&jw, q99, 2);
	fo_jw_lit(&jw, ",\"p999\":");
	fo_jw_fixed(&jw, q999, 2);
	fo_jw_lit(&jw, ",\"max\":");
	fo_jw_fixed(&jw, qmax, 2);
	fo_jw_lit(&jw, "},\"produce_to_txn_ms\":{\"p50\":");
	fo_jw_fixed(&jw, t50, 2);
	fo_jw_lit(&jw, ",\"p99\":");
	fo_jw_fixed(&jw, t99, 2);
	fo_jw_lit(&jw, "},\"server_broadcast_ms\":{\"p50\":");
	fo_jw_fixed(&jw, s50, 3);
	fo_jw_lit(&jw, ",\"p99\":");
	fo_jw_fixed(&jw, s99, 3);
	fo_jw_lit(&jw, ",\"p999\":");
	fo_jw_fixed(&jw, s999, 3);
	fo_jw_lit(&jw, ",\"count\":");
	fo_jw_fixed(&jw, scount, 0);
	fo_jw_lit(&jw, "},\"alert_created_msgs_per_client\":");
	fo_jw_u64(&jw, ws.alert_msgs / (uint64_t)ws.n);
	fo_jw_lit(&jw, ",\"snapshots_s\":");
	fo_jw_fixed(&jw, snap_all_s, 3);
	fo_jw_lit(&jw, ",\"clients_dropped_slow\":");
	fo_jw_fixed(&jw, dropped, 0);
	fo_jw_lit(&jw, ",\"operator_cpu_s\":");
	fo_jw_fixed(&jw, op_cpu, 2);
	fo_jw_lit(&jw, ",\"postgres_cpu_s\":");
	fo_jw_fixed(&jw, pg_cpu, 2);
	fo_jw_lit(&jw, ",\"bench_cpu_s\":");
	fo_jw_fixed(&jw, me_cpu, 2);
	fo_jw_lit(&jw, ",\"bytes_per_alert\":");
	fo_jw_fixed(&jw, got ? (double)(ws.bytes - bytes0) / (double)got : 0, 0);
	fo_jw_lit(&jw, ",\"machine_busy_pct\":");
	fo_jw_fixed(&jw, busy_pct, 1);
	fo_jw_lit(&jw, "}");
	printf("%.*s\n", (int)jw.len, out);
	fflush(stdout);

	free(snap_ms);
	free(metrics);
	fo_hist_destroy(txn);
	for (int i = 0; i < ws.n; i++) {
		free(ws.c[i].buf);
		free(ws.c[i].seen);
	}
	free(ws.c);
	free((void *)ws.produced_ns);
	fo_hist_destroy(ws.lat);
	env_destroy(&e);
}

/* ----------------------------------------------------------------- main --- */

static long num_arg(const char *flag, const char *v, long lo, long hi)
{
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;
	if (!v || !*v || *end || n < lo || n > hi) {
		fprintf(stderr, "bench_operator: %s wants a number from %ld to %ld\n", flag, lo,
		        hi);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	cfg.brokers = getenv("KAFKA_BROKERS");
	cfg.pg_dsn = getenv("PG_DSN");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!strcmp(a, "--brokers") && v) {
			cfg.brokers = v, i++;
		} else if (!strcmp(a, "--pg-dsn") && v) {
			cfg.pg_dsn = v, i++;
		} else if (!strcmp(a, "--operator") && v) {
			cfg.operator_path = v, i++;
		} else if (!strcmp(a, "--log-dir") && v) {
			cfg.log_dir = v, i++;
		} else if (!strcmp(a, "--only") && v) {
			cfg.only = v, i++;
			if (strcmp(v, "ingest") && strcmp(v, "broadcast")) {
				fprintf(stderr,
				        "bench_operator: --only ingest or --only broadcast\n");
				return 2;
			}
		} else if (!strcmp(a, "--anomalies")) {
			cfg.anomalies = num_arg(a, v, 1, 100000000), i++;
		} else if (!strcmp(a, "--batch")) {
			cfg.batch = num_arg(a, v, 1, 100000), i++;
		} else if (!strcmp(a, "--clients")) {
			cfg.clients = (int)num_arg(a, v, 1, 10000), i++;
		} else if (!strcmp(a, "--rate")) {
			cfg.rate = (int)num_arg(a, v, 1, 1000000), i++;
		} else if (!strcmp(a, "--seconds")) {
			cfg.seconds = (int)num_arg(a, v, 1, 3600), i++;
		} else {
			fprintf(stderr,
			        "bench_operator: unknown option or missing value: %s (see "
			        "--help)\n",
			        a);
			return 2;
		}
	}
	if (!cfg.brokers || !*cfg.brokers)
		cfg.brokers = "127.0.0.1:9092";
	if (!cfg.pg_dsn || !*cfg.pg_dsn) {
		fprintf(stderr, "bench_operator: no PostgreSQL: set PG_DSN or --pg-dsn (see "
		                "./tools/services.sh env)\n");
		return 2;
	}
	static char exe[4096];
	if (!cfg.operator_path) {
		const char *bd = getenv("FO_BINARY_DIR");
		if (bd && *bd) {
			snprintf(exe, sizeof(exe), "%s/bin/fleetops-operator", bd);
		} else { /* build/bin/bench_operator -> build/bin/fleetops-operator */
			char self[4000];
			ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
			self[n > 0 ? n : 0] = '\0';
			char *s = strrchr(self, '/');
			if (s)
				*s = '\0';
			snprintf(exe, sizeof(exe), "%s/fleetops-operator", self);
		}
		cfg.operator_path = exe;
	}
	if (access(cfg.operator_path, X_OK) != 0) {
		fprintf(stderr, "bench_operator: no fleetops-operator at %s (--operator PATH)\n",
		        cfg.operator_path);
		return 2;
	}
	fo_log_init("bench_operator");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	fo_log(FO_LOG_INFO, "bench_start", "benchmarking fleetops-operator",
	       FO_KS("operator", cfg.operator_path), FO_KS("brokers", cfg.brokers),
	       FO_KS("only", cfg.only ? cfg.only : "both"));
	if (!cfg.only || !strcmp(cfg.only, "ingest"))
		bench_ingest();
	if (!cfg.only || !strcmp(cfg.only, "broadcast"))
		bench_broadcast();
	return 0;
}
