/*
 * Integration: ops/outbox against the real broker and a throwaway
 * database.
 *
 *  1. operator actions written by fo_lc_act become messages on
 *     operator_actions, keyed by action_id, each once, with the
 *     OperatorActionEvent fields, in created_at order per partition; every
 *     row gets published_at once, and a second pass sends nothing more;
 *  2. with the outbox pointed at a closed port, rows stay unpublished
 *     (pending counts them, the broker is reported down); a new outbox at
 *     the real broker publishes them (the state is in the table);
 *  3. rows written by a direct INSERT, without a kick, go out on the 1 s
 *     rescan.
 * The consumer reads from the partitions' ends taken before the run and
 * keeps only this run's action ids, so others' messages do not matter.
 * Needs KAFKA_BROKERS and PG_DSN (./tools/fleetops test); exits 77 without
 * them.
 */
#include "db.h"
#include "lifecycle.h"
#include "outbox.h"
#include "pg_fixture.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <time.h>

#define TOPIC "operator_actions"
#define PARTS 3

static const char *brokers;
static fo_db *db;
static PGconn *pg;
static int64_t op;
static int serial;

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static long long qn(const char *sql)
{
	return fo_pg_num(pg, sql);
}

/* n new alerts, each acknowledged then resolved: 2n actions. */
static void actions(int n)
{
	char err[512];
	for (int i = 0; i < n; i++) {
		char msg[1024];
		int k = ++serial;
		snprintf(
		    msg, sizeof(msg),
		    "{\"event_version\":\"1.0.0\",\"anomaly_id\":\"00000000-0000-5000-8000-%012d\","
		    "\"event_id\":\"00000000-0000-5000-9000-%012d\",\"vehicle_id\":"
		    "\"scene_010_track_%d\",\"event_time\":\"2019-10-23T16:08:01.502Z\","
		    "\"anomaly_type\":\"dropout\",\"severity\":\"WARNING\",\"triggered_rule\":"
		    "\"track_dropout\",\"features\":{},\"thresholds\":{},\"evidence\":{}}",
		    k, k, k % 4);
		fo_anomaly_json a;
		if (fo_anomaly_json_parse(msg, strlen(msg), &a, err, sizeof(err)) < 0) {
			fprintf(stderr, "test bug: %s\n", err);
			exit(1);
		}
		const fo_anomaly_json *rows[] = {&a};
		char *aj = NULL;
		size_t ins;
		FO_CHECK(fo_db_alerts_insert(db, rows, 1, &ins, &aj, NULL, err, sizeof(err)) ==
		         FO_DB_OK);
		cJSON *arr = cJSON_Parse(aj);
		const char *id = cJSON_GetStringValue(
		    cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "alert_id"));
		fo_lc_result r;
		FO_CHECK(fo_lc_act(db, id, op, "ACKNOWLEDGE", "outbox test", 1, &r, err,
		                   sizeof(err)) == FO_DB_OK &&
		         r.http_status == 200);
		fo_lc_result_free(&r);
		FO_CHECK(fo_lc_act(db, id, op, "RESOLVE", NULL, 1, &r, err, sizeof(err)) ==
		             FO_DB_OK &&
		         r.http_status == 200);
		fo_lc_result_free(&r);
		cJSON_Delete(arr);
		free(aj);
		fo_anomaly_json_free(&a);
	}
}

static rd_kafka_t *consumer(void)
{
	char e[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof(e));
	rd_kafka_conf_set(c, "group.id", "fo-test-outbox", e, sizeof(e));
	rd_kafka_conf_set(c, "enable.auto.commit", "false", e, sizeof(e));
	rd_kafka_conf_set(c, "log_level", "3", e, sizeof(e));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
	if (!rk) {
		fprintf(stderr, "consumer: %s\n", e);
		exit(1);
	}
	return rk;
}

/* Waits until the table has no unpublished row (or timeout_ms). */
static int wait_published(int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 50) {
		if (qn("SELECT count(*) FROM operator_actions WHERE published_at IS NULL") == 0)
			return 0;
		nap_ms(50);
	}
	return -1;
}

/* Reads the topic from start[] until want messages of this run arrived
 * (or 20 s); checks each against its row. Returns how many arrived. */
static int consume_check(rd_kafka_t *rk, const int64_t *start, int want, int *dups)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
	for (int p = 0; p < PARTS; p++)
		rd_kafka_topic_partition_list_add(l, TOPIC, p)->offset = start[p];
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	fo_pg_exec(pg, "CREATE TEMP TABLE IF NOT EXISTS got (action_id uuid, part int, "
	               "off bigint)");
	fo_pg_exec(pg, "TRUNCATE got");
	int got = 0;
	*dups = 0;
	char last[PARTS][40] = {"", "", ""};
	for (int t = 0; t < 400 && got < want; t++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
		if (!m)
			continue;
		if (m->err || !m->key) {
			rd_kafka_message_destroy(m);
			continue;
		}
		char key[64] = "", val[4096];
		snprintf(key, sizeof(key), "%.*s", (int)m->key_len, (const char *)m->key);
		snprintf(val, sizeof(val), "%.*s", (int)m->len, (const char *)m->payload);
		const char *p[] = {key};
		PGresult *r =
		    PQexecParams(pg,
		                 "SELECT fo_action_event_json(x)::text, "
		                 "(SELECT count(*) FROM got WHERE action_id = x.action_id), "
		                 "fo_iso(x.created_at) "
		                 "FROM operator_actions x WHERE x.action_id::text = $1",
		                 1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			/* one of ours: the value is the row's event, key = action_id */
			got++;
			*dups += atoi(PQgetvalue(r, 0, 1)) > 0;
			FO_CHECK_STR(val, PQgetvalue(r, 0, 0));
			cJSON *e = cJSON_Parse(val);
			FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "action_id")),
			             key);
			FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "event_version")),
			             "1.0.0");
			FO_CHECK(cJSON_GetObjectItem(e, "alert_id") &&
			         cJSON_GetObjectItem(e, "vehicle_id") &&
			         cJSON_IsNumber(cJSON_GetObjectItem(e, "operator_id")) &&
			         cJSON_GetObjectItem(e, "action_type") &&
			         cJSON_GetObjectItem(e, "processing_time") &&
			         cJSON_IsObject(cJSON_GetObjectItem(e, "metadata")));
			cJSON_Delete(e);
			/* created_at order within a partition */
			const char *ts = PQgetvalue(r, 0, 2);
			FO_CHECK_MSG(strcmp(last[m->partition], ts) <= 0,
			             "partition %d: %s after %s", (int)m->partition, ts,
			             last[m->partition]);
			snprintf(last[m->partition], sizeof(last[0]), "%s", ts);
			char part[16], off[32];
			snprintf(part, sizeof(part), "%d", (int)m->partition);
			snprintf(off, sizeof(off), "%lld", (long long)m->offset);
			const char *q[] = {key, part, off};
			PQclear(PQexecParams(
			    pg, "INSERT INTO got VALUES ($1::uuid, $2::int, $3::bigint)", 3, NULL,
			    q, NULL, NULL, 0));
		}
		PQclear(r);
		rd_kafka_message_destroy(m);
	}
	/* and nothing more after a moment */
	for (int t = 0; t < 10; t++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
		if (!m)
			continue;
		if (!m->err && m->key) {
			char key[64];
			snprintf(key, sizeof(key), "%.*s", (int)m->key_len, (const char *)m->key);
			const char *p[] = {key};
			PGresult *r = PQexecParams(
			    pg, "SELECT 1 FROM operator_actions WHERE action_id::text = $1", 1,
			    NULL, p, NULL, NULL, 0);
			if (PQntuples(r) == 1)
				got++, (*dups)++;
			PQclear(r);
		}
		rd_kafka_message_destroy(m);
	}
	return got;
}

static void ends(rd_kafka_t *rk, int64_t *end)
{
	for (int p = 0; p < PARTS; p++) {
		int64_t lo;
		if (rd_kafka_query_watermark_offsets(rk, TOPIC, p, &lo, &end[p], 10000)) {
			fprintf(stderr, "watermarks of %s/%d\n", TOPIC, p);
			exit(1);
		}
	}
}

int main(void)
{
	brokers = getenv("KAFKA_BROKERS");
	if (!brokers || !*brokers)
		FO_SKIP("KAFKA_BROKERS not set (run through ./tools/fleetops test)");
	fo_pg_create();
	char err[1024];
	db = fo_db_new(fo_pg_dsn);
	FO_CHECK_MSG(fo_db_connect(db, err, sizeof(err)) == FO_DB_OK, "%s", err);
	FO_CHECK_MSG(fo_db_migrate(db, NULL, err, sizeof(err)) == FO_DB_OK, "%s", err);
	pg = fo_pg_connect();
	char tok[FO_LC_TOKEN_LEN + 1];
	FO_CHECK(fo_lc_token_issue(db, "outbox-tester", tok, &op, err, sizeof(err)) == FO_DB_OK);
	rd_kafka_t *rk = consumer();
	int64_t start[PARTS];
	ends(rk, start);

	/* 1. actions become messages, once */
	fo_outbox_conf conf = {.brokers = brokers, .dsn = fo_pg_dsn, .batch = 7};
	fo_outbox *ob = fo_outbox_start(&conf, err, sizeof(err));
	FO_CHECK_MSG(ob != NULL, "%s", err);
	actions(20); /* 40 rows: several rounds of 7 */
	fo_outbox_kick(ob);
	FO_CHECK_MSG(wait_published(15000) == 0, "%lld rows left unpublished",
	             qn("SELECT count(*) FROM operator_actions WHERE published_at IS NULL"));
	fo_outbox_status st;
	nap_ms(100); /* the counters follow the COMMIT */
	fo_outbox_status_get(ob, &st);
	FO_CHECK_MSG(st.published == 40 && st.broker_ok && st.postgres_ok, "published %llu",
	             (unsigned long long)st.published);
	int dups = 0;
	int got = consume_check(rk, start, 40, &dups);
	FO_CHECK_MSG(got == 40 && dups == 0, "got %d messages, %d repeated", got, dups);
	FO_CHECK(qn("SELECT count(DISTINCT part) FROM got") > 1); /* keyed: spread */
	fo_outbox_kick(ob);                                       /* nothing new: nothing sent */
	nap_ms(300);
	fo_outbox_status_get(ob, &st);
	FO_CHECK(st.published == 40 && st.pending == 0);
	fo_outbox_stop(ob);

	/* 2. the broker unreachable, then back */
	ends(rk, start);
	const char *quick[] = {"message.timeout.ms=1500", "reconnect.backoff.max.ms=500"};
	fo_outbox_conf dead = {
	    .brokers = "127.0.0.1:1", .dsn = fo_pg_dsn, .kafka_x = quick, .kafka_x_n = 2};
	ob = fo_outbox_start(&dead, err, sizeof(err));
	FO_CHECK_MSG(ob != NULL, "%s", err);
	actions(5);
	fo_outbox_kick(ob);
	nap_ms(2500);
	fo_outbox_status_get(ob, &st);
	FO_CHECK_MSG(st.published == 0 && st.pending == 10 && !st.broker_ok && st.postgres_ok,
	             "published %llu pending %lld broker_ok %d", (unsigned long long)st.published,
	             (long long)st.pending, st.broker_ok);
	FO_CHECK(qn("SELECT count(*) FROM operator_actions WHERE published_at IS NULL") == 10);
	int64_t t0 = (int64_t)time(NULL);
	fo_outbox_stop(ob); /* promptly, even mid-round */
	FO_CHECK((int64_t)time(NULL) - t0 <= 3);
	ob = fo_outbox_start(&conf, err, sizeof(err));
	FO_CHECK(wait_published(15000) == 0); /* no kick: the first scan */
	got = consume_check(rk, start, 10, &dups);
	FO_CHECK_MSG(got == 10 && dups == 0, "got %d messages, %d repeated", got, dups);

	/* 3. a row nobody kicked for: the rescan */
	ends(rk, start);
	fo_pg_exec(pg,
	           "INSERT INTO operator_actions (action_id, alert_id, vehicle_id, operator_id, "
	           "action_type, metadata) SELECT gen_random_uuid(), alert_id, vehicle_id, "
	           "(SELECT id FROM operators LIMIT 1), 'ASSIGN', '{\"by\":\"sql\"}' "
	           "FROM alerts LIMIT 1");
	FO_CHECK(wait_published(5000) == 0);
	got = consume_check(rk, start, 1, &dups);
	FO_CHECK(got == 1 && dups == 0);
	nap_ms(100);
	fo_outbox_status_get(ob, &st);
	FO_CHECK(st.published == 11 && st.pending == 0 && st.broker_ok);
	fo_outbox_stop(ob);

	/* settings are checked at start */
	const char *badx[] = {"no.such.setting=1"};
	fo_outbox_conf bad = {
	    .brokers = brokers, .dsn = fo_pg_dsn, .kafka_x = badx, .kafka_x_n = 1};
	FO_CHECK(fo_outbox_start(&bad, err, sizeof(err)) == NULL);
	FO_CHECK_MSG(strstr(err, "no.such.setting") != NULL, "%s", err);

	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	fo_db_destroy(db);
	PQfinish(pg);
	fo_pg_drop();
	return fo_test_done("test_outbox_kafka");
}
