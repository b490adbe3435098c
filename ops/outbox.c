/*
 * outbox: see outbox.h. One round: BEGIN; the oldest unpublished rows,
 * locked (SKIP LOCKED); produce them all; serve delivery reports until
 * each message has one (message.timeout.ms bounds the wait, 10 s unless
 * overridden); UPDATE published_at of the delivered ones; COMMIT. A
 * failed delivery ends the round and the next try is the 1 s tick, so a
 * broker outage costs one attempt per timeout, not a busy loop.
 *
 * Threads: fo_outbox_start/stop on main; the outbox thread owns the
 * producer's polling and the database connection; fo_outbox_kick and
 * fo_outbox_status_get from any thread (a mutex-protected flag and
 * atomics).
 */
#include "outbox.h"

#include "db_impl.h"
#include "errbuf.h"
#include "kafka_conf.h"
#include "log.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FO_OUTBOX_BATCH_MAX 500
#define FO_OUTBOX_TICK_MS   1000

/* A message's outcome, the delivery report's opaque. */
enum { FO_OB_INFLIGHT = 1, FO_OB_DELIVERED = 0, FO_OB_FAILED = -1 };

struct fo_outbox {
	char *brokers, *dsn, *topic;
	int batch;
	rd_kafka_t *rk;
	fo_db *db;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kicked; /* under mu */
	atomic_int stop;
	int inflight; /* outbox thread only (delivery reports run in its rd_kafka_poll) */
	char last_kafka_err[256];
	int kafka_down_logged, pg_down_logged; /* outbox thread only */
	atomic_ullong published;
	atomic_llong pending;
	atomic_int broker_ok, postgres_ok;
};

static void fo_outbox_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	fo_outbox *ob = opaque;
	(void)rk;
	int *slot = m->_private;
	if (slot)
		*slot = m->err ? FO_OB_FAILED : FO_OB_DELIVERED;
	if (m->err)
		snprintf(ob->last_kafka_err, sizeof(ob->last_kafka_err),
		         "topic %s partition %d: %s", rd_kafka_topic_name(m->rkt),
		         (int)m->partition, rd_kafka_err2str(m->err));
	ob->inflight--;
}

static void fo_outbox_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	fo_outbox *ob = opaque;
	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
	    err == RD_KAFKA_RESP_ERR__RESOLVE) {
		snprintf(ob->last_kafka_err, sizeof(ob->last_kafka_err), "%s", reason);
		if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
			atomic_store(&ob->broker_ok, 0);
		return; /* logged once by the round that fails */
	}
	fo_log(FO_LOG_WARN, "outbox_kafka_error", reason,
	       FO_KS("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)));
}

/* librdkafka's log lines, except that connection failures ("FAIL"), which
 * repeat at every reconnect during an outage, are debug lines: the outage
 * is logged once by fo_outbox_kafka_down. */
static void fo_outbox_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (strcmp(fac, "FAIL") == 0 && level <= 4)
		level = 7;
	fo_kafka_log_cb(rk, level, fac, buf);
}

static void fo_outbox_kafka_down(fo_outbox *ob)
{
	atomic_store(&ob->broker_ok, 0);
	if (!ob->kafka_down_logged) {
		ob->kafka_down_logged = 1;
		fo_log(
		    FO_LOG_WARN, "outbox_kafka_unavailable", ob->last_kafka_err,
		    FO_KS("topic", ob->topic), FO_KS("brokers", ob->brokers),
		    FO_KS("effect", "operator actions wait in PostgreSQL; retried every second"));
	}
}

static void fo_outbox_kafka_up(fo_outbox *ob)
{
	atomic_store(&ob->broker_ok, 1);
	if (ob->kafka_down_logged) {
		ob->kafka_down_logged = 0;
		fo_log(FO_LOG_INFO, "outbox_kafka_recovered", NULL, FO_KS("topic", ob->topic));
	}
}

static void fo_outbox_pg_down(fo_outbox *ob, const char *err)
{
	atomic_store(&ob->postgres_ok, 0);
	if (!ob->pg_down_logged) {
		ob->pg_down_logged = 1;
		fo_log(FO_LOG_WARN, "outbox_postgres_unavailable", err,
		       FO_KS("effect", "operator actions are published once it is back"));
	}
}

static void fo_outbox_pg_up(fo_outbox *ob)
{
	atomic_store(&ob->postgres_ok, 1);
	if (ob->pg_down_logged) {
		ob->pg_down_logged = 0;
		fo_log(FO_LOG_INFO, "outbox_postgres_recovered", NULL);
	}
}

/* clang-format off */
static const char fo_sql_unpublished[] =
	"SELECT x.action_id::text, fo_action_event_json(x)::text "
	"FROM operator_actions AS x "
	"WHERE x.published_at IS NULL "
	"ORDER BY x.created_at, x.action_id "
	"LIMIT $1::integer FOR UPDATE SKIP LOCKED";
/* clang-format on */

/* Waits for every delivery report of the round (or stop). */
static void fo_outbox_wait(fo_outbox *ob)
{
	while (ob->inflight > 0) {
		if (atomic_load(&ob->stop)) {
			rd_kafka_purge(ob->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
			                           RD_KAFKA_PURGE_F_NON_BLOCKING);
			while (ob->inflight > 0)
				rd_kafka_poll(ob->rk, 50);
			return;
		}
		rd_kafka_poll(ob->rk, 100);
	}
}

/* One round; returns the rows published, or -1 (the round failed: wait
 * for the tick). */
static int fo_outbox_round(fo_outbox *ob)
{
	char err[1024], lim[16];
	snprintf(lim, sizeof(lim), "%d", ob->batch);
	fo_db_rc rc = fo_db_begin(ob->db, err, sizeof(err));
	PGresult *r = NULL;
	if (rc == FO_DB_OK) {
		const char *p[] = {lim};
		rc = fo_db_query(ob->db, "read unpublished operator actions", fo_sql_unpublished, 1,
		                 p, &r, err, sizeof(err));
	}
	if (rc != FO_DB_OK) {
		fo_db_rollback(ob->db);
		fo_outbox_pg_down(ob, err);
		return -1;
	}
	fo_outbox_pg_up(ob);
	int n = PQntuples(r);
	int *slot = calloc((size_t)n + 1, sizeof(*slot));
	/* '{id,id,...}': uuids need no quoting in an array literal */
	char *ids = malloc((size_t)n * 37 + 3);
	if (!slot || !ids) {
		free(slot);
		free(ids);
		PQclear(r);
		fo_db_rollback(ob->db);
		fo_log(FO_LOG_ERROR, "outbox_failed", "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *key = PQgetvalue(r, i, 0), *val = PQgetvalue(r, i, 1);
		slot[i] = FO_OB_INFLIGHT;
		rd_kafka_resp_err_t e;
		while ((e = rd_kafka_producev(
		            ob->rk, RD_KAFKA_V_TOPIC(ob->topic), RD_KAFKA_V_KEY(key, strlen(key)),
		            RD_KAFKA_V_VALUE((void *)val, (size_t)PQgetlength(r, i, 1)),
		            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&slot[i]),
		            RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(ob->rk, 10);
		if (e) {
			slot[i] = FO_OB_FAILED;
			snprintf(ob->last_kafka_err, sizeof(ob->last_kafka_err),
			         "produce to %s: %s", ob->topic, rd_kafka_err2str(e));
		} else {
			ob->inflight++;
		}
	}
	fo_outbox_wait(ob);
	size_t len = 0;
	int ok = 0, failed = 0;
	ids[len++] = '{';
	for (int i = 0; i < n; i++) {
		if (slot[i] != FO_OB_DELIVERED) {
			failed++;
			continue;
		}
		if (ok++)
			ids[len++] = ',';
		memcpy(ids + len, PQgetvalue(r, i, 0), 36);
		len += 36;
	}
	ids[len++] = '}';
	ids[len] = '\0';
	PQclear(r);
	free(slot);
	rc = FO_DB_OK;
	if (ok > 0) {
		const char *p[] = {ids};
		rc = fo_db_query(ob->db, "mark operator actions published",
		                 "UPDATE operator_actions SET published_at = clock_timestamp() "
		                 "WHERE action_id = ANY ($1::uuid[]) AND published_at IS NULL",
		                 1, p, NULL, err, sizeof(err));
	}
	if (rc == FO_DB_OK)
		rc = fo_db_commit(ob->db, "commit published operator actions", err, sizeof(err));
	free(ids);
	if (rc != FO_DB_OK) {
		/* delivered but not marked: they go out again (at least once) */
		fo_db_rollback(ob->db);
		fo_outbox_pg_down(ob, err);
		return -1;
	}
	atomic_fetch_add(&ob->published, (unsigned long long)ok);
	if (failed) {
		fo_outbox_kafka_down(ob);
		return -1;
	}
	if (n > 0)
		fo_outbox_kafka_up(ob);
	return n;
}

static void fo_outbox_count_pending(fo_outbox *ob)
{
	char err[512];
	PGresult *r;
	if (fo_db_query(ob->db, "count unpublished operator actions",
	                "SELECT count(*) FROM operator_actions WHERE published_at IS NULL", 0, NULL,
	                &r, err, sizeof(err)) == FO_DB_OK) {
		atomic_store(&ob->pending, (long long)atoll(PQgetvalue(r, 0, 0)));
		PQclear(r);
	}
}

static void *fo_outbox_main(void *arg)
{
	fo_outbox *ob = arg;
	while (!atomic_load(&ob->stop)) {
		if (!fo_db_connected(ob->db)) {
			char err[1024];
			if (fo_db_connect(ob->db, err, sizeof(err)) != FO_DB_OK)
				fo_outbox_pg_down(ob, err);
		}
		if (fo_db_connected(ob->db)) {
			int k;
			while (!atomic_load(&ob->stop) && (k = fo_outbox_round(ob)) == ob->batch)
				;
			if (fo_db_connected(ob->db))
				fo_outbox_count_pending(ob);
		}
		rd_kafka_poll(ob->rk, 0);
		/* sleep until kicked, stopped or the tick */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += FO_OUTBOX_TICK_MS / 1000;
		pthread_mutex_lock(&ob->mu);
		while (!ob->kicked && !atomic_load(&ob->stop))
			if (pthread_cond_timedwait(&ob->cv, &ob->mu, &until) != 0)
				break;
		ob->kicked = 0;
		pthread_mutex_unlock(&ob->mu);
	}
	return NULL;
}

static void fo_outbox_free(fo_outbox *ob)
{
	if (ob->rk)
		rd_kafka_destroy(ob->rk);
	fo_db_destroy(ob->db);
	pthread_mutex_destroy(&ob->mu);
	pthread_cond_destroy(&ob->cv);
	free(ob->brokers);
	free(ob->dsn);
	free(ob->topic);
	free(ob);
}

fo_outbox *fo_outbox_start(const fo_outbox_conf *conf, char *err, size_t errsz)
{
	if (!conf->brokers || !*conf->brokers || !conf->dsn) {
		fo_errf(err, errsz, "outbox: brokers and a PostgreSQL DSN are needed");
		return NULL;
	}
	fo_outbox *ob = calloc(1, sizeof(*ob));
	if (!ob) {
		fo_errf(err, errsz, "outbox: out of memory");
		return NULL;
	}
	pthread_mutex_init(&ob->mu, NULL);
	pthread_cond_init(&ob->cv, NULL);
	ob->brokers = strdup(conf->brokers);
	ob->dsn = strdup(conf->dsn);
	ob->topic = strdup(conf->topic && *conf->topic ? conf->topic : "operator_actions");
	ob->batch = conf->batch > 0 && conf->batch <= FO_OUTBOX_BATCH_MAX ? conf->batch
	                                                                  : FO_OUTBOX_BATCH_MAX;
	ob->db = fo_db_new(conf->dsn);
	atomic_init(&ob->pending, -1);
	atomic_init(&ob->broker_ok, 1);
	if (!ob->brokers || !ob->dsn || !ob->topic || !ob->db) {
		fo_errf(err, errsz, "outbox: out of memory");
		fo_outbox_free(ob);
		return NULL;
	}
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	static const char *const defaults[] = {
	    "enable.idempotence=true",
	    "acks=all",
	    "linger.ms=5",
	    "message.timeout.ms=10000",
	    "compression.type=lz4",
	    "partitioner=murmur2_random",
	    "log.connection.close=false",
	};
	int bad = fo_kafka_conf_set(kc, "bootstrap.servers", conf->brokers, "outbox producer", err,
	                            errsz) < 0 ||
	          fo_kafka_conf_set(kc, "client.id", "fleetops-operator-outbox", "outbox producer",
	                            err, errsz) < 0 ||
	          fo_kafka_conf_apply(kc, defaults, sizeof(defaults) / sizeof(*defaults),
	                              "outbox producer", err, errsz) < 0 ||
	          fo_kafka_conf_apply(kc, conf->kafka_x, conf->kafka_x_n, "outbox producer", err,
	                              errsz) < 0;
	if (bad) {
		rd_kafka_conf_destroy(kc);
		fo_outbox_free(ob);
		return NULL;
	}
	rd_kafka_conf_set_opaque(kc, ob);
	rd_kafka_conf_set_dr_msg_cb(kc, fo_outbox_dr);
	rd_kafka_conf_set_error_cb(kc, fo_outbox_error_cb);
	rd_kafka_conf_set_log_cb(kc, fo_outbox_log_cb);
	char e[512];
	ob->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, e, sizeof(e));
	if (!ob->rk) {
		fo_errf(err, errsz, "outbox producer: %s", e);
		rd_kafka_conf_destroy(kc);
		fo_outbox_free(ob);
		return NULL;
	}
	if (pthread_create(&ob->thread, NULL, fo_outbox_main, ob) != 0) {
		fo_errf(err, errsz, "outbox: cannot start its thread");
		fo_outbox_free(ob);
		return NULL;
	}
	fo_log(FO_LOG_INFO, "outbox_started", NULL, FO_KS("topic", ob->topic),
	       FO_KS("brokers", ob->brokers));
	return ob;
}

void fo_outbox_kick(fo_outbox *ob)
{
	if (!ob)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->kicked = 1;
	pthread_cond_signal(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
}

void fo_outbox_status_get(const fo_outbox *ob, fo_outbox_status *st)
{
	st->published = atomic_load(&ob->published);
	st->pending = atomic_load(&ob->pending);
	st->broker_ok = atomic_load(&ob->broker_ok);
	st->postgres_ok = atomic_load(&ob->postgres_ok);
}

void fo_outbox_stop(fo_outbox *ob)
{
	if (!ob)
		return;
	atomic_store(&ob->stop, 1);
	fo_outbox_kick(ob);
	pthread_join(ob->thread, NULL);
	fo_log(FO_LOG_INFO, "outbox_stopped", NULL,
	       FO_KU("published", atomic_load(&ob->published)));
	fo_outbox_free(ob);
}
