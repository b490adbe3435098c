/*
 * api: the operator's database work for HTTP and WebSocket requests.
 *
 * One thread, the API thread, owns a PostgreSQL connection (db.h) and runs
 * jobs that the network thread (http.c) queues: listing and reading
 * alerts, operator actions (lifecycle.h), vehicle details and history, the
 * database part of /metrics, and a new WebSocket client's token check and
 * snapshot. Finished jobs go back through a second queue, and the wake
 * function (lws_cancel_service) tells the network thread to collect them:
 * so the network thread never waits on the database. Both queues are
 * mutex-protected lists; the lock is never held during a query.
 *
 * Every change an action makes is committed before it is announced: the
 * API thread then publishes alert_updated and action_executed to the hub,
 * hands the recomputed vehicle states to the fleet view (fleet.h), and
 * kicks the outbox (outbox.h), which puts the action on operator_actions.
 * Between jobs it completes simulated pull-overs whose delay has passed
 * (their state is in PostgreSQL, so a restart finishes them too).
 *
 * Authentication happens here: a job that needs an operator carries the
 * bearer token, which is checked against operators.token_hash first; the
 * operator's id comes from the token only. PostgreSQL away: jobs answer
 * 503 with the reason, and the connection is retried on the next job.
 */
#ifndef FO_API_H
#define FO_API_H

#include "hub.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fo_fleet fo_fleet;
typedef struct fo_outbox fo_outbox;
typedef struct fo_replayctl fo_replayctl;

typedef enum fo_api_kind {
	FO_API_ALERTS,       /* GET /alerts */
	FO_API_ALERT,        /* GET /alerts/{arg} */
	FO_API_ACT,          /* POST /alerts/{arg}/{acknowledge|assign|actions} */
	FO_API_VEHICLE,      /* GET /vehicles/{arg} */
	FO_API_HISTORY,      /* GET /vehicles/{arg}/history */
	FO_API_METRICS,      /* the database part of GET /metrics */
	FO_API_SNAPSHOT,     /* /ws: token check, then the snapshot message */
	FO_API_REPLAY_START, /* POST /replay/start: token check, then replayctl */
	FO_API_REPLAY_STOP,  /* POST /replay/stop */
} fo_api_kind;

#define FO_API_ID_MAX 160

typedef struct fo_api_job {
	struct fo_api_job *next; /* queue link; api only */
	uint64_t id;             /* set by fo_api_submit */
	fo_api_kind kind;
	char token[128]; /* bearer token; "" none */
	char arg[FO_API_ID_MAX];
	char action[32]; /* FO_API_ACT: ACKNOWLEDGE, ASSIGN, or "" (in the body) */
	/* FO_API_ALERTS filters, checked by the network thread */
	char status[16], severity[16], vehicle_id[FO_API_ID_MAX], cursor[FO_API_ID_MAX];
	int limit;
	char *body; /* request body (malloc'd; the job owns it), NULL none */
	size_t body_len;
	/* the answer */
	int code;  /* HTTP status; FO_API_SNAPSHOT: 200 or 401 */
	char *out; /* malloc'd body; the job owns it */
	size_t out_len;
	uint64_t hub_seq; /* FO_API_SNAPSHOT: hub messages up to this are in it */
} fo_api_job;

typedef struct fo_api_conf {
	const char *dsn;       /* PostgreSQL */
	fo_hub *hub;           /* where changes are announced */
	fo_fleet *fleet;       /* vehicle view; may be NULL */
	fo_outbox *outbox;     /* operator_actions publisher; may be NULL */
	fo_replayctl *replay;  /* replay control; may be NULL */
	double pullover_delay; /* seconds until a simulated pull-over completes */
} fo_api_conf;

typedef struct fo_api fo_api;

/* Starts the API thread. conf's strings and objects must outlive it.
 * Returns NULL with err. Main thread. */
fo_api *fo_api_start(const fo_api_conf *conf, char *err, size_t errsz);

/* Who to wake when a job is done (the network thread). Before the first
 * job; main thread. */
void fo_api_set_wake(fo_api *api, void (*wake)(void *arg), void *arg);

/* Queues j (ownership moves) and returns its id. Any thread. */
uint64_t fo_api_submit(fo_api *api, fo_api_job *j);

/* The finished jobs (a list linked by next; the caller frees each with
 * fo_api_job_free). Any thread. */
fo_api_job *fo_api_take_done(fo_api *api);

void fo_api_job_free(fo_api_job *j);

/* 1 while the API thread's last database call succeeded. Any thread. */
int fo_api_postgres_ok(const fo_api *api);

/* Open alerts by severity, as of the last refresh (once a second), for the
 * stats message (fleet.h's fo_fleet_alerts_fn; arg is the fo_api).
 * Returns 0, or -1 before the first refresh. Any thread. */
int fo_api_open_alerts(void *arg, uint64_t *info, uint64_t *warning, uint64_t *critical);

/* {"error":MSG} (MSG JSON-escaped), malloc'd with its length in *len (the
 * caller frees it); NULL when out of memory. The one error body of the
 * API, for the API and network threads. Any thread. */
char *fo_api_error_json(const char *msg, size_t *len);

/* Announcements shared with the ingest thread, made after the COMMIT that
 * caused them. fo_api_publish_alerts publishes {"type":TYPE,"alerts":ARR}
 * for a JSON array of Alert objects (nothing for an empty one);
 * fo_api_apply_vehicles hands a JSON array of recomputed vehicles
 * [{"vehicle_id","state","open_alerts"}] to the fleet view (fleet may be
 * NULL). Any thread. */
void fo_api_publish_alerts(fo_hub *hub, const char *type, const char *alerts, size_t len);
void fo_api_apply_vehicles(fo_fleet *fleet, const char *vehicles);

/* Stops the thread (queued jobs are dropped); fo_api_open_alerts still
 * answers afterwards. NULL-safe. Main thread, after the network thread
 * stopped. */
void fo_api_stop(fo_api *api);

/* Frees api (stopping it first if needed). NULL-safe. Main thread, after
 * everyone who calls fo_api_open_alerts stopped. */
void fo_api_destroy(fo_api *api);

#endif
