/*
 * http: fleetops-operator's HTTP API on one port (libwebsockets).
 *
 * Two threads. The network thread runs the lws event loop and never waits
 * on the database: GET /health is answered from the ingest's counters
 * (atomics), and a GET /alerts request becomes a job for the query
 * thread, which owns a PostgreSQL connection of its own (db.h), runs the
 * query and hands the JSON body back through a mutex-protected queue,
 * waking the loop with lws_cancel_service (the only lws call made off the
 * network thread). A client that went away meanwhile just has its answer
 * dropped. Bodies go out in 16 KiB pieces, one lws_write per writable
 * callback.
 *
 * Routes (GET only; anything else is a JSON error):
 *   /health  {"status":"ok"|"degraded","kafka":"up"|"down",
 *             "postgres":"up"|"down","consumer_lag":N,...}; 503 if degraded
 *   /alerts  {"alerts":[...]} newest first; ?status= ?severity=
 *            ?vehicle_id= ?limit=1..1000 (default 100); 400 for a bad
 *            filter, 503 while PostgreSQL is unavailable
 */
#ifndef FO_HTTP_H
#define FO_HTTP_H

#include "ingest.h"

#include <stddef.h>

typedef struct fo_http fo_http;

typedef struct fo_http_conf {
	const char *listen;  /* "HOST:PORT"; PORT 0 picks a free one (logged) */
	const char *dsn;     /* PostgreSQL for the query thread */
	const fo_ingest *in; /* counters for /health */
} fo_http_conf;

/* Binds, then starts the network and query threads. conf's strings must
 * outlive the server. Returns NULL with err (bad address, port in use).
 * Main thread. */
fo_http *fo_http_start(const fo_http_conf *conf, char *err, size_t errsz);

/* The port it listens on. Any thread. */
int fo_http_port(const fo_http *h);

/* Stops both threads (requests in flight are dropped) and frees h.
 * NULL-safe. Main thread. */
void fo_http_stop(fo_http *h);

#endif
