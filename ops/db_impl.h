/*
 * db_impl: the libpq layer's helpers for the other ops/ modules that run
 * their own SQL on a fo_db (lifecycle.c, outbox.c): not for use outside
 * ops/. Same rules as db.h: the connection's owner thread only, every
 * value a parameter, err formatted "what: SQLSTATE xxxxx: message".
 */
#ifndef FO_DB_IMPL_H
#define FO_DB_IMPL_H

#include "db.h"

#include <libpq-fe.h>

/* Runs sql with n text parameters (NULL entries are SQL NULL). With out,
 * *out gets the result (the caller PQclears it); without, it is cleared.
 * FO_DB_EAGAIN without sending anything when not connected. */
fo_db_rc fo_db_query(fo_db *db, const char *what, const char *sql, int n, const char *const *params,
                     PGresult **out, char *err, size_t errsz);

/* BEGIN / COMMIT, as fo_db_query. */
fo_db_rc fo_db_begin(fo_db *db, char *err, size_t errsz);
fo_db_rc fo_db_commit(fo_db *db, const char *what, char *err, size_t errsz);

/* Ends a failed transaction (ROLLBACK if the connection is still up); the
 * caller reports the original error. */
void fo_db_rollback(fo_db *db);

/* The SQLSTATE of the last failed fo_db_query on db ("" if none): lets a
 * caller tell a unique violation (23505) from other refusals. */
const char *fo_db_last_sqlstate(const fo_db *db);

/* The value of row r, column c of res as a malloc'd copy (NULL when out of
 * memory; "null" for SQL NULL when as_json). */
char *fo_db_strdup_value(PGresult *res, int r, int c, int as_json);

#endif
