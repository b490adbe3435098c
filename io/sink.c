/*
 * sink: backend selection and the shared counters (see sink.h).
 */
#include "sink_impl.h"

#include "hist.h"
#include "timefmt.h"

#include <inttypes.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

static const char *const fo_topic_names[FO_TOPIC_COUNT] = {
    "raw_telemetry",
    "anomalies",
    "operator_actions",
};

const char *fo_topic_name(fo_topic t)
{
	return (unsigned)t < FO_TOPIC_COUNT ? fo_topic_names[t] : "?";
}

fo_sink *fo_sink_new(const fo_sink_conf *conf, char *err, size_t errsz)
{
	static const fo_sink_ops *const all[] = {&fo_sink_null_ops, &fo_sink_ndjson_ops,
	                                         &fo_sink_kafka_ops};
	const char *spec = conf->spec ? conf->spec : "kafka";
	const char *colon = strchr(spec, ':');
	size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
	const fo_sink_ops *ops = NULL;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strlen(all[i]->kind) == klen && strncmp(all[i]->kind, spec, klen) == 0)
			ops = all[i];
	if (!ops) {
		snprintf(err, errsz, "--sink \"%s\": expected null, ndjson:DIR or kafka", spec);
		return NULL;
	}
	fo_sink *s = mi_zalloc(sizeof(*s));
	if (!s) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->ops = ops;
	s->conf = *conf;
	s->window = mi_zalloc(FO_SINK_WINDOW * sizeof(*s->window));
	if (!s->window) {
		snprintf(err, errsz, "out of memory");
		mi_free(s);
		return NULL;
	}
	if (ops->open(s, colon ? colon + 1 : NULL, err, errsz) < 0) {
		mi_free(s->window);
		mi_free(s);
		return NULL;
	}
	return s;
}

const char *fo_sink_kind(const fo_sink *s)
{
	return s->ops->kind;
}

int fo_sink_emit(fo_sink *s, fo_topic t, const char *key, size_t klen, const char *val, size_t vlen,
                 int64_t emit_ns, char *err, size_t errsz)
{
	/* a full window waits for deliveries (Kafka) before taking one more */
	while (s->next_seq - s->settled >= FO_SINK_WINDOW) {
		if (!s->ops->poll) {
			snprintf(err, errsz, "sink window full without deliveries");
			return -1;
		}
		fo_sink_poll(s);
	}
	uint64_t seq = s->next_seq++;
	if ((seq & 63) == 0) /* one clock read per 64 events, not one each */
		s->now_ns = fo_time_wall_ns();
	/* 1 marks "in flight" even for an event that came with no emit time */
	s->window[seq & (FO_SINK_WINDOW - 1)] = emit_ns > 0 ? emit_ns : 1;
	s->st.emitted[t]++;
	s->st.bytes += vlen;
	return s->ops->emit(s, t, key, klen, val, vlen, seq, err, errsz);
}

int fo_sink_flush(fo_sink *s, int timeout_ms)
{
	s->now_ns = fo_time_wall_ns();
	if (s->ops->flush)
		s->ops->flush(s, timeout_ms);
	return s->settled == s->next_seq ? 0 : -1;
}

uint64_t fo_sink_next_seq(const fo_sink *s)
{
	return s->next_seq;
}

uint64_t fo_sink_settled(const fo_sink *s)
{
	return s->settled;
}

/* Clears seq's slot and moves the watermark over every settled slot. */
static void fo_sink_settle(fo_sink *s, uint64_t seq)
{
	s->window[seq & (FO_SINK_WINDOW - 1)] = 0;
	while (s->settled < s->next_seq && s->window[s->settled & (FO_SINK_WINDOW - 1)] == 0)
		s->settled++;
}

void fo_sink_set_latency(fo_sink *s, struct fo_hist *const *per_topic)
{
	for (int t = 0; t < FO_TOPIC_COUNT; t++)
		s->lat[t] = per_topic ? per_topic[t] : NULL;
}

void fo_sink_delivered(fo_sink *s, fo_topic t, uint64_t seq)
{
	int64_t emit_ns = s->window[seq & (FO_SINK_WINDOW - 1)];
	s->st.delivered[t]++;
	if (s->lat[t] && emit_ns > 1)
		fo_hist_record(s->lat[t], s->now_ns - emit_ns);
	fo_sink_settle(s, seq);
}

void fo_sink_failed(fo_sink *s, fo_topic t, uint64_t seq)
{
	s->st.failed[t]++;
	fo_sink_settle(s, seq);
}

void fo_sink_poll(fo_sink *s)
{
	if (s->ops->poll) {
		s->now_ns = fo_time_wall_ns();
		s->ops->poll(s);
	}
}

void fo_sink_stats_get(const fo_sink *s, fo_sink_stats *st)
{
	*st = s->st;
}

int fo_sink_close(fo_sink *s, int timeout_ms, fo_sink_stats *st, char *err, size_t errsz)
{
	if (!s)
		return 0;
	int rc = s->ops->close(s, timeout_ms, err, errsz);
	if (rc == 0) {
		for (int t = 0; t < FO_TOPIC_COUNT; t++) {
			uint64_t lost = s->st.emitted[t] - s->st.delivered[t];
			if (lost) {
				snprintf(err, errsz,
				         "%" PRIu64 " of %" PRIu64
				         " events for topic %s were not delivered",
				         lost, s->st.emitted[t], fo_topic_name((fo_topic)t));
				rc = -1;
				break;
			}
		}
	}
	if (st)
		*st = s->st;
	mi_free(s->window);
	mi_free(s);
	return rc;
}

/* ---- null: count and discard ---- */

static int fo_null_open(fo_sink *s, const char *arg, char *err, size_t errsz)
{
	(void)s;
	if (arg && *arg) {
		snprintf(err, errsz, "--sink null takes no argument");
		return -1;
	}
	return 0;
}

static int fo_null_emit(fo_sink *s, fo_topic t, const char *key, size_t klen, const char *val,
                        size_t vlen, uint64_t seq, char *err, size_t errsz)
{
	(void)key, (void)klen, (void)val, (void)vlen, (void)err, (void)errsz;
	fo_sink_delivered(s, t, seq);
	return 0;
}

static int fo_null_close(fo_sink *s, int timeout_ms, char *err, size_t errsz)
{
	(void)s, (void)timeout_ms, (void)err, (void)errsz;
	return 0;
}

const fo_sink_ops fo_sink_null_ops = {
    .kind = "null",
    .open = fo_null_open,
    .emit = fo_null_emit,
    .close = fo_null_close,
};
