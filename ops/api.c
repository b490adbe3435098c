/*
 * api: see api.h. The API thread's loop: take a job (or time out after at
 * most a second), make sure the connection is up, run it, hand it back;
 * between jobs, complete the pull-overs that are due and, once a second,
 * refresh the open-alert counts that the stats message reports.
 */
#include "api.h"

#include "db.h"
#include "errbuf.h"
#include "fleet.h"
#include "lifecycle.h"
#include "log.h"
#include "outbox.h"
#include "replayctl.h"
#include "strbuf.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FO_API_NOTE_MAX 500

struct fo_api {
	fo_api_conf conf;
	pthread_t thr;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	fo_api_job *todo, *todo_tail, *done; /* under mu */
	uint64_t next_id;                    /* under mu */
	void (*wake)(void *arg);             /* under mu */
	void *wake_arg;
	atomic_int stop, pg_ok;
	_Atomic uint64_t open_info, open_warning, open_critical;
	atomic_int open_known;
	fo_db *db; /* API thread only */
};

/* ------------------------------------------------------- announcements --- */

/* {"type":TYPE,"KEY":<len bytes of json>} to the hub; nothing for NULL. */
static void fo_api_publish(fo_hub *hub, const char *type, const char *key, const char *json,
                           size_t len)
{
	if (!json)
		return;
	fo_sb sb = FO_SB_INIT;
	fo_sb_printf(&sb, "{\"type\":\"%s\",\"%s\":", type, key);
	fo_sb_add(&sb, json, len);
	fo_sb_str(&sb, "}");
	size_t n = 0;
	char *m = fo_sb_take(&sb, &n);
	if (m)
		fo_hub_publish(hub, m, n);
	free(m);
}

void fo_api_publish_alerts(fo_hub *hub, const char *type, const char *alerts, size_t len)
{
	if (alerts && len > 2) /* not "[]" */
		fo_api_publish(hub, type, "alerts", alerts, len);
}

void fo_api_apply_vehicles(fo_fleet *fleet, const char *vehicles)
{
	if (!fleet || !vehicles)
		return;
	cJSON *arr = cJSON_Parse(vehicles);
	const cJSON *v;
	cJSON_ArrayForEach(v, arr)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "vehicle_id");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(v, "state");
		const cJSON *open = cJSON_GetObjectItemCaseSensitive(v, "open_alerts");
		fo_fleet_state s;
		if (cJSON_IsString(id) && cJSON_IsString(st) &&
		    fo_fleet_state_parse(st->valuestring, &s) == 0)
			fo_fleet_set_state(fleet, id->valuestring, s,
			                   cJSON_IsNumber(open) ? (int64_t)open->valuedouble : -1);
	}
	cJSON_Delete(arr);
}

/* ---------------------------------------------------------------- jobs --- */

static void fo_api_set(fo_api_job *j, int code, char *out, size_t len)
{
	free(j->out);
	j->code = out ? code : 500;
	j->out = out;
	j->out_len = out ? len : 0;
}

/* 200 with the text built in sb (500 if building it ran out of memory). */
static void fo_api_set_sb(fo_api_job *j, fo_sb *sb)
{
	size_t n = 0;
	char *out = fo_sb_take(sb, &n);
	fo_api_set(j, 200, out, n);
}

char *fo_api_error_json(const char *msg, size_t *len)
{
	fo_sb sb = FO_SB_INIT;
	fo_sb_str(&sb, "{\"error\":");
	fo_sb_json_str(&sb, msg);
	fo_sb_str(&sb, "}");
	return fo_sb_take(&sb, len);
}

static void fo_api_fail(fo_api_job *j, int code, const char *msg)
{
	size_t n = 0;
	char *b = fo_api_error_json(msg, &n);
	fo_api_set(j, code, b, n);
}

/* A database call failed: 503 if it may work again later, else 500. */
static void fo_api_db_fail(fo_api *api, fo_api_job *j, fo_db_rc rc, const char *err)
{
	if (rc == FO_DB_EAGAIN)
		atomic_store(&api->pg_ok, 0);
	fo_log(FO_LOG_WARN, "api_query_failed", err, FO_KS("db_rc", fo_db_rc_str(rc)));
	fo_api_fail(j, rc == FO_DB_EAGAIN ? 503 : rc == FO_DB_EDATA ? 400 : 500, err);
}

static int fo_is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-'
		                                            : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The operator the job's token names; 0 after answering 401 (or the
 * database error). */
static int64_t fo_api_operator(fo_api *api, fo_api_job *j)
{
	char err[512], name[160];
	int64_t op = 0;
	fo_db_rc rc =
	    fo_lc_token_check(api->db, j->token, &op, name, sizeof(name), err, sizeof(err));
	if (rc != FO_DB_OK) {
		fo_api_db_fail(api, j, rc, err);
		return 0;
	}
	if (op == 0)
		fo_api_fail(j, 401,
		            "invalid token: no operator holds it (./tools/fleetops token NAME "
		            "issues one)");
	return op;
}

static void fo_api_alerts(fo_api *api, fo_api_job *j)
{
	char err[512], *arr = NULL;
	size_t n = 0;
	fo_db_alert_filter f = {.status = j->status[0] ? j->status : NULL,
	                        .severity = j->severity[0] ? j->severity : NULL,
	                        .vehicle_id = j->vehicle_id[0] ? j->vehicle_id : NULL,
	                        .limit = j->limit,
	                        .cursor = j->cursor[0] ? j->cursor : NULL};
	fo_db_rc rc = fo_db_alerts_list(api->db, &f, &arr, &n, err, sizeof(err));
	if (rc != FO_DB_OK) {
		fo_api_db_fail(api, j, rc, err);
		return;
	}
	fo_sb sb = FO_SB_INIT;
	fo_sb_str(&sb, "{\"alerts\":");
	fo_sb_add(&sb, arr, n);
	fo_sb_str(&sb, ",\"next_cursor\":");
	fo_sb_json_str(&sb, f.next_cursor[0] ? f.next_cursor : NULL);
	fo_sb_str(&sb, "}");
	free(arr);
	fo_api_set_sb(j, &sb);
}

/* Reads {"action_type":..,"note":..} from the job's body into action and
 * note; 0, or -1 after answering 400. */
static int fo_api_act_body(fo_api_job *j, char *action, size_t acap, char *note, size_t ncap)
{
	static const char *const types[] = {
	    "ACKNOWLEDGE", "ASSIGN", "PULL_OVER_SIMULATED", "REQUEST_REMOTE_ASSIST", "RESUME",
	    "RESOLVE",     "DISMISS"};
	snprintf(action, acap, "%s", j->action);
	note[0] = '\0';
	const char *p = j->body;
	while (p && p < j->body + j->body_len && isspace((unsigned char)*p))
		p++;
	if (!p || p == j->body + j->body_len) { /* no body */
		if (!action[0]) {
			fo_api_fail(j, 400, "body must be a JSON object with action_type");
			return -1;
		}
		return 0;
	}
	cJSON *o = cJSON_ParseWithLength(j->body, j->body_len);
	const char *bad = NULL;
	if (!cJSON_IsObject(o)) {
		bad = "body is not a JSON object";
	} else {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "action_type");
		const cJSON *nt = cJSON_GetObjectItemCaseSensitive(o, "note");
		if (!action[0]) {
			int known = 0;
			for (size_t i = 0;
			     cJSON_IsString(t) && i < sizeof(types) / sizeof(types[0]); i++)
				known |= strcmp(t->valuestring, types[i]) == 0;
			if (!t)
				bad = "action_type is missing";
			else if (!known)
				bad = "action_type must be one of ACKNOWLEDGE, ASSIGN, "
				      "PULL_OVER_SIMULATED, "
				      "REQUEST_REMOTE_ASSIST, RESUME, RESOLVE, DISMISS";
			else
				snprintf(action, acap, "%s", t->valuestring);
		}
		if (!bad && nt && !cJSON_IsNull(nt)) {
			if (!cJSON_IsString(nt))
				bad = "note must be a string";
			else if (strlen(nt->valuestring) > FO_API_NOTE_MAX)
				bad = "note is longer than 500 bytes";
			else
				snprintf(note, ncap, "%s", nt->valuestring);
		}
	}
	cJSON_Delete(o);
	if (bad) {
		fo_api_fail(j, 400, bad);
		return -1;
	}
	return 0;
}

/* The job's answer from a lifecycle result (which is freed). */
static void fo_api_take_result(fo_api_job *j, fo_lc_result *r)
{
	fo_api_set(j, r->http_status, r->body, r->body_len);
	r->body = NULL;
	fo_lc_result_free(r);
}

/* What an action or a completed pull-over changed, announced after its
 * COMMIT. */
static void fo_api_announce(fo_api *api, const fo_lc_result *r)
{
	fo_api_publish(api->conf.hub, "alert_updated", "alert", r->alert_json,
	               r->alert_json ? strlen(r->alert_json) : 0);
	fo_api_publish(api->conf.hub, "action_executed", "action", r->action_json,
	               r->action_json ? strlen(r->action_json) : 0);
	fo_api_apply_vehicles(api->conf.fleet, r->vehicles_json);
	if (api->conf.outbox && r->action_json)
		fo_outbox_kick(api->conf.outbox);
}

static void fo_api_act(fo_api *api, fo_api_job *j)
{
	char action[32], note[FO_API_NOTE_MAX + 1], err[512];
	int64_t op = fo_api_operator(api, j);
	if (!op || fo_api_act_body(j, action, sizeof(action), note, sizeof(note)) < 0)
		return;
	if (!fo_is_uuid(j->arg)) {
		fo_api_fail(j, 400, "alert id is not a uuid");
		return;
	}
	fo_lc_result r = {0};
	fo_db_rc rc = fo_lc_act(api->db, j->arg, op, action, note[0] ? note : NULL,
	                        api->conf.pullover_delay, &r, err, sizeof(err));
	if (rc != FO_DB_OK) {
		fo_api_db_fail(api, j, rc, err);
		return;
	}
	if (r.http_status == 200)
		fo_api_announce(api, &r);
	fo_api_take_result(j, &r);
}

static void fo_api_alert(fo_api *api, fo_api_job *j)
{
	char err[512];
	fo_lc_result r = {0};
	if (!fo_is_uuid(j->arg)) {
		fo_api_fail(j, 400, "alert id is not a uuid");
		return;
	}
	fo_db_rc rc = fo_lc_alert_get(api->db, j->arg, &r, err, sizeof(err));
	if (rc != FO_DB_OK)
		fo_api_db_fail(api, j, rc, err);
	else
		fo_api_take_result(j, &r);
}

/* GET /vehicles/{id}: the live view plus the open alerts from PostgreSQL. */
static void fo_api_vehicle(fo_api *api, fo_api_job *j)
{
	char err[512], *live = NULL, *alerts = NULL;
	size_t nl = 0, na = 0;
	int fr = api->conf.fleet ? fo_fleet_vehicle(api->conf.fleet, j->arg, &live, &nl)
	                         : FO_FLEET_NOT_FOUND;
	if (fr == FO_FLEET_NOT_FOUND || fr == FO_FLEET_EINVAL) {
		fo_api_fail(j, 404, "no such vehicle");
		return;
	}
	if (fr != FO_FLEET_OK) {
		fo_api_set(j, 500, NULL, 0);
		return;
	}
	fo_db_rc rc = fo_lc_vehicle_alerts(api->db, j->arg, &alerts, &na, err, sizeof(err));
	if (rc != FO_DB_OK) {
		free(live);
		fo_api_db_fail(api, j, rc, err);
		return;
	}
	fo_sb sb = FO_SB_INIT; /* live is {"vehicle":..,"telemetry":[..]} */
	fo_sb_add(&sb, live, nl - 1);
	fo_sb_str(&sb, ",\"alerts\":");
	fo_sb_add(&sb, alerts, na);
	fo_sb_str(&sb, "}");
	free(live);
	free(alerts);
	fo_api_set_sb(j, &sb);
}

static void fo_api_history(fo_api *api, fo_api_job *j)
{
	char err[512];
	fo_lc_result r = {0};
	fo_db_rc rc = fo_lc_vehicle_history(api->db, j->arg, &r, err, sizeof(err));
	if (rc != FO_DB_OK)
		fo_api_db_fail(api, j, rc, err);
	else
		fo_api_take_result(j, &r);
}

/* Keeps the open-alert counts for the stats message. */
static void fo_api_keep_counts(fo_api *api, const fo_lc_counts *c)
{
	/* OPEN and ACKNOWLEDGED are statuses 0 and 1 of fo_lc_status_names */
	atomic_store(&api->open_info, (uint64_t)(c->n[0][0] + c->n[1][0]));
	atomic_store(&api->open_warning, (uint64_t)(c->n[0][1] + c->n[1][1]));
	atomic_store(&api->open_critical, (uint64_t)(c->n[0][2] + c->n[1][2]));
	atomic_store(&api->open_known, 1);
}

/* GET /metrics' database part: alerts by status and severity. */
static void fo_api_metrics(fo_api *api, fo_api_job *j)
{
	char err[512];
	fo_lc_counts c;
	fo_db_rc rc = fo_lc_alert_counts(api->db, &c, err, sizeof(err));
	if (rc != FO_DB_OK) {
		fo_api_db_fail(api, j, rc, err);
		return;
	}
	fo_api_keep_counts(api, &c);
	fo_sb sb = FO_SB_INIT;
	fo_sb_str(&sb, "# HELP fleetops_alerts alerts in PostgreSQL by status and severity\n"
	               "# TYPE fleetops_alerts gauge\n");
	for (int st = 0; st < FO_LC_STATUS_N; st++)
		for (int sv = 0; sv < FO_LC_SEVERITY_N; sv++)
			fo_sb_printf(&sb, "fleetops_alerts{status=\"%s\",severity=\"%s\"} %lld\n",
			             fo_lc_status_names[st], fo_lc_severity_names[sv],
			             (long long)c.n[st][sv]);
	fo_sb_printf(&sb,
	             "# HELP fleetops_pullovers_in_progress simulated pull-overs not yet "
	             "completed\n# TYPE fleetops_pullovers_in_progress gauge\n"
	             "fleetops_pullovers_in_progress %lld\n",
	             (long long)c.pullovers);
	fo_api_set_sb(j, &sb);
}

static void fo_api_snapshot(fo_api *api, fo_api_job *j)
{
	char err[512], *alerts = NULL, *vehicles = NULL, now[32];
	size_t na = 0, nv = 0;
	if (!fo_api_operator(api, j))
		return;
	j->hub_seq = fo_hub_seq(api->conf.hub); /* before the query: see hub.h */
	fo_db_rc rc = fo_lc_open_alerts(api->db, &alerts, &na, err, sizeof(err));
	if (rc != FO_DB_OK) {
		fo_api_db_fail(api, j, rc, err);
		return;
	}
	if (api->conf.fleet && fo_fleet_snapshot(api->conf.fleet, &vehicles, &nv) != FO_FLEET_OK) {
		free(alerts);
		fo_api_set(j, 500, NULL, 0);
		return;
	}
	fo_time_iso8601(fo_time_wall_ns(), now);
	fo_sb sb = FO_SB_INIT;
	fo_sb_str(&sb, "{\"type\":\"snapshot\",\"alerts\":");
	fo_sb_add(&sb, alerts, na);
	fo_sb_str(&sb, ",\"vehicles\":");
	fo_sb_add(&sb, vehicles ? vehicles : "[]", vehicles ? nv : 2);
	fo_sb_printf(&sb, ",\"server_time\":\"%s\"}", now);
	free(alerts);
	free(vehicles);
	fo_api_set_sb(j, &sb);
}

static void fo_api_replay(fo_api *api, fo_api_job *j)
{
	if (!fo_api_operator(api, j))
		return;
	if (!api->conf.replay) {
		fo_api_fail(j, 404, "replay control is off in this operator");
		return;
	}
	char *out = NULL;
	size_t n = 0;
	int code = j->kind == FO_API_REPLAY_START
	               ? fo_replayctl_start_json(api->conf.replay, j->body ? j->body : "",
	                                         j->body_len, &out, &n)
	               : fo_replayctl_stop_json(api->conf.replay, j->body ? j->body : "",
	                                        j->body_len, &out, &n);
	fo_api_set(j, code, out, n);
}

static void fo_api_run(fo_api *api, fo_api_job *j)
{
	char err[512];
	if (!fo_db_connected(api->db)) {
		fo_db_rc rc = fo_db_connect(api->db, err, sizeof(err));
		atomic_store(&api->pg_ok, rc == FO_DB_OK);
		if (rc != FO_DB_OK) {
			fo_api_fail(j, 503, err);
			return;
		}
	}
	switch (j->kind) {
	case FO_API_ALERTS: fo_api_alerts(api, j); break;
	case FO_API_ALERT: fo_api_alert(api, j); break;
	case FO_API_ACT: fo_api_act(api, j); break;
	case FO_API_VEHICLE: fo_api_vehicle(api, j); break;
	case FO_API_HISTORY: fo_api_history(api, j); break;
	case FO_API_METRICS: fo_api_metrics(api, j); break;
	case FO_API_SNAPSHOT: fo_api_snapshot(api, j); break;
	case FO_API_REPLAY_START:
	case FO_API_REPLAY_STOP: fo_api_replay(api, j); break;
	}
	if (j->code != 503)
		atomic_store(&api->pg_ok, 1);
}

/* ------------------------------------------------------ between jobs --- */

/* Completes due pull-overs; returns seconds until the next one (<= 1). */
static double fo_api_pullovers(fo_api *api)
{
	char err[512];
	fo_lc_result *rs = NULL;
	size_t n = 0;
	int64_t next_ms = 1000;
	if (!fo_db_connected(api->db))
		return 1;
	fo_db_rc rc = fo_lc_pullovers_due(api->db, &rs, &n, &next_ms, err, sizeof(err));
	if (rc != FO_DB_OK) { /* the ones committed before the error still count */
		fo_log(FO_LOG_WARN, "pullover_check_failed", err);
		if (rc == FO_DB_EAGAIN)
			atomic_store(&api->pg_ok, 0);
		next_ms = 1000;
	}
	for (size_t i = 0; i < n; i++)
		fo_api_announce(api, &rs[i]);
	if (n)
		fo_log(FO_LOG_INFO, "pullovers_completed",
		       "simulated pull-overs resolved their alerts", FO_KU("count", n));
	fo_lc_results_free(rs, n);
	return next_ms >= 0 && next_ms < 1000 ? (double)next_ms / 1e3 : 1;
}

static void fo_api_refresh_counts(fo_api *api)
{
	char err[512];
	fo_lc_counts c;
	if (fo_db_connected(api->db) &&
	    fo_lc_alert_counts(api->db, &c, err, sizeof(err)) == FO_DB_OK)
		fo_api_keep_counts(api, &c);
}

int fo_api_open_alerts(void *arg, uint64_t *info, uint64_t *warning, uint64_t *critical)
{
	fo_api *api = arg;
	if (!atomic_load(&api->open_known))
		return -1;
	*info = atomic_load(&api->open_info);
	*warning = atomic_load(&api->open_warning);
	*critical = atomic_load(&api->open_critical);
	return 0;
}

static void *fo_api_main(void *arg)
{
	fo_api *api = arg;
	int64_t counts_due = 0;
	double wait = 0;
	for (;;) {
		pthread_mutex_lock(&api->mu);
		if (!api->todo && !atomic_load(&api->stop) && wait > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = (int64_t)ts.tv_nsec + (int64_t)(wait * 1e9);
			ts.tv_sec += ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&api->cv, &api->mu, &ts);
		}
		fo_api_job *j = api->todo;
		if (j) {
			api->todo = j->next;
			if (!api->todo)
				api->todo_tail = NULL;
			j->next = NULL;
		}
		pthread_mutex_unlock(&api->mu);
		if (atomic_load(&api->stop)) {
			fo_api_job_free(j);
			break;
		}
		if (j) {
			fo_api_run(api, j);
			pthread_mutex_lock(&api->mu);
			j->next = api->done;
			api->done = j;
			if (api->wake)
				api->wake(api->wake_arg);
			pthread_mutex_unlock(&api->mu);
		}
		wait = fo_api_pullovers(api);
		if (fo_time_mono_ns() >= counts_due) {
			fo_api_refresh_counts(api);
			counts_due = fo_time_mono_ns() + 1000000000;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------- lifecycle --- */

fo_api *fo_api_start(const fo_api_conf *conf, char *err, size_t errsz)
{
	fo_api *api = calloc(1, sizeof(*api));
	if (!api || !(api->db = fo_db_new(conf->dsn))) {
		free(api);
		fo_errf(err, errsz, "out of memory");
		return NULL;
	}
	api->conf = *conf;
	atomic_init(&api->pg_ok, 1);
	pthread_mutex_init(&api->mu, NULL);
	pthread_cond_init(&api->cv, NULL);
	if (pthread_create(&api->thr, NULL, fo_api_main, api) != 0) {
		fo_errf(err, errsz, "cannot start the API thread");
		fo_api_destroy(api);
		return NULL;
	}
	api->started = 1;
	return api;
}

void fo_api_set_wake(fo_api *api, void (*wake)(void *arg), void *arg)
{
	pthread_mutex_lock(&api->mu);
	api->wake = wake;
	api->wake_arg = arg;
	pthread_mutex_unlock(&api->mu);
}

uint64_t fo_api_submit(fo_api *api, fo_api_job *j)
{
	pthread_mutex_lock(&api->mu);
	j->id = ++api->next_id;
	j->next = NULL;
	if (api->todo_tail)
		api->todo_tail->next = j;
	else
		api->todo = j;
	api->todo_tail = j;
	uint64_t id = j->id;
	pthread_cond_signal(&api->cv);
	pthread_mutex_unlock(&api->mu);
	return id;
}

fo_api_job *fo_api_take_done(fo_api *api)
{
	pthread_mutex_lock(&api->mu);
	fo_api_job *j = api->done;
	api->done = NULL;
	pthread_mutex_unlock(&api->mu);
	fo_api_job *rev = NULL; /* oldest first */
	while (j) {
		fo_api_job *next = j->next;
		j->next = rev;
		rev = j;
		j = next;
	}
	return rev;
}

void fo_api_job_free(fo_api_job *j)
{
	if (!j)
		return;
	free(j->body);
	free(j->out);
	free(j);
}

int fo_api_postgres_ok(const fo_api *api)
{
	return atomic_load(&api->pg_ok);
}

void fo_api_stop(fo_api *api)
{
	if (!api)
		return;
	pthread_mutex_lock(&api->mu);
	atomic_store(&api->stop, 1);
	pthread_cond_broadcast(&api->cv);
	pthread_mutex_unlock(&api->mu);
	if (api->started)
		pthread_join(api->thr, NULL);
	api->started = 0;
}

void fo_api_destroy(fo_api *api)
{
	if (!api)
		return;
	fo_api_stop(api);
	for (fo_api_job *l = api->todo, *n; l; l = n) {
		n = l->next;
		fo_api_job_free(l);
	}
	for (fo_api_job *l = api->done, *n; l; l = n) {
		n = l->next;
		fo_api_job_free(l);
	}
	fo_db_destroy(api->db);
	pthread_mutex_destroy(&api->mu);
	pthread_cond_destroy(&api->cv);
	free(api);
}
