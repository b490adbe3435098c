/*
 * ingest: see ingest.h.
 *
 * The batch holds each message's checked row, its offset tag and a copy of
 * its bytes and key (for the DLQ, should PostgreSQL refuse the row): the
 * consumer's messages are released right after each poll, so a batch can
 * wait through a database outage while the consumer keeps polling.
 */
#include "ingest.h"

#include "anomaly_json.h"
#include "api.h"
#include "consumer.h"
#include "db.h"
#include "errbuf.h"
#include "log.h"
#include "offsets.h"
#include "timefmt.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FO_INGEST_POLL_MAX    1000
#define FO_INGEST_BACKOFF_MIN 200000000LL  /* ns */
#define FO_INGEST_BACKOFF_MAX 5000000000LL /* ns */
#define FO_INGEST_MAX_PROPS   64

typedef struct fo_item {
	fo_anomaly_json a;
	uint64_t tag;
	int32_t partition;
	int64_t offset;
	char *value, *key; /* copies, for the DLQ; key may be NULL */
	size_t len, key_len;
} fo_item;

struct fo_ingest {
	fo_ingest_conf conf;
	fo_db *db;
	fo_consumer *cons;
	fo_offsets *off;
	fo_item *items; /* the batch not yet committed to PostgreSQL */
	size_t n, cap;
	const fo_anomaly_json **rows; /* scratch for fo_db_alerts_insert */
	fo_consumer_msg *msgs;
	uint8_t paused[FO_OFFSETS_MAX_PARTITIONS];
	int db_down;
	int64_t backoff_ns, retry_at_ns, down_since_ns;
	int failed;
	char ferr[1024];
	/* read by fo_ingest_status_get from any thread */
	atomic_int kafka_ok, postgres_ok;
	atomic_llong lag;
	atomic_ullong consumed, inserted, duplicates, dlq, commits, retries;
};

static void fo_ingest_fail(fo_ingest *in, const char *msg)
{
	if (!in->failed) {
		snprintf(in->ferr, sizeof(in->ferr), "%s", msg);
		fo_log(FO_LOG_ERROR, "ingest_failed", msg);
	}
	in->failed = 1;
}

static void fo_item_free(fo_item *it)
{
	fo_anomaly_json_free(&it->a);
	free(it->value);
	free(it->key);
	memset(it, 0, sizeof(*it));
}

fo_ingest *fo_ingest_new(const fo_ingest_conf *conf, char *err, size_t errsz)
{
	if (!conf->dsn || !*conf->dsn) {
		fo_errf(err, errsz, "no PostgreSQL connection string (--pg-dsn or PG_DSN)");
		return NULL;
	}
	fo_ingest *in = calloc(1, sizeof(*in));
	if (!in) {
		fo_errf(err, errsz, "out of memory");
		return NULL;
	}
	in->conf = *conf;
	if (!in->conf.batch_max)
		in->conf.batch_max = 1000;
	if (!in->conf.group)
		in->conf.group = FO_INGEST_GROUP_DEFAULT;
	if (!in->conf.topic)
		in->conf.topic = FO_INGEST_TOPIC_DEFAULT;
	/* room for one more poll beyond a full batch */
	in->cap = in->conf.batch_max + FO_INGEST_POLL_MAX;
	in->items = calloc(in->cap, sizeof(*in->items));
	in->rows = calloc(in->cap, sizeof(*in->rows));
	in->msgs = calloc(FO_INGEST_POLL_MAX, sizeof(*in->msgs));
	in->off = fo_offsets_new(FO_OFFSETS_MAX_PARTITIONS, FO_OFFSETS_WINDOW_DEFAULT);
	in->db = fo_db_new(conf->dsn);
	if (!in->items || !in->rows || !in->msgs || !in->off || !in->db) {
		fo_ingest_destroy(in);
		fo_errf(err, errsz, "out of memory");
		return NULL;
	}
	atomic_store(&in->lag, -1);
	return in;
}

void fo_ingest_destroy(fo_ingest *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->n; i++)
		fo_item_free(&in->items[i]);
	free(in->items);
	free(in->rows);
	free(in->msgs);
	fo_offsets_destroy(in->off);
	fo_db_destroy(in->db);
	free(in);
}

void fo_ingest_status_get(const fo_ingest *in, fo_ingest_status *st)
{
	st->kafka_ok = atomic_load(&in->kafka_ok);
	st->postgres_ok = atomic_load(&in->postgres_ok);
	st->consumer_lag = atomic_load(&in->lag);
	st->consumed = atomic_load(&in->consumed);
	st->alerts_inserted = atomic_load(&in->inserted);
	st->duplicates = atomic_load(&in->duplicates);
	st->dlq = atomic_load(&in->dlq);
	st->commits = atomic_load(&in->commits);
	st->db_retries = atomic_load(&in->retries);
}

/* Commits every partition whose committable offset moved (synchronously;
 * a failed commit is retried next time). */
static void fo_ingest_commit(fo_ingest *in)
{
	if (!in->cons)
		return;
	char err[1024];
	int r = fo_consumer_commit_done(in->cons, in->off, err, sizeof(err));
	if (r < 0)
		fo_log(FO_LOG_WARN, "commit_failed", err);
	else if (r > 0)
		atomic_fetch_add(&in->commits, 1);
}

/* Pauses (want 1) or resumes (0) every assigned partition. */
static void fo_ingest_pause_all(fo_ingest *in, int want)
{
	for (int32_t p = 0; p < FO_OFFSETS_MAX_PARTITIONS; p++) {
		if (!fo_offsets_assigned(in->off, p) || in->paused[p] == want)
			continue;
		char err[256];
		if (fo_consumer_pause(in->cons, p, want, err, sizeof(err)) == 0)
			in->paused[p] = (uint8_t)want;
		else
			fo_log(FO_LOG_WARN, "pause_failed", err, FO_KI("partition", p));
	}
}

/* The database failed with rc: hold the batch, back off, stop fetching. */
static void fo_ingest_db_down(fo_ingest *in, fo_db_rc rc, const char *err)
{
	int64_t now = fo_time_mono_ns();
	if (!in->db_down) {
		in->down_since_ns = now;
		in->backoff_ns = FO_INGEST_BACKOFF_MIN;
		fo_log(rc == FO_DB_EAGAIN ? FO_LOG_WARN : FO_LOG_ERROR, "postgres_unavailable", err,
		       FO_KS("error_class", fo_db_rc_str(rc)), FO_KU("rows_held", in->n),
		       FO_KS("effect", "offsets not committed; partitions paused; retrying"));
	} else {
		in->backoff_ns *= 2;
		if (in->backoff_ns > FO_INGEST_BACKOFF_MAX)
			in->backoff_ns = FO_INGEST_BACKOFF_MAX;
		fo_log(FO_LOG_DEBUG, "postgres_retry_failed", err,
		       FO_KF("next_retry_s", (double)in->backoff_ns / 1e9));
	}
	in->db_down = 1;
	in->retry_at_ns = now + in->backoff_ns;
	atomic_store(&in->postgres_ok, 0);
	atomic_fetch_add(&in->retries, 1);
	if (in->cons)
		fo_ingest_pause_all(in, 1);
}

static void fo_ingest_db_up(fo_ingest *in)
{
	atomic_store(&in->postgres_ok, 1);
	if (!in->db_down)
		return;
	in->db_down = 0;
	fo_log(FO_LOG_INFO, "postgres_recovered", "PostgreSQL answers again; catching up",
	       FO_KF("outage_s", (double)(fo_time_mono_ns() - in->down_since_ns) / 1e9));
	if (in->cons)
		fo_ingest_pause_all(in, 0);
}

/* Sends item i to the DLQ with reason; done once the copy is stored. */
static void fo_ingest_dlq(fo_ingest *in, const fo_item *it, const char *reason)
{
	fo_consumer_msg m = {.value = it->value,
	                     .len = it->len,
	                     .key = it->key,
	                     .key_len = it->key_len,
	                     .partition = it->partition,
	                     .offset = it->offset};
	char err[1024];
	atomic_fetch_add(&in->dlq, 1);
	if (fo_consumer_dlq(in->cons, &m, reason, it->tag, err, sizeof(err)) < 0)
		fo_ingest_fail(in, err);
}

/* Drops items [0, k) of the batch (written or sent to the DLQ). */
static void fo_ingest_shift(fo_ingest *in, size_t k)
{
	for (size_t i = 0; i < k; i++)
		fo_item_free(&in->items[i]);
	memmove(in->items, in->items + k, (in->n - k) * sizeof(*in->items));
	memset(in->items + (in->n - k), 0, k * sizeof(*in->items));
	in->n -= k;
}

/* After a COMMIT: alert_created for the new alerts, and the recomputed
 * vehicle states to the fleet view (both NULL after a failed insert).
 * Frees both. */
static void fo_ingest_announce(fo_ingest *in, char *alerts, char *vehicles)
{
	if (in->conf.hub && alerts)
		fo_api_publish_alerts(in->conf.hub, "alert_created", alerts, strlen(alerts));
	fo_api_apply_vehicles(in->conf.fleet, vehicles);
	free(alerts);
	free(vehicles);
}

/* PostgreSQL refused the batch's values: row by row, refused rows to the
 * DLQ. Stops at the first failure that is not about the values. */
static void fo_ingest_write_rows(fo_ingest *in)
{
	char err[1024];
	size_t k = 0;
	for (; k < in->n; k++) {
		fo_item *it = &in->items[k];
		const fo_anomaly_json *row = &it->a;
		size_t ins = 0;
		char *alerts = NULL, *vehicles = NULL;
		fo_db_rc rc = fo_db_alerts_insert(in->db, &row, 1, &ins, &alerts, &vehicles, err,
		                                  sizeof(err));
		fo_ingest_announce(in, alerts, vehicles);
		if (rc == FO_DB_OK) {
			atomic_fetch_add(&in->inserted, ins);
			atomic_fetch_add(&in->duplicates, 1 - ins);
			fo_offsets_done(in->off, it->tag);
		} else if (rc == FO_DB_EDATA) {
			fo_log(FO_LOG_WARN, "alert_refused", err,
			       FO_KS("anomaly_id", it->a.anomaly_id),
			       FO_KI("partition", it->partition), FO_KI("offset", it->offset));
			fo_ingest_dlq(in, it, err);
		} else {
			fo_ingest_shift(in, k);
			fo_ingest_db_down(in, rc, err);
			return;
		}
	}
	fo_ingest_shift(in, k);
	fo_ingest_db_up(in);
}

/* Writes the batch in one transaction; on success marks its offsets done
 * and commits. On failure the batch is kept for a retry. */
static void fo_ingest_write(fo_ingest *in)
{
	if (in->n == 0)
		return;
	char err[1024];
	if (!fo_db_connected(in->db)) {
		fo_db_rc rc = fo_db_connect(in->db, err, sizeof(err));
		if (rc != FO_DB_OK) {
			fo_ingest_db_down(in, rc, err);
			return;
		}
	}
	for (size_t i = 0; i < in->n; i++)
		in->rows[i] = &in->items[i].a;
	size_t ins = 0;
	char *alerts = NULL, *vehicles = NULL;
	fo_db_rc rc = fo_db_alerts_insert(in->db, in->rows, in->n, &ins, &alerts, &vehicles, err,
	                                  sizeof(err));
	fo_ingest_announce(in, alerts, vehicles);
	if (rc == FO_DB_EDATA) {
		fo_log(FO_LOG_WARN, "batch_refused", err, FO_KU("rows", in->n),
		       FO_KS("effect", "writing row by row; refused rows go to the DLQ"));
		fo_ingest_write_rows(in);
	} else if (rc != FO_DB_OK) {
		fo_ingest_db_down(in, rc, err);
		return;
	} else {
		atomic_fetch_add(&in->inserted, ins);
		atomic_fetch_add(&in->duplicates, in->n - ins);
		for (size_t i = 0; i < in->n; i++)
			fo_offsets_done(in->off, in->items[i].tag);
		fo_ingest_shift(in, in->n);
		fo_ingest_db_up(in);
	}
	fo_ingest_commit(in);
}

static void fo_on_assign(void *opaque, const int32_t *parts, size_t n)
{
	fo_ingest *in = opaque;
	for (size_t i = 0; i < n; i++) {
		fo_offsets_assign(in->off, parts[i]);
		in->paused[parts[i] & 0xff] = 0;
	}
	fo_log(FO_LOG_INFO, "partitions_assigned", NULL, FO_KU("count", n));
}

static void fo_on_revoke(void *opaque, const int32_t *parts, size_t n, int lost)
{
	fo_ingest *in = opaque;
	if (!lost && !in->failed) {
		if (!in->db_down)
			fo_ingest_write(in);
		fo_ingest_commit(in);
	}
	/* rows of revoked partitions not written: their next owner reads them */
	size_t kept = 0, dropped = 0;
	for (size_t i = 0; i < in->n; i++) {
		int revoked = 0;
		for (size_t j = 0; j < n; j++)
			revoked |= in->items[i].partition == parts[j];
		if (revoked) {
			fo_item_free(&in->items[i]);
			dropped++;
		} else {
			in->items[kept++] = in->items[i];
		}
	}
	memset(in->items + kept, 0, (in->n - kept) * sizeof(*in->items));
	in->n = kept;
	for (size_t i = 0; i < n; i++) {
		fo_offsets_revoke(in->off, parts[i]);
		in->paused[parts[i] & 0xff] = 0;
	}
	fo_log(FO_LOG_INFO, "partitions_revoked", NULL, FO_KU("count", n), FO_KB("lost", lost),
	       FO_KU("rows_left_for_next_owner", dropped));
}

static void fo_on_dlq(void *opaque, uint64_t tag, int ok)
{
	fo_ingest *in = opaque;
	if (ok)
		fo_offsets_done(in->off, tag); /* its copy is safe: the original is done */
	else
		fo_ingest_fail(in, "a message could not be stored in the DLQ");
}

static void fo_on_commit(void *opaque, const fo_offsets_pos *pos, size_t n, const char *error)
{
	(void)opaque, (void)pos;
	if (error)
		fo_log(FO_LOG_WARN, "commit_failed", error, FO_KU("partitions", n));
}

/* Takes one polled message into the batch (or the DLQ). */
static void fo_ingest_message(fo_ingest *in, const fo_consumer_msg *m)
{
	uint64_t tag;
	int r = fo_offsets_consumed(in->off, m->partition, m->offset, &tag);
	if (r != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "%s [%d] offset %lld cannot be tracked (%s); stopping before committing "
		         "past it",
		         in->conf.topic, (int)m->partition, (long long)m->offset,
		         r == FO_OFFSETS_FULL ? "offset window full" : "not in order");
		fo_ingest_fail(in, msg);
		return;
	}
	atomic_fetch_add(&in->consumed, 1);
	fo_item *it = &in->items[in->n];
	it->tag = tag;
	it->partition = m->partition;
	it->offset = m->offset;
	char perr[512];
	if (fo_anomaly_json_parse(m->value, m->len, &it->a, perr, sizeof(perr)) < 0) {
		uint64_t d = atomic_load(&in->dlq) + 1;
		if (d <= 10 || d % 1000 == 0) /* every one is in the DLQ and counted */
			fo_log(FO_LOG_WARN, "message_rejected", perr,
			       FO_KI("partition", m->partition), FO_KI("offset", m->offset),
			       FO_KU("rejected_so_far", d));
		fo_item tmp = {.tag = tag,
		               .partition = m->partition,
		               .offset = m->offset,
		               .value = (char *)m->value,
		               .len = m->len,
		               .key = (char *)m->key,
		               .key_len = m->key_len};
		fo_ingest_dlq(in, &tmp, perr);
		memset(it, 0, sizeof(*it));
		return;
	}
	it->value = malloc(m->len ? m->len : 1);
	it->key = m->key ? malloc(m->key_len ? m->key_len : 1) : NULL;
	if (!it->value || (m->key && !it->key)) {
		fo_item_free(it);
		fo_ingest_fail(in, "out of memory");
		return;
	}
	memcpy(it->value, m->value, m->len);
	it->len = m->len;
	if (m->key) {
		memcpy(it->key, m->key, m->key_len);
		it->key_len = m->key_len;
	}
	in->n++;
}

/* Sleeps up to ns, waking early on stop. */
static void fo_ingest_nap(fo_ingest *in, int64_t ns)
{
	while (ns > 0 && !*in->conf.stop) {
		int64_t step = ns < 100000000LL ? ns : 100000000LL;
		struct timespec ts = {0, (long)step};
		nanosleep(&ts, NULL);
		ns -= step;
	}
}

/* Connects and migrates, retrying while PostgreSQL is unavailable.
 * Returns 0, or -1 (stopped, or a fatal migration error in err). */
static int fo_ingest_db_start(fo_ingest *in, char *err, size_t errsz)
{
	char e[1024];
	while (!*in->conf.stop) {
		fo_db_rc rc = fo_db_connect(in->db, e, sizeof(e));
		int applied = 0;
		if (rc == FO_DB_OK && in->conf.migrate)
			rc = fo_db_migrate(in->db, &applied, e, sizeof(e));
		if (rc == FO_DB_OK) {
			fo_ingest_db_up(in);
			if (in->conf.migrate)
				fo_log(FO_LOG_INFO, "migrations_done", NULL,
				       FO_KI("applied", applied));
			return 0;
		}
		if (rc != FO_DB_EAGAIN) {
			fo_errf(err, errsz, "%s", e);
			return -1;
		}
		fo_ingest_db_down(in, rc, e);
		fo_ingest_nap(in, in->backoff_ns);
	}
	fo_errf(err, errsz, "stopped before PostgreSQL answered");
	return -1;
}

static void fo_ingest_stats(fo_ingest *in, int log)
{
	fo_consumer_lag lag[FO_OFFSETS_MAX_PARTITIONS];
	size_t n = fo_consumer_lag_get(in->cons, lag, FO_OFFSETS_MAX_PARTITIONS);
	int64_t total = n ? 0 : -1;
	for (size_t i = 0; i < n; i++)
		total += lag[i].lag > 0 ? lag[i].lag : 0;
	atomic_store(&in->lag, total);
	if (!log)
		return;
	fo_ingest_status st;
	fo_ingest_status_get(in, &st);
	fo_log(FO_LOG_INFO, "ingest_stats", NULL, FO_KU("consumed", st.consumed),
	       FO_KU("alerts_inserted", st.alerts_inserted), FO_KU("duplicates", st.duplicates),
	       FO_KU("dlq", st.dlq), FO_KI("consumer_lag", st.consumer_lag),
	       FO_KB("postgres_ok", st.postgres_ok), FO_KU("rows_held", in->n),
	       FO_KU("commits", st.commits));
}

int fo_ingest_run(fo_ingest *in, char *err, size_t errsz)
{
	if (fo_ingest_db_start(in, err, errsz) < 0)
		return *in->conf.stop ? 0 : -1;

	const char *props[FO_INGEST_MAX_PROPS + 1] = {"fetch.wait.max.ms=10"};
	size_t nprops = 1;
	for (size_t i = 0; i < in->conf.nprops && nprops < FO_INGEST_MAX_PROPS + 1; i++)
		props[nprops++] = in->conf.props[i];
	fo_consumer_conf cc = {
	    .brokers = in->conf.brokers,
	    .group = in->conf.group,
	    .topic = in->conf.topic,
	    .client_id = "fleetops-operator",
	    .props = props,
	    .nprops = nprops,
	    .stats_interval_ms = 1000,
	    .hooks = {in, fo_on_assign, fo_on_revoke, fo_on_dlq, fo_on_commit},
	};
	char e[1024];
	in->cons = fo_consumer_new(&cc, e, sizeof(e));
	if (!in->cons) {
		fo_errf(err, errsz, "%s", e);
		return -1;
	}
	atomic_store(&in->kafka_ok, 1);
	fo_log(FO_LOG_INFO, "ingest_start", "consuming anomalies into PostgreSQL",
	       FO_KS("brokers", in->conf.brokers ? in->conf.brokers : "127.0.0.1:9092"),
	       FO_KS("group", in->conf.group), FO_KS("topic", in->conf.topic),
	       FO_KU("batch_max", in->conf.batch_max));

	int64_t now = fo_time_mono_ns(), last_msg = now, next_stats = now, next_log = now;
	while (!*in->conf.stop && !in->failed) {
		now = fo_time_mono_ns();
		if (in->db_down && now >= in->retry_at_ns) {
			if (in->n > 0) {
				fo_ingest_write(in);
			} else {
				char pe[1024];
				fo_db_rc rc = fo_db_connected(in->db)
				                  ? fo_db_ping(in->db, pe, sizeof(pe))
				                  : fo_db_connect(in->db, pe, sizeof(pe));
				if (rc == FO_DB_OK)
					fo_ingest_db_up(in);
				else
					fo_ingest_db_down(in, rc, pe);
			}
		}
		if (now >= next_stats) {
			int log = in->conf.progress_interval > 0 && now >= next_log;
			fo_ingest_stats(in, log);
			if (log)
				next_log = now + (int64_t)(in->conf.progress_interval * 1e9);
			next_stats = now + 1000000000LL;
		}
		size_t room = in->cap - in->n;
		if (room > FO_INGEST_POLL_MAX)
			room = FO_INGEST_POLL_MAX;
		if (room == 0) { /* only while PostgreSQL is down; partitions are paused */
			fo_ingest_nap(in, 100000000LL);
			continue;
		}
		int timeout = 100;
		if (in->db_down) {
			int64_t wait = (in->retry_at_ns - now) / 1000000;
			timeout = wait < 0 ? 0 : wait < 100 ? (int)wait : 100;
		}
		int n = fo_consumer_poll(in->cons, in->msgs, room, timeout, e, sizeof(e));
		if (n < 0) {
			atomic_store(&in->kafka_ok, 0);
			fo_ingest_fail(in, e);
			break;
		}
		atomic_store(&in->kafka_ok, fo_consumer_brokers_up(in->cons));
		for (int i = 0; i < n && !in->failed; i++)
			fo_ingest_message(in, &in->msgs[i]);
		fo_consumer_release(in->cons, in->msgs, (size_t)n);
		if (!in->db_down && in->n > 0)
			fo_ingest_write(in);
		else if (!in->db_down)
			fo_ingest_commit(in); /* DLQ'd offsets */
		fo_offsets_stats os;
		fo_offsets_stats_get(in->off, &os);
		if (n > 0 || os.partitions == 0 || in->n > 0)
			last_msg = fo_time_mono_ns();
		else if (in->conf.idle_exit > 0 &&
		         fo_time_mono_ns() - last_msg > (int64_t)(in->conf.idle_exit * 1e9)) {
			fo_log(FO_LOG_INFO, "ingest_idle", "no messages: stopping",
			       FO_KF("idle_exit_s", in->conf.idle_exit));
			break;
		}
	}
	/* one last write if the database is there; leaving the group commits */
	if (!in->failed && in->n > 0 && fo_db_connected(in->db))
		fo_ingest_write(in);
	if (in->n > 0)
		fo_log(FO_LOG_WARN, "ingest_stop_unwritten",
		       "rows not written at stop; they will be read again on restart",
		       FO_KU("rows", in->n));
	fo_consumer_stats cst;
	if (fo_consumer_close(in->cons, 10000, &cst, e, sizeof(e)) < 0)
		fo_ingest_fail(in, e);
	in->cons = NULL;
	atomic_store(&in->kafka_ok, 0);
	fo_ingest_status st;
	fo_ingest_status_get(in, &st);
	fo_log(FO_LOG_INFO, "ingest_done", NULL, FO_KU("consumed", st.consumed),
	       FO_KU("alerts_inserted", st.alerts_inserted), FO_KU("duplicates", st.duplicates),
	       FO_KU("dlq", st.dlq), FO_KU("commits", st.commits));
	if (in->failed) {
		fo_errf(err, errsz, "%s", in->ferr);
		return -1;
	}
	return 0;
}
