/*
 * detect: see detect.h.
 *
 * One thread, the consumer thread, owns the consumer, the offset tracker
 * and the pipeline's reader side. Each round: take the acknowledgements
 * the sink thread has settled and mark those offsets done; commit what is
 * committable every commit_interval; pause a partition whose offset window
 * is nearly full; poll a batch, parse each message (a message that does
 * not parse goes to raw_telemetry.dlq and is done once the copy is
 * stored) and hand it to its vehicle's worker with its offset tag.
 *
 * A rebalance (or the close) runs on_revoke inside the poll: the workers
 * release what their reorder buffers hold, the thread waits until every
 * offset of the revoked partitions is done, commits synchronously, and
 * forgets the partitions; the new owner starts exactly after them.
 * Offsets are never committed past an event whose anomalies were not
 * delivered, so a kill -9 at any moment loses nothing: the next owner
 * reads again from the committed offset, and redelivered events produce
 * the same anomaly ids.
 */
#include "detect.h"

#include "consumer.h"
#include "hist.h"
#include "json.h"
#include "log.h"
#include "offsets.h"
#include "telemetry_json.h"
#include "timefmt.h"

#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FO_POLL_BATCH       512
#define FO_DETECT_MAX_PROPS 64

typedef struct fo_detectd {
	const fo_detect_conf *dc;
	fo_pipeline *pipe;
	fo_offsets *off;
	fo_consumer *cons;
	uint8_t paused[FO_OFFSETS_MAX_PARTITIONS];
	fo_hist *h_consume; /* replay emit (processing_time) -> consumed */
	uint64_t parsed, dlq, commits;
	int failed;
	char err[1024];
} fo_detectd;

static void fo_detectd_fail(fo_detectd *d, const char *event, const char *msg)
{
	if (!d->failed)
		fo_log(FO_LOG_ERROR, event, msg);
	d->failed = 1;
}

/* Marks done every offset whose results the pipeline has settled. */
static void fo_take_acks(fo_detectd *d)
{
	uint64_t tags[1024];
	size_t n;
	while ((n = fo_pipeline_acks(d->pipe, tags, 1024)) > 0)
		for (size_t i = 0; i < n; i++)
			fo_offsets_done(d->off, tags[i]);
}

/* Commits every partition whose committable offset moved (synchronously:
 * a commit that failed is retried next time). */
static void fo_commit(fo_detectd *d)
{
	char err[1024];
	int r = fo_consumer_commit_done(d->cons, d->off, err, sizeof(err));
	if (r < 0)
		fo_log(FO_LOG_WARN, "commit_failed", err);
	else if (r > 0)
		d->commits++;
}

static void fo_on_assign(void *opaque, const int32_t *parts, size_t n)
{
	fo_detectd *d = opaque;
	for (size_t i = 0; i < n; i++) {
		fo_offsets_assign(d->off, parts[i]);
		d->paused[parts[i] & 0xff] = 0;
	}
	fo_log(FO_LOG_INFO, "partitions_assigned", NULL, FO_KU("count", n));
}

static void fo_on_revoke(void *opaque, const int32_t *parts, size_t n, int lost)
{
	fo_detectd *d = opaque;
	if (!lost && !d->failed) {
		/* finish what is in flight for these partitions, then commit */
		fo_pipeline_flush(d->pipe);
		const int64_t deadline = fo_time_mono_ns() + 30 * 1000000000LL;
		for (;;) {
			fo_take_acks(d);
			size_t pending = 0;
			for (size_t i = 0; i < n; i++)
				pending += fo_offsets_pending(d->off, parts[i]);
			if (pending == 0 || fo_time_mono_ns() > deadline) {
				if (pending)
					fo_log(FO_LOG_WARN, "revoke_timeout",
					       "offsets still in flight at revoke; they will be "
					       "read again",
					       FO_KU("pending", pending));
				break;
			}
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
		fo_commit(d);
	}
	for (size_t i = 0; i < n; i++)
		fo_offsets_revoke(d->off, parts[i]);
	fo_log(FO_LOG_INFO, "partitions_revoked", NULL, FO_KU("count", n), FO_KB("lost", lost));
}

static void fo_on_dlq(void *opaque, uint64_t tag, int ok)
{
	fo_detectd *d = opaque;
	if (ok)
		fo_offsets_done(d->off, tag); /* its copy is safe: the original is done */
	else
		fo_detectd_fail(d, "dlq_failed", "a message could not be stored in the DLQ");
}

static void fo_on_commit(void *opaque, const fo_offsets_pos *pos, size_t n, const char *error)
{
	(void)opaque, (void)pos;
	if (error)
		fo_log(FO_LOG_WARN, "commit_failed", error, FO_KU("partitions", n));
}

/* Pauses partitions whose offset window is nearly full; resumes them once
 * it has drained. */
static void fo_flow_control(fo_detectd *d)
{
	for (int32_t p = 0; p < FO_OFFSETS_MAX_PARTITIONS; p++) {
		if (!fo_offsets_assigned(d->off, p))
			continue;
		size_t room = fo_offsets_room(d->off, p);
		int want = room < 4 * FO_POLL_BATCH               ? 1
		           : room > FO_OFFSETS_WINDOW_DEFAULT / 2 ? 0
		                                                  : -1;
		if (want >= 0 && want != d->paused[p]) {
			char err[256];
			if (fo_consumer_pause(d->cons, p, want, err, sizeof(err)) == 0)
				d->paused[p] = (uint8_t)want;
		}
	}
}

static void fo_detect_stats(fo_detectd *d)
{
	fo_consumer_lag lag[FO_OFFSETS_MAX_PARTITIONS];
	size_t n = fo_consumer_lag_get(d->cons, lag, FO_OFFSETS_MAX_PARTITIONS);
	int64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += lag[i].lag > 0 ? lag[i].lag : 0;
	fo_offsets_stats os;
	fo_offsets_stats_get(d->off, &os);
	fo_log(FO_LOG_INFO, "consumer_stats", NULL, FO_KU("consumed", d->parsed),
	       FO_KI("consumer_lag", total), FO_KU("partitions", os.partitions),
	       FO_KU("in_flight", os.in_flight), FO_KU("dlq", d->dlq),
	       FO_KU("commits", d->commits));
	fo_pipeline_log_stats(d->pipe);
}

/* Handles one polled message. */
static void fo_detect_message(fo_detectd *d, const fo_consumer_msg *m)
{
	uint64_t tag;
	int r = fo_offsets_consumed(d->off, m->partition, m->offset, &tag);
	if (r != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "raw_telemetry [%d] offset %lld cannot be tracked (%s); stopping before "
		         "committing past it",
		         (int)m->partition, (long long)m->offset,
		         r == FO_OFFSETS_FULL ? "offset window full" : "not in order");
		fo_detectd_fail(d, "offsets_error", msg);
		return;
	}
	fo_telemetry_json tj;
	char perr[512];
	if (fo_telemetry_json_parse(m->value, m->len, &tj, perr, sizeof(perr)) < 0) {
		char err[1024];
		d->dlq++;
		if (d->dlq <= 10 || d->dlq % 1000 == 0) /* every one is in the DLQ and counted */
			fo_log(FO_LOG_WARN, "message_rejected", perr,
			       FO_KI("partition", m->partition), FO_KI("offset", m->offset),
			       FO_KU("rejected_so_far", d->dlq));
		if (fo_consumer_dlq(d->cons, m, perr, tag, err, sizeof(err)) < 0)
			fo_detectd_fail(d, "dlq_failed", err);
		return;
	}
	d->parsed++;
	int64_t now = fo_time_wall_ns();
	if (tj.proc_ns > 0)
		fo_hist_record(d->h_consume, now - tj.proc_ns);
	if (fo_pipeline_telemetry(d->pipe, &tj.t, &tj.event_id, tj.proc_ns > 0 ? tj.proc_ns : now,
	                          tag, d->err, sizeof(d->err)) < 0)
		fo_detectd_fail(d, "pipeline_error", d->err);
}

int fo_detect_run(const fo_detect_conf *dc, fo_pipeline_conf *pc)
{
	fo_detectd d = {.dc = dc};
	char err[1024];
	pc->consume = 1;
	pc->emit_raw = 0;
	pc->detect = 1;
	d.off = fo_offsets_new(FO_OFFSETS_MAX_PARTITIONS, FO_OFFSETS_WINDOW_DEFAULT);
	d.h_consume = fo_hist_new();
	if (!d.off || !d.h_consume) {
		fo_log(FO_LOG_ERROR, "detect_error", "out of memory");
		return 1;
	}
	d.pipe = fo_pipeline_start(pc, err, sizeof(err));
	if (!d.pipe) {
		fo_log(FO_LOG_ERROR, "pipeline_error", err);
		return 1;
	}
	/* latency over batching: the broker answers a fetch within 10 ms even
	 * when little is waiting (librdkafka's default is 500 ms); -C settings
	 * come after these, so they win */
	const char *props[FO_DETECT_MAX_PROPS + 1] = {"fetch.wait.max.ms=10"};
	size_t nprops = 1;
	for (size_t i = 0; i < dc->ncprops && nprops < FO_DETECT_MAX_PROPS + 1; i++)
		props[nprops++] = dc->cprops[i];
	fo_consumer_conf cc = {
	    .brokers = dc->brokers,
	    .group = dc->group,
	    .client_id = "fleetopsd-detect",
	    .props = props,
	    .nprops = nprops,
	    .stats_interval_ms = 2000,
	    .hooks = {&d, fo_on_assign, fo_on_revoke, fo_on_dlq, fo_on_commit},
	};
	d.cons = fo_consumer_new(&cc, err, sizeof(err));
	if (!d.cons) {
		fo_log(FO_LOG_ERROR, "consumer_error", err);
		fo_pipeline_finish(d.pipe, err, sizeof(err));
		fo_pipeline_destroy(d.pipe);
		return 1;
	}
	fo_log(FO_LOG_INFO, "detect_start", "consuming raw_telemetry",
	       FO_KS("brokers", dc->brokers ? dc->brokers : "127.0.0.1:9092"),
	       FO_KS("group", dc->group ? dc->group : FO_CONSUMER_GROUP_DEFAULT),
	       FO_KU("workers", pc->workers), FO_KI("cpu_reader", pc->cpu_reader),
	       FO_KI("cpu_sink", pc->cpu_sink), FO_KS("thresholds", pc->th->source));

	static fo_consumer_msg msgs[FO_POLL_BATCH];
	int64_t last_msg = fo_time_mono_ns(), next_commit = last_msg, next_stats = last_msg;
	while (!*dc->stop && !d.failed) {
		fo_take_acks(&d);
		int64_t now = fo_time_mono_ns();
		if (now >= next_commit) {
			fo_commit(&d);
			next_commit = now + (int64_t)(dc->commit_interval * 1e9);
		}
		if (dc->progress_interval > 0 && now >= next_stats) {
			fo_detect_stats(&d);
			next_stats = now + (int64_t)(dc->progress_interval * 1e9);
		}
		fo_flow_control(&d);
		int n = fo_consumer_poll(d.cons, msgs, FO_POLL_BATCH, 100, err, sizeof(err));
		if (n < 0) {
			fo_detectd_fail(&d, "consumer_error", err);
			break;
		}
		for (int i = 0; i < n && !d.failed; i++)
			fo_detect_message(&d, &msgs[i]);
		fo_pipeline_publish(d.pipe);
		fo_consumer_release(d.cons, msgs, (size_t)n);
		fo_offsets_stats os;
		fo_offsets_stats_get(d.off, &os);
		/* idle only counts while partitions are assigned: a member that
		 * waits for a rebalance (after another one died) is not idle */
		if (n > 0 || os.partitions == 0)
			last_msg = fo_time_mono_ns();
		else if (dc->idle_exit > 0 &&
		         fo_time_mono_ns() - last_msg > (int64_t)(dc->idle_exit * 1e9)) {
			fo_log(FO_LOG_INFO, "detect_idle", "no messages: stopping",
			       FO_KF("idle_exit_s", dc->idle_exit));
			break;
		}
	}
	/* leaving the group runs on_revoke: drain, commit */
	fo_consumer_stats cst;
	int crc = fo_consumer_close(d.cons, 10000, &cst, err, sizeof(err));
	if (crc < 0)
		fo_detectd_fail(&d, "consumer_error", err);
	int prc = fo_pipeline_finish(d.pipe, err, sizeof(err));
	if (prc < 0)
		fo_detectd_fail(&d, "pipeline_error", err);

	fo_pipeline_totals tot;
	fo_pipeline_totals_get(d.pipe, &tot);
	char extra[2048];
	fo_jw jw;
	fo_jw_init(&jw, extra, sizeof(extra) - 1);
	fo_jw_lit(&jw, "\"role\":\"detect\",\"consumed\":");
	fo_jw_u64(&jw, d.parsed);
	fo_jw_lit(&jw, ",\"dlq\":");
	fo_jw_u64(&jw, d.dlq);
	fo_jw_lit(&jw, ",\"duplicates\":");
	fo_jw_u64(&jw, tot.duplicates);
	fo_jw_lit(&jw, ",\"late_dropped\":");
	fo_jw_u64(&jw, tot.late);
	fo_jw_lit(&jw, ",\"reordered\":");
	fo_jw_u64(&jw, tot.reordered);
	fo_jw_lit(&jw, ",\"commits\":");
	fo_jw_u64(&jw, d.commits);
	fo_jw_lit(&jw, ",\"produce_to_consume\":");
	fo_hist_json(d.h_consume, &jw);
	fo_jw_lit(&jw, ",\"status\":\"");
	fo_jw_cstr(&jw, d.failed ? "failed" : "ok");
	fo_jw_char(&jw, '"');
	extra[jw.overflow ? 0 : jw.len] = '\0';
	printf("{%s,\"anomalies\":%llu,\"events\":%llu}\n", extra,
	       (unsigned long long)tot.anomalies, (unsigned long long)tot.observations);
	fo_pipeline_report(d.pipe, stderr, dc->report_path, extra);
	fprintf(stderr, "%-34s %10llu %9.1f %9.1f %9.1f %9.1f %9.1f\n",
	        "replay emit -> consumed (Kafka)", (unsigned long long)fo_hist_count(d.h_consume),
	        (double)fo_hist_value_at_percentile(d.h_consume, 50) / 1e3,
	        (double)fo_hist_value_at_percentile(d.h_consume, 90) / 1e3,
	        (double)fo_hist_value_at_percentile(d.h_consume, 99) / 1e3,
	        (double)fo_hist_value_at_percentile(d.h_consume, 99.9) / 1e3,
	        (double)fo_hist_max(d.h_consume) / 1e3);
	fo_log(FO_LOG_INFO, "detect_done", NULL, FO_KU("consumed", d.parsed),
	       FO_KU("anomalies", tot.anomalies), FO_KU("dlq", d.dlq),
	       FO_KU("duplicates", tot.duplicates), FO_KU("late_dropped", tot.late));
	fo_pipeline_destroy(d.pipe);
	fo_offsets_destroy(d.off);
	fo_hist_destroy(d.h_consume);
	return d.failed ? 1 : 0;
}
