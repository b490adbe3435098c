/*
 * db: see db.h. Transactions are explicit (BEGIN ... COMMIT on the one
 * connection); a failed statement is followed by ROLLBACK so that the
 * connection is ready for the next call, unless the connection itself
 * is gone, in which case the server has rolled back already.
 */
#include "db.h"

#include "errbuf.h"
#include "json.h"
#include "log.h"
#include "migrations.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_lock key held while migrating: "FOMIGRAT" in ASCII. */
#define FO_DB_MIGRATE_LOCK "5066504461439812180"

struct fo_db {
	char *dsn;
	PGconn *conn;
};

const char *fo_db_rc_str(fo_db_rc rc)
{
	switch (rc) {
	case FO_DB_OK: return "ok";
	case FO_DB_EAGAIN: return "unavailable";
	case FO_DB_EDATA: return "data refused";
	case FO_DB_EFAIL: return "failed";
	}
	return "unknown";
}

fo_db *fo_db_new(const char *dsn)
{
	fo_db *db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	db->dsn = strdup(dsn ? dsn : "");
	if (!db->dsn) {
		free(db);
		return NULL;
	}
	return db;
}

void fo_db_destroy(fo_db *db)
{
	if (!db)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db->dsn);
	free(db);
}

/* libpq messages span lines; a log line should not. */
static void fo_db_chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* Server notices ("relation already exists, skipping") as debug log lines
 * instead of libpq's default, a raw line on stderr. */
static void fo_db_notice(void *arg, const char *message)
{
	(void)arg;
	if (!fo_log_enabled(FO_LOG_DEBUG))
		return;
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", message);
	fo_db_chomp(msg);
	fo_log(FO_LOG_DEBUG, "postgres_notice", msg);
}

fo_db_rc fo_db_connect(fo_db *db, char *err, size_t errsz)
{
	if (db->conn)
		PQfinish(db->conn);
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {db->dsn, "5", "fleetops-operator", NULL};
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (!db->conn) {
		fo_errf(err, errsz, "connect to PostgreSQL: out of memory");
		return FO_DB_EAGAIN;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		fo_errf(err, errsz, "connect to PostgreSQL at %s:%s: %s",
		        PQhost(db->conn) ? PQhost(db->conn) : "?",
		        PQport(db->conn) ? PQport(db->conn) : "?", PQerrorMessage(db->conn));
		fo_db_chomp(err);
		PQfinish(db->conn);
		db->conn = NULL;
		return FO_DB_EAGAIN;
	}
	PQsetNoticeProcessor(db->conn, fo_db_notice, NULL);
	return FO_DB_OK;
}

int fo_db_connected(const fo_db *db)
{
	return db->conn && PQstatus(db->conn) == CONNECTION_OK;
}

/* Classifies a failed result (res may be NULL) and formats err as
 * "what: SQLSTATE xxxxx: message". */
static fo_db_rc fo_db_fail(fo_db *db, PGresult *res, const char *what, char *err, size_t errsz)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg)
		msg = db->conn ? PQerrorMessage(db->conn) : "not connected";
	fo_errf(err, errsz, "%s: SQLSTATE %s: %s", what, state ? state : "none", msg);
	fo_db_chomp(err);
	fo_db_rc rc = FO_DB_EFAIL;
	if (!fo_db_connected(db) || !state || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0 || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0)
		rc = FO_DB_EAGAIN;
	else if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		rc = FO_DB_EDATA;
	if (res)
		PQclear(res);
	return rc;
}

/* Runs sql with n text parameters; *out gets the result when the caller
 * wants rows (PGRES_TUPLES_OK), else it is cleared. */
static fo_db_rc fo_db_exec(fo_db *db, const char *what, const char *sql, int n,
                           const char *const *params, PGresult **out, char *err, size_t errsz)
{
	if (out)
		*out = NULL;
	if (!fo_db_connected(db)) {
		fo_errf(err, errsz, "%s: not connected to PostgreSQL", what);
		return FO_DB_EAGAIN;
	}
	PGresult *res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return fo_db_fail(db, res, what, err, errsz);
	if (out)
		*out = res;
	else
		PQclear(res);
	return FO_DB_OK;
}

/* Ends a failed transaction; the caller reports the original error. */
static void fo_db_rollback(fo_db *db)
{
	if (fo_db_connected(db))
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

fo_db_rc fo_db_ping(fo_db *db, char *err, size_t errsz)
{
	fo_db_rc rc = fo_db_exec(db, "ping PostgreSQL", "SELECT 1", 0, NULL, NULL, err, errsz);
	return rc == FO_DB_OK ? rc : FO_DB_EAGAIN;
}

/* Applies migration m in a transaction of its own. */
static fo_db_rc fo_db_apply(fo_db *db, const fo_migration *m, char *err, size_t errsz)
{
	char what[160], ver[16];
	snprintf(what, sizeof(what), "migration %04d_%s", m->version, m->name);
	snprintf(ver, sizeof(ver), "%d", m->version);
	fo_db_rc rc = fo_db_exec(db, what, "BEGIN", 0, NULL, NULL, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	/* the file's statements: no parameters, several statements in one */
	PGresult *res = PQexec(db->conn, m->sql);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = fo_db_fail(db, res, what, err, errsz);
		fo_db_rollback(db);
		return rc == FO_DB_EAGAIN ? rc : FO_DB_EFAIL;
	}
	PQclear(res);
	const char *params[] = {ver, m->name, m->checksum};
	rc = fo_db_exec(
	    db, what, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
	    3, params, NULL, err, errsz);
	if (rc == FO_DB_OK)
		rc = fo_db_exec(db, what, "COMMIT", 0, NULL, NULL, err, errsz);
	if (rc != FO_DB_OK)
		fo_db_rollback(db);
	return rc;
}

/* Checks the recorded migrations against the embedded ones; *known gets
 * the highest recorded version. */
static fo_db_rc fo_db_check_applied(fo_db *db, int *known, char *err, size_t errsz)
{
	PGresult *res;
	fo_db_rc rc =
	    fo_db_exec(db, "read schema_migrations",
	               "SELECT version, name, checksum FROM schema_migrations ORDER BY version", 0,
	               NULL, &res, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	*known = 0;
	for (int i = 0; i < PQntuples(res) && rc == FO_DB_OK; i++) {
		int v = atoi(PQgetvalue(res, i, 0));
		const char *name = PQgetvalue(res, i, 1), *sum = PQgetvalue(res, i, 2);
		if (v < 1 || (size_t)v > fo_migrations_count) {
			fo_errf(
			    err, errsz,
			    "schema_migrations has version %d (%s), which this fleetops-operator "
			    "does not know (it knows 1..%zu): the database was migrated by a "
			    "newer version",
			    v, name, fo_migrations_count);
			rc = FO_DB_EFAIL;
		} else if (strcmp(sum, fo_migrations[v - 1].checksum) != 0) {
			fo_errf(
			    err, errsz,
			    "migration %04d_%s was changed after it was applied (checksum %.12s... "
			    "in the database, %.12s... in this program): add a new migration "
			    "instead of editing an applied one",
			    v, fo_migrations[v - 1].name, sum, fo_migrations[v - 1].checksum);
			rc = FO_DB_EFAIL;
		}
		if (v > *known)
			*known = v;
	}
	PQclear(res);
	return rc;
}

fo_db_rc fo_db_migrate(fo_db *db, int *applied, char *err, size_t errsz)
{
	if (applied)
		*applied = 0;
	fo_db_rc rc =
	    fo_db_exec(db, "lock for migrations", "SELECT pg_advisory_lock(" FO_DB_MIGRATE_LOCK ")",
	               0, NULL, NULL, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	rc = fo_db_exec(db, "create schema_migrations",
	                "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                "version integer PRIMARY KEY, "
	                "name text NOT NULL, "
	                "applied_at timestamptz NOT NULL DEFAULT now(), "
	                "checksum text NOT NULL)",
	                0, NULL, NULL, err, errsz);
	int known = 0;
	if (rc == FO_DB_OK)
		rc = fo_db_check_applied(db, &known, err, errsz);
	for (size_t i = (size_t)known; rc == FO_DB_OK && i < fo_migrations_count; i++) {
		rc = fo_db_apply(db, &fo_migrations[i], err, errsz);
		if (rc == FO_DB_OK && applied)
			(*applied)++;
	}
	if (fo_db_connected(db))
		PQclear(PQexec(db->conn, "SELECT pg_advisory_unlock(" FO_DB_MIGRATE_LOCK ")"));
	return rc;
}

static const char fo_sql_alerts_insert[] =
    "INSERT INTO alerts (anomaly_id, event_id, vehicle_id, severity, anomaly_type, "
    "triggered_rule, event_time, features, thresholds, evidence) "
    "SELECT DISTINCT ON (r.anomaly_id) r.anomaly_id, r.event_id, r.vehicle_id, r.severity, "
    "r.anomaly_type, r.triggered_rule, r.event_time, r.features, r.thresholds, r.evidence "
    "FROM jsonb_to_recordset($1::jsonb) AS r(anomaly_id uuid, event_id uuid, vehicle_id text, "
    "severity text, anomaly_type text, triggered_rule text, event_time timestamptz, "
    "features jsonb, thresholds jsonb, evidence jsonb) "
    "ORDER BY r.anomaly_id "
    "ON CONFLICT (anomaly_id) DO NOTHING "
    "RETURNING vehicle_id";

/* The JSON array of the rows' objects, malloc'd. */
static char *fo_db_rows_json(const fo_anomaly_json *const *rows, size_t n)
{
	size_t cap = 3;
	for (size_t i = 0; i < n; i++)
		cap += rows[i]->row_len + 1;
	char *s = malloc(cap), *p = s;
	if (!s)
		return NULL;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, rows[i]->row, rows[i]->row_len);
		p += rows[i]->row_len;
	}
	*p++ = ']';
	*p = '\0';
	return s;
}

/* The vehicle ids of res's first column as a JSON array, malloc'd. */
static char *fo_db_ids_json(PGresult *res)
{
	int n = PQntuples(res);
	size_t cap = 3;
	for (int i = 0; i < n; i++)
		cap += 6 * (size_t)PQgetlength(res, i, 0) + 3;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t len = 0;
	s[len++] = '[';
	for (int i = 0; i < n; i++) {
		if (i)
			s[len++] = ',';
		int q = fo_json_quote(s + len, cap - len, PQgetvalue(res, i, 0));
		if (q < 0) {
			free(s);
			return NULL;
		}
		len += (size_t)q;
	}
	s[len++] = ']';
	s[len] = '\0';
	return s;
}

fo_db_rc fo_db_alerts_insert(fo_db *db, const fo_anomaly_json *const *rows, size_t n,
                             size_t *inserted, char *err, size_t errsz)
{
	if (inserted)
		*inserted = 0;
	if (n == 0)
		return FO_DB_OK;
	char *batch = fo_db_rows_json(rows, n), *ids = NULL;
	if (!batch) {
		fo_errf(err, errsz, "insert alerts: out of memory for %zu rows", n);
		return FO_DB_EFAIL;
	}
	PGresult *res = NULL;
	fo_db_rc rc = fo_db_exec(db, "begin", "BEGIN", 0, NULL, NULL, err, errsz);
	if (rc != FO_DB_OK)
		goto out;
	const char *p1[] = {batch};
	rc = fo_db_exec(db, "insert alerts", fo_sql_alerts_insert, 1, p1, &res, err, errsz);
	if (rc != FO_DB_OK)
		goto rollback;
	size_t added = (size_t)PQntuples(res);
	if (added > 0) {
		if (!(ids = fo_db_ids_json(res))) {
			fo_errf(err, errsz, "insert alerts: out of memory for vehicle ids");
			rc = FO_DB_EFAIL;
			goto rollback;
		}
		const char *p2[] = {ids};
		rc = fo_db_exec(db, "recompute vehicle state",
		                "SELECT fo_recompute_vehicle_state("
		                "ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
		                1, p2, NULL, err, errsz);
		if (rc != FO_DB_OK)
			goto rollback;
	}
	rc = fo_db_exec(db, "commit alerts", "COMMIT", 0, NULL, NULL, err, errsz);
	if (rc == FO_DB_OK && inserted)
		*inserted = added;
	goto out;
rollback:
	fo_db_rollback(db);
out:
	if (res)
		PQclear(res);
	free(ids);
	free(batch);
	return rc;
}

#define FO_DB_TS(col)                                                                              \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS " col

/* the query reads best laid out as SQL */
/* clang-format off */
static const char fo_sql_alerts_list[] =
	"SELECT coalesce(json_agg(a), '[]')::text FROM ("
	"SELECT alert_id, anomaly_id, event_id, vehicle_id, alert_status, severity, "
	"anomaly_type, triggered_rule, assigned_operator_id, "
	FO_DB_TS("event_time") ", " FO_DB_TS("created_at") ", " FO_DB_TS("updated_at") ", "
	FO_DB_TS("acknowledged_at") ", " FO_DB_TS("resolved_at") " "
	"FROM alerts "
	"WHERE ($1::text IS NULL OR alert_status = $1) "
	"AND ($2::text IS NULL OR severity = $2) "
	"AND ($3::text IS NULL OR vehicle_id = $3) "
	"ORDER BY alerts.created_at DESC, alert_id "
	"LIMIT $4::integer) AS a";
/* clang-format on */

fo_db_rc fo_db_alerts_list(fo_db *db, const fo_db_alert_filter *f, char **json, size_t *len,
                           char *err, size_t errsz)
{
	*json = NULL;
	*len = 0;
	char lim[16];
	int limit = f->limit > 0 ? f->limit : FO_DB_LIST_DEFAULT;
	snprintf(lim, sizeof(lim), "%d", limit > FO_DB_LIST_MAX ? FO_DB_LIST_MAX : limit);
	const char *params[] = {f->status, f->severity, f->vehicle_id, lim};
	PGresult *res;
	fo_db_rc rc =
	    fo_db_exec(db, "list alerts", fo_sql_alerts_list, 4, params, &res, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	size_t n = PQntuples(res) == 1 ? (size_t)PQgetlength(res, 0, 0) : 0;
	*json = malloc(n + 3);
	if (!*json) {
		PQclear(res);
		fo_errf(err, errsz, "list alerts: out of memory");
		return FO_DB_EFAIL;
	}
	if (n)
		memcpy(*json, PQgetvalue(res, 0, 0), n);
	else
		memcpy(*json, "[]", (n = 2));
	(*json)[n] = '\0';
	*len = n;
	PQclear(res);
	return FO_DB_OK;
}
