/*
 * lifecycle: see lifecycle.h. The legality of an action is decided in C
 * from the locked alert row (fo_lc_allowed: the lifecycle table); the
 * effect is one UPDATE whose CASEs are the same table's effect column.
 */
#include "lifecycle.h"

#include "db_impl.h"
#include "errbuf.h"
#include "json.h"
#include "uuid5.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

const char *const fo_lc_status_names[FO_LC_STATUS_N] = {"OPEN", "ACKNOWLEDGED", "RESOLVED",
                                                        "DISMISSED"};
const char *const fo_lc_severity_names[FO_LC_SEVERITY_N] = {"INFO", "WARNING", "CRITICAL"};

static const char *const fo_lc_actions[] = {
    "ACKNOWLEDGE", "ASSIGN",  "PULL_OVER_SIMULATED", "REQUEST_REMOTE_ASSIST", "RESUME",
    "RESOLVE",     "DISMISS",
};

void fo_lc_result_free(fo_lc_result *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->alert_json);
	free(r->action_json);
	free(r->vehicles_json);
	memset(r, 0, sizeof(*r));
}

void fo_lc_results_free(fo_lc_result *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++)
		fo_lc_result_free(&r[i]);
	free(r);
}

/* res gets status and {"error":msg[,"alert_status":status]}. */
static fo_db_rc fo_lc_answer_error(fo_lc_result *res, int status, const char *msg,
                                   const char *alert_status, char *err, size_t errsz)
{
	size_t cap = 6 * strlen(msg) + 80;
	char *b = malloc(cap);
	if (!b) {
		fo_errf(err, errsz, "answer %d: out of memory", status);
		return FO_DB_EFAIL;
	}
	size_t len = (size_t)snprintf(b, cap, "{\"error\":");
	len += (size_t)fo_json_quote(b + len, cap - len, msg);
	if (alert_status)
		len +=
		    (size_t)snprintf(b + len, cap - len, ",\"alert_status\":\"%s\"", alert_status);
	b[len++] = '}';
	b[len] = '\0';
	res->http_status = status;
	res->body = b;
	res->body_len = len;
	return FO_DB_OK;
}

/* 0 if s is a UUID in its 36-character form. */
static int fo_lc_uuid_ok(const char *s)
{
	fo_uuid u;
	return s && fo_uuid_parse(&u, s) == 0 ? 0 : -1;
}

/* A 400 for an alert_id that is not a UUID. */
static fo_db_rc fo_lc_bad_id(fo_lc_result *res, const char *alert_id, char *err, size_t errsz)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "alert_id \"%.80s\" is not a UUID", alert_id ? alert_id : "");
	return fo_lc_answer_error(res, 400, msg, NULL, err, errsz);
}

/* The single text value of a one-row, one-column result into res->body. */
static fo_db_rc fo_lc_take_body(PGresult *r, fo_lc_result *res, const char *what, char *err,
                                size_t errsz)
{
	res->body = fo_db_strdup_value(r, 0, 0, 1);
	if (!res->body) {
		fo_errf(err, errsz, "%s: out of memory", what);
		return FO_DB_EFAIL;
	}
	res->body_len = strlen(res->body);
	res->http_status = 200;
	return FO_DB_OK;
}

/* ---- actions ---------------------------------------------------------- */

/* The locked alert: what the lifecycle table looks at. */
typedef struct fo_lc_alert {
	char status[16];
	char vehicle_id[160];
	int pullover;                  /* this alert has a pull-over in progress */
	char pullover_operator_id[24]; /* who asked for it */
} fo_lc_alert;

/* Is action allowed on a? NULL if so, else why not (into why). */
static const char *fo_lc_allowed(const char *action, const fo_lc_alert *a, char *why, size_t n)
{
	int open = strcmp(a->status, "OPEN") == 0 || strcmp(a->status, "ACKNOWLEDGED") == 0;
	if (strcmp(action, "ACKNOWLEDGE") == 0) {
		if (strcmp(a->status, "OPEN") == 0)
			return NULL;
		snprintf(why, n, "ACKNOWLEDGE needs an OPEN alert; this one is %s", a->status);
		return why;
	}
	if (strcmp(action, "RESUME") == 0) {
		if (a->pullover)
			return NULL;
		snprintf(why, n,
		         "RESUME needs a pull-over of this alert in progress; there is none");
		return why;
	}
	if (!open) {
		snprintf(why, n, "%s needs an OPEN or ACKNOWLEDGED alert; this one is %s", action,
		         a->status);
		return why;
	}
	return NULL;
}

/* the action row; its created_at is the time of every change it makes */
/* clang-format off */
static const char fo_sql_action_insert[] =
	"INSERT INTO operator_actions AS x (action_id, alert_id, vehicle_id, operator_id, "
	"action_type, metadata, created_at) "
	"VALUES (gen_random_uuid(), $1::uuid, $2, $3::bigint, $4, "
	"jsonb_strip_nulls(jsonb_build_object('note', $5::text, 'previous_status', $6::text, "
	"'pullover_delay_s', $7::double precision, 'pull_over_cancelled', $8::boolean)) "
	"|| coalesce($9::jsonb, '{}'), clock_timestamp()) "
	"RETURNING x.created_at, fo_action_json(x)::text";

/* the effect column of the lifecycle table */
static const char fo_sql_alert_update[] =
	"UPDATE alerts AS a SET "
	"alert_status = CASE $2 "
	"    WHEN 'RESOLVE' THEN 'RESOLVED' "
	"    WHEN 'DISMISS' THEN 'DISMISSED' "
	"    WHEN 'ACKNOWLEDGE' THEN 'ACKNOWLEDGED' "
	"    WHEN 'PULL_OVER_SIMULATED' THEN 'ACKNOWLEDGED' "
	"    WHEN 'REQUEST_REMOTE_ASSIST' THEN 'ACKNOWLEDGED' "
	"    ELSE a.alert_status END, "
	"acknowledged_at = CASE WHEN $2 IN ('ACKNOWLEDGE', 'PULL_OVER_SIMULATED', "
	"    'REQUEST_REMOTE_ASSIST') THEN coalesce(a.acknowledged_at, $3::timestamptz) "
	"    ELSE a.acknowledged_at END, "
	"resolved_at = CASE WHEN $2 IN ('RESOLVE', 'DISMISS') THEN $3::timestamptz "
	"    ELSE a.resolved_at END, "
	"assigned_operator_id = CASE WHEN $2 = 'ASSIGN' THEN $4::bigint "
	"    ELSE a.assigned_operator_id END, "
	"pullover_due_at = CASE $2 "
	"    WHEN 'PULL_OVER_SIMULATED' THEN $3::timestamptz + make_interval(secs => $5::double precision) "
	"    WHEN 'RESUME' THEN NULL WHEN 'RESOLVE' THEN NULL WHEN 'DISMISS' THEN NULL "
	"    ELSE a.pullover_due_at END, "
	"pullover_operator_id = CASE $2 "
	"    WHEN 'PULL_OVER_SIMULATED' THEN $4::bigint "
	"    WHEN 'RESUME' THEN NULL WHEN 'RESOLVE' THEN NULL WHEN 'DISMISS' THEN NULL "
	"    ELSE a.pullover_operator_id END, "
	"updated_at = $3::timestamptz "
	"WHERE a.alert_id = $1::uuid "
	"RETURNING fo_alert_text(a)";

/* the incident of a resolved alert: what it was and what was done */
static const char fo_sql_incident[] =
	"INSERT INTO incident_history (incident_id, alert_id, vehicle_id, summary, resolved_at) "
	"SELECT gen_random_uuid(), a.alert_id, a.vehicle_id, jsonb_build_object("
	"    'triggered_rule', a.triggered_rule, "
	"    'severity', a.severity, "
	"    'anomaly_type', a.anomaly_type, "
	"    'event_time', fo_iso(a.event_time), "
	"    'opened_at', fo_iso(a.created_at), "
	"    'resolution', $2::text, "
	"    'resolved_by', fo_operator_name($3::bigint), "
	"    'actions', (SELECT jsonb_agg(jsonb_build_object("
	"            'action_type', x.action_type, "
	"            'operator', fo_operator_name(x.operator_id), "
	"            'at', fo_iso(x.created_at)) ORDER BY x.created_at, x.action_id) "
	"        FROM operator_actions AS x WHERE x.alert_id = a.alert_id)), "
	"    a.resolved_at "
	"FROM alerts AS a WHERE a.alert_id = $1::uuid";
/* clang-format on */

static const char fo_sql_recompute_one[] = "SELECT fo_recompute_vehicles_json(ARRAY[$1::text])";

/* Applies action by operator to the locked alert a (alert_id), inside the
 * caller's transaction: action row, alert update, incident, vehicle state.
 * extra: more metadata (a JSON object text) or NULL. Fills res (200). */
static fo_db_rc fo_lc_apply(fo_db *db, const char *alert_id, const fo_lc_alert *a,
                            const char *action, const char *operator_id, const char *note,
                            double delay_s, const char *extra, const char *resolution,
                            fo_lc_result *res, char *err, size_t errsz)
{
	char delay[32];
	snprintf(delay, sizeof(delay), "%.3f", delay_s);
	int pull = strcmp(action, "PULL_OVER_SIMULATED") == 0;
	int ends = strcmp(action, "RESOLVE") == 0 || strcmp(action, "DISMISS") == 0;
	const char *p1[] = {alert_id,
	                    a->vehicle_id,
	                    operator_id,
	                    action,
	                    note,
	                    extra ? NULL : a->status,
	                    pull ? delay : NULL,
	                    ends && a->pullover && !extra ? "true" : NULL,
	                    extra};
	PGresult *r = NULL;
	fo_db_rc rc =
	    fo_db_query(db, "write operator action", fo_sql_action_insert, 9, p1, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	char *ts = fo_db_strdup_value(r, 0, 0, 0);
	res->action_json = fo_db_strdup_value(r, 0, 1, 1);
	PQclear(r);
	if (!ts || !res->action_json) {
		free(ts);
		fo_errf(err, errsz, "write operator action: out of memory");
		return FO_DB_EFAIL;
	}
	const char *p2[] = {alert_id, action, ts, operator_id, delay};
	rc = fo_db_query(db, "update alert", fo_sql_alert_update, 5, p2, &r, err, errsz);
	if (rc != FO_DB_OK) {
		free(ts);
		if (pull && strcmp(fo_db_last_sqlstate(db), "23505") == 0)
			rc = FO_DB_EDATA; /* another pull-over of the vehicle won the race */
		return rc;
	}
	res->alert_json = fo_db_strdup_value(r, 0, 0, 1);
	PQclear(r);
	free(ts);
	if (!res->alert_json) {
		fo_errf(err, errsz, "update alert: out of memory");
		return FO_DB_EFAIL;
	}
	if (strcmp(action, "RESOLVE") == 0) {
		const char *p3[] = {alert_id, resolution, operator_id};
		rc = fo_db_query(db, "write incident", fo_sql_incident, 3, p3, NULL, err, errsz);
		if (rc != FO_DB_OK)
			return rc;
	}
	const char *p4[] = {a->vehicle_id};
	rc =
	    fo_db_query(db, "recompute vehicle state", fo_sql_recompute_one, 1, p4, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	res->vehicles_json = fo_db_strdup_value(r, 0, 0, 1);
	PQclear(r);
	size_t la = strlen(res->alert_json), lx = strlen(res->action_json);
	res->body = malloc(la + lx + 24);
	if (!res->vehicles_json || !res->body) {
		fo_errf(err, errsz, "%s: out of memory for the answer", action);
		return FO_DB_EFAIL;
	}
	res->body_len = (size_t)sprintf(res->body, "{\"alert\":%s,\"action\":%s}", res->alert_json,
	                                res->action_json);
	res->http_status = 200;
	return FO_DB_OK;
}

/* Reads the locked alert row; 0 rows leaves *found 0. */
static fo_db_rc fo_lc_lock(fo_db *db, const char *sql, const char *const *params, int np,
                           char *alert_id_out, fo_lc_alert *a, int *found, char *err, size_t errsz)
{
	PGresult *r;
	fo_db_rc rc = fo_db_query(db, "lock alert", sql, np, params, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	*found = PQntuples(r) == 1;
	if (*found) {
		snprintf(alert_id_out, FO_UUID_STR_LEN + 1, "%s", PQgetvalue(r, 0, 0));
		snprintf(a->status, sizeof(a->status), "%s", PQgetvalue(r, 0, 1));
		snprintf(a->vehicle_id, sizeof(a->vehicle_id), "%s", PQgetvalue(r, 0, 2));
		a->pullover = !PQgetisnull(r, 0, 3);
		snprintf(a->pullover_operator_id, sizeof(a->pullover_operator_id), "%s",
		         PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	return FO_DB_OK;
}

static const char fo_sql_lock[] = "SELECT alert_id, alert_status, vehicle_id, "
                                  "pullover_operator_id FROM alerts "
                                  "WHERE alert_id = $1::uuid FOR UPDATE";

fo_db_rc fo_lc_act(fo_db *db, const char *alert_id, int64_t operator_id, const char *action_type,
                   const char *note, double pullover_delay_s, fo_lc_result *res, char *err,
                   size_t errsz)
{
	memset(res, 0, sizeof(*res));
	if (fo_lc_uuid_ok(alert_id) < 0)
		return fo_lc_bad_id(res, alert_id, err, errsz);
	int known = 0;
	for (size_t i = 0; action_type && i < sizeof(fo_lc_actions) / sizeof(*fo_lc_actions); i++)
		known |= strcmp(action_type, fo_lc_actions[i]) == 0;
	if (!known) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "action_type \"%.40s\" is not one of ACKNOWLEDGE, ASSIGN, "
		         "PULL_OVER_SIMULATED, REQUEST_REMOTE_ASSIST, RESUME, RESOLVE, DISMISS",
		         action_type ? action_type : "");
		return fo_lc_answer_error(res, 400, msg, NULL, err, errsz);
	}
	if (!(pullover_delay_s >= 0 && pullover_delay_s <= 86400))
		pullover_delay_s = 5;
	char op[24], id[FO_UUID_STR_LEN + 1];
	snprintf(op, sizeof(op), "%lld", (long long)operator_id);
	fo_db_rc rc = fo_db_begin(db, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	fo_lc_alert a;
	int found = 0;
	const char *p[] = {alert_id};
	rc = fo_lc_lock(db, fo_sql_lock, p, 1, id, &a, &found, err, errsz);
	if (rc != FO_DB_OK)
		goto fail;
	if (!found) {
		fo_db_rollback(db);
		char msg[128];
		snprintf(msg, sizeof(msg), "no alert %s", alert_id);
		return fo_lc_answer_error(res, 404, msg, NULL, err, errsz);
	}
	char why[256];
	const char *no = fo_lc_allowed(action_type, &a, why, sizeof(why));
	if (!no && strcmp(action_type, "PULL_OVER_SIMULATED") == 0) {
		PGresult *r;
		const char *pv[] = {a.vehicle_id};
		rc = fo_db_query(db, "find pull-over",
		                 "SELECT alert_id FROM alerts WHERE vehicle_id = $1 "
		                 "AND pullover_due_at IS NOT NULL",
		                 1, pv, &r, err, errsz);
		if (rc != FO_DB_OK)
			goto fail;
		if (PQntuples(r) > 0) {
			snprintf(why, sizeof(why),
			         "vehicle %.100s already has a pull-over in progress (alert %s)",
			         a.vehicle_id, PQgetvalue(r, 0, 0));
			no = why;
		}
		PQclear(r);
	}
	if (no) {
		fo_db_rollback(db);
		return fo_lc_answer_error(res, 409, no, a.status, err, errsz);
	}
	rc = fo_lc_apply(db, id, &a, action_type, op, note, pullover_delay_s, NULL, "resolved", res,
	                 err, errsz);
	if (rc == FO_DB_EDATA && strcmp(fo_db_last_sqlstate(db), "23505") == 0) {
		/* a concurrent pull-over of the same vehicle committed first */
		fo_db_rollback(db);
		fo_lc_result_free(res);
		snprintf(why, sizeof(why), "vehicle %.100s already has a pull-over in progress",
		         a.vehicle_id);
		return fo_lc_answer_error(res, 409, why, a.status, err, errsz);
	}
	if (rc == FO_DB_OK)
		rc = fo_db_commit(db, "commit action", err, errsz);
	if (rc == FO_DB_OK)
		return rc;
fail:
	fo_db_rollback(db);
	fo_lc_result_free(res);
	return rc;
}

/* one due pull-over, locked; others' locks are skipped (a concurrent RESUME
 * or RESOLVE of it decides first) */
static const char fo_sql_lock_due[] =
    "SELECT alert_id, alert_status, vehicle_id, pullover_operator_id FROM alerts "
    "WHERE pullover_due_at <= clock_timestamp() "
    "ORDER BY pullover_due_at, alert_id LIMIT 1 FOR UPDATE SKIP LOCKED";

#define FO_LC_DUE_ROUND 64 /* pull-overs completed per call at most */

fo_db_rc fo_lc_pullovers_due(fo_db *db, fo_lc_result **res, size_t *n, int64_t *next_ms, char *err,
                             size_t errsz)
{
	*res = NULL;
	*n = 0;
	*next_ms = -1;
	fo_lc_result *out = NULL;
	size_t k = 0;
	fo_db_rc rc = FO_DB_OK;
	for (; k < FO_LC_DUE_ROUND; k++) {
		if ((rc = fo_db_begin(db, err, errsz)) != FO_DB_OK)
			break;
		fo_lc_alert a;
		char id[FO_UUID_STR_LEN + 1];
		int found = 0;
		rc = fo_lc_lock(db, fo_sql_lock_due, NULL, 0, id, &a, &found, err, errsz);
		if (rc != FO_DB_OK || !found) {
			fo_db_rollback(db);
			break;
		}
		fo_lc_result *grown = realloc(out, (k + 1) * sizeof(*out));
		if (!grown) {
			fo_db_rollback(db);
			fo_errf(err, errsz, "complete pull-overs: out of memory");
			rc = FO_DB_EFAIL;
			break;
		}
		out = grown;
		memset(&out[k], 0, sizeof(*out));
		rc = fo_lc_apply(db, id, &a, "RESOLVE", a.pullover_operator_id, NULL, 0,
		                 "{\"automatic\":true,\"reason\":\"pull_over_completed\"}",
		                 "pull_over_completed", &out[k], err, errsz);
		if (rc == FO_DB_OK)
			rc = fo_db_commit(db, "commit pull-over", err, errsz);
		if (rc != FO_DB_OK) {
			fo_db_rollback(db);
			fo_lc_result_free(&out[k]);
			break;
		}
	}
	*res = out;
	*n = k;
	if (rc != FO_DB_OK)
		return rc;
	if (k == FO_LC_DUE_ROUND) {
		*next_ms = 0;
		return rc;
	}
	PGresult *r;
	rc = fo_db_query(db, "next pull-over",
	                 "SELECT ceil(extract(epoch FROM min(pullover_due_at) - "
	                 "clock_timestamp()) * 1000)::bigint FROM alerts "
	                 "WHERE pullover_due_at IS NOT NULL",
	                 0, NULL, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	if (!PQgetisnull(r, 0, 0)) /* NULL: none in progress */
		*next_ms = atoll(PQgetvalue(r, 0, 0)) > 0 ? atoll(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return FO_DB_OK;
}

/* ---- tokens ----------------------------------------------------------- */

static void fo_lc_hex(const unsigned char *b, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* SHA-256 of s as 64 hex characters; 0 or -1. */
static int fo_lc_sha256_hex(const char *s, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	fo_lc_hex(md, 32, out);
	return 0;
}

static int fo_lc_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > 128 || name[0] == ' ' || name[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

fo_db_rc fo_lc_token_issue(fo_db *db, const char *name, char token_out[FO_LC_TOKEN_LEN + 1],
                           int64_t *operator_id, char *err, size_t errsz)
{
	token_out[0] = '\0';
	if (operator_id)
		*operator_id = 0;
	if (!fo_lc_name_ok(name)) {
		fo_errf(err, errsz,
		        "operator name \"%.40s\": 1 to 128 printable characters, no control "
		        "characters, no leading or trailing space",
		        name ? name : "");
		return FO_DB_EDATA;
	}
	unsigned char raw[32];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t k = getrandom(raw + got, sizeof(raw) - got, 0);
		if (k < 0) {
			fo_errf(err, errsz, "token for %s: getrandom failed", name);
			return FO_DB_EFAIL;
		}
		got += (size_t)k;
	}
	char token[FO_LC_TOKEN_LEN + 1], hash[65];
	fo_lc_hex(raw, sizeof(raw), token);
	if (fo_lc_sha256_hex(token, hash) < 0) {
		fo_errf(err, errsz, "token for %s: SHA-256 failed (libcrypto)", name);
		return FO_DB_EFAIL;
	}
	const char *p[] = {name, hash};
	PGresult *r;
	fo_db_rc rc =
	    fo_db_query(db, "issue token",
	                "INSERT INTO operators (name, token_hash) VALUES ($1, $2) "
	                "ON CONFLICT (name) DO UPDATE SET token_hash = EXCLUDED.token_hash "
	                "RETURNING id",
	                2, p, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	if (operator_id)
		*operator_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	memcpy(token_out, token, sizeof(token));
	return FO_DB_OK;
}

fo_db_rc fo_lc_token_check(fo_db *db, const char *token, int64_t *operator_id, char *name_out,
                           size_t namesz, char *err, size_t errsz)
{
	*operator_id = 0;
	if (namesz)
		name_out[0] = '\0';
	size_t n = token ? strlen(token) : 0;
	if (n != FO_LC_TOKEN_LEN || strspn(token, "0123456789abcdefABCDEF") != n)
		return FO_DB_OK;
	char lower[FO_LC_TOKEN_LEN + 1], hash[65];
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)(token[i] >= 'A' && token[i] <= 'F' ? token[i] + 32 : token[i]);
	if (fo_lc_sha256_hex(lower, hash) < 0) {
		fo_errf(err, errsz, "check token: SHA-256 failed (libcrypto)");
		return FO_DB_EFAIL;
	}
	const char *p[] = {hash};
	PGresult *r;
	fo_db_rc rc =
	    fo_db_query(db, "check token", "SELECT id, name FROM operators WHERE token_hash = $1",
	                1, p, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	if (PQntuples(r) == 1) {
		*operator_id = atoll(PQgetvalue(r, 0, 0));
		if (namesz)
			snprintf(name_out, namesz, "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return FO_DB_OK;
}

/* ---- reads ------------------------------------------------------------ */

/* clang-format off */
static const char fo_sql_alert_get[] =
	"SELECT json_build_object("
	"    'alert', fo_alert_detail_json(a), "
	"    'vehicle', (SELECT fo_vehicle_json(v, v.open_critical + v.open_other) "
	"        FROM vehicles AS v WHERE v.vehicle_id = a.vehicle_id), "
	"    'actions', (SELECT coalesce(json_agg(fo_action_json(x) ORDER BY x.created_at, "
	"        x.action_id), '[]') FROM operator_actions AS x WHERE x.alert_id = a.alert_id), "
	"    'incident', (SELECT fo_incident_json(i) FROM incident_history AS i "
	"        WHERE i.alert_id = a.alert_id))::text "
	"FROM alerts AS a WHERE a.alert_id = $1::uuid";

static const char fo_sql_history[] =
	"SELECT json_build_object("
	"    'vehicle_id', $1::text, "
	"    'alerts', (SELECT coalesce(json_agg(s.j ORDER BY s.t DESC, s.id), '[]') FROM ("
	"        SELECT fo_alert_json(a) AS j, a.created_at AS t, a.alert_id AS id "
	"        FROM alerts AS a WHERE a.vehicle_id = $1 "
	"        ORDER BY a.created_at DESC, a.alert_id LIMIT $2::integer) AS s), "
	"    'actions', (SELECT coalesce(json_agg(s.j ORDER BY s.t DESC, s.id DESC), '[]') FROM ("
	"        SELECT fo_action_json(x) AS j, x.created_at AS t, x.action_id AS id "
	"        FROM operator_actions AS x WHERE x.vehicle_id = $1 "
	"        ORDER BY x.created_at DESC, x.action_id DESC LIMIT $2::integer) AS s), "
	"    'incidents', (SELECT coalesce(json_agg(s.j ORDER BY s.t DESC, s.id DESC), '[]') FROM ("
	"        SELECT fo_incident_json(i) AS j, i.resolved_at AS t, i.incident_id AS id "
	"        FROM incident_history AS i WHERE i.vehicle_id = $1 "
	"        ORDER BY i.resolved_at DESC, i.incident_id DESC LIMIT $2::integer) AS s))::text, "
	"EXISTS (SELECT 1 FROM vehicles WHERE vehicle_id = $1) "
	"OR EXISTS (SELECT 1 FROM alerts WHERE vehicle_id = $1)";

/* open alerts, newest first; $1 a vehicle or NULL for all, $2 the bound */
static const char fo_sql_open_alerts[] =
	"SELECT '[' || coalesce(string_agg(s.j, ',' ORDER BY s.t DESC, s.id), '') || ']' FROM ("
	"    SELECT fo_alert_text(a) AS j, a.created_at AS t, a.alert_id AS id "
	"    FROM alerts AS a "
	"    WHERE a.alert_status IN ('OPEN', 'ACKNOWLEDGED') "
	"    AND ($1::text IS NULL OR a.vehicle_id = $1) "
	"    ORDER BY a.created_at DESC, a.alert_id LIMIT $2::integer) AS s";
/* clang-format on */

fo_db_rc fo_lc_alert_get(fo_db *db, const char *alert_id, fo_lc_result *res, char *err,
                         size_t errsz)
{
	memset(res, 0, sizeof(*res));
	if (fo_lc_uuid_ok(alert_id) < 0)
		return fo_lc_bad_id(res, alert_id, err, errsz);
	PGresult *r;
	const char *p[] = {alert_id};
	fo_db_rc rc = fo_db_query(db, "read alert", fo_sql_alert_get, 1, p, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		char msg[128];
		snprintf(msg, sizeof(msg), "no alert %s", alert_id);
		return fo_lc_answer_error(res, 404, msg, NULL, err, errsz);
	}
	rc = fo_lc_take_body(r, res, "read alert", err, errsz);
	PQclear(r);
	return rc;
}

fo_db_rc fo_lc_vehicle_history(fo_db *db, const char *vehicle_id, fo_lc_result *res, char *err,
                               size_t errsz)
{
	memset(res, 0, sizeof(*res));
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", FO_LC_HISTORY_MAX);
	PGresult *r;
	const char *p[] = {vehicle_id, lim};
	fo_db_rc rc = fo_db_query(db, "read vehicle history", fo_sql_history, 2, p, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
		PQclear(r);
		char msg[256];
		snprintf(msg, sizeof(msg), "no vehicle %.160s", vehicle_id);
		return fo_lc_answer_error(res, 404, msg, NULL, err, errsz);
	}
	rc = fo_lc_take_body(r, res, "read vehicle history", err, errsz);
	PQclear(r);
	return rc;
}

static fo_db_rc fo_lc_open(fo_db *db, const char *vehicle_id, int max, char **json, size_t *len,
                           char *err, size_t errsz)
{
	*json = NULL;
	*len = 0;
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", max);
	PGresult *r;
	const char *p[] = {vehicle_id, lim};
	fo_db_rc rc = fo_db_query(db, "read open alerts", fo_sql_open_alerts, 2, p, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	*json = fo_db_strdup_value(r, 0, 0, 1);
	PQclear(r);
	if (!*json) {
		fo_errf(err, errsz, "read open alerts: out of memory");
		return FO_DB_EFAIL;
	}
	*len = strlen(*json);
	return FO_DB_OK;
}

fo_db_rc fo_lc_open_alerts(fo_db *db, char **json, size_t *len, char *err, size_t errsz)
{
	return fo_lc_open(db, NULL, FO_LC_OPEN_MAX, json, len, err, errsz);
}

fo_db_rc fo_lc_vehicle_alerts(fo_db *db, const char *vehicle_id, char **json, size_t *len,
                              char *err, size_t errsz)
{
	return fo_lc_open(db, vehicle_id ? vehicle_id : "", FO_DB_LIST_MAX, json, len, err, errsz);
}

fo_db_rc fo_lc_alert_counts(fo_db *db, fo_lc_counts *c, char *err, size_t errsz)
{
	memset(c, 0, sizeof(*c));
	PGresult *r;
	fo_db_rc rc = fo_db_query(db, "count alerts",
	                          "SELECT alert_status, severity, count(*), "
	                          "count(*) FILTER (WHERE pullover_due_at IS NOT NULL) "
	                          "FROM alerts GROUP BY 1, 2",
	                          0, NULL, &r, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		for (int s = 0; s < FO_LC_STATUS_N; s++)
			for (int v = 0; v < FO_LC_SEVERITY_N; v++)
				if (strcmp(PQgetvalue(r, i, 0), fo_lc_status_names[s]) == 0 &&
				    strcmp(PQgetvalue(r, i, 1), fo_lc_severity_names[v]) == 0)
					c->n[s][v] = atoll(PQgetvalue(r, i, 2));
		c->pullovers += atoll(PQgetvalue(r, i, 3));
	}
	PQclear(r);
	return FO_DB_OK;
}
