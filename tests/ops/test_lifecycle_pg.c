/*
 * Integration: ops/lifecycle against a real PostgreSQL (a throwaway
 * database).
 *
 *  1. tokens: issue, check, rotate (the old token stops working), names
 *     and token strings that are refused;
 *  2. the lifecycle table: every action from every state (OPEN,
 *     ACKNOWLEDGED, RESOLVED, DISMISSED, a pull-over in progress) is 200
 *     with the table's effect or 409 with alert_status; each 200 writes one
 *     action, RESOLVE one incident, DISMISS none; 400 for a malformed
 *     alert id or action type, 404 for an unknown alert;
 *  3. pull-over: the vehicle is UNDER_INTERVENTION, a second pull-over of
 *     the vehicle is 409, RESUME ends it; a 0.2 s pull-over completes on
 *     another connection (as after a restart) with the automatic RESOLVE
 *     by the requester, an incident, and the vehicle's state back;
 *  4. concurrency: two connections acting on the same alerts at once
 *     leave each alert in one consistent state; of two pull-overs of one
 *     vehicle at once exactly one wins;
 *  5. reads: alert detail, vehicle history, open alerts, counts; the
 *     vehicles' open-alert counts kept by the trigger equal a recount;
 *  6. an unreachable server is FO_DB_EAGAIN.
 * Needs PG_DSN (./tools/fleetops test); exits 77 without it.
 */
#include "db.h"
#include "lifecycle.h"
#include "pg_fixture.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <time.h>

static fo_db *db;
static PGconn *pg;
static int64_t alice, bob;
static int serial;

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A new OPEN alert of vehicle (severity sev); its alert_id into id. */
static void new_alert(const char *vehicle, const char *sev, char id[37])
{
	char msg[1024], err[512];
	int n = ++serial;
	snprintf(
	    msg, sizeof(msg),
	    "{\"event_version\":\"1.0.0\",\"anomaly_id\":\"00000000-0000-5000-8000-%012d\","
	    "\"event_id\":\"00000000-0000-5000-9000-%012d\",\"vehicle_id\":\"%s\","
	    "\"event_time\":\"2019-10-23T16:08:01.502Z\",\"anomaly_type\":\"sudden_deceleration\","
	    "\"severity\":\"%s\",\"triggered_rule\":\"hard_braking\","
	    "\"features\":{\"decel_mps2\":5.5},\"thresholds\":{\"decel_mps2\":4.0},"
	    "\"evidence\":{\"frame_indices\":[%d],\"velocity_history\":[9.5],"
	    "\"acceleration_history\":[-5.5]}}",
	    n, n, vehicle, sev, n);
	fo_anomaly_json a;
	if (fo_anomaly_json_parse(msg, strlen(msg), &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "test bug: %s\n", err);
		exit(1);
	}
	const fo_anomaly_json *rows[] = {&a};
	size_t ins = 0;
	char *aj = NULL;
	FO_CHECK_MSG(fo_db_alerts_insert(db, rows, 1, &ins, &aj, NULL, err, sizeof(err)) ==
	                     FO_DB_OK &&
	                 ins == 1,
	             "%s", err);
	cJSON *arr = cJSON_Parse(aj ? aj : "[]");
	cJSON *o = cJSON_GetArrayItem(arr, 0);
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, "alert_id"));
	snprintf(id, 37, "%s", s ? s : "");
	cJSON_Delete(arr);
	free(aj);
	fo_anomaly_json_free(&a);
}

static const char *q1(const char *sql, const char *param)
{
	static char out[4096];
	const char *p[] = {param};
	PGresult *r = PQexecParams(pg, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
	snprintf(out, sizeof(out), "%s",
	         PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
	             ? PQgetvalue(r, 0, 0)
	             : "(none)");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
	PQclear(r);
	return out;
}

static long long qn(const char *sql, const char *param)
{
	return atoll(q1(sql, param));
}

static const char *status_of(const char *id)
{
	return q1("SELECT alert_status FROM alerts WHERE alert_id = $1", id);
}

static const char *vstate(const char *vehicle)
{
	return q1("SELECT state FROM vehicles WHERE vehicle_id = $1", vehicle);
}

/* fo_lc_act by op; returns the HTTP status (-1 on an error return). The
 * result is checked for the shape its status promises. */
static int act_on(fo_db *d, const char *id, int64_t op, const char *type, const char *note,
                  double delay, char *alert_status_out)
{
	fo_lc_result r;
	char err[1024];
	fo_db_rc rc = fo_lc_act(d, id, op, type, note, delay, &r, err, sizeof(err));
	if (rc != FO_DB_OK) {
		fprintf(stderr, "fo_lc_act %s %s: %s: %s\n", type, id, fo_db_rc_str(rc), err);
		fo_lc_result_free(&r);
		return -1;
	}
	cJSON *b = cJSON_Parse(r.body);
	FO_CHECK_MSG(b != NULL && strlen(r.body) == r.body_len, "body %s", r.body);
	if (r.http_status == 200) {
		cJSON *a = cJSON_GetObjectItem(b, "alert"), *x = cJSON_GetObjectItem(b, "action");
		FO_CHECK(a && x && r.alert_json && r.action_json && r.vehicles_json);
		FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(x, "action_type")), type);
		FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "alert_id")), id);
		FO_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(x, "operator_id")) == (double)op);
		cJSON *v = cJSON_Parse(r.vehicles_json);
		FO_CHECK(cJSON_GetArraySize(v) == 1 &&
		         cJSON_GetObjectItem(cJSON_GetArrayItem(v, 0), "state") != NULL);
		cJSON_Delete(v);
		if (alert_status_out)
			snprintf(alert_status_out, 16, "%s",
			         cJSON_GetStringValue(cJSON_GetObjectItem(a, "alert_status")));
	} else {
		FO_CHECK(!r.alert_json && !r.action_json && !r.vehicles_json);
		FO_CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(b, "error")) != NULL);
		if (r.http_status == 409) {
			const char *st =
			    cJSON_GetStringValue(cJSON_GetObjectItem(b, "alert_status"));
			FO_CHECK_MSG(st != NULL, "409 without alert_status: %s", r.body);
			if (alert_status_out && st)
				snprintf(alert_status_out, 16, "%s", st);
		}
	}
	cJSON_Delete(b);
	int code = r.http_status;
	fo_lc_result_free(&r);
	return code;
}

static int act(const char *id, int64_t op, const char *type)
{
	return act_on(db, id, op, type, NULL, 3600, NULL);
}

static void test_tokens(void)
{
	char tok[FO_LC_TOKEN_LEN + 1], tok2[FO_LC_TOKEN_LEN + 1], name[64], err[512];
	int64_t id = -1, id2 = -1;
	FO_CHECK(fo_lc_token_issue(db, "alice", tok, &alice, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(strlen(tok) == 64 && strspn(tok, "0123456789abcdef") == 64 && alice > 0);
	FO_CHECK(fo_lc_token_issue(db, "bob", tok2, &bob, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(bob > 0 && bob != alice && strcmp(tok, tok2) != 0);
	FO_CHECK(fo_lc_token_check(db, tok, &id, name, sizeof(name), err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(id == alice);
	FO_CHECK_STR(name, "alice");
	/* the token is not stored, its SHA-256 is */
	FO_CHECK(qn("SELECT count(*) FROM operators WHERE token_hash = $1", tok) == 0);
	FO_CHECK(qn("SELECT count(*) FROM operators WHERE token_hash = encode(sha256($1::bytea), "
	            "'hex')",
	            tok) == 1);
	/* rotation: same operator, new token, the old one stops working */
	char old[FO_LC_TOKEN_LEN + 1];
	memcpy(old, tok, sizeof(old));
	FO_CHECK(fo_lc_token_issue(db, "alice", tok, &id2, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(id2 == alice && strcmp(old, tok) != 0);
	FO_CHECK(fo_lc_token_check(db, old, &id, name, sizeof(name), err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(id == 0 && name[0] == '\0');
	FO_CHECK(fo_lc_token_check(db, tok, &id, name, sizeof(name), err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(id == alice);
	/* upper-case hex is the same token */
	char up[FO_LC_TOKEN_LEN + 1];
	for (int i = 0; i <= FO_LC_TOKEN_LEN; i++)
		up[i] = (char)(tok[i] >= 'a' && tok[i] <= 'f' ? tok[i] - 32 : tok[i]);
	FO_CHECK(fo_lc_token_check(db, up, &id, name, sizeof(name), err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(id == alice);
	/* strings nobody holds */
	const char *nope[] = {"", "abc", "zz", NULL};
	for (int i = 0; nope[i]; i++) {
		FO_CHECK(fo_lc_token_check(db, nope[i], &id, name, sizeof(name), err,
		                           sizeof(err)) == FO_DB_OK);
		FO_CHECK(id == 0);
	}
	char g[FO_LC_TOKEN_LEN + 1];
	memset(g, '0', FO_LC_TOKEN_LEN);
	g[FO_LC_TOKEN_LEN] = '\0';
	FO_CHECK(fo_lc_token_check(db, g, &id, name, sizeof(name), err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(id == 0);
	/* names */
	char longname[200];
	memset(longname, 'x', 129);
	longname[129] = '\0';
	const char *bad[] = {"", " lead", "trail ", "tab\there", "nl\n", longname, NULL};
	for (int i = 0; bad[i]; i++) {
		FO_CHECK_MSG(fo_lc_token_issue(db, bad[i], g, &id, err, sizeof(err)) == FO_DB_EDATA,
		             "name %d accepted", i);
		FO_CHECK(strstr(err, "operator name") != NULL && g[0] == '\0');
	}
	longname[128] = '\0';
	FO_CHECK(fo_lc_token_issue(db, longname, g, &id, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(fo_lc_token_issue(db, "Zoë Ω", g, &id, err, sizeof(err)) == FO_DB_OK);
}

/* Start states of the table, each on a vehicle of its own. */
enum { S_OPEN, S_ACK, S_RESOLVED, S_DISMISSED, S_PULLOVER, S_N };
static const char *const start_names[S_N] = {"OPEN", "ACKNOWLEDGED", "RESOLVED", "DISMISSED",
                                             "PULLOVER"};

static void make_state(int s, char id[37], char vehicle[64])
{
	snprintf(vehicle, 64, "scene_001_track_%d", ++serial + 1000);
	new_alert(vehicle, "CRITICAL", id);
	static const char *const setup[S_N] = {NULL, "ACKNOWLEDGE", "RESOLVE", "DISMISS",
	                                       "PULL_OVER_SIMULATED"};
	if (setup[s])
		FO_CHECK(act(id, alice, setup[s]) == 200);
}

static void test_table(void)
{
	static const char *const actions[] = {
	    "ACKNOWLEDGE", "ASSIGN", "PULL_OVER_SIMULATED", "REQUEST_REMOTE_ASSIST", "RESUME",
	    "RESOLVE",     "DISMISS"};
	/* expected status after the action, or NULL for 409 */
	static const char *const want[7][S_N] = {
	    /* ACKNOWLEDGE */ {"ACKNOWLEDGED", NULL, NULL, NULL, NULL},
	    /* ASSIGN */ {"OPEN", "ACKNOWLEDGED", NULL, NULL, "ACKNOWLEDGED"},
	    /* PULL_OVER */ {"ACKNOWLEDGED", "ACKNOWLEDGED", NULL, NULL, NULL},
	    /* REMOTE_ASSIST */ {"ACKNOWLEDGED", "ACKNOWLEDGED", NULL, NULL, "ACKNOWLEDGED"},
	    /* RESUME */ {NULL, NULL, NULL, NULL, "ACKNOWLEDGED"},
	    /* RESOLVE */ {"RESOLVED", "RESOLVED", NULL, NULL, "RESOLVED"},
	    /* DISMISS */ {"DISMISSED", "DISMISSED", NULL, NULL, "DISMISSED"},
	};
	static const char *const before[S_N] = {"OPEN", "ACKNOWLEDGED", "RESOLVED", "DISMISSED",
	                                        "ACKNOWLEDGED"};
	for (int a = 0; a < 7; a++) {
		for (int s = 0; s < S_N; s++) {
			char id[37], vehicle[64], st[16] = "";
			make_state(s, id, vehicle);
			long long acts0 =
			    qn("SELECT count(*) FROM operator_actions WHERE alert_id = $1", id);
			long long inc0 =
			    qn("SELECT count(*) FROM incident_history WHERE alert_id = $1", id);
			int code = act_on(db, id, bob, actions[a], "a note", 3600, st);
			long long acts =
			    qn("SELECT count(*) FROM operator_actions WHERE alert_id = $1", id);
			long long inc =
			    qn("SELECT count(*) FROM incident_history WHERE alert_id = $1", id);
			if (!want[a][s]) {
				FO_CHECK_MSG(code == 409, "%s on %s: %d", actions[a],
				             start_names[s], code);
				FO_CHECK_STR(st, before[s]);
				FO_CHECK_STR(status_of(id), before[s]);
				FO_CHECK(acts == acts0 && inc == inc0);
				continue;
			}
			FO_CHECK_MSG(code == 200, "%s on %s: %d", actions[a], start_names[s], code);
			FO_CHECK_STR(st, want[a][s]);
			FO_CHECK_STR(status_of(id), want[a][s]);
			FO_CHECK(acts == acts0 + 1);
			FO_CHECK_MSG(inc == inc0 + (strcmp(actions[a], "RESOLVE") == 0),
			             "%s on %s: %lld incidents", actions[a], start_names[s], inc);
			/* the action row: operator, note, previous status */
			FO_CHECK(
			    qn("SELECT count(*) FROM operator_actions WHERE alert_id = $1 AND "
			       "operator_id = (SELECT id FROM operators WHERE name = 'bob') AND "
			       "metadata->>'note' = 'a note' AND published_at IS NULL",
			       id) == 1);
			/* effects */
			int pulled = strcmp(actions[a], "PULL_OVER_SIMULATED") == 0 ||
			             (s == S_PULLOVER && (a == 1 || a == 3));
			FO_CHECK_MSG(qn("SELECT count(*) FROM alerts WHERE alert_id = $1 AND "
			                "pullover_due_at IS NOT NULL",
			                id) == pulled,
			             "%s on %s: pull-over", actions[a], start_names[s]);
			FO_CHECK_STR(vstate(vehicle), pulled ? "UNDER_INTERVENTION"
			                              : strcmp(want[a][s], "RESOLVED") == 0 ||
			                                      strcmp(want[a][s], "DISMISSED") == 0
			                                  ? "NORMAL"
			                                  : "ALERTING");
			if (strcmp(actions[a], "ASSIGN") == 0)
				FO_CHECK(qn("SELECT assigned_operator_id FROM alerts WHERE "
				            "alert_id = $1",
				            id) == bob);
			if (strcmp(want[a][s], "ACKNOWLEDGED") == 0)
				FO_CHECK(qn("SELECT count(*) FROM alerts WHERE alert_id = $1 AND "
				            "acknowledged_at IS NOT NULL AND resolved_at IS NULL",
				            id) == 1);
			if (a >= 5) {
				FO_CHECK(qn("SELECT count(*) FROM alerts WHERE alert_id = $1 AND "
				            "resolved_at = updated_at",
				            id) == 1);
				if (s == S_PULLOVER)
					FO_CHECK(
					    qn("SELECT count(*) FROM operator_actions WHERE "
					       "alert_id = $1 "
					       "AND (metadata->>'pull_over_cancelled')::boolean",
					       id) == 1);
			}
		}
	}
	/* the incident of a RESOLVE: what it was and what was done */
	char id[37], vehicle[64];
	make_state(S_ACK, id, vehicle);
	FO_CHECK(act(id, bob, "RESOLVE") == 200);
	FO_CHECK_STR(
	    q1("SELECT summary->>'triggered_rule' || ',' || (summary->>'severity') || ',' "
	       "|| (summary->>'anomaly_type') || ',' || (summary->>'resolution') || ',' || "
	       "(summary->>'resolved_by') || ',' || (summary->'actions'->0->>'action_type') "
	       "|| ',' || (summary->'actions'->1->>'action_type') || ',' || "
	       "jsonb_array_length(summary->'actions') FROM incident_history WHERE "
	       "alert_id = $1",
	       id),
	    "hard_braking,CRITICAL,sudden_deceleration,resolved,bob,ACKNOWLEDGE,RESOLVE,2");

	/* 400, 404 */
	FO_CHECK(act("not-a-uuid", alice, "ACKNOWLEDGE") == 400);
	FO_CHECK(act("'; DROP TABLE alerts; --", alice, "ACKNOWLEDGE") == 400);
	FO_CHECK(act("00000000-0000-4000-8000-000000000000", alice, "ACKNOWLEDGE") == 404);
	make_state(S_OPEN, id, vehicle);
	FO_CHECK(act(id, alice, "FLY") == 400);
	FO_CHECK(act(id, alice, "acknowledge") == 400);
	FO_CHECK(act_on(db, id, alice, NULL, NULL, 1, NULL) == 400);
	FO_CHECK_STR(status_of(id), "OPEN");
	FO_CHECK(qn("SELECT count(*) FROM operator_actions WHERE alert_id = $1", id) == 0);
	/* a note with quotes and unicode travels as a value */
	FO_CHECK(act_on(db, id, alice, "ACKNOWLEDGE", "it's \"fine\" ✓ $1", 1, NULL) == 200);
	FO_CHECK_STR(q1("SELECT metadata->>'note' FROM operator_actions WHERE alert_id = $1", id),
	             "it's \"fine\" ✓ $1");
	/* the assigned operator's name is in the Alert */
	fo_lc_result r;
	char err[512];
	FO_CHECK(fo_lc_act(db, id, alice, "ASSIGN", NULL, 1, &r, err, sizeof(err)) == FO_DB_OK);
	cJSON *b = cJSON_Parse(r.alert_json);
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "assigned_operator")), "alice");
	cJSON_Delete(b);
	b = cJSON_Parse(r.action_json);
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "operator_name")), "alice");
	cJSON_Delete(b);
	fo_lc_result_free(&r);
}

static void test_pullover(void)
{
	char a1[37], a2[37], a3[37], err[512];
	const char *veh = "scene_002_track_7";
	new_alert(veh, "CRITICAL", a1);
	new_alert(veh, "WARNING", a2);
	FO_CHECK_STR(vstate(veh), "ALERTING");
	FO_CHECK(act(a1, alice, "PULL_OVER_SIMULATED") == 200);
	FO_CHECK_STR(vstate(veh), "UNDER_INTERVENTION");
	/* one pull-over per vehicle */
	FO_CHECK(act(a2, bob, "PULL_OVER_SIMULATED") == 409);
	FO_CHECK(act(a2, bob, "RESUME") == 409); /* not a2's pull-over */
	/* a new alert does not end the intervention */
	new_alert(veh, "INFO", a3);
	FO_CHECK_STR(vstate(veh), "UNDER_INTERVENTION");
	FO_CHECK(act(a1, bob, "RESUME") == 200);
	FO_CHECK_STR(vstate(veh), "ALERTING");
	FO_CHECK_STR(status_of(a1), "ACKNOWLEDGED");
	FO_CHECK(act(a1, bob, "RESUME") == 409);

	/* a short pull-over completes on another connection (a restart) */
	fo_db *db2 = fo_db_new(fo_pg_dsn);
	FO_CHECK(fo_db_connect(db2, err, sizeof(err)) == FO_DB_OK);
	fo_lc_result *res = NULL;
	size_t n = 9;
	int64_t next = -2;
	FO_CHECK(fo_lc_pullovers_due(db2, &res, &n, &next, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(n == 0 && res == NULL && next == -1);
	FO_CHECK(act_on(db, a2, bob, "PULL_OVER_SIMULATED", NULL, 0.2, NULL) == 200);
	FO_CHECK_STR(vstate(veh), "UNDER_INTERVENTION");
	FO_CHECK(fo_lc_pullovers_due(db2, &res, &n, &next, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK_MSG(n == 0 && next >= 0 && next <= 200, "n %zu next %lld", n, (long long)next);
	nap_ms((int)next + 20);
	FO_CHECK(fo_lc_pullovers_due(db2, &res, &n, &next, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK_MSG(n == 1 && next == -1, "n %zu next %lld", n, (long long)next);
	if (n == 1) {
		FO_CHECK(res[0].http_status == 200 && res[0].body && res[0].vehicles_json);
		cJSON *x = cJSON_Parse(res[0].action_json);
		FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(x, "action_type")),
		             "RESOLVE");
		FO_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(x, "operator_id")) ==
		         (double)bob);
		cJSON *m = cJSON_GetObjectItem(x, "metadata");
		FO_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(m, "automatic")));
		FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(m, "reason")),
		             "pull_over_completed");
		FO_CHECK(cJSON_GetArraySize(m) == 2);
		cJSON_Delete(x);
		x = cJSON_Parse(res[0].alert_json);
		FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(x, "alert_status")),
		             "RESOLVED");
		FO_CHECK(cJSON_IsNull(cJSON_GetObjectItem(x, "pullover_due_at")));
		cJSON_Delete(x);
		FO_CHECK(strstr(res[0].vehicles_json, "ALERTING") != NULL);
	}
	fo_lc_results_free(res, n);
	FO_CHECK_STR(status_of(a2), "RESOLVED");
	FO_CHECK_STR(vstate(veh), "ALERTING");
	FO_CHECK_STR(
	    q1("SELECT summary->>'resolution' FROM incident_history WHERE alert_id = $1", a2),
	    "pull_over_completed");
	FO_CHECK(qn("SELECT count(*) FROM operator_actions WHERE alert_id = $1", a2) == 2);
	/* nothing twice */
	FO_CHECK(fo_lc_pullovers_due(db2, &res, &n, &next, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(n == 0 && next == -1);
	/* a RESOLVE before the delay ends the pull-over: nothing completes later */
	FO_CHECK(act_on(db, a1, alice, "PULL_OVER_SIMULATED", NULL, 0.1, NULL) == 200);
	FO_CHECK(act(a1, alice, "RESOLVE") == 200);
	nap_ms(150);
	FO_CHECK(fo_lc_pullovers_due(db2, &res, &n, &next, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK(n == 0 && next == -1);
	FO_CHECK(qn("SELECT count(*) FROM operator_actions WHERE alert_id = $1", a1) == 4);
	FO_CHECK_STR(vstate(veh), "DEGRADED"); /* a3, INFO */
	fo_db_destroy(db2);
}

/* ---- concurrency ---- */

typedef struct worker {
	fo_db *d;
	const char *type;
	char (*ids)[37];
	int n;
	int codes[64];
	pthread_barrier_t *bar;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	pthread_barrier_wait(w->bar);
	for (int i = 0; i < w->n; i++)
		w->codes[i] = act_on(w->d, w->ids[i], strcmp(w->type, "RESOLVE") ? alice : bob,
		                     w->type, NULL, 3600, NULL);
	return NULL;
}

static void test_concurrent(void)
{
	enum { N = 40 };
	char ids[N][37], vids[N][64], err[512];
	for (int i = 0; i < N; i++) {
		snprintf(vids[i], 64, "scene_003_track_%d", i % 5); /* shared vehicles too */
		new_alert(vids[i], i % 2 ? "CRITICAL" : "INFO", ids[i]);
	}
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, 2);
	worker w[2] = {{.type = "ACKNOWLEDGE", .ids = ids, .n = N, .bar = &bar},
	               {.type = "RESOLVE", .ids = ids, .n = N, .bar = &bar}};
	pthread_t t[2];
	for (int k = 0; k < 2; k++) {
		w[k].d = fo_db_new(fo_pg_dsn);
		FO_CHECK(fo_db_connect(w[k].d, err, sizeof(err)) == FO_DB_OK);
		pthread_create(&t[k], NULL, work, &w[k]);
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	int acked = 0;
	for (int i = 0; i < N; i++) {
		/* RESOLVE always applies (OPEN or ACKNOWLEDGED); ACKNOWLEDGE only
		 * if it came first */
		FO_CHECK_MSG(w[1].codes[i] == 200, "RESOLVE %d: %d", i, w[1].codes[i]);
		FO_CHECK(w[0].codes[i] == 200 || w[0].codes[i] == 409);
		acked += w[0].codes[i] == 200;
		FO_CHECK_STR(status_of(ids[i]), "RESOLVED");
		FO_CHECK(qn("SELECT count(*) FROM operator_actions WHERE alert_id = $1", ids[i]) ==
		         1 + (w[0].codes[i] == 200));
		FO_CHECK(qn("SELECT count(*) FROM incident_history WHERE alert_id = $1", ids[i]) ==
		         1);
		/* acknowledged_at only when the ACKNOWLEDGE won */
		FO_CHECK(
		    qn("SELECT count(*) FROM alerts WHERE alert_id = $1 AND acknowledged_at IS "
		       "NOT NULL",
		       ids[i]) == (w[0].codes[i] == 200));
	}
	printf("concurrent: %d of %d ACKNOWLEDGEs came before the RESOLVE\n", acked, N);
	for (int i = 0; i < 5; i++)
		FO_CHECK_STR(vstate(vids[i]), "NORMAL");

	/* two pull-overs of one vehicle at once: exactly one wins */
	for (int round = 0; round < 10; round++) {
		char v[64], p[2][37];
		snprintf(v, sizeof(v), "scene_004_track_%d", round);
		new_alert(v, "WARNING", p[0]);
		new_alert(v, "WARNING", p[1]);
		worker pw[2] = {{.d = w[0].d, .type = "PULL_OVER_SIMULATED", .ids = &p[0], .n = 1},
		                {.d = w[1].d, .type = "PULL_OVER_SIMULATED", .ids = &p[1], .n = 1}};
		pw[0].bar = pw[1].bar = &bar;
		for (int k = 0; k < 2; k++)
			pthread_create(&t[k], NULL, work, &pw[k]);
		for (int k = 0; k < 2; k++)
			pthread_join(t[k], NULL);
		FO_CHECK_MSG((pw[0].codes[0] == 200) + (pw[1].codes[0] == 200) == 1 &&
		                 (pw[0].codes[0] == 409) + (pw[1].codes[0] == 409) == 1,
		             "round %d: %d %d", round, pw[0].codes[0], pw[1].codes[0]);
		FO_CHECK(
		    qn("SELECT count(*) FROM alerts WHERE vehicle_id = $1 AND pullover_due_at IS "
		       "NOT NULL",
		       v) == 1);
		FO_CHECK_STR(vstate(v), "UNDER_INTERVENTION");
	}
	pthread_barrier_destroy(&bar);
	for (int k = 0; k < 2; k++)
		fo_db_destroy(w[k].d);
}

static void test_reads(void)
{
	char id[37], id2[37], err[512];
	const char *veh = "scene_005_track_1";
	new_alert(veh, "CRITICAL", id);
	nap_ms(5);
	new_alert(veh, "INFO", id2);
	FO_CHECK(act(id, alice, "ACKNOWLEDGE") == 200);
	FO_CHECK(act(id, bob, "ASSIGN") == 200);
	FO_CHECK(act(id, bob, "RESOLVE") == 200);

	fo_lc_result r;
	FO_CHECK(fo_lc_alert_get(db, id, &r, err, sizeof(err)) == FO_DB_OK && r.http_status == 200);
	cJSON *b = cJSON_Parse(r.body);
	FO_CHECK_MSG(b != NULL, "%s", r.body);
	cJSON *a = cJSON_GetObjectItem(b, "alert");
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "alert_status")), "RESOLVED");
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "assigned_operator")), "bob");
	FO_CHECK(cJSON_GetNumberValue(
	             cJSON_GetObjectItem(cJSON_GetObjectItem(a, "features"), "decel_mps2")) == 5.5);
	FO_CHECK(cJSON_GetObjectItem(a, "thresholds") != NULL);
	FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "evidence"),
	                                                "velocity_history")) == 1);
	const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(a, "resolved_at"));
	FO_CHECK(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
	cJSON *v = cJSON_GetObjectItem(b, "vehicle");
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "vehicle_id")), veh);
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "scene_id")), "scene_005");
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "state")), "DEGRADED");
	FO_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(v, "open_alerts")) == 1);
	cJSON *x = cJSON_GetObjectItem(b, "actions");
	FO_CHECK(cJSON_GetArraySize(x) == 3);
	FO_CHECK_STR(
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(x, 0), "action_type")),
	    "ACKNOWLEDGE"); /* oldest first */
	FO_CHECK_STR(
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(x, 2), "action_type")),
	    "RESOLVE");
	cJSON *inc = cJSON_GetObjectItem(b, "incident");
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(inc, "alert_id")), id);
	FO_CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(inc, "summary"), "actions") != NULL);
	cJSON_Delete(b);
	fo_lc_result_free(&r);
	/* an open alert: no incident */
	FO_CHECK(fo_lc_alert_get(db, id2, &r, err, sizeof(err)) == FO_DB_OK &&
	         r.http_status == 200);
	b = cJSON_Parse(r.body);
	FO_CHECK(cJSON_IsNull(cJSON_GetObjectItem(b, "incident")));
	FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(b, "actions")) == 0);
	cJSON_Delete(b);
	fo_lc_result_free(&r);
	FO_CHECK(fo_lc_alert_get(db, "00000000-0000-4000-8000-000000000000", &r, err,
	                         sizeof(err)) == FO_DB_OK &&
	         r.http_status == 404);
	fo_lc_result_free(&r);
	FO_CHECK(fo_lc_alert_get(db, "nope", &r, err, sizeof(err)) == FO_DB_OK &&
	         r.http_status == 400 && strstr(r.body, "not a UUID"));
	fo_lc_result_free(&r);

	/* history, newest first */
	FO_CHECK(fo_lc_vehicle_history(db, veh, &r, err, sizeof(err)) == FO_DB_OK &&
	         r.http_status == 200);
	b = cJSON_Parse(r.body);
	FO_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "vehicle_id")), veh);
	cJSON *al = cJSON_GetObjectItem(b, "alerts");
	FO_CHECK(cJSON_GetArraySize(al) == 2);
	FO_CHECK_STR(
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(al, 0), "alert_id")), id2);
	x = cJSON_GetObjectItem(b, "actions");
	FO_CHECK(cJSON_GetArraySize(x) == 3);
	FO_CHECK_STR(
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(x, 0), "action_type")),
	    "RESOLVE");
	FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(b, "incidents")) == 1);
	cJSON_Delete(b);
	fo_lc_result_free(&r);
	FO_CHECK(fo_lc_vehicle_history(db, "scene_999_track_404", &r, err, sizeof(err)) ==
	             FO_DB_OK &&
	         r.http_status == 404);
	fo_lc_result_free(&r);

	/* open alerts: all, one vehicle */
	char *j = NULL;
	size_t len = 0;
	FO_CHECK(fo_lc_vehicle_alerts(db, veh, &j, &len, err, sizeof(err)) == FO_DB_OK);
	b = cJSON_Parse(j);
	FO_CHECK(cJSON_GetArraySize(b) == 1 && strlen(j) == len);
	FO_CHECK_STR(
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(b, 0), "alert_id")), id2);
	cJSON_Delete(b);
	free(j);
	FO_CHECK(fo_lc_vehicle_alerts(db, "nobody", &j, &len, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK_STR(j, "[]");
	free(j);
	FO_CHECK(fo_lc_open_alerts(db, &j, &len, err, sizeof(err)) == FO_DB_OK);
	b = cJSON_Parse(j);
	long long open = qn("SELECT count(*) FROM alerts WHERE alert_status IN "
	                    "('OPEN','ACKNOWLEDGED')",
	                    NULL);
	FO_CHECK_MSG(cJSON_GetArraySize(b) == open, "%d open in the snapshot, %lld in the table",
	             cJSON_GetArraySize(b), open);
	cJSON_Delete(b);
	free(j);

	fo_lc_counts c;
	FO_CHECK(fo_lc_alert_counts(db, &c, err, sizeof(err)) == FO_DB_OK);
	long long sum = 0, open2 = 0;
	for (int s = 0; s < FO_LC_STATUS_N; s++)
		for (int v2 = 0; v2 < FO_LC_SEVERITY_N; v2++)
			sum += c.n[s][v2], open2 += s < 2 ? c.n[s][v2] : 0;
	FO_CHECK(sum == qn("SELECT count(*) FROM alerts", NULL));
	FO_CHECK(open2 == open);
	FO_CHECK(c.n[2][2] == qn("SELECT count(*) FROM alerts WHERE alert_status = 'RESOLVED' AND "
	                         "severity = 'CRITICAL'",
	                         NULL));
	FO_CHECK(c.pullovers ==
	         qn("SELECT count(*) FROM alerts WHERE pullover_due_at IS NOT NULL", NULL));
}

int main(void)
{
	fo_pg_create();
	char err[1024];
	db = fo_db_new(fo_pg_dsn);
	FO_CHECK_MSG(fo_db_connect(db, err, sizeof(err)) == FO_DB_OK, "%s", err);
	FO_CHECK_MSG(fo_db_migrate(db, NULL, err, sizeof(err)) == FO_DB_OK, "%s", err);
	pg = fo_pg_connect();

	test_tokens();
	test_pullover(); /* first: it expects no other pull-over in progress */
	test_table();
	test_concurrent();
	test_reads();

	/* the vehicles' counts (kept by the alerts trigger through everything
	 * above, concurrent actions included) equal a recount, and the state
	 * follows them */
	FO_CHECK(qn("SELECT count(*) FROM vehicles AS v LEFT JOIN ("
	            "  SELECT vehicle_id, count(*) FILTER (WHERE severity = 'CRITICAL') AS c, "
	            "  count(*) FILTER (WHERE severity <> 'CRITICAL') AS o, "
	            "  count(*) FILTER (WHERE pullover_due_at IS NOT NULL) AS p "
	            "  FROM alerts WHERE alert_status IN ('OPEN', 'ACKNOWLEDGED') "
	            "  GROUP BY vehicle_id) AS r USING (vehicle_id) "
	            "WHERE v.open_critical <> coalesce(r.c, 0) OR v.open_other <> coalesce(r.o, 0) "
	            "OR v.pullovers <> coalesce(r.p, 0) "
	            "OR v.state <> fo_vehicle_state(v.open_critical, v.open_other, v.pullovers)",
	            NULL) == 0);
	FO_CHECK(qn("SELECT count(*) FROM vehicles", NULL) > 20);

	/* 6. the server away */
	fo_db *down = fo_db_new("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2");
	FO_CHECK(fo_db_connect(down, err, sizeof(err)) == FO_DB_EAGAIN);
	fo_lc_result r;
	char id[37];
	new_alert("scene_006_track_1", "INFO", id);
	FO_CHECK(fo_lc_act(down, id, alice, "ACKNOWLEDGE", NULL, 1, &r, err, sizeof(err)) ==
	         FO_DB_EAGAIN);
	FO_CHECK(r.body == NULL);
	fo_lc_result_free(&r);
	int64_t op = 1;
	char name[8];
	FO_CHECK(fo_lc_token_check(down,
	                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	                           "abcdef",
	                           &op, name, sizeof(name), err, sizeof(err)) == FO_DB_EAGAIN);
	FO_CHECK(op == 0);
	fo_db_destroy(down);

	fo_db_destroy(db);
	PQfinish(pg);
	fo_pg_drop();
	return fo_test_done("test_lifecycle_pg");
}
