/*
 * Integration: fleetops-operator from an anomalies topic of this run (and
 * its .dlq) into PostgreSQL, against the real broker and a throwaway
 * database.
 *
 *  1. anomalies produced to the topic become alerts rows, once each, and a
 *     message that is not an AnomalyEvent goes to the .dlq without
 *     stopping anything: the group's offsets reach the end of the topic;
 *  2. the same anomalies produced again change nothing;
 *  3. the database refuses connections for 10 s while a burst arrives (its backend
 *     terminated, ALLOW_CONNECTIONS off): nothing is committed past the
 *     burst meanwhile, and once the database is back every alert is there
 *     exactly once;
 *  4. SIGTERM stops the operator with exit 0; kill -9 of it midway
 *     through a burst and a restart lose and double nothing;
 *  5. its HTTP API: GET /alerts returns the rows with their filters,
 *     bad filters are 400, GET /health says when PostgreSQL is away.
 * The topics are created at the start and deleted at the end, so nothing
 * of this test reaches the shared `anomalies` topic. Needs KAFKA_BROKERS and
 * PG_DSN (./tools/fleetops test); exits 77 without them.
 */
#include "pg_fixture.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <time.h>

#define PARTS 6

static const char *brokers;
static char topic[64]; /* this run's anomalies topic (and topic.dlq) */
static char group[64], vprefix[64], logpath[128];
static PGconn *pg;

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *grp)
{
	char e[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof(e));
	rd_kafka_conf_set(c, "log_level", "3", e, sizeof(e));
	if (grp) {
		rd_kafka_conf_set(c, "group.id", grp, e, sizeof(e));
		rd_kafka_conf_set(c, "enable.auto.commit", "false", e, sizeof(e));
	} else {
		rd_kafka_conf_set(c, "partitioner", "murmur2_random", e, sizeof(e));
		rd_kafka_conf_set(c, "enable.idempotence", "true", e, sizeof(e));
	}
	rd_kafka_t *rk = rd_kafka_new(type, c, e, sizeof(e));
	if (!rk) {
		fprintf(stderr, "rd_kafka_new: %s\n", e);
		exit(1);
	}
	return rk;
}

/* The partitions' end offsets; retried for a while, since a topic just
 * created may not have its leaders yet. */
static int ends(int64_t *end)
{
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, "fo-test-probe");
	int rc = -1;
	for (int attempt = 0; attempt < 40 && rc < 0; attempt++) {
		rc = 0;
		for (int p = 0; p < PARTS && rc == 0; p++) {
			int64_t lo;
			if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &end[p], 10000))
				rc = -1;
		}
		if (rc < 0)
			nap_ms(250);
	}
	rd_kafka_destroy(rk);
	return rc;
}

/* The group's committed offsets (-1 where none). */
static int committed(int64_t *off)
{
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, group);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
	for (int p = 0; p < PARTS; p++)
		rd_kafka_topic_partition_list_add(l, topic, p);
	int rc = rd_kafka_committed(rk, l, 10000) ? -1 : 0;
	for (int p = 0; p < PARTS; p++)
		off[p] = l->elems[p].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return rc;
}

static void start_group_at_end(void)
{
	int64_t end[PARTS];
	FO_CHECK(ends(end) == 0);
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, group);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
	for (int p = 0; p < PARTS; p++)
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = end[p];
	FO_CHECK(rd_kafka_commit(rk, l, 0) == 0);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
}

/* Produces anomalies [from, to) (vehicle i % 7 of this run, severity by
 * i % 3) and, if bad, one message that is not an AnomalyEvent. */
static void produce(int from, int to, int bad)
{
	static const char *sev[] = {"INFO", "WARNING", "CRITICAL"};
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
	for (int i = from; i < to; i++) {
		char vid[96], msg[1024];
		snprintf(vid, sizeof(vid), "%s_%d", vprefix, i % 7);
		snprintf(
		    msg, sizeof(msg),
		    "{\"event_version\":\"1.0.0\",\"anomaly_id\":\"%08x-0000-5000-8000-%012d\","
		    "\"event_id\":\"%08x-0000-5000-9000-%012d\",\"vehicle_id\":\"%s\","
		    "\"event_time\":\"2019-10-23T16:08:01.502Z\","
		    "\"processing_time\":\"2026-11-23T10:45:48.749Z\","
		    "\"anomaly_type\":\"sudden_deceleration\",\"severity\":\"%s\","
		    "\"triggered_rule\":\"hard_braking\",\"features\":{\"decel_mps2\":5.5},"
		    "\"thresholds\":{\"decel_mps2\":4.0},\"evidence\":{\"frame_indices\":[%d],"
		    "\"velocity_history\":[9.5],\"acceleration_history\":[-5.5]}}",
		    (unsigned)getpid(), i, (unsigned)getpid(), i, vid, sev[i % 3], i);
		while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
		                         RD_KAFKA_V_KEY(vid, strlen(vid)),
		                         RD_KAFKA_V_VALUE(msg, strlen(msg)),
		                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 10);
	}
	if (bad) {
		const char *junk = "{\"anomaly_id\": \"not json";
		rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
		                  RD_KAFKA_V_KEY(vprefix, strlen(vprefix)),
		                  RD_KAFKA_V_VALUE((void *)junk, strlen(junk)),
		                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	}
	FO_CHECK(rd_kafka_flush(rk, 30000) == 0);
	rd_kafka_destroy(rk);
}

static pid_t start_operator(const char *batch)
{
	char exe[4096];
	snprintf(exe, sizeof(exe), "%s/bin/fleetops-operator", getenv("FO_BINARY_DIR"));
	pid_t pid = fork();
	if (pid == 0) {
		FILE *f = freopen(logpath, "a", stderr);
		(void)f;
		execl(exe, "fleetops-operator", "--brokers", brokers, "--pg-dsn", fo_pg_dsn,
		      "--group", group, "--topic", topic, "--no-telemetry", "--listen",
		      "127.0.0.1:0", "--batch", batch, "--progress", "1", "-X",
		      "session.timeout.ms=6000", NULL);
		_exit(127);
	}
	return pid;
}

/* The HTTP port of the operator started last (from its http_listen log
 * line), or -1. */
static int http_port(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
	         "grep -o '\"event_type\":\"http_listen\".*\"port\":[0-9]*' %s | tail -1 | "
	         "grep -o '[0-9]*$'",
	         logpath);
	for (int i = 0; i < 100; i++) {
		FILE *p = popen(cmd, "r");
		int port = -1;
		if (p && fscanf(p, "%d", &port) != 1)
			port = -1;
		if (p)
			pclose(p);
		if (port > 0)
			return port;
		nap_ms(100);
	}
	return -1;
}

/* GET path from the operator: the status code, the body parsed (NULL if
 * not JSON; the caller deletes it). */
static int get(int port, const char *path, cJSON **body)
{
	char cmd[1024];
	static char buf[4 << 20];
	snprintf(cmd, sizeof(cmd), "curl -s -w '\\n%%{http_code}' 'http://127.0.0.1:%d%s'", port,
	         path);
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;
	if (p)
		pclose(p);
	buf[n] = '\0';
	char *nl = strrchr(buf, '\n');
	int code = nl ? atoi(nl + 1) : -1;
	if (nl)
		*nl = '\0';
	*body = cJSON_Parse(buf);
	return code;
}

static long long alerts(void)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts WHERE vehicle_id LIKE '%s\\_%%'",
	         vprefix);
	return fo_pg_num(pg, sql);
}

/* Waits until the table has want alerts of this run; returns the count. */
static long long wait_alerts(long long want, int timeout_s)
{
	long long n = -1;
	for (int i = 0; i < timeout_s * 10; i++) {
		if ((n = alerts()) >= want)
			break;
		nap_ms(100);
	}
	return n;
}

/* Waits until the group has committed the topic's end on every partition. */
static int wait_caught_up(int timeout_s)
{
	int64_t end[PARTS], c[PARTS];
	if (ends(end) < 0)
		return 0;
	for (int i = 0; i < timeout_s * 5; i++) {
		int ok = committed(c) == 0;
		for (int p = 0; p < PARTS && ok; p++)
			ok = c[p] >= end[p];
		if (ok)
			return 1;
		nap_ms(200);
	}
	return 0;
}

static int stop_operator(pid_t pid, int sig)
{
	kill(pid, sig);
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	brokers = getenv("KAFKA_BROKERS");
	if (!brokers || !*brokers)
		FO_SKIP("KAFKA_BROKERS not set (run through ./tools/fleetops test)");
	if (!getenv("FO_BINARY_DIR"))
		FO_SKIP("FO_BINARY_DIR not set (run through ctest)");
	fo_pg_create();
	pg = fo_pg_connect();
	snprintf(group, sizeof(group), "fo-test-operator-%d", (int)getpid());
	snprintf(topic, sizeof(topic), "fo_test_ingest_%d", (int)getpid());
	FO_CHECK(fo_test_sh("%s/bin/fleetops-topics --brokers %s create %s:%d %s.dlq:1",
	                    getenv("FO_BINARY_DIR"), brokers, topic, PARTS, topic) == 0);
	snprintf(vprefix, sizeof(vprefix), "optest%d", (int)getpid());
	snprintf(logpath, sizeof(logpath), "/tmp/fo_test_ingest_%d.log", (int)getpid());
	start_group_at_end();

	/* 1. once each, the bad one to the DLQ */
	pid_t op = start_operator("1000");
	for (int i = 0; i < 300 && fo_pg_num(pg, "SELECT count(*) FROM pg_tables WHERE tablename = "
	                                         "'schema_migrations'") < 1;
	     i++)
		nap_ms(100); /* the operator creates the schema */
	nap_ms(500);
	produce(0, 300, 1);
	long long n = wait_alerts(300, 30);
	FO_CHECK_MSG(n == 300, "%lld alerts of 300 (log %s)", n, logpath);
	FO_CHECK_MSG(wait_caught_up(30), "offsets not committed to the end (log %s)", logpath);
	FO_CHECK(fo_test_sh("grep -q '\"message_rejected\"' %s", logpath) == 0);
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM vehicles WHERE vehicle_id LIKE '%s\\_%%' AND state = "
	         "'ALERTING'",
	         vprefix);
	FO_CHECK(fo_pg_num(pg, sql) == 7); /* every vehicle has a CRITICAL one */

	/* 5. (first part) GET /alerts and /health, through curl */
	int have_curl = fo_test_sh("command -v curl >/dev/null") == 0;
	if (!have_curl)
		printf("note: curl not installed; the HTTP checks are left out\n");
	int port = have_curl ? http_port() : -1;
	FO_CHECK_MSG(!have_curl || port > 0, "no http_listen line in %s", logpath);
	cJSON *b = NULL;
	if (have_curl) {
		char path[256];
		snprintf(path, sizeof(path), "/alerts?vehicle_id=%s_0&limit=1000", vprefix);
		FO_CHECK(get(port, path, &b) == 200);
		cJSON *arr = cJSON_GetObjectItemCaseSensitive(b, "alerts");
		FO_CHECK_MSG(cJSON_GetArraySize(arr) == 43, "%d alerts of vehicle 0, expected 43",
		             cJSON_GetArraySize(arr));
		cJSON *first = cJSON_GetArrayItem(arr, 0);
		FO_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(first, "alert_id")));
		FO_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(first, "anomaly_id")));
		FO_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(first, "created_at")));
		FO_CHECK(
		    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(first, "assigned_operator_id")));
		FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(first, "alert_status")->valuestring,
		             "OPEN");
		cJSON_Delete(b);
		snprintf(path, sizeof(path),
		         "/alerts?vehicle_id=%s_0&severity=CRITICAL&status=OPEN&limit=5", vprefix);
		FO_CHECK(get(port, path, &b) == 200);
		arr = cJSON_GetObjectItemCaseSensitive(b, "alerts");
		FO_CHECK(cJSON_GetArraySize(arr) == 5);
		cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(it, "severity")->valuestring,
			             "CRITICAL");
		}
		cJSON_Delete(b);
		FO_CHECK(get(port, "/alerts?status=CLOSED", &b) == 400);
		FO_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(b, "error")));
		cJSON_Delete(b);
		FO_CHECK(get(port, "/alerts?limit=0", &b) == 400);
		cJSON_Delete(b);
		FO_CHECK(get(port, "/nowhere", &b) == 404);
		cJSON_Delete(b);
		FO_CHECK(get(port, "/health", &b) == 200);
		FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(b, "kafka")->valuestring, "up");
		FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(b, "postgres")->valuestring, "up");
		FO_CHECK(cJSON_GetObjectItemCaseSensitive(b, "consumer_lag") != NULL);
		cJSON_Delete(b);
	}

	/* 2. again: nothing changes */
	produce(0, 300, 0);
	FO_CHECK(wait_caught_up(30));
	FO_CHECK(alerts() == 300);
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT anomaly_id) FROM alerts");
	FO_CHECK(fo_pg_num(pg, sql) == 300);

	/* 3. the database goes away during a burst, then comes back */
	PGconn *admin = PQconnectdb(getenv("PG_DSN")); /* not the test database */
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", fo_pg_name);
	FO_CHECK(fo_pg_exec(admin, sql) == 0);
	snprintf(sql, sizeof(sql),
	         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	         "application_name = 'fleetops-operator' AND datname = '%s'",
	         fo_pg_name);
	FO_CHECK(fo_pg_exec(admin, sql) == 0);
	int64_t before[PARTS], during[PARTS];
	FO_CHECK(committed(before) == 0);
	produce(300, 800, 0);
	nap_ms(10000); /* PostgreSQL away for 10 s */
	FO_CHECK(committed(during) == 0);
	long long moved = 0;
	for (int p = 0; p < PARTS; p++)
		moved += during[p] - before[p];
	FO_CHECK_MSG(moved == 0, "%lld offsets committed while the database was away", moved);
	FO_CHECK(fo_test_sh("grep -q '\"postgres_unavailable\"' %s", logpath) == 0);
	if (have_curl) { /* 5. (second part) */
		FO_CHECK(get(port, "/health", &b) == 503);
		FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(b, "postgres")->valuestring, "down");
		cJSON_Delete(b);
		FO_CHECK(get(port, "/alerts", &b) == 503);
		cJSON_Delete(b);
	}
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS true", fo_pg_name);
	FO_CHECK(fo_pg_exec(admin, sql) == 0);
	PQfinish(admin);
	n = wait_alerts(800, 30);
	FO_CHECK_MSG(n == 800, "%lld alerts of 800 after the outage (log %s)", n, logpath);
	FO_CHECK(wait_caught_up(30));
	FO_CHECK(fo_test_sh("grep -q '\"postgres_recovered\"' %s", logpath) == 0);

	/* 4. kill -9 midway (small transactions, so that there is a midway),
	 * restart */
	FO_CHECK(stop_operator(op, SIGTERM) == 0);
	op = start_operator("50");
	produce(800, 12800, 0);
	n = wait_alerts(1800, 30);
	stop_operator(op, SIGKILL);
	FO_CHECK_MSG(n >= 1800 && n < 12800, "kill -9 came at %lld alerts of 12800", n);
	op = start_operator("1000");
	n = wait_alerts(12800, 60);
	FO_CHECK_MSG(n == 12800, "%lld alerts of 12800 after kill -9 (log %s)", n, logpath);
	FO_CHECK(wait_caught_up(60));
	FO_CHECK(alerts() == 12800);
	FO_CHECK(fo_pg_num(pg, "SELECT count(*) - count(DISTINCT anomaly_id) FROM alerts") == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM vehicles WHERE vehicle_id LIKE '%s\\_%%'",
	         vprefix);
	FO_CHECK(fo_pg_num(pg, sql) == 7);
	FO_CHECK_MSG(stop_operator(op, SIGTERM) == 0, "SIGTERM exit status (log %s)", logpath);
	FO_CHECK(fo_test_sh("grep -q '\"operator_stopped\"' %s", logpath) == 0);

	PQfinish(pg);
	fo_pg_drop();
	fo_test_sh("%s/bin/fleetops-topics --brokers %s delete %s %s.dlq", getenv("FO_BINARY_DIR"),
	           brokers, topic, topic);
	int rc = fo_test_done("test_ingest_kafka");
	if (rc == 0 && !getenv("FO_TEST_KEEP_LOGS"))
		unlink(logpath);
	return rc;
}
