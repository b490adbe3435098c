/*
 * http: see http.h.
 *
 * A pss (lws per-session data) belongs to the network thread. A request
 * waiting for the query thread is on the pending list with its job id;
 * when the answer comes back, the pss is looked up by id, so an answer for
 * a connection that closed (and left the list) finds nothing and is freed.
 */
#include "http.h"

#include "db.h"
#include "errbuf.h"
#include "json.h"
#include "log.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FO_HTTP_CHUNK 16384

typedef struct fo_http_job {
	struct fo_http_job *next;
	uint64_t id;
	char status[16], severity[16], vehicle_id[FO_ANOMALY_VEHICLE_MAX + 1];
	int limit;
	int code;   /* the answer: HTTP status */
	char *body; /* malloc'd */
	size_t len;
} fo_http_job;

typedef struct fo_http_pss {
	struct fo_http_pss *next_pending;
	struct lws *wsi;
	uint64_t job_id; /* waiting for this job; 0 none */
	int code;
	char *body; /* the answer to send; malloc'd */
	size_t len, sent;
	int headers_sent;
} fo_http_pss;

struct fo_http {
	fo_http_conf conf;
	char host[256];
	int port;
	struct lws_context *ctx;
	struct lws_protocols protocols[2];
	pthread_t net, query;
	int net_started, query_started;
	atomic_int stop;
	/* jobs: todo (network -> query) and done (query -> network) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	fo_http_job *todo, *todo_tail, *done;
	uint64_t next_id;
	fo_http_pss *pending; /* network thread only */
	fo_db *db;            /* query thread only */
};

/* Sets pss's answer to a copy of body. Network thread. */
static void fo_http_answer(fo_http_pss *pss, int code, const char *body, size_t len)
{
	free(pss->body);
	pss->body = malloc(len + 1);
	pss->len = pss->body ? len : 0;
	if (pss->body)
		memcpy(pss->body, body, len);
	pss->code = pss->body ? code : 500;
	pss->sent = 0;
	pss->headers_sent = 0;
	lws_callback_on_writable(pss->wsi);
}

static void fo_http_error(fo_http_pss *pss, int code, const char *msg)
{
	char body[512];
	int q;
	memcpy(body, "{\"error\":", 9);
	q = fo_json_quote(body + 9, sizeof(body) - 11, msg);
	if (q < 0)
		q = fo_json_quote(body + 9, sizeof(body) - 11, "error");
	body[9 + q] = '}';
	fo_http_answer(pss, code, body, (size_t)(9 + q + 1));
}

static void fo_http_health(fo_http *h, fo_http_pss *pss)
{
	fo_ingest_status st;
	fo_ingest_status_get(h->conf.in, &st);
	int ok = st.kafka_ok && st.postgres_ok;
	char body[512], lag[24] = "null"; /* unknown until the first statistics */
	if (st.consumer_lag >= 0)
		snprintf(lag, sizeof(lag), "%lld", (long long)st.consumer_lag);
	int n = snprintf(body, sizeof(body),
	                 "{\"status\":\"%s\",\"kafka\":\"%s\",\"postgres\":\"%s\","
	                 "\"consumer_lag\":%s,\"consumed\":%llu,\"alerts_inserted\":%llu,"
	                 "\"duplicates\":%llu,\"dlq\":%llu,\"db_retries\":%llu}",
	                 ok ? "ok" : "degraded", st.kafka_ok ? "up" : "down",
	                 st.postgres_ok ? "up" : "down", lag, (unsigned long long)st.consumed,
	                 (unsigned long long)st.alerts_inserted, (unsigned long long)st.duplicates,
	                 (unsigned long long)st.dlq, (unsigned long long)st.db_retries);
	fo_http_answer(pss, ok ? 200 : 503, body, (size_t)n);
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
	fo_http_job *j = calloc(1, sizeof(*j));
	if (!j) {
		fo_http_error(pss, 500, "out of memory");
		return;
	}
	char lim[32] = "";
	int r;
	if ((r = fo_http_arg(pss->wsi, "status=", j->status, sizeof(j->status))) < 0 ||
	    (r > 0 && !fo_in_set(j->status, statuses, 4))) {
		free(j);
		fo_http_error(pss, 400, "status must be OPEN, ACKNOWLEDGED, RESOLVED or DISMISSED");
		return;
	}
	if ((r = fo_http_arg(pss->wsi, "severity=", j->severity, sizeof(j->severity))) < 0 ||
	    (r > 0 && !fo_in_set(j->severity, sevs, 3))) {
		free(j);
		fo_http_error(pss, 400, "severity must be INFO, WARNING or CRITICAL");
		return;
	}
	if ((r = fo_http_arg(pss->wsi, "vehicle_id=", j->vehicle_id, sizeof(j->vehicle_id))) < 0 ||
	    (r > 0 && !j->vehicle_id[0])) {
		free(j);
		fo_http_error(pss, 400, "vehicle_id must be 1..128 bytes");
		return;
	}
	j->limit = FO_DB_LIST_DEFAULT;
	if ((r = fo_http_arg(pss->wsi, "limit=", lim, sizeof(lim))) != 0) {
		char *end;
		long v = r > 0 ? strtol(lim, &end, 10) : 0;
		if (r < 0 || end == lim || *end || v < 1 || v > FO_DB_LIST_MAX) {
			free(j);
			fo_http_error(pss, 400, "limit must be an integer from 1 to 1000");
			return;
		}
		j->limit = (int)v;
	}
	pthread_mutex_lock(&h->mu);
	j->id = ++h->next_id;
	if (h->todo_tail)
		h->todo_tail->next = j;
	else
		h->todo = j;
	h->todo_tail = j;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pss->job_id = j->id;
	pss->next_pending = h->pending;
	h->pending = pss;
}

static void fo_http_unpend(fo_http *h, fo_http_pss *pss)
{
	for (fo_http_pss **p = &h->pending; *p; p = &(*p)->next_pending)
		if (*p == pss) {
			*p = pss->next_pending;
			break;
		}
	pss->job_id = 0;
	pss->next_pending = NULL;
}

/* Answers waiting requests with the query thread's results. */
static void fo_http_take_done(fo_http *h)
{
	pthread_mutex_lock(&h->mu);
	fo_http_job *j = h->done;
	h->done = NULL;
	pthread_mutex_unlock(&h->mu);
	while (j) {
		fo_http_job *next = j->next;
		fo_http_pss *pss = h->pending;
		while (pss && pss->job_id != j->id)
			pss = pss->next_pending;
		if (pss) {
			fo_http_unpend(h, pss);
			free(pss->body);
			pss->body = j->body; /* ownership moves */
			pss->len = j->len;
			pss->code = j->code;
			pss->sent = 0;
			pss->headers_sent = 0;
			j->body = NULL;
			lws_callback_on_writable(pss->wsi);
		}
		free(j->body);
		free(j);
		j = next;
	}
}

/* One lws_write per writable callback: the headers, then body pieces. */
static int fo_http_write(fo_http_pss *pss)
{
	static unsigned char buf[LWS_PRE + FO_HTTP_CHUNK]; /* network thread only */
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	if (!pss->body)
		return 0;
	if (!pss->headers_sent) {
		if (lws_add_http_common_headers(pss->wsi, (unsigned)pss->code, "application/json",
		                                pss->len, &p, end) ||
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

static int fo_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
	fo_http *h = lws_context_user(lws_get_context(wsi));
	fo_http_pss *pss = user;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (h)
			fo_http_take_done(h);
		return 0;
	case LWS_CALLBACK_HTTP: {
		const char *path = in;
		memset(pss, 0, sizeof(*pss));
		pss->wsi = wsi;
		if (!lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) {
			fo_http_error(pss, 405, "only GET is served");
			return 0;
		}
		if (strcmp(path, "/health") == 0)
			fo_http_health(h, pss);
		else if (strcmp(path, "/alerts") == 0)
			fo_http_alerts(h, pss);
		else
			fo_http_error(pss, 404, "no such route; try /health or /alerts");
		return 0;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE: return pss ? fo_http_write(pss) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (pss) {
			if (pss->job_id)
				fo_http_unpend(h, pss);
			free(pss->body);
			pss->body = NULL;
		}
		break;
	default: break;
	}
	(void)len;
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Runs job j against the query thread's connection. */
static void fo_http_run_job(fo_http *h, fo_http_job *j)
{
	char err[1024];
	if (!fo_db_connected(h->db) && fo_db_connect(h->db, err, sizeof(err)) != FO_DB_OK) {
		j->code = 503;
	} else {
		fo_db_alert_filter f = {.status = j->status[0] ? j->status : NULL,
		                        .severity = j->severity[0] ? j->severity : NULL,
		                        .vehicle_id = j->vehicle_id[0] ? j->vehicle_id : NULL,
		                        .limit = j->limit};
		char *arr;
		size_t n;
		fo_db_rc rc = fo_db_alerts_list(h->db, &f, &arr, &n, err, sizeof(err));
		if (rc == FO_DB_OK) {
			j->body = malloc(n + 16);
			if (j->body) {
				memcpy(j->body, "{\"alerts\":", 10);
				memcpy(j->body + 10, arr, n);
				j->body[10 + n] = '}';
				j->len = 10 + n + 1;
				j->code = 200;
			}
			free(arr);
			if (j->body)
				return;
			snprintf(err, sizeof(err), "out of memory");
			j->code = 500;
		} else {
			j->code = rc == FO_DB_EAGAIN ? 503 : 500;
		}
	}
	fo_log(FO_LOG_WARN, "http_query_failed", err, FO_KI("status", j->code));
	char body[1200];
	memcpy(body, "{\"error\":", 9);
	int q = fo_json_quote(body + 9, sizeof(body) - 11, err);
	if (q < 0)
		q = fo_json_quote(body + 9, sizeof(body) - 11, "database error");
	body[9 + q] = '}';
	j->len = (size_t)(9 + q + 1);
	j->body = malloc(j->len);
	if (j->body)
		memcpy(j->body, body, j->len);
	else
		j->len = 0;
}

static void *fo_http_query_main(void *arg)
{
	fo_http *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->mu);
		while (!h->todo && !atomic_load(&h->stop))
			pthread_cond_wait(&h->cv, &h->mu);
		fo_http_job *j = h->todo;
		if (j) {
			h->todo = j->next;
			if (!h->todo)
				h->todo_tail = NULL;
			j->next = NULL;
		}
		pthread_mutex_unlock(&h->mu);
		if (!j)
			break; /* stopping */
		fo_http_run_job(h, j);
		pthread_mutex_lock(&h->mu);
		j->next = h->done;
		h->done = j;
		pthread_mutex_unlock(&h->mu);
		lws_cancel_service(h->ctx);
	}
	return NULL;
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
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->db = fo_db_new(conf->dsn);
	h->protocols[0] = (struct lws_protocols){
	    .name = "http", .callback = fo_http_cb, .per_session_data_size = sizeof(fo_http_pss)};
	lws_set_log_level(LLL_ERR | LLL_WARN, fo_http_lws_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = (int)port;
	info.iface = h->host;
	info.protocols = h->protocols;
	info.user = h;
	info.vhost_name = "default";
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	h->ctx = h->db ? lws_create_context(&info) : NULL;
	if (!h->ctx) {
		fo_errf(err, errsz, "HTTP server on %s: cannot listen (address in use or invalid)",
		        conf->listen);
		fo_http_stop(h);
		return NULL;
	}
	h->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(h->ctx, "default"));
	if (pthread_create(&h->query, NULL, fo_http_query_main, h) == 0)
		h->query_started = 1;
	if (h->query_started && pthread_create(&h->net, NULL, fo_http_net_main, h) == 0)
		h->net_started = 1;
	if (!h->net_started) {
		fo_errf(err, errsz, "HTTP server: cannot start threads");
		fo_http_stop(h);
		return NULL;
	}
	fo_log(FO_LOG_INFO, "http_listen", "serving GET /health and GET /alerts",
	       FO_KS("host", h->host), FO_KI("port", h->port));
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
	pthread_mutex_lock(&h->mu);
	atomic_store(&h->stop, 1);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->query_started)
		pthread_join(h->query, NULL);
	if (h->ctx)
		lws_cancel_service(h->ctx);
	if (h->net_started)
		pthread_join(h->net, NULL);
	if (h->ctx)
		lws_context_destroy(h->ctx);
	for (fo_http_job *l = h->todo, *n; l; l = n) {
		n = l->next;
		free(l->body);
		free(l);
	}
	for (fo_http_job *l = h->done, *n; l; l = n) {
		n = l->next;
		free(l->body);
		free(l);
	}
	fo_db_destroy(h->db);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}
