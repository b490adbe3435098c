/*
 * Integration: ops/db against a real PostgreSQL (a throwaway database).
 *
 *  1. the migrations apply to an empty database, are recorded with their
 *     checksums, and a second start applies nothing;
 *  2. a start refuses a database whose applied migration was edited, or
 *     which has a version this program does not know;
 *  3. a batch of anomalies becomes alerts once: repeats within the batch
 *     and a second delivery of the batch add nothing, and the vehicles'
 *     state follows their open alerts in the same transaction;
 *  4. values PostgreSQL refuses are FO_DB_EDATA naming the SQL state and
 *     write nothing; an unreachable server is FO_DB_EAGAIN;
 *  5. cursor paging walks every row once, ties of created_at included, and
 *     a cursor GET /alerts did not make is refused.
 * Needs PG_DSN (./tools/fleetops test); exits 77 without it.
 */
#include "db.h"
#include "migrations.h"
#include "pg_fixture.h"

/* An anomaly as the parser would give it. */
static void anomaly(fo_anomaly_json *a, int n, const char *vehicle, const char *severity)
{
	char msg[1024], err[256];
	snprintf(msg, sizeof(msg),
	         "{\"event_version\":\"1.0.0\",\"anomaly_id\":\"00000000-0000-5000-8000-%012d\","
	         "\"event_id\":\"00000000-0000-5000-9000-%012d\",\"vehicle_id\":\"%s\","
	         "\"event_time\":\"2019-10-23T16:08:01.502Z\",\"anomaly_type\":\"dropout\","
	         "\"severity\":\"%s\",\"triggered_rule\":\"track_dropout\","
	         "\"features\":{\"gap_s\":1.5},\"thresholds\":{\"gap_s\":1.0},"
	         "\"evidence\":{\"frame_indices\":[%d]}}",
	         n, n, vehicle, severity, n);
	if (fo_anomaly_json_parse(msg, strlen(msg), a, err, sizeof(err)) < 0) {
		fprintf(stderr, "test bug: %s\n", err);
		exit(1);
	}
}

static const char *state(PGconn *c, const char *vehicle)
{
	static char s[32];
	const char *p[] = {vehicle};
	PGresult *r = PQexecParams(c, "SELECT state FROM vehicles WHERE vehicle_id = $1", 1, NULL,
	                           p, NULL, NULL, 0);
	snprintf(s, sizeof(s), "%s",
	         PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0)
	                                                                   : "(none)");
	PQclear(r);
	return s;
}

int main(void)
{
	fo_pg_create();
	char err[1024];
	int applied = -1;

	/* 1. fresh database, then a second start */
	fo_db *db = fo_db_new(fo_pg_dsn);
	FO_CHECK_MSG(fo_db_connect(db, err, sizeof(err)) == FO_DB_OK, "%s", err);
	FO_CHECK(fo_db_connected(db));
	FO_CHECK(fo_db_ping(db, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK_MSG(fo_db_migrate(db, &applied, err, sizeof(err)) == FO_DB_OK, "%s", err);
	FO_CHECK(applied == (int)fo_migrations_count);
	PGconn *c = fo_pg_connect();
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM schema_migrations") ==
	         (long long)fo_migrations_count);
	for (size_t i = 0; i < fo_migrations_count; i++) {
		char sql[256];
		snprintf(
		    sql, sizeof(sql),
		    "SELECT count(*) FROM schema_migrations WHERE version = %d AND name = '%s' "
		    "AND checksum = '%s' AND applied_at <= now()",
		    fo_migrations[i].version, fo_migrations[i].name, fo_migrations[i].checksum);
		FO_CHECK_MSG(fo_pg_num(c, sql) == 1, "migration %d not recorded",
		             fo_migrations[i].version);
	}
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM information_schema.tables WHERE table_name IN "
	                      "('operators','vehicles','alerts','operator_actions',"
	                      "'incident_history')") == 5);
	fo_db *db2 = fo_db_new(fo_pg_dsn);
	FO_CHECK(fo_db_connect(db2, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK_MSG(fo_db_migrate(db2, &applied, err, sizeof(err)) == FO_DB_OK, "%s", err);
	FO_CHECK(applied == 0);
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM schema_migrations") ==
	         (long long)fo_migrations_count);

	/* 2. an edited migration, a newer database */
	fo_pg_exec(c, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
	FO_CHECK(fo_db_migrate(db2, &applied, err, sizeof(err)) == FO_DB_EFAIL);
	FO_CHECK_MSG(strstr(err, "0001_init was changed") != NULL, "%s", err);
	char sql[512];
	snprintf(sql, sizeof(sql), "UPDATE schema_migrations SET checksum = '%s' WHERE version = 1",
	         fo_migrations[0].checksum);
	fo_pg_exec(c, sql);
	fo_pg_exec(c, "INSERT INTO schema_migrations (version, name, checksum) "
	              "VALUES (999, 'future', 'x')");
	FO_CHECK(fo_db_migrate(db2, &applied, err, sizeof(err)) == FO_DB_EFAIL);
	FO_CHECK_MSG(strstr(err, "version 999") != NULL, "%s", err);
	fo_pg_exec(c, "DELETE FROM schema_migrations WHERE version = 999");
	FO_CHECK(fo_db_migrate(db2, &applied, err, sizeof(err)) == FO_DB_OK && applied == 0);
	fo_db_destroy(db2);

	/* 3. a batch, repeated; vehicle state */
	fo_anomaly_json a[5];
	anomaly(&a[0], 1, "veh_a", "WARNING");
	anomaly(&a[1], 2, "veh_b", "CRITICAL");
	anomaly(&a[2], 3, "veh_b", "INFO");
	anomaly(&a[3], 4, "veh_c", "INFO");
	anomaly(&a[4], 1, "veh_a", "WARNING"); /* a repeat inside the batch */
	const fo_anomaly_json *rows[] = {&a[0], &a[1], &a[2], &a[3], &a[4]};
	size_t ins = 99;
	FO_CHECK_MSG(fo_db_alerts_insert(db, rows, 5, &ins, NULL, NULL, err, sizeof(err)) ==
	                 FO_DB_OK,
	             "%s", err);
	FO_CHECK_MSG(ins == 4, "inserted %zu", ins);
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM alerts") == 4);
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM alerts WHERE alert_status = 'OPEN'") == 4);
	FO_CHECK_STR(state(c, "veh_a"), "DEGRADED");
	FO_CHECK_STR(state(c, "veh_b"), "ALERTING");
	FO_CHECK_STR(state(c, "veh_c"), "DEGRADED");
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM alerts WHERE "
	                      "features->>'gap_s' = '1.5' AND thresholds ? 'gap_s' AND "
	                      "evidence->'frame_indices'->>0 IS NOT NULL AND "
	                      "event_time = '2019-10-23T16:08:01.502Z'") == 4);
	FO_CHECK_MSG(fo_db_alerts_insert(db, rows, 5, &ins, NULL, NULL, err, sizeof(err)) ==
	                 FO_DB_OK,
	             "%s", err);
	FO_CHECK(ins == 0);
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM alerts") == 4);
	/* state follows the open alerts; an intervention is left alone */
	fo_pg_exec(c, "UPDATE alerts SET alert_status = 'RESOLVED', resolved_at = now() "
	              "WHERE severity = 'CRITICAL'");
	fo_pg_exec(c, "UPDATE alerts SET alert_status = 'DISMISSED', resolved_at = now() "
	              "WHERE vehicle_id = 'veh_a'");
	fo_pg_exec(c, "INSERT INTO operators (name, token_hash) VALUES ('t', repeat('0', 64))");
	fo_pg_exec(c,
	           "UPDATE alerts SET pullover_due_at = now() + interval '1 hour', "
	           "pullover_operator_id = (SELECT id FROM operators) WHERE vehicle_id = 'veh_c'");
	fo_pg_exec(c, "SELECT fo_recompute_vehicle_state(ARRAY['veh_a','veh_b','veh_c'])");
	FO_CHECK_STR(state(c, "veh_a"), "NORMAL");
	FO_CHECK_STR(state(c, "veh_b"), "DEGRADED");
	FO_CHECK_STR(state(c, "veh_c"), "UNDER_INTERVENTION");
	/* the state's invariants are the table's */
	FO_CHECK(fo_pg_exec(c, "UPDATE alerts SET alert_status = 'RESOLVED' WHERE vehicle_id = "
	                       "'veh_b' AND alert_status = 'OPEN'") < 0); /* no resolved_at */
	FO_CHECK(fo_pg_exec(c, "UPDATE alerts SET pullover_operator_id = NULL "
	                       "WHERE vehicle_id = 'veh_c'") < 0); /* a pull-over needs both */
	/* a new CRITICAL anomaly for veh_a raises it in the same transaction */
	fo_anomaly_json crit;
	anomaly(&crit, 5, "veh_a", "CRITICAL");
	const fo_anomaly_json *one[] = {&crit};
	char *aj = NULL, *vj = NULL;
	FO_CHECK(fo_db_alerts_insert(db, one, 1, &ins, &aj, &vj, err, sizeof(err)) == FO_DB_OK &&
	         ins == 1);
	FO_CHECK_STR(state(c, "veh_a"), "ALERTING");
	/* the new alert and the recomputed vehicle, for broadcasting */
	FO_CHECK_MSG(aj && strstr(aj, "\"anomaly_id\":\"00000000-0000-5000-8000-000000000005\"") &&
	                 strstr(aj, "\"alert_status\":\"OPEN\"") &&
	                 strstr(aj, "\"assigned_operator\":null") && aj[0] == '[',
	             "%s", aj ? aj : "(null)");
	FO_CHECK_MSG(vj && strstr(vj, "\"vehicle_id\":\"veh_a\"") &&
	                 strstr(vj, "\"state\":\"ALERTING\"") && strstr(vj, "\"open_alerts\":1"),
	             "%s", vj ? vj : "(null)");
	free(aj);
	free(vj);
	/* strings are escaped: the Alert text is JSON whatever the vehicle id */
	fo_anomaly_json odd;
	anomaly(&odd, 7, "veh \\\"q\\\\ \\u00e9", "INFO");
	const fo_anomaly_json *oddr[] = {&odd};
	FO_CHECK(fo_db_alerts_insert(db, oddr, 1, &ins, &aj, &vj, err, sizeof(err)) == FO_DB_OK &&
	         ins == 1);
	const char *pjv[] = {aj, vj};
	PGresult *jr = PQexecParams(c,
	                            "SELECT ($1::json)->0->>'vehicle_id', "
	                            "($2::json)->0->>'vehicle_id', ($1::json)->0->>'severity'",
	                            2, NULL, pjv, NULL, NULL, 0);
	FO_CHECK_MSG(PQresultStatus(jr) == PGRES_TUPLES_OK, "%s / %s: %s", aj, vj,
	             PQerrorMessage(c));
	if (PQresultStatus(jr) == PGRES_TUPLES_OK) {
		FO_CHECK_STR(PQgetvalue(jr, 0, 0), "veh \"q\\ \u00e9");
		FO_CHECK_STR(PQgetvalue(jr, 0, 1), "veh \"q\\ \u00e9");
		FO_CHECK_STR(PQgetvalue(jr, 0, 2), "INFO");
	}
	PQclear(jr);
	free(aj);
	free(vj);
	fo_anomaly_json_free(&odd);
	/* a repeat: nothing new, empty arrays */
	FO_CHECK(fo_db_alerts_insert(db, one, 1, &ins, &aj, &vj, err, sizeof(err)) == FO_DB_OK &&
	         ins == 0);
	FO_CHECK(aj && vj && strcmp(aj, "[]") == 0 && strcmp(vj, "[]") == 0);
	free(aj);
	free(vj);

	/* 4. refused values, an unreachable server */
	fo_anomaly_json evil;
	anomaly(&evil, 6, "veh_d", "INFO");
	char *p = strstr(evil.row, "\"INFO\"");
	memcpy(p, "\"NOPE\"", 6);
	const fo_anomaly_json *two[] = {&evil, &a[3]};
	fo_db_rc rc = fo_db_alerts_insert(db, two, 2, &ins, &aj, &vj, err, sizeof(err));
	FO_CHECK_MSG(rc == FO_DB_EDATA, "%s: %s", fo_db_rc_str(rc), err);
	FO_CHECK(aj == NULL && vj == NULL);
	FO_CHECK_MSG(strstr(err, "SQLSTATE 23514") != NULL, "%s", err);
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM vehicles WHERE vehicle_id = 'veh_d'") == 0);
	FO_CHECK(fo_pg_num(c, "SELECT count(*) FROM alerts") == 6);
	FO_CHECK(fo_db_ping(db, err, sizeof(err)) == FO_DB_OK); /* the connection is usable */
	fo_pg_exec(c, "SELECT 1");
	FO_CHECK(fo_pg_exec(c,
	                    "INSERT INTO alerts (anomaly_id, event_id, vehicle_id, alert_status, "
	                    "severity, anomaly_type, triggered_rule, event_time) VALUES "
	                    "(gen_random_uuid(), gen_random_uuid(), 'v', 'LOST', 'INFO', "
	                    "'dropout', 'r', now())") < 0);
	fo_db *down = fo_db_new("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2");
	FO_CHECK(fo_db_connect(down, err, sizeof(err)) == FO_DB_EAGAIN);
	FO_CHECK_MSG(strstr(err, "127.0.0.1") != NULL, "%s", err);
	FO_CHECK(!fo_db_connected(down));
	FO_CHECK(fo_db_alerts_insert(down, one, 1, &ins, NULL, NULL, err, sizeof(err)) ==
	         FO_DB_EAGAIN);
	FO_CHECK(fo_db_migrate(down, NULL, err, sizeof(err)) == FO_DB_EAGAIN);
	fo_db_destroy(down);

	/* 5. cursor paging: 250 alerts inserted in one transaction share their
	 * created_at, so the pages must split ties by alert_id; a walk sees
	 * every row once, with and without a filter */
	fo_anomaly_json many[250];
	const fo_anomaly_json *mrows[250];
	for (int i = 0; i < 250; i++) {
		anomaly(&many[i], 1000 + i, i % 2 ? "veh_p" : "veh_q", i % 3 ? "INFO" : "CRITICAL");
		mrows[i] = &many[i];
	}
	FO_CHECK(fo_db_alerts_insert(db, mrows, 250, &ins, NULL, NULL, err, sizeof(err)) ==
	             FO_DB_OK &&
	         ins == 250);
	long long total = fo_pg_num(c, "SELECT count(*) FROM alerts");
	for (int pass = 0; pass < 2; pass++) {
		fo_db_alert_filter f = {.limit = 7, .severity = pass ? "INFO" : NULL};
		char cursor[FO_DB_CURSOR_LEN + 1] = "";
		long long seen = 0;
		int pages = 0;
		fo_pg_exec(c, "CREATE TEMP TABLE IF NOT EXISTS seen (id uuid)");
		fo_pg_exec(c, "TRUNCATE seen");
		do {
			f.cursor = cursor;
			char *arr = NULL;
			size_t len = 0;
			rc = fo_db_alerts_list(db, &f, &arr, &len, err, sizeof(err));
			FO_CHECK_MSG(rc == FO_DB_OK, "%s", err);
			if (rc != FO_DB_OK)
				break;
			/* the page's ids into the temp table, then the next page */
			const char *pj[] = {arr};
			PGresult *r = PQexecParams(c,
			                           "INSERT INTO seen SELECT (e->>'alert_id')::uuid "
			                           "FROM json_array_elements($1::json) AS e",
			                           1, NULL, pj, NULL, NULL, 0);
			FO_CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
			long long k = atoll(PQcmdTuples(r));
			PQclear(r);
			FO_CHECK(k <= 7 && (k == 7 || !f.next_cursor[0]));
			FO_CHECK(strlen(arr) == len);
			seen += k;
			free(arr);
			snprintf(cursor, sizeof(cursor), "%s", f.next_cursor);
		} while (cursor[0] && ++pages < 1000);
		long long want =
		    pass ? fo_pg_num(c, "SELECT count(*) FROM alerts WHERE severity = 'INFO'")
		         : total;
		FO_CHECK_MSG(seen == want, "pass %d: walked %lld rows of %lld", pass, seen, want);
		FO_CHECK(fo_pg_num(c, "SELECT count(DISTINCT id) FROM seen") == want);
	}
	/* a cursor that was not made here is a 400-like FO_DB_EDATA */
	const char *bad[] = {"x", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
	                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	                     "f_______________________________"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		fo_db_alert_filter f = {.cursor = bad[i]};
		char *arr = (char *)"untouched";
		size_t len;
		rc = fo_db_alerts_list(db, &f, &arr, &len, err, sizeof(err));
		FO_CHECK_MSG(rc == FO_DB_EDATA && strncmp(err, "cursor:", 7) == 0 && arr == NULL,
		             "cursor %s: %s %s", bad[i], fo_db_rc_str(rc), err);
	}
	for (int i = 0; i < 250; i++)
		fo_anomaly_json_free(&many[i]);

	for (int i = 0; i < 5; i++)
		fo_anomaly_json_free(&a[i]);
	fo_anomaly_json_free(&crit);
	fo_anomaly_json_free(&evil);
	fo_db_destroy(db);
	PQfinish(c);
	fo_pg_drop();
	return fo_test_done("test_db_pg");
}
