/*
 * db: see db.h. Transactions are explicit (BEGIN ... COMMIT on the one
 * connection); a failed statement is followed by ROLLBACK so that the
 * connection is ready for the next call, unless the connection itself
 * is gone, in which case the server has rolled back already.
 */
#include "db_impl.h"

#include "errbuf.h"
#include "json.h"
#include "log.h"
#include "migrations.h"
#include "uuid5.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* pg_advisory_lock key held while migrating: "FOMIGRAT" in ASCII. */
#define FO_DB_MIGRATE_LOCK "5066504461439812180"

struct fo_db {
	char *dsn;
	PGconn *conn;
	char sqlstate[6]; /* of the last failed statement */
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
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
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
fo_db_rc fo_db_query(fo_db *db, const char *what, const char *sql, int n, const char *const *params,
                     PGresult **out, char *err, size_t errsz)
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
void fo_db_rollback(fo_db *db)
{
	if (fo_db_connected(db))
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

fo_db_rc fo_db_ping(fo_db *db, char *err, size_t errsz)
{
	fo_db_rc rc = fo_db_query(db, "ping PostgreSQL", "SELECT 1", 0, NULL, NULL, err, errsz);
	return rc == FO_DB_OK ? rc : FO_DB_EAGAIN;
}

/* Applies migration m in a transaction of its own. */
static fo_db_rc fo_db_apply(fo_db *db, const fo_migration *m, char *err, size_t errsz)
{
	char what[160], ver[16];
	snprintf(what, sizeof(what), "migration %04d_%s", m->version, m->name);
	snprintf(ver, sizeof(ver), "%d", m->version);
	fo_db_rc rc = fo_db_query(db, what, "BEGIN", 0, NULL, NULL, err, errsz);
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
	rc = fo_db_query(
	    db, what, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
	    3, params, NULL, err, errsz);
	if (rc == FO_DB_OK)
		rc = fo_db_query(db, what, "COMMIT", 0, NULL, NULL, err, errsz);
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
	    fo_db_query(db, "read schema_migrations",
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
	fo_db_rc rc = fo_db_query(db, "lock for migrations",
	                          "SELECT pg_advisory_lock(" FO_DB_MIGRATE_LOCK ")", 0, NULL, NULL,
	                          err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	rc = fo_db_query(db, "create schema_migrations",
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

/* the batch, its vehicles' state, and what to broadcast: fo_alerts_insert
 * (migration 0003) */
static const char fo_sql_alerts_insert[] =
    "SELECT inserted, alerts, vehicles FROM fo_alerts_insert($1::jsonb)";

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

/* The values of column c of res's rows [0, n) as one JSON array, malloc'd:
 * as they are (JSON texts) when raw, else quoted as strings. */
static char *fo_db_column_json(PGresult *res, int c, int n, int raw)
{
	size_t cap = 3;
	for (int i = 0; i < n; i++)
		cap += (raw ? 1 : 6) * (size_t)PQgetlength(res, i, c) + 3;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t len = 0;
	s[len++] = '[';
	for (int i = 0; i < n; i++) {
		if (i)
			s[len++] = ',';
		if (raw) {
			size_t k = (size_t)PQgetlength(res, i, c);
			memcpy(s + len, PQgetvalue(res, i, c), k);
			len += k;
			continue;
		}
		int q = fo_json_quote(s + len, cap - len, PQgetvalue(res, i, c));
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

char *fo_db_strdup_value(PGresult *res, int r, int c, int as_json)
{
	if (PQgetisnull(res, r, c))
		return as_json ? strdup("null") : NULL;
	return strdup(PQgetvalue(res, r, c));
}

const char *fo_db_last_sqlstate(const fo_db *db)
{
	return db->sqlstate;
}

fo_db_rc fo_db_begin(fo_db *db, char *err, size_t errsz)
{
	return fo_db_query(db, "begin", "BEGIN", 0, NULL, NULL, err, errsz);
}

fo_db_rc fo_db_commit(fo_db *db, const char *what, char *err, size_t errsz)
{
	return fo_db_query(db, what, "COMMIT", 0, NULL, NULL, err, errsz);
}

fo_db_rc fo_db_alerts_insert(fo_db *db, const fo_anomaly_json *const *rows, size_t n,
                             size_t *inserted, char **alerts_json, char **vehicles_json, char *err,
                             size_t errsz)
{
	if (inserted)
		*inserted = 0;
	if (alerts_json)
		*alerts_json = NULL;
	if (vehicles_json)
		*vehicles_json = NULL;
	char *batch = NULL, *alerts = NULL, *vehicles = NULL;
	PGresult *res = NULL;
	fo_db_rc rc = FO_DB_OK;
	size_t added = 0;
	if (n > 0) {
		if (!(batch = fo_db_rows_json(rows, n))) {
			fo_errf(err, errsz, "insert alerts: out of memory for %zu rows", n);
			return FO_DB_EFAIL;
		}
		/* one statement outside BEGIN: its own transaction, one round trip */
		const char *p1[] = {batch};
		rc =
		    fo_db_query(db, "insert alerts", fo_sql_alerts_insert, 1, p1, &res, err, errsz);
		if (rc != FO_DB_OK)
			goto out;
		added = (size_t)atoll(PQgetvalue(res, 0, 0));
	}
	/* committed: from here on only the answer can be missing */
	if ((alerts_json && !(alerts = res ? fo_db_strdup_value(res, 0, 1, 0) : strdup("[]"))) ||
	    (vehicles_json &&
	     !(vehicles = res ? fo_db_strdup_value(res, 0, 2, 0) : strdup("[]")))) {
		fo_errf(err, errsz, "insert alerts: out of memory for the answer");
		rc = FO_DB_EFAIL;
		goto out;
	}
	if (inserted)
		*inserted = added;
	if (alerts_json)
		*alerts_json = alerts, alerts = NULL;
	if (vehicles_json)
		*vehicles_json = vehicles, vehicles = NULL;
out:
	if (res)
		PQclear(res);
	free(alerts);
	free(vehicles);
	free(batch);
	return rc;
}

/* the query reads best laid out as SQL */
/* clang-format off */
static const char fo_sql_alerts_list[] =
	"SELECT fo_alert_text(a), "
	"(extract(epoch FROM a.created_at) * 1000000)::bigint, a.alert_id "
	"FROM alerts AS a "
	"WHERE ($1::text IS NULL OR a.alert_status = $1) "
	"AND ($2::text IS NULL OR a.severity = $2) "
	"AND ($3::text IS NULL OR a.vehicle_id = $3) "
	"AND ($5::timestamptz IS NULL OR "
	"     (a.created_at <= $5 AND (a.created_at < $5 OR a.alert_id > $6::uuid))) "
	"ORDER BY a.created_at DESC, a.alert_id "
	"LIMIT $4::integer";
/* clang-format on */

static const char fo_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The cursor of (created_at in microseconds since the epoch, alert_id):
 * 8 bytes of big-endian microseconds and the 16 of the uuid, base64url. */
static int fo_db_cursor_make(long long us, const char *alert_id, char *out)
{
	uint8_t raw[24];
	fo_uuid u;
	if (fo_uuid_parse(&u, alert_id) < 0)
		return -1;
	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)((unsigned long long)us >> (56 - 8 * i));
	memcpy(raw + 8, u.b, 16);
	for (int i = 0, o = 0; i < 24; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		out[o++] = fo_b64url[v >> 18 & 63];
		out[o++] = fo_b64url[v >> 12 & 63];
		out[o++] = fo_b64url[v >> 6 & 63];
		out[o++] = fo_b64url[v & 63];
	}
	out[FO_DB_CURSOR_LEN] = '\0';
	return 0;
}

/* The cursor back into created_at (ISO-8601 with microseconds, for the
 * query) and alert_id. Returns 0, or -1 if c is not a cursor. */
static int fo_db_cursor_parse(const char *c, char ts[40], char id[FO_UUID_STR_LEN + 1])
{
	if (strlen(c) != FO_DB_CURSOR_LEN)
		return -1;
	uint8_t raw[24];
	for (int i = 0, o = 0; i < FO_DB_CURSOR_LEN; i += 4) {
		uint32_t v = 0;
		for (int k = 0; k < 4; k++) {
			const char *p = c[i + k] ? strchr(fo_b64url, c[i + k]) : NULL;
			if (!p)
				return -1;
			v = v << 6 | (uint32_t)(p - fo_b64url);
		}
		raw[o++] = (uint8_t)(v >> 16);
		raw[o++] = (uint8_t)(v >> 8);
		raw[o++] = (uint8_t)v;
	}
	unsigned long long uu = 0;
	for (int i = 0; i < 8; i++)
		uu = uu << 8 | raw[i];
	long long us = (long long)uu;
	/* years 1..9999 only, so that a forged cursor cannot reach SQL errors */
	if (us < -62135596800000000LL || us > 253402300799999999LL)
		return -1;
	long long sec = us / 1000000, frac = us % 1000000;
	if (frac < 0)
		frac += 1000000, sec--;
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return -1;
	snprintf(ts, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	fo_uuid u;
	memcpy(u.b, raw + 8, 16);
	fo_uuid_format(&u, id);
	return 0;
}

fo_db_rc fo_db_alerts_list(fo_db *db, fo_db_alert_filter *f, char **json, size_t *len, char *err,
                           size_t errsz)
{
	*json = NULL;
	*len = 0;
	f->next_cursor[0] = '\0';
	char lim[16], ts[40], id[FO_UUID_STR_LEN + 1];
	int limit = f->limit > 0 ? f->limit : FO_DB_LIST_DEFAULT;
	if (limit > FO_DB_LIST_MAX)
		limit = FO_DB_LIST_MAX;
	snprintf(lim, sizeof(lim), "%d", limit + 1); /* one more: is there a next page? */
	int paged = f->cursor && *f->cursor;
	if (paged && fo_db_cursor_parse(f->cursor, ts, id) < 0) {
		fo_errf(err, errsz,
		        "cursor: \"%.64s\" is not a next_cursor of GET /alerts (%d base64url "
		        "characters)",
		        f->cursor, FO_DB_CURSOR_LEN);
		return FO_DB_EDATA;
	}
	const char *params[] = {f->status, f->severity,       f->vehicle_id,
	                        lim,       paged ? ts : NULL, paged ? id : NULL};
	PGresult *res;
	fo_db_rc rc =
	    fo_db_query(db, "list alerts", fo_sql_alerts_list, 6, params, &res, err, errsz);
	if (rc != FO_DB_OK)
		return rc;
	int n = PQntuples(res), more = n > limit;
	if (more)
		n = limit;
	*json = fo_db_column_json(res, 0, n, 1);
	if (!*json) {
		PQclear(res);
		fo_errf(err, errsz, "list alerts: out of memory");
		return FO_DB_EFAIL;
	}
	*len = strlen(*json);
	if (more && fo_db_cursor_make(atoll(PQgetvalue(res, n - 1, 1)), PQgetvalue(res, n - 1, 2),
	                              f->next_cursor) < 0)
		f->next_cursor[0] = '\0'; /* cannot happen: alert_id is a uuid */
	PQclear(res);
	return FO_DB_OK;
}
