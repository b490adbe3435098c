/*
 * pg_fixture: a throwaway PostgreSQL database per test run, created from
 * PG_DSN (the fleetops role has CREATEDB) as fo_test_<pid> and dropped at
 * the end, so that integration tests never see each other's rows or an
 * older schema. Skips (77) without PG_DSN or a reachable server.
 */
#ifndef FO_PG_FIXTURE_H
#define FO_PG_FIXTURE_H

#include "fo_test.h"

#include <libpq-fe.h>
#include <unistd.h>

static char fo_pg_name[64];
static char fo_pg_dsn[1024];

/* Runs sql on conn; returns 0 or -1 (printed). */
__attribute__((unused)) static int fo_pg_exec(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	int ok =
	    r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
	if (!ok)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
	PQclear(r);
	return ok ? 0 : -1;
}

/* The first column of the first row of sql as a number, or -1. */
__attribute__((unused)) static long long fo_pg_num(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	long long v = -1;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = atoll(PQgetvalue(r, 0, 0));
	else
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
	PQclear(r);
	return v;
}

static void fo_pg_quiet(void *arg, const char *msg)
{
	(void)arg, (void)msg;
}

/* Creates the database; fo_pg_dsn then names it. */
__attribute__((unused)) static void fo_pg_create(void)
{
	const char *dsn = getenv("PG_DSN");
	if (!dsn || !*dsn)
		FO_SKIP("PG_DSN not set (run through ./tools/fleetops test)");
	PGconn *c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK)
		FO_SKIP("PostgreSQL at PG_DSN not reachable: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, fo_pg_quiet, NULL); /* "does not exist, skipping" */
	snprintf(fo_pg_name, sizeof(fo_pg_name), "fo_test_%d", (int)getpid());
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", fo_pg_name);
	fo_pg_exec(c, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", fo_pg_name);
	if (fo_pg_exec(c, sql) < 0) {
		fprintf(stderr, "cannot create the test database\n");
		exit(1);
	}
	snprintf(fo_pg_dsn, sizeof(fo_pg_dsn), "host=%s port=%s user=%s password=%s dbname=%s",
	         PQhost(c), PQport(c), PQuser(c), PQpass(c) ? PQpass(c) : "", fo_pg_name);
	PQfinish(c);
}

/* Drops the database (every connection to it must be closed). */
__attribute__((unused)) static void fo_pg_drop(void)
{
	PGconn *c = PQconnectdb(getenv("PG_DSN"));
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", fo_pg_name);
	if (PQstatus(c) == CONNECTION_OK)
		fo_pg_exec(c, sql);
	PQfinish(c);
}

/* A plain libpq connection to the test database, for checks. */
__attribute__((unused)) static PGconn *fo_pg_connect(void)
{
	PGconn *c = PQconnectdb(fo_pg_dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect %s: %s", fo_pg_name, PQerrorMessage(c));
		exit(1);
	}
	return c;
}

#endif
