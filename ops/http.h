/*
 * http: fleetops-operator's one port (libwebsockets): the REST API, the
 * WebSocket /ws and the built dashboard. docs/operator_api.md is the
 * contract; docs/openapi.yaml its machine-readable form.
 *
 * One thread, the network thread, runs the lws event loop and never waits
 * on the database. What needs PostgreSQL becomes a job for the API thread
 * (api.h), whose answers come back through its done queue; the loop is
 * woken with lws_cancel_service, the only lws call made off this thread.
 * What lives in memory is answered at once: /health, GET /vehicles (the
 * fleet view), the replay listings (replayctl), static files.
 *
 * WebSocket clients get their snapshot first (an API job that also checks
 * the token), then every hub message (hub.h) through a bounded queue of
 * their own; one that falls FO_HUB_Q_CAP messages behind is closed with
 * 1008 "send queue overflow". Messages go out in 64 KiB fragments, one
 * lws_write per writable callback. The broadcast latency (publish to the
 * last byte handed to the socket) of every message is recorded for
 * /metrics.
 *
 * Request bodies are limited to FO_HTTP_BODY_MAX bytes (413 past that);
 * POST routes need `Authorization: Bearer TOKEN` (401 without).
 */
#ifndef FO_HTTP_H
#define FO_HTTP_H

#include "api.h"
#include "hub.h"
#include "ingest.h"

#include <stddef.h>

#define FO_HTTP_BODY_MAX 4096

typedef struct fo_http fo_http;

typedef struct fo_http_conf {
	const char *listen;   /* "HOST:PORT"; PORT 0 picks a free one (logged) */
	const char *ui_dir;   /* the built dashboard (ui/dist); NULL: none */
	fo_api *api;          /* database jobs; required */
	fo_hub *hub;          /* broadcasts; required */
	const fo_ingest *in;  /* /health and /metrics counters; may be NULL */
	fo_fleet *fleet;      /* GET /vehicles; may be NULL */
	fo_outbox *outbox;    /* /health and /metrics; may be NULL */
	fo_replayctl *replay; /* /replay/...; may be NULL */
} fo_http_conf;

/* Binds and starts the network thread; sets itself as the wake function of
 * conf->api and conf->hub. conf's strings and objects must outlive the
 * server. Returns NULL with err (bad address, port in use). Main thread. */
fo_http *fo_http_start(const fo_http_conf *conf, char *err, size_t errsz);

/* The port it listens on. Any thread. */
int fo_http_port(const fo_http *h);

/* Closes WebSocket clients (1001), stops the network thread and frees h.
 * NULL-safe. Main thread, before fo_api_stop. */
void fo_http_stop(fo_http *h);

#endif
