/*
 * sink_kafka: the librdkafka producer behind fo_sink.
 *
 * Settings (overridable with -X key=value): enable.idempotence=true,
 * acks=all, compression.type=lz4, linger.ms=5, batch.size=1 MiB,
 * partitioner=murmur2_random (the Java client's partitioning of keyed
 * messages, so every client puts a vehicle on the same partition). Values
 * are copied into librdkafka's queue (RD_KAFKA_MSG_F_COPY), so callers reuse
 * their buffers at once. Delivery reports are served on the sink thread by
 * rd_kafka_poll; a full queue is backpressure: emit polls until there is room.
 * Topics must exist (./tools/services.sh topics creates them); a missing
 * topic is an error at open, not a silent auto-create.
 */
#include "sink_impl.h"

#include "kafka_conf.h"
#include "log.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

typedef struct fo_kafka {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt[FO_TOPIC_COUNT];
	fo_sink *s;
	char first_error[512]; /* the first delivery failure, for the final report */
	int fatal;
} fo_kafka;

/* Delivery report: runs on the sink thread inside rd_kafka_poll/flush. */
static void fo_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	fo_kafka *k = opaque;
	/* the message's opaque packs its topic (2 bits) and sequence number */
	uint64_t tag = (uint64_t)(uintptr_t)m->_private;
	fo_topic t = (fo_topic)(tag & 3);
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		fo_sink_delivered(k->s, t, tag >> 2);
		return;
	}
	fo_sink_failed(k->s, t, tag >> 2);
	if (!k->first_error[0])
		snprintf(k->first_error, sizeof(k->first_error),
		         "topic %s partition %" PRId32 ": %s", fo_topic_name(t), m->partition,
		         rd_kafka_err2str(m->err));
}

static void fo_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	fo_kafka *k = opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[512];
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		k->fatal = 1;
		snprintf(k->first_error, sizeof(k->first_error), "fatal producer error: %s", buf);
		fo_log(FO_LOG_ERROR, "kafka_fatal", buf);
		return;
	}
	fo_log(FO_LOG_WARN, "kafka_error", reason, FO_KS("error", rd_kafka_err2name(err)));
}

/* Checks with a metadata request that every produced topic exists. */
static int fo_kafka_check_topics(fo_kafka *k, const char *brokers, unsigned topics, char *err,
                                 size_t errsz)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 1, NULL, &md, 10000);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz,
		         "cannot reach Kafka at %s within 10 s: %s (is the broker up? "
		         "./tools/fleetops up)",
		         brokers, rd_kafka_err2str(e));
		return -1;
	}
	int rc = 0;
	for (int t = 0; t < FO_TOPIC_COUNT && rc == 0; t++) {
		if (!(topics & FO_TOPIC_BIT(t)))
			continue;
		int found = 0;
		for (int i = 0; i < md->topic_cnt; i++)
			if (strcmp(md->topics[i].topic, fo_topic_name((fo_topic)t)) == 0 &&
			    md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				found = 1;
		if (!found) {
			snprintf(err, errsz,
			         "topic %s does not exist on %s (create the topics with "
			         "./tools/services.sh topics)",
			         fo_topic_name((fo_topic)t), brokers);
			rc = -1;
		}
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

static int fo_kafka_close(fo_sink *s, int timeout_ms, char *err, size_t errsz);

static int fo_kafka_open(fo_sink *s, const char *arg, char *err, size_t errsz)
{
	if (arg && *arg) {
		snprintf(err, errsz, "--sink kafka takes no argument (use --brokers HOST:PORT)");
		return -1;
	}
	const char *brokers = s->conf.brokers ? s->conf.brokers : "127.0.0.1:9092";
	fo_kafka *k = mi_zalloc(sizeof(*k));
	if (!k) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	k->s = s;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *defaults[] = {
	    "enable.idempotence=true",
	    "acks=all",
	    "compression.type=lz4",
	    "linger.ms=5",
	    "batch.size=1048576",
	    "batch.num.messages=100000",
	    "queue.buffering.max.messages=1000000",
	    "queue.buffering.max.kbytes=1048576",
	    "partitioner=murmur2_random",
	    "message.timeout.ms=120000",
	};
	const char *client = s->conf.client_id ? s->conf.client_id : "fleetopsd";
	if (fo_kafka_conf_set(conf, "bootstrap.servers", brokers, "producer", err, errsz) < 0 ||
	    fo_kafka_conf_set(conf, "client.id", client, "producer", err, errsz) < 0 ||
	    fo_kafka_conf_apply(conf, defaults, sizeof(defaults) / sizeof(defaults[0]), "producer",
	                        err, errsz) < 0 ||
	    fo_kafka_conf_apply(conf, s->conf.props, s->conf.nprops, "producer", err, errsz) < 0) {
		rd_kafka_conf_destroy(conf);
		mi_free(k);
		return -1;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, fo_kafka_dr);
	rd_kafka_conf_set_error_cb(conf, fo_kafka_error_cb);
	rd_kafka_conf_set_log_cb(conf, fo_kafka_log_cb);
	char e[512];
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	if (!k->rk) {
		snprintf(err, errsz, "cannot create the Kafka producer: %s", e);
		rd_kafka_conf_destroy(conf);
		mi_free(k);
		return -1;
	}
	s->be = k;
	for (int t = 0; t < FO_TOPIC_COUNT; t++)
		if (s->conf.topics & FO_TOPIC_BIT(t))
			k->rkt[t] = rd_kafka_topic_new(k->rk, fo_topic_name((fo_topic)t), NULL);
	if (fo_kafka_check_topics(k, brokers, s->conf.topics, err, errsz) < 0) {
		char e2[8];
		fo_kafka_close(s, 0, e2, sizeof(e2));
		return -1;
	}
	return 0;
}

static int fo_kafka_emit(fo_sink *s, fo_topic t, const char *key, size_t klen, const char *val,
                         size_t vlen, uint64_t seq, char *err, size_t errsz)
{
	fo_kafka *k = s->be;
	if (k->fatal || !k->rkt[t]) {
		if (k->fatal)
			snprintf(err, errsz, "%s", k->first_error);
		else
			snprintf(err, errsz, "topic %s is not produced by this role",
			         fo_topic_name(t));
		if (!k->first_error[0])
			snprintf(k->first_error, sizeof(k->first_error), "%s", err);
		fo_sink_failed(s, t, seq);
		return -1;
	}
	for (;;) {
		if (rd_kafka_produce(k->rkt[t], RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
		                     (void *)val, vlen, key, klen,
		                     (void *)(uintptr_t)(seq << 2 | t)) == 0)
			return 0;
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			snprintf(err, errsz, "produce to topic %s failed: %s", fo_topic_name(t),
			         rd_kafka_err2str(e));
			fo_sink_failed(s, t, seq);
			return -1;
		}
		/* backpressure: serve delivery reports until there is room */
		s->st.queue_full_waits++;
		rd_kafka_poll(k->rk, 10);
		if (k->fatal) {
			snprintf(err, errsz, "%s", k->first_error);
			return -1;
		}
	}
}

static void fo_kafka_poll(fo_sink *s)
{
	fo_kafka *k = s->be;
	rd_kafka_poll(k->rk, 0);
}

static void fo_kafka_flush(fo_sink *s, int timeout_ms)
{
	fo_kafka *k = s->be;
	rd_kafka_flush(k->rk, timeout_ms); /* serves the delivery reports too */
}

static int fo_kafka_close(fo_sink *s, int timeout_ms, char *err, size_t errsz)
{
	fo_kafka *k = s->be;
	int rc = 0;
	if (timeout_ms > 0) {
		rd_kafka_resp_err_t e = rd_kafka_flush(k->rk, timeout_ms);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(err, errsz, "%d events still undelivered after %d ms: %s",
			         rd_kafka_outq_len(k->rk), timeout_ms, rd_kafka_err2str(e));
			rc = -1;
		}
	}
	uint64_t failed = 0;
	for (int t = 0; t < FO_TOPIC_COUNT; t++)
		failed += s->st.failed[t];
	if (rc == 0 && (failed || k->fatal)) {
		snprintf(err, errsz, "%" PRIu64 " events failed delivery; first: %s", failed,
		         k->first_error);
		rc = -1;
	}
	for (int t = 0; t < FO_TOPIC_COUNT; t++)
		if (k->rkt[t])
			rd_kafka_topic_destroy(k->rkt[t]);
	rd_kafka_destroy(k->rk);
	mi_free(k);
	return rc;
}

const fo_sink_ops fo_sink_kafka_ops = {
    .kind = "kafka",
    .open = fo_kafka_open,
    .emit = fo_kafka_emit,
    .poll = fo_kafka_poll,
    .flush = fo_kafka_flush,
    .close = fo_kafka_close,
};
