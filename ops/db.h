/*
 * db: fleetops-operator's PostgreSQL layer (libpq).
 *
 * A fo_db is one connection, owned by one thread (the ingest thread; the
 * HTTP side will own another): libpq connections are not shared between
 * threads, and nothing here locks. Every statement with values in it is
 * parameterized (PQexecParams); a batch of rows travels as one jsonb
 * parameter and is unpacked by jsonb_to_recordset, so many anomalies cost
 * one INSERT without ever splicing text into SQL.
 *
 * Errors: each call returns a fo_db_rc and formats err with what was being
 * done and PostgreSQL's SQL state ("insert alerts: SQLSTATE 23514: ...").
 * FO_DB_EAGAIN means "try again later" (the connection is gone or the
 * server is shutting down, a deadlock): the caller backs off, calls
 * fo_db_connect if fo_db_connected says the connection is gone, and
 * repeats; nothing of the failed call was committed. FO_DB_EDATA means
 * PostgreSQL refused the values (SQL state class 22 or 23): repeating the
 * same call fails the same way.
 */
#ifndef FO_DB_H
#define FO_DB_H

#include "anomaly_json.h"

#include <stddef.h>

typedef enum fo_db_rc {
	FO_DB_OK = 0,
	FO_DB_EAGAIN = -1, /* connection lost or refused, server shutting down, deadlock */
	FO_DB_EDATA = -2,  /* the values were refused (SQL state class 22 or 23) */
	FO_DB_EFAIL = -3,  /* anything else: schema, permissions, a changed migration */
} fo_db_rc;

const char *fo_db_rc_str(fo_db_rc rc);

typedef struct fo_db fo_db;

/* A handle for the database at dsn (a libpq connection string or URI; it
 * is copied). Does not connect: call fo_db_connect. Returns NULL only when
 * out of memory. Freed by fo_db_destroy. Owner thread from here on. */
fo_db *fo_db_new(const char *dsn);
void fo_db_destroy(fo_db *db);

/* (Re)connects, dropping any previous connection, with a 5 s connect
 * timeout. Returns FO_DB_OK, or FO_DB_EAGAIN with err (the server's
 * answer; the password is never in it). Owner thread. */
fo_db_rc fo_db_connect(fo_db *db, char *err, size_t errsz);

/* 1 if the connection is up as far as libpq knows. Owner thread. */
int fo_db_connected(const fo_db *db);

/* Runs SELECT 1. Returns FO_DB_OK or FO_DB_EAGAIN with err. Owner thread. */
fo_db_rc fo_db_ping(fo_db *db, char *err, size_t errsz);

/* Brings the schema up to date with the embedded migrations
 * (migrations.h), holding an advisory lock so that two processes starting
 * at once do not race: each migration not yet in schema_migrations runs
 * in a transaction of its own, together with its schema_migrations row
 * (version, name, applied_at, checksum). Refuses (FO_DB_EFAIL) if an
 * applied migration's checksum differs from the embedded file's or the
 * database has a version this program does not know. *applied (if not
 * NULL) gets how many ran now. Owner thread. */
fo_db_rc fo_db_migrate(fo_db *db, int *applied, char *err, size_t errsz);

/* Inserts the alerts of n checked anomalies in one transaction (one
 * statement, fo_alerts_insert of migration 0003): a new alert (OPEN, a
 * fresh alert_id) per anomaly_id not seen before, nothing for the others
 * (ON CONFLICT (anomaly_id) DO NOTHING, repeats within the batch
 * included); the alerts trigger brings the vehicles' open-alert counts and
 * state up to date in the same statement. *inserted (if not NULL) gets the
 * number of new alerts. If alerts_json is not NULL it gets the JSON array
 * of the new Alert objects (docs/operator_api.md, fo_alert_text of
 * migration 0003), and if vehicles_json is not NULL the array of their
 * vehicles as they are now [{"vehicle_id","state","open_alerts"}], both
 * "[]" when nothing was new: malloc'd, the caller frees them; NULL on
 * error. FO_DB_OK only once it committed; on any error nothing was
 * written. Owner thread. */
fo_db_rc fo_db_alerts_insert(fo_db *db, const fo_anomaly_json *const *rows, size_t n,
                             size_t *inserted, char **alerts_json, char **vehicles_json, char *err,
                             size_t errsz);

/* An opaque page cursor: 32 base64url characters (the created_at and
 * alert_id of a page's last row) plus a NUL. */
#define FO_DB_CURSOR_LEN 32

/* Filters of GET /alerts; NULL or 0 means "any". */
typedef struct fo_db_alert_filter {
	const char *status;   /* OPEN | ACKNOWLEDGED | RESOLVED | DISMISSED */
	const char *severity; /* INFO | WARNING | CRITICAL */
	const char *vehicle_id;
	int limit;          /* 1..FO_DB_LIST_MAX; 0: FO_DB_LIST_DEFAULT */
	const char *cursor; /* the next_cursor of the previous page; NULL or "": first page */
	/* out: the cursor of the page after this one, "" when this is the last */
	char next_cursor[FO_DB_CURSOR_LEN + 1];
} fo_db_alert_filter;

#define FO_DB_LIST_DEFAULT 100
#define FO_DB_LIST_MAX     1000

/* The alerts matching f, newest first (created_at descending, then
 * alert_id), after f->cursor if set, as a JSON array of Alert objects
 * (fo_alert_text, migration 0003). *json is malloc'd (the caller frees
 * it) with its length in *len; f->next_cursor is set ("" at the end, so
 * that walking the pages sees every row once). A cursor that is not one
 * this function made is FO_DB_EDATA with err starting "cursor:" (an HTTP
 * 400). Owner thread. */
fo_db_rc fo_db_alerts_list(fo_db *db, fo_db_alert_filter *f, char **json, size_t *len, char *err,
                           size_t errsz);

#endif
