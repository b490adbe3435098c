/*
 * lifecycle: the alert lifecycle of docs/operator_api.md on PostgreSQL,
 * operators' tokens, and the read queries of the REST API and the
 * WebSocket snapshot.
 *
 * Every function runs on a fo_db owned by the calling thread (the API
 * thread in fleetops-operator); nothing here keeps state between calls, so
 * everything survives a restart (a pull-over in progress is a column of its
 * alert). Each change is one transaction: the alert row is locked (SELECT
 * ... FOR UPDATE), the operator_actions row written (its published_at NULL:
 * ops/outbox.c puts it on Kafka after COMMIT), the alert updated, an
 * incident_history row written on RESOLVE, and the vehicle's state
 * recomputed (fo_recompute_vehicle_state, migration 0003) before COMMIT.
 * Concurrent actions on one alert therefore apply one after the other, each
 * against the state the previous one left; two pull-overs of one vehicle
 * cannot both start (a unique index decides a race). Every value travels
 * as a parameter; the JSON objects come from the SQL functions of
 * migration 0003 (fo_alert_json, fo_action_json, ...), the one definition
 * of each.
 *
 * Return values: a fo_db_rc as in db.h (err names the step and the SQL
 * state). FO_DB_OK means the request was answered, and the answer may be
 * a client error: fo_lc_result.http_status is 200, 400 (malformed alert
 * id: not a UUID; unknown action_type), 404 (no such alert) or 409 (not
 * allowed in the alert's state), with body the HTTP answer. FO_DB_EAGAIN:
 * the connection is gone or the transaction lost a deadlock; nothing was
 * committed; answer 503 and reconnect (fo_db_connect). FO_DB_EDATA: the
 * database refused a value (an operator_id that is no operator's: SQL
 * state 23503; a note that is not UTF-8): nothing was committed.
 */
#ifndef FO_LIFECYCLE_H
#define FO_LIFECYCLE_H

#include "db.h"

#include <stddef.h>
#include <stdint.h>

/* An answer. Every pointer is malloc'd or NULL; fo_lc_result_free frees
 * them all. */
typedef struct fo_lc_result {
	int http_status; /* 200, 400, 404, 409 */
	char *body;      /* the HTTP answer's JSON (errors: {"error":...[,"alert_status":...]}) */
	size_t body_len;
	/* a change (200 from fo_lc_act, every entry of fo_lc_pullovers_due): */
	char *alert_json;    /* the Alert after it, for alert_updated */
	char *action_json;   /* the Action written, for action_executed */
	char *vehicles_json; /* [{"vehicle_id","state","open_alerts"}] recomputed */
} fo_lc_result;

/* Frees r's strings and zeroes it; r may be NULL. Any thread. */
void fo_lc_result_free(fo_lc_result *r);

/* Frees n results and the array. */
void fo_lc_results_free(fo_lc_result *r, size_t n);

/* Applies action_type (ACKNOWLEDGE, ASSIGN, PULL_OVER_SIMULATED,
 * REQUEST_REMOTE_ASSIST, RESUME, RESOLVE, DISMISS) by operator_id to the
 * alert alert_id, as the lifecycle table of docs/operator_api.md says.
 * note (may be NULL) goes into the action's metadata; pullover_delay_s is
 * the time until a PULL_OVER_SIMULATED completes (fo_lc_pullovers_due).
 * On 200, res->body is {"alert":Alert,"action":Action} and alert_json,
 * action_json, vehicles_json are set; otherwise only body. The caller frees
 * res with fo_lc_result_free (also after an error return, which leaves it
 * empty). Owner thread of db. */
fo_db_rc fo_lc_act(fo_db *db, const char *alert_id, int64_t operator_id, const char *action_type,
                   const char *note, double pullover_delay_s, fo_lc_result *res, char *err,
                   size_t errsz);

/* Completes every pull-over whose delay has passed, each in a transaction
 * of its own: the alert RESOLVED, an automatic RESOLVE action by the
 * operator who requested the pull-over (metadata {"automatic":true,
 * "reason":"pull_over_completed"}), an incident, the vehicle recomputed.
 * *res gets a malloc'd array of *n results (as fo_lc_act's 200; free with
 * fo_lc_results_free; NULL when *n is 0), *next_ms the milliseconds until
 * the next pull-over is due (0: call again now; -1: none in progress). On
 * an error the results of the pull-overs already committed are still
 * returned. Owner thread of db. */
fo_db_rc fo_lc_pullovers_due(fo_db *db, fo_lc_result **res, size_t *n, int64_t *next_ms, char *err,
                             size_t errsz);

#define FO_LC_TOKEN_LEN 64 /* hex characters */

/* Creates the operator name, or gives the existing one a new token (the
 * old one stops working). token_out gets the token: 32 bytes from
 * getrandom as 64 lowercase hex characters plus a NUL; only its SHA-256
 * (hex) reaches the database. *operator_id (if not NULL) gets the
 * operator's id. A name that is not 1..128 printable characters (no
 * control characters, no leading or trailing space) is FO_DB_EDATA with
 * err. Owner thread of db. */
fo_db_rc fo_lc_token_issue(fo_db *db, const char *name, char token_out[FO_LC_TOKEN_LEN + 1],
                           int64_t *operator_id, char *err, size_t errsz);

/* The operator holding token: *operator_id its id and name_out its name
 * (truncated to namesz), or *operator_id 0 and name_out "" when no one
 * holds it (a string that is not 64 hex characters is held by no one and
 * costs no query). Owner thread of db. */
fo_db_rc fo_lc_token_check(fo_db *db, const char *token, int64_t *operator_id, char *name_out,
                           size_t namesz, char *err, size_t errsz);

/* GET /alerts/{alert_id}: res->body is {"alert":Alert with features,
 * thresholds, evidence,"vehicle":Vehicle|null,"actions":[Action] oldest
 * first,"incident":Incident|null} (200), or 400 (not a UUID) / 404. Only
 * http_status and body are set. Owner thread of db. */
fo_db_rc fo_lc_alert_get(fo_db *db, const char *alert_id, fo_lc_result *res, char *err,
                         size_t errsz);

#define FO_LC_HISTORY_MAX 200

/* GET /vehicles/{vehicle_id}/history: res->body is {"vehicle_id":ID,
 * "alerts":[Alert],"actions":[Action],"incidents":[Incident]}, each newest
 * first and at most FO_LC_HISTORY_MAX long (200), or 404 when the vehicle
 * has neither a vehicles row nor an alert. Owner thread of db. */
fo_db_rc fo_lc_vehicle_history(fo_db *db, const char *vehicle_id, fo_lc_result *res, char *err,
                               size_t errsz);

#define FO_LC_OPEN_MAX 5000

/* The OPEN and ACKNOWLEDGED alerts, newest first, at most FO_LC_OPEN_MAX
 * (the WebSocket snapshot), as a JSON array in *json (malloc'd, the caller
 * frees; length in *len). Owner thread of db. */
fo_db_rc fo_lc_open_alerts(fo_db *db, char **json, size_t *len, char *err, size_t errsz);

/* The open alerts of one vehicle (GET /vehicles/{id}), newest first, at
 * most FO_DB_LIST_MAX, as fo_lc_open_alerts ("[]" for an unknown vehicle).
 * Owner thread of db. */
fo_db_rc fo_lc_vehicle_alerts(fo_db *db, const char *vehicle_id, char **json, size_t *len,
                              char *err, size_t errsz);

/* Alerts counted by status and severity (/metrics; the WebSocket stats'
 * open_alerts are n[OPEN] + n[ACKNOWLEDGED] per severity). */
enum { FO_LC_STATUS_N = 4, FO_LC_SEVERITY_N = 3 };
extern const char
    *const fo_lc_status_names[FO_LC_STATUS_N]; /* OPEN ACKNOWLEDGED RESOLVED DISMISSED */
extern const char *const fo_lc_severity_names[FO_LC_SEVERITY_N]; /* INFO WARNING CRITICAL */
typedef struct fo_lc_counts {
	int64_t n[FO_LC_STATUS_N][FO_LC_SEVERITY_N];
	int64_t pullovers; /* pull-overs in progress */
} fo_lc_counts;

fo_db_rc fo_lc_alert_counts(fo_db *db, fo_lc_counts *c, char *err, size_t errsz);

#endif
