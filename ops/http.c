/*
 * http: see http.h. Everything here runs on the network thread except
 * fo_http_start/fo_http_stop (main) and fo_http_wake (any thread).
 *
 * A connection's per-session data (fo_http_pss) serves both kinds of
 * connection: an HTTP request waiting for its answer sits on h->pending
 * (matched by job id when the API thread is done), a WebSocket client on
 * h->clients (and on h->pending until its snapshot arrives). Counters that
 * /metrics reports are written here only and read on this thread, so they
 * are plain integers.
 */
#include "http.h"

#include "errbuf.h"
#include "fleet.h"
#include "hist.h"
#include "log.h"
#include "outbox.h"
#include "replayctl.h"
#include "strbuf.h"
#include "timefmt.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FO_HTTP_CHUNK     65536
#define FO_HTTP_BODY_DROP (1 << 20) /* a body larger than this closes the connection */

enum fo_route {
	R_HEALTH,
	R_METRICS,
	R_ALERTS,
	R_ALERT,
	R_ACTION,
	R_VEHICLES,
	R_VEHICLE,
	R_HISTORY,
	R_REPLAY,
	R_WS,
	R_STATIC,
	R_OTHER,
	R_N
};

static const char *const fo_route_names[R_N] = {"health", "metrics",  "alerts",  "alert",
                                                "action", "vehicles", "vehicle", "history",
                                                "replay", "ws",       "static",  "other"};

static const int fo_codes[] = {200, 202, 400, 401, 404, 405, 409, 413, 500, 503};
#define FO_NCODES ((int)(sizeof(fo_codes) / sizeof(fo_codes[0])))

typedef struct fo_http_pss {
	struct fo_http_pss *next_pending, *next_client;
	struct lws *wsi;
	int route;
	int64_t t0; /* request start, fo_time_mono_ns */
	uint64_t job_id;
	/* POST: the job filled while the body arrives */
	fo_api_job *post;
	char *req;
	size_t req_len;
	int req_over;
	/* the answer */
	int code;
	const char *ctype;
	char *body; /* malloc'd */
	size_t len, sent;
	int headers_sent;
	/* WebSocket */
	fo_hub_q *q; /* NULL for HTTP */
	int ws_ready;
	int close_code;
	const char *close_reason;
	char token[128];
} fo_http_pss;

struct fo_http {
	fo_http_conf conf;
	char host[256];
	int port;
	struct lws_context *ctx;
	struct lws_protocols protocols[2];
	struct lws_protocol_vhost_options mime_mjs;
	pthread_t net;
	int net_started;
	atomic_int stop, closing;
	fo_http_pss *pending, *clients; /* network thread only */
	/* counters (network thread only) */
	uint64_t requests[R_N][FO_NCODES + 1];
	uint64_t ws_clients, ws_opened, ws_dropped_slow, ws_sent;
	fo_hist *req_hist, *bcast_hist; /* network thread records; /metrics reads */
};

/* ------------------------------------------------------------ answers --- */

static int fo_code_index(int code)
{
	for (int i = 0; i < FO_NCODES; i++)
		if (fo_codes[i] == code)
			return i;
	return FO_NCODES;
}

/* Sets pss's answer; body (malloc'd) is taken over, NULL means "out of
 * memory" (a 500). */
static void fo_http_answer(fo_http *h, fo_http_pss *pss, int code, const char *ctype, char *body,
                           size_t len)
{
	free(pss->body);
	if (!body) {
		static const char oom[] = "{\"error\":\"out of memory\"}";
		body = malloc(sizeof(oom));
		if (body)
			memcpy(body, oom, sizeof(oom));
		len = body ? sizeof(oom) - 1 : 0;
		code = 500;
		ctype = "application/json";
	}
	pss->body = body;
	pss->len = len;
	pss->code = code;
	pss->ctype = ctype;
	pss->sent = 0;
	pss->headers_sent = 0;
	h->requests[pss->route][fo_code_index(code)]++;
	fo_hist_record(h->req_hist, fo_time_mono_ns() - pss->t0);
	lws_callback_on_writable(pss->wsi);
}

static void fo_http_json(fo_http *h, fo_http_pss *pss, int code, const char *json, size_t len)
{
	char *b = malloc(len + 1);
	if (b)
		memcpy(b, json, len);
	fo_http_answer(h, pss, code, "application/json", b, len);
}

static void fo_http_error(fo_http *h, fo_http_pss *pss, int code, const char *msg)
{
	size_t len = 0;
	char *b = fo_api_error_json(msg, &len);
	fo_http_answer(h, pss, code, "application/json", b, len);
}

/* One lws_write per writable callback: the headers, then body pieces. */
static int fo_http_write(fo_http_pss *pss)
{
	static unsigned char buf[LWS_PRE + FO_HTTP_CHUNK]; /* network thread only */
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	if (!pss->body)
		return 0;
	if (!pss->headers_sent) {
		if (lws_add_http_common_headers(pss->wsi, (unsigned)pss->code, pss->ctype, pss->len,
		                                &p, end) ||
		    lws_add_http_header_by_token(pss->wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
		                                 (const unsigned char *)"no-store", 8, &p, end) ||
		    lws_finalize_write_http_header(pss->wsi, start, &p, end))
			return -1;
		pss->headers_sent = 1;
		lws_callback_on_writable(pss->wsi);
		return 0;
	}
	size_t n = pss->len - pss->sent;
	if (n > FO_HTTP_CHUNK)
		n = FO_HTTP_CHUNK;
	memcpy(start, pss->body + pss->sent, n);
	int last = pss->sent + n == pss->len;
	if (lws_write(pss->wsi, start, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	pss->sent += n;
	if (!last) {
		lws_callback_on_writable(pss->wsi);
		return 0;
	}
	free(pss->body);
	pss->body = NULL;
	return lws_http_transaction_completed(pss->wsi) ? -1 : 0;
}

/* ------------------------------------------------------- memory routes --- */

static void fo_http_health(fo_http *h, fo_http_pss *pss)
{
	fo_ingest_status st = {.consumer_lag = -1};
	if (h->conf.in)
		fo_ingest_status_get(h->conf.in, &st);
	else
		st.kafka_ok = st.postgres_ok = 1;
	int pg = st.postgres_ok && fo_api_postgres_ok(h->conf.api);
	int ok = st.kafka_ok && pg;
	fo_sb sb = FO_SB_INIT;
	fo_sb_printf(&sb, "{\"status\":\"%s\",\"kafka\":\"%s\",\"postgres\":\"%s\",",
	             ok ? "ok" : "degraded", st.kafka_ok ? "up" : "down", pg ? "up" : "down");
	if (st.consumer_lag >= 0)
		fo_sb_printf(&sb, "\"consumer_lag\":%lld,", (long long)st.consumer_lag);
	else
		fo_sb_str(&sb, "\"consumer_lag\":null,");
	fo_sb_printf(&sb,
	             "\"consumed\":%llu,\"alerts_inserted\":%llu,\"duplicates\":%llu,"
	             "\"dlq\":%llu,\"db_retries\":%llu,\"websocket_clients\":%llu",
	             (unsigned long long)st.consumed, (unsigned long long)st.alerts_inserted,
	             (unsigned long long)st.duplicates, (unsigned long long)st.dlq,
	             (unsigned long long)st.db_retries, (unsigned long long)h->ws_clients);
	if (h->conf.fleet) {
		fo_fleet_status fs;
		fo_fleet_status_get(h->conf.fleet, &fs);
		fo_sb_printf(&sb,
		             ",\"telemetry\":{\"kafka\":\"%s\",\"postgres\":\"%s\",\"events\":%llu,"
		             "\"events_per_s\":%.1f,\"vehicles\":%llu}",
		             fs.kafka_ok ? "up" : "down", fs.postgres_ok ? "up" : "down",
		             (unsigned long long)fs.applied, fs.events_per_s,
		             (unsigned long long)fs.vehicles);
	}
	if (h->conf.outbox) {
		fo_outbox_status os;
		fo_outbox_status_get(h->conf.outbox, &os);
		fo_sb_printf(&sb, ",\"operator_actions\":{\"kafka\":\"%s\",\"published\":%llu}",
		             os.broker_ok ? "up" : "down", (unsigned long long)os.published);
	}
	fo_sb_str(&sb, "}");
	size_t len = 0;
	char *b = fo_sb_take(&sb, &len);
	fo_http_answer(h, pss, ok ? 200 : 503, "application/json", b, len);
}

static void fo_prom_hist(fo_sb *sb, const char *name, const char *help, const fo_hist *hist)
{
	static const double qs[] = {0.5, 0.9, 0.99, 0.999};
	fo_sb_printf(sb, "# HELP %s %s\n# TYPE %s summary\n", name, help, name);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		fo_sb_printf(sb, "%s{quantile=\"%g\"} %.6f\n", name, qs[i],
		             (double)fo_hist_value_at_percentile(hist, qs[i] * 100) / 1e9);
	fo_sb_printf(sb, "%s_sum %.6f\n%s_count %llu\n", name,
	             fo_hist_mean(hist) * (double)fo_hist_count(hist) / 1e9, name,
	             (unsigned long long)fo_hist_count(hist));
}

static void fo_prom_counter(fo_sb *sb, const char *name, const char *type, const char *help,
                            double v)
{
	fo_sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

/* GET /metrics: the API thread's database part (alerts by state) with
 * everything this process counts in memory. db (taken over) may be NULL. */
static void fo_http_metrics(fo_http *h, fo_http_pss *pss, char *db, size_t dblen)
{
	fo_sb sb = FO_SB_INIT;
	if (db)
		fo_sb_add(&sb, db, dblen);
	free(db);
	fo_ingest_status st = {.consumer_lag = -1};
	if (h->conf.in) {
		fo_ingest_status_get(h->conf.in, &st);
		fo_prom_counter(&sb, "fleetops_anomalies_consumed_total", "counter",
		                "AnomalyEvents read from Kafka", (double)st.consumed);
		fo_prom_counter(&sb, "fleetops_alerts_inserted_total", "counter",
		                "alerts created from anomalies", (double)st.alerts_inserted);
		fo_prom_counter(&sb, "fleetops_anomalies_duplicate_total", "counter",
		                "anomalies already stored (redeliveries)", (double)st.duplicates);
		fo_prom_counter(&sb, "fleetops_anomalies_dlq_total", "counter",
		                "anomalies sent to anomalies.dlq", (double)st.dlq);
		fo_prom_counter(&sb, "fleetops_consumer_lag", "gauge",
		                "anomalies consumer lag, messages (-1 unknown)",
		                (double)st.consumer_lag);
		fo_prom_counter(&sb, "fleetops_kafka_up", "gauge",
		                "1 if the anomalies consumer is up", st.kafka_ok);
		fo_prom_counter(&sb, "fleetops_postgres_up", "gauge",
		                "1 if PostgreSQL answers the ingest and API threads",
		                st.postgres_ok && fo_api_postgres_ok(h->conf.api));
	}
	if (h->conf.fleet) {
		fo_fleet_status fs;
		fo_fleet_status_get(h->conf.fleet, &fs);
		fo_prom_counter(&sb, "fleetops_telemetry_events_total", "counter",
		                "raw_telemetry events applied to the vehicle view",
		                (double)fs.applied);
		fo_prom_counter(&sb, "fleetops_telemetry_events_per_second", "gauge",
		                "raw_telemetry events per second, last interval", fs.events_per_s);
		fo_prom_counter(
		    &sb, "fleetops_telemetry_latency_p99_seconds", "gauge",
		    "processing_time to arrival at the operator, p99 of the last interval",
		    fs.latency_p99_ms / 1e3);
		fo_prom_counter(&sb, "fleetops_vehicles", "gauge", "vehicles known",
		                (double)fs.vehicles);
	}
	if (h->conf.outbox) {
		fo_outbox_status os;
		fo_outbox_status_get(h->conf.outbox, &os);
		fo_prom_counter(&sb, "fleetops_operator_actions_published_total", "counter",
		                "OperatorActionEvents delivered to operator_actions",
		                (double)os.published);
	}
	fo_prom_counter(&sb, "fleetops_websocket_clients", "gauge", "WebSocket clients connected",
	                (double)h->ws_clients);
	fo_prom_counter(&sb, "fleetops_websocket_dropped_slow_total", "counter",
	                "WebSocket clients closed for falling behind", (double)h->ws_dropped_slow);
	fo_prom_counter(&sb, "fleetops_broadcasts_published_total", "counter",
	                "messages published to WebSocket clients",
	                (double)fo_hub_published(h->conf.hub));
	fo_prom_counter(&sb, "fleetops_websocket_messages_sent_total", "counter",
	                "messages handed to WebSocket clients' sockets", (double)h->ws_sent);
	fo_sb_str(&sb, "# HELP fleetops_http_requests_total HTTP requests answered\n"
	               "# TYPE fleetops_http_requests_total counter\n");
	for (int r = 0; r < R_N; r++)
		for (int c = 0; c <= FO_NCODES; c++)
			if (h->requests[r][c])
				fo_sb_printf(
				    &sb,
				    "fleetops_http_requests_total{route=\"%s\",code=\"%s%d\"} "
				    "%llu\n",
				    fo_route_names[r], c < FO_NCODES ? "" : "other",
				    c < FO_NCODES ? fo_codes[c] : 0,
				    (unsigned long long)h->requests[r][c]);
	fo_prom_hist(&sb, "fleetops_http_request_seconds", "request arrival to answer ready",
	             h->req_hist);
	fo_prom_hist(&sb, "fleetops_broadcast_seconds",
	             "hub publish to the message handed to a client's socket", h->bcast_hist);
	size_t len = 0;
	char *b = fo_sb_take(&sb, &len);
	fo_http_answer(h, pss, 200, "text/plain; version=0.0.4", b, len);
}

static void fo_http_vehicles(fo_http *h, fo_http_pss *pss)
{
	static const char *const states[] = {"NORMAL", "DEGRADED", "ALERTING",
	                                     "UNDER_INTERVENTION"};
	char state[32] = "";
	const char *v = lws_get_urlarg_by_name(pss->wsi, "state=", state, (int)sizeof(state));
	int ok = !v;
	for (size_t i = 0; v && i < 4; i++)
		ok |= strcmp(v, states[i]) == 0;
	if (!ok) {
		fo_http_error(h, pss, 400,
		              "state must be NORMAL, DEGRADED, ALERTING or UNDER_INTERVENTION");
		return;
	}
	char *json = NULL;
	size_t n = 0;
	if (!h->conf.fleet) {
		fo_http_json(h, pss, 200, "{\"vehicles\":[]}", 15);
		return;
	}
	if (fo_fleet_list(h->conf.fleet, v, &json, &n) != FO_FLEET_OK) {
		fo_http_answer(h, pss, 500, NULL, NULL, 0);
		return;
	}
	fo_http_answer(h, pss, 200, "application/json", json, n);
}

static void fo_http_replay_get(fo_http *h, fo_http_pss *pss, const char *what, const char *id)
{
	if (!h->conf.replay) {
		fo_http_error(h, pss, 404, "replay control is off in this operator");
		return;
	}
	char *body = NULL;
	size_t len = 0;
	int code;
	if (strcmp(what, "scenes") == 0)
		code = fo_replayctl_scenes(h->conf.replay, &body, &len);
	else if (id)
		code = fo_replayctl_status(h->conf.replay, id, &body, &len);
	else
		code = fo_replayctl_list(h->conf.replay, &body, &len);
	fo_http_answer(h, pss, code, "application/json", body, len);
}

/* --------------------------------------------------------- static files --- */

static const char *fo_mime(const char *path)
{
	static const struct {
		const char *ext, *mime;
	} t[] = {{".html", "text/html; charset=utf-8"},
	         {".js", "text/javascript"},
	         {".mjs", "text/javascript"},
	         {".css", "text/css"},
	         {".json", "application/json"},
	         {".map", "application/json"},
	         {".svg", "image/svg+xml"},
	         {".png", "image/png"},
	         {".ico", "image/x-icon"},
	         {".wasm", "application/wasm"},
	         {".woff2", "font/woff2"},
	         {".txt", "text/plain"}};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(dot, t[i].ext) == 0)
			return t[i].mime;
	return "application/octet-stream";
}

/* GET of a path that is not an API route: a file of the dashboard, or
 * index.html for a path without an extension (the app's own routes).
 * Returns what the lws callback should return. */
static int fo_http_static(fo_http *h, fo_http_pss *pss, const char *path)
{
	char file[1024];
	struct stat stt;
	if (!h->conf.ui_dir) {
		fo_http_error(h, pss, 404, "no such route, and no dashboard is served (--ui DIR)");
		return 0;
	}
	if (strstr(path, "..") || strlen(h->conf.ui_dir) + strlen(path) + 12 > sizeof(file)) {
		fo_http_error(h, pss, 404, "no such file");
		return 0;
	}
	snprintf(file, sizeof(file), "%s%s", h->conf.ui_dir, path);
	if (stat(file, &stt) != 0 || !S_ISREG(stt.st_mode)) {
		const char *last = strrchr(path, '/');
		if (last && strchr(last, '.')) {
			fo_http_error(h, pss, 404, "no such file");
			return 0;
		}
		snprintf(file, sizeof(file), "%s/index.html", h->conf.ui_dir);
		if (stat(file, &stt) != 0) {
			fo_http_error(h, pss, 404,
			              "the dashboard is not built: run `npm run build` in ui/ "
			              "(./tools/fleetops build does)");
			return 0;
		}
	}
	h->requests[R_STATIC][0]++;
	int r = lws_serve_http_file(pss->wsi, file, fo_mime(file), NULL, 0);
	if (r < 0)
		return -1;
	return r > 0 && lws_http_transaction_completed(pss->wsi) ? -1 : 0;
}

/* --------------------------------------------------------------- routes --- */

/* Splits path "/a/b/c" into at most 4 segments (copies); returns how many,
 * or -1 if there are more or one is too long. */
static int fo_http_split(const char *path, char seg[4][FO_API_ID_MAX])
{
	int n = 0;
	const char *p = path;
	while (*p == '/') {
		p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (n == 4 || len >= FO_API_ID_MAX)
			return -1;
		memcpy(seg[n], p, len);
		seg[n++][len] = '\0';
		p += len;
	}
	return n;
}

static fo_api_job *fo_http_job(fo_http *h, fo_http_pss *pss, fo_api_kind kind, const char *arg)
{
	fo_api_job *j = calloc(1, sizeof(*j));
	if (!j) {
		fo_http_answer(h, pss, 500, NULL, NULL, 0);
		return NULL;
	}
	j->kind = kind;
	if (arg)
		snprintf(j->arg, sizeof(j->arg), "%s", arg);
	return j;
}

static void fo_http_submit(fo_http *h, fo_http_pss *pss, fo_api_job *j)
{
	pss->job_id = fo_api_submit(h->conf.api, j);
	pss->next_pending = h->pending;
	h->pending = pss;
}

/* Copies URL argument name ("status=") into out; 0 absent, 1 present, -1
 * too long. */
static int fo_http_arg(struct lws *wsi, const char *name, char *out, size_t cap)
{
	char buf[512];
	const char *v = lws_get_urlarg_by_name(wsi, name, buf, (int)sizeof(buf));
	if (!v)
		return 0;
	if (strlen(v) >= cap)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 1;
}

static int fo_in_set(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

/* GET /alerts: checks the filters, queues the job. */
static void fo_http_alerts(fo_http *h, fo_http_pss *pss)
{
	static const char *const statuses[] = {"OPEN", "ACKNOWLEDGED", "RESOLVED", "DISMISSED"};
	static const char *const sevs[] = {"INFO", "WARNING", "CRITICAL"};
	fo_api_job *j = fo_http_job(h, pss, FO_API_ALERTS, NULL);
	if (!j)
		return;
	char lim[32] = "";
	const char *bad = NULL;
	int r;
	if ((r = fo_http_arg(pss->wsi, "status=", j->status, sizeof(j->status))) < 0 ||
	    (r > 0 && !fo_in_set(j->status, statuses, 4)))
		bad = "status must be OPEN, ACKNOWLEDGED, RESOLVED or DISMISSED";
	else if ((r = fo_http_arg(pss->wsi, "severity=", j->severity, sizeof(j->severity))) < 0 ||
	         (r > 0 && !fo_in_set(j->severity, sevs, 3)))
		bad = "severity must be INFO, WARNING or CRITICAL";
	else if ((r = fo_http_arg(pss->wsi, "vehicle_id=", j->vehicle_id, 129)) < 0 ||
	         (r > 0 && !j->vehicle_id[0]))
		bad = "vehicle_id must be 1..128 bytes";
	else if (fo_http_arg(pss->wsi, "cursor=", j->cursor, sizeof(j->cursor)) < 0)
		bad = "cursor is not one this server gave out (too long)";
	j->limit = 100;
	if (!bad && (r = fo_http_arg(pss->wsi, "limit=", lim, sizeof(lim))) != 0) {
		char *end;
		long v = r > 0 ? strtol(lim, &end, 10) : 0;
		if (r < 0 || end == lim || *end || v < 1 || v > 1000)
			bad = "limit must be an integer from 1 to 1000";
		j->limit = (int)v;
	}
	if (bad) {
		fo_api_job_free(j);
		fo_http_error(h, pss, 400, bad);
		return;
	}
	fo_http_submit(h, pss, j);
}

/* The bearer token of the request into out; 0, or -1 if there is none. */
static int fo_http_bearer(struct lws *wsi, char *out, size_t cap)
{
	char hdr[256];
	if (lws_hdr_copy(wsi, hdr, (int)sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
		return -1;
	if (strncasecmp(hdr, "Bearer ", 7) != 0)
		return -1;
	const char *t = hdr + 7;
	while (*t == ' ')
		t++;
	size_t n = strlen(t);
	while (n && t[n - 1] == ' ')
		n--;
	if (!n || n >= cap)
		return -1;
	memcpy(out, t, n);
	out[n] = '\0';
	return 0;
}

/* 1 if seg names a POST route: /alerts/{id}/acknowledge|assign|actions,
 * /replay/start, /replay/stop. */
static int fo_is_post_route(char seg[4][FO_API_ID_MAX], int n)
{
	if (n == 3 && strcmp(seg[0], "alerts") == 0)
		return strcmp(seg[2], "acknowledge") == 0 || strcmp(seg[2], "assign") == 0 ||
		       strcmp(seg[2], "actions") == 0;
	return n == 2 && strcmp(seg[0], "replay") == 0 &&
	       (strcmp(seg[1], "start") == 0 || strcmp(seg[1], "stop") == 0);
}

/* 1 if seg names a GET route of the API. */
static int fo_is_get_route(char seg[4][FO_API_ID_MAX], int n)
{
	const char *s0 = n > 0 ? seg[0] : "";
	if (n == 1)
		return strcmp(s0, "health") == 0 || strcmp(s0, "metrics") == 0 ||
		       strcmp(s0, "alerts") == 0 || strcmp(s0, "vehicles") == 0 ||
		       strcmp(s0, "ws") == 0;
	if (strcmp(s0, "alerts") == 0)
		return n == 2;
	if (strcmp(s0, "vehicles") == 0)
		return n == 2 || (n == 3 && strcmp(seg[2], "history") == 0);
	if (strcmp(s0, "replay") == 0)
		return (n == 2 && strcmp(seg[1], "scenes") == 0) ||
		       ((n == 2 || n == 3) && strcmp(seg[1], "status") == 0);
	return 0;
}

/* POST routes: the job to fill, or NULL after answering (404/405/401). */
static fo_api_job *fo_http_post_route(fo_http *h, fo_http_pss *pss, char seg[4][FO_API_ID_MAX],
                                      int n)
{
	fo_api_job *j = NULL;
	if (!fo_is_post_route(seg, n)) {
		pss->route = R_OTHER;
		if (fo_is_get_route(seg, n))
			fo_http_error(h, pss, 405, "this route takes GET only");
		else
			fo_http_error(h, pss, 404, "no such POST route (see docs/operator_api.md)");
		return NULL;
	}
	if (strcmp(seg[0], "alerts") == 0) {
		pss->route = R_ACTION;
		const char *a = strcmp(seg[2], "acknowledge") == 0 ? "ACKNOWLEDGE"
		                : strcmp(seg[2], "assign") == 0    ? "ASSIGN"
		                                                   : "";
		if ((j = fo_http_job(h, pss, FO_API_ACT, seg[1])))
			snprintf(j->action, sizeof(j->action), "%s", a);
	} else {
		pss->route = R_REPLAY;
		j = fo_http_job(h, pss, seg[1][2] == 'a' ? FO_API_REPLAY_START : FO_API_REPLAY_STOP,
		                NULL);
	}
	if (j && fo_http_bearer(pss->wsi, j->token, sizeof(j->token)) < 0) {
		fo_api_job_free(j);
		fo_http_error(h, pss, 401,
		              "this request needs Authorization: Bearer TOKEN "
		              "(./tools/fleetops token NAME prints one)");
		return NULL;
	}
	return j;
}

/* GET routes. Returns what the lws callback should return. */
static int fo_http_get_route(fo_http *h, fo_http_pss *pss, const char *path,
                             char seg[4][FO_API_ID_MAX], int n)
{
	const char *s0 = n > 0 ? seg[0] : "";
	fo_api_job *j;
	if (n == 1 && strcmp(s0, "health") == 0) {
		pss->route = R_HEALTH;
		fo_http_health(h, pss);
	} else if (n == 1 && strcmp(s0, "metrics") == 0) {
		pss->route = R_METRICS;
		if ((j = fo_http_job(h, pss, FO_API_METRICS, NULL)))
			fo_http_submit(h, pss, j);
	} else if (n == 1 && strcmp(s0, "alerts") == 0) {
		pss->route = R_ALERTS;
		fo_http_alerts(h, pss);
	} else if (n == 2 && strcmp(s0, "alerts") == 0) {
		pss->route = R_ALERT;
		if ((j = fo_http_job(h, pss, FO_API_ALERT, seg[1])))
			fo_http_submit(h, pss, j);
	} else if (n == 1 && strcmp(s0, "vehicles") == 0) {
		pss->route = R_VEHICLES;
		fo_http_vehicles(h, pss);
	} else if ((n == 2 || (n == 3 && strcmp(seg[2], "history") == 0)) &&
	           strcmp(s0, "vehicles") == 0) {
		pss->route = n == 2 ? R_VEHICLE : R_HISTORY;
		if ((j = fo_http_job(h, pss, n == 2 ? FO_API_VEHICLE : FO_API_HISTORY, seg[1])))
			fo_http_submit(h, pss, j);
	} else if (strcmp(s0, "replay") == 0 &&
	           ((n == 2 && strcmp(seg[1], "scenes") == 0) ||
	            ((n == 2 || n == 3) && strcmp(seg[1], "status") == 0))) {
		pss->route = R_REPLAY;
		fo_http_replay_get(h, pss, seg[1], n == 3 ? seg[2] : NULL);
	} else if (n == 1 && strcmp(s0, "ws") == 0) {
		pss->route = R_WS;
		fo_http_error(h, pss, 400,
		              "/ws is a WebSocket: connect with ws://HOST:PORT/ws?token=");
	} else if (fo_is_post_route(seg, n)) {
		pss->route = R_OTHER;
		fo_http_error(h, pss, 405, "this route takes POST only");
	} else if (strcmp(s0, "alerts") == 0 || strcmp(s0, "vehicles") == 0 ||
	           strcmp(s0, "replay") == 0 || strcmp(s0, "health") == 0 ||
	           strcmp(s0, "metrics") == 0) {
		pss->route = R_OTHER;
		fo_http_error(h, pss, 404, "no such route (see docs/operator_api.md)");
	} else {
		pss->route = R_STATIC;
		return fo_http_static(h, pss, path);
	}
	return 0;
}

/* ------------------------------------------------------------ WebSocket --- */

static void fo_ws_close(fo_http_pss *pss, int code, const char *reason)
{
	if (pss->close_code)
		return;
	pss->close_code = code;
	pss->close_reason = reason;
	if (pss->q)
		fo_hub_q_clear(pss->q);
	lws_callback_on_writable(pss->wsi);
}

/* One fragment of the front message per writable callback. */
static int fo_ws_write(fo_http *h, fo_http_pss *pss)
{
	static unsigned char buf[LWS_PRE + FO_HTTP_CHUNK]; /* network thread only */
	if (pss->close_code) {
		size_t rl = strlen(pss->close_reason);
		lws_close_reason(pss->wsi, (enum lws_close_status)pss->close_code,
		                 (unsigned char *)(uintptr_t)pss->close_reason, rl);
		return -1;
	}
	fo_hub_msg *m = pss->ws_ready ? fo_hub_q_front(pss->q) : NULL;
	if (!m)
		return 0;
	fo_hub_q *q = pss->q;
	size_t n = m->len - q->sent;
	if (n > FO_HTTP_CHUNK)
		n = FO_HTTP_CHUNK;
	memcpy(buf + LWS_PRE, m->data + q->sent, n);
	int flags = lws_write_ws_flags(LWS_WRITE_TEXT, q->sent == 0, q->sent + n == m->len);
	if (lws_write(pss->wsi, buf + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n)
		return -1;
	q->sent += n;
	if (q->sent == m->len) {
		if (m->seq)
			fo_hist_record(h->bcast_hist, fo_time_mono_ns() - m->published_ns);
		h->ws_sent++;
		fo_hub_q_pop(q);
	}
	if (fo_hub_q_front(q))
		lws_callback_on_writable(pss->wsi);
	return 0;
}

/* Hands every published message to every client. */
static void fo_ws_broadcast(fo_http *h)
{
	fo_hub_msg *m = fo_hub_take(h->conf.hub);
	while (m) {
		fo_hub_msg *next = m->next;
		for (fo_http_pss *c = h->clients; c; c = c->next_client) {
			if (c->close_code)
				continue;
			int was_empty = !fo_hub_q_front(c->q);
			if (fo_hub_q_push(c->q, m) < 0) {
				h->ws_dropped_slow++;
				fo_log(
				    FO_LOG_WARN, "websocket_slow_client",
				    "closing a client that fell behind (1008 send queue overflow)",
				    FO_KU("queued", fo_hub_q_len(c->q)));
				fo_ws_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				            "send queue overflow");
			} else if (was_empty && c->ws_ready) {
				lws_callback_on_writable(c->wsi);
			}
		}
		fo_hub_msg_unref(m);
		m = next;
	}
}

static void fo_unlink(fo_http_pss **list, fo_http_pss *pss, int client)
{
	for (fo_http_pss **p = list; *p; p = client ? &(*p)->next_client : &(*p)->next_pending)
		if (*p == pss) {
			*p = client ? pss->next_client : pss->next_pending;
			break;
		}
}

/* --------------------------------------------------------- job results --- */

static void fo_http_job_done(fo_http *h, fo_http_pss *pss, fo_api_job *j)
{
	if (pss->q) { /* a WebSocket's snapshot */
		if (j->code != 200) {
			fo_ws_close(pss,
			            j->code == 401 ? 4401 : LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
			            j->code == 401 ? "invalid token" : "snapshot failed");
			return;
		}
		fo_hub_msg *m = fo_hub_msg_new(j->out, j->out_len);
		fo_hub_q_drop_upto(pss->q, j->hub_seq);
		if (!m || fo_hub_q_push_front(pss->q, m) < 0) {
			fo_hub_msg_unref(m);
			fo_ws_close(pss, LWS_CLOSE_STATUS_POLICY_VIOLATION, "send queue overflow");
			return;
		}
		pss->ws_ready = 1;
		lws_callback_on_writable(pss->wsi);
		return;
	}
	if (j->kind == FO_API_METRICS) { /* without the database part if it failed */
		fo_http_metrics(h, pss, j->code == 200 ? j->out : NULL, j->out_len);
		if (j->code == 200)
			j->out = NULL;
		return;
	}
	fo_http_answer(h, pss, j->code, "application/json", j->out, j->out_len);
	j->out = NULL;
}

/* Answers waiting requests with the API thread's results. */
static void fo_http_take_done(fo_http *h)
{
	fo_api_job *j = fo_api_take_done(h->conf.api);
	while (j) {
		fo_api_job *next = j->next;
		fo_http_pss *pss = h->pending;
		while (pss && pss->job_id != j->id)
			pss = pss->next_pending;
		if (pss) { /* else the client went away meanwhile */
			fo_unlink(&h->pending, pss, 0);
			pss->job_id = 0;
			fo_http_job_done(h, pss, j);
		}
		fo_api_job_free(j);
		j = next;
	}
}

/* ----------------------------------------------------------- callback --- */

static void fo_http_release(fo_http *h, fo_http_pss *pss)
{
	if (pss->job_id)
		fo_unlink(&h->pending, pss, 0);
	pss->job_id = 0;
	fo_api_job_free(pss->post);
	pss->post = NULL;
	free(pss->req);
	pss->req = NULL;
	free(pss->body);
	pss->body = NULL;
}

/* The end of a POST body: the job goes to the API thread. */
static void fo_http_post_ready(fo_http *h, fo_http_pss *pss)
{
	fo_api_job *j = pss->post;
	pss->post = NULL;
	if (pss->req_over) {
		fo_api_job_free(j);
		fo_http_error(h, pss, 413, "request body over 4096 bytes");
		return;
	}
	j->body = pss->req;
	j->body_len = pss->req_len;
	pss->req = NULL;
	fo_http_submit(h, pss, j);
}

static int fo_http_on_http(fo_http *h, fo_http_pss *pss, struct lws *wsi, const char *path)
{
	memset(pss, 0, sizeof(*pss));
	pss->wsi = wsi;
	pss->t0 = fo_time_mono_ns();
	char seg[4][FO_API_ID_MAX];
	int n = fo_http_split(path, seg);
	int is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
	int is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
	if (n < 0) {
		pss->route = R_OTHER;
		fo_http_error(h, pss, 404, "no such route (path too long)");
		return 0;
	}
	if (is_get)
		return fo_http_get_route(h, pss, path, seg, n);
	if (!is_post) {
		pss->route = R_OTHER;
		fo_http_error(h, pss, 405, "only GET and POST are served");
		return 0;
	}
	char cl[32] = "";
	long clen = 0;
	if (lws_hdr_copy(wsi, cl, (int)sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
		clen = strtol(cl, NULL, 10);
	if (clen > FO_HTTP_BODY_DROP)
		return -1; /* not worth reading */
	pss->post = fo_http_post_route(h, pss, seg, n);
	if (pss->post && clen <= 0)
		fo_http_post_ready(h, pss);
	return 0;
}

static int fo_http_on_body(fo_http_pss *pss, const void *in, size_t len)
{
	if (pss->req_over || !pss->post)
		return 0;
	if (pss->req_len + len > FO_HTTP_BODY_MAX) {
		pss->req_over = 1;
		return 0;
	}
	char *p = realloc(pss->req, pss->req_len + len + 1);
	if (!p)
		return -1;
	memcpy(p + pss->req_len, in, len);
	pss->req = p;
	pss->req_len += len;
	p[pss->req_len] = '\0';
	return 0;
}

static int fo_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
	fo_http *h = lws_context_user(lws_get_context(wsi));
	fo_http_pss *pss = user;
	char uri[64];
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (!h)
			return 0;
		fo_http_take_done(h);
		fo_ws_broadcast(h);
		if (atomic_load(&h->closing))
			for (fo_http_pss *c = h->clients; c; c = c->next_client)
				fo_ws_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server stopping");
		return 0;
	case LWS_CALLBACK_HTTP: return fo_http_on_http(h, pss, wsi, in);
	case LWS_CALLBACK_HTTP_BODY: return pss ? fo_http_on_body(pss, in, len) : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss && pss->post)
			fo_http_post_ready(h, pss);
		else if (pss && pss->req_over)
			fo_http_error(h, pss, 413, "request body over 4096 bytes");
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE: return pss ? fo_http_write(pss) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (pss && !pss->q)
			fo_http_release(h, pss);
		break;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (lws_hdr_copy(wsi, uri, (int)sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		    strcmp(uri, "/ws") != 0)
			return 1; /* a WebSocket anywhere else is refused */
		return 0;
	case LWS_CALLBACK_ESTABLISHED: {
		memset(pss, 0, sizeof(*pss));
		pss->wsi = wsi;
		pss->t0 = fo_time_mono_ns();
		pss->q = calloc(1, sizeof(*pss->q));
		if (!pss->q)
			return -1;
		pss->next_client = h->clients;
		h->clients = pss;
		h->ws_clients++;
		h->ws_opened++;
		h->requests[R_WS][0]++;
		if (fo_http_arg(wsi, "token=", pss->token, sizeof(pss->token)) <= 0 ||
		    !pss->token[0]) {
			fo_ws_close(pss, 4401, "invalid token");
			return 0;
		}
		fo_api_job *j = calloc(1, sizeof(*j));
		if (!j)
			return -1;
		j->kind = FO_API_SNAPSHOT;
		memcpy(j->token, pss->token, sizeof(j->token));
		fo_http_submit(h, pss, j);
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE: return fo_ws_write(h, pss);
	case LWS_CALLBACK_RECEIVE: return 0; /* client messages are ignored */
	case LWS_CALLBACK_CLOSED:
		if (pss && pss->q) {
			if (pss->job_id)
				fo_unlink(&h->pending, pss, 0);
			fo_unlink(&h->clients, pss, 1);
			fo_hub_q_clear(pss->q);
			free(pss->q);
			pss->q = NULL;
			h->ws_clients--;
		}
		return 0;
	default: break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* --------------------------------------------------------------- thread --- */

static void fo_http_wake(void *arg)
{
	fo_http *h = arg;
	if (h->ctx)
		lws_cancel_service(h->ctx);
}

static void *fo_http_net_main(void *arg)
{
	fo_http *h = arg;
	while (!atomic_load(&h->stop))
		if (lws_service(h->ctx, 0) < 0)
			break;
	return NULL;
}

static void fo_http_lws_log(int level, const char *line)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", line);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	fo_log(level & LLL_ERR ? FO_LOG_ERROR : FO_LOG_WARN, "lws", msg);
}

fo_http *fo_http_start(const fo_http_conf *conf, char *err, size_t errsz)
{
	const char *colon = conf->listen ? strrchr(conf->listen, ':') : NULL;
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!colon || colon == conf->listen || end == colon + 1 || *end || port < 0 ||
	    port > 65535 || (size_t)(colon - conf->listen) >= 256) {
		fo_errf(err, errsz, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:8080",
		        conf->listen ? conf->listen : "(none)");
		return NULL;
	}
	fo_http *h = calloc(1, sizeof(*h));
	if (!h) {
		fo_errf(err, errsz, "out of memory");
		return NULL;
	}
	h->conf = *conf;
	memcpy(h->host, conf->listen, (size_t)(colon - conf->listen));
	h->req_hist = fo_hist_new();
	h->bcast_hist = fo_hist_new();
	h->protocols[0] = (struct lws_protocols){.name = "default",
	                                         .callback = fo_http_cb,
	                                         .per_session_data_size = sizeof(fo_http_pss),
	                                         .rx_buffer_size = 4096};
	lws_set_log_level(LLL_ERR | LLL_WARN, fo_http_lws_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = (int)port;
	info.iface = h->host;
	info.protocols = h->protocols;
	info.user = h;
	info.vhost_name = "default";
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	h->ctx = h->req_hist && h->bcast_hist ? lws_create_context(&info) : NULL;
	if (!h->ctx) {
		fo_errf(err, errsz, "HTTP server on %s: cannot listen (address in use or invalid)",
		        conf->listen);
		fo_http_stop(h);
		return NULL;
	}
	h->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(h->ctx, "default"));
	if (pthread_create(&h->net, NULL, fo_http_net_main, h) != 0) {
		fo_errf(err, errsz, "HTTP server: cannot start its thread");
		fo_http_stop(h);
		return NULL;
	}
	h->net_started = 1;
	fo_api_set_wake(conf->api, fo_http_wake, h);
	fo_hub_set_wake(conf->hub, fo_http_wake, h);
	lws_cancel_service(h->ctx); /* whatever finished before the wake was set */
	fo_log(FO_LOG_INFO, "http_listen", "serving the API, /ws and the dashboard",
	       FO_KS("host", h->host), FO_KI("port", h->port),
	       FO_KS("ui_dir", conf->ui_dir ? conf->ui_dir : ""));
	return h;
}

int fo_http_port(const fo_http *h)
{
	return h->port;
}

void fo_http_stop(fo_http *h)
{
	if (!h)
		return;
	if (h->net_started) {
		atomic_store(&h->closing, 1);
		lws_cancel_service(h->ctx);
		usleep(100 * 1000); /* lets the close frames go out */
	}
	if (h->net_started) { /* only a server that started set them */
		fo_hub_set_wake(h->conf.hub, NULL, NULL);
		fo_api_set_wake(h->conf.api, NULL, NULL);
	}
	atomic_store(&h->stop, 1);
	if (h->ctx)
		lws_cancel_service(h->ctx);
	if (h->net_started)
		pthread_join(h->net, NULL);
	if (h->ctx)
		lws_context_destroy(h->ctx);
	fo_hist_destroy(h->req_hist);
	fo_hist_destroy(h->bcast_hist);
	free(h);
}
