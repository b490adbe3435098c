/*
 * consumer: see consumer.h.
 *
 * Settings (each overridable with conf->props): enable.auto.commit=false
 * and enable.auto.offset.store=false (offsets move only by
 * fo_consumer_commit), auto.offset.reset=earliest, the range assignor,
 * session.timeout.ms=10000 (a killed member's partitions move on after 10 s
 * instead of 45), statistics every stats_interval_ms. The main queue is
 * forwarded to the consumer queue, so statistics, errors and rebalances are
 * all served by rd_kafka_consumer_poll on the consumer thread. The DLQ
 * producer is idempotent with acks=all; its delivery reports are served by
 * fo_consumer_poll and fo_consumer_close on the same thread.
 */
#include "consumer.h"

#include "kafka_conf.h"

#include "log.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <mimalloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fo_consumer {
	rd_kafka_t *rk;  /* the KafkaConsumer */
	rd_kafka_t *dlq; /* the DLQ producer */
	char *topic, *dlq_topic, *brokers;
	fo_consumer_hooks hooks;
	fo_consumer_stats st;
	/* the batch fo_consumer_poll is filling, for a revoke inside it */
	fo_consumer_msg *batch;
	size_t batch_n;
	uint8_t assigned[FO_CONSUMER_MAX_PARTITIONS];
	uint8_t lag_valid[FO_CONSUMER_MAX_PARTITIONS];
	fo_consumer_lag lag[FO_CONSUMER_MAX_PARTITIONS];
	int fatal;
	char fatal_msg[512];
	char dlq_error[512];     /* the first DLQ delivery failure */
	atomic_int brokers_down; /* ALL_BROKERS_DOWN since the last sign of life */
};

/* ---- settings and logging ----------------------------------------------- */

static void fo_consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	fo_consumer *c = opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[400];
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		if (!c->fatal)
			snprintf(c->fatal_msg, sizeof(c->fatal_msg), "fatal error in %s: %s",
			         rd_kafka_name(rk), buf);
		c->fatal = 1;
		fo_log(FO_LOG_ERROR, "kafka_fatal", buf, FO_KS("client", rd_kafka_name(rk)));
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && rk == c->rk)
		atomic_store(&c->brokers_down, 1);
	c->st.errors++;
	fo_log(FO_LOG_WARN, "kafka_error", reason, FO_KS("client", rd_kafka_name(rk)),
	       FO_KS("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)));
}

/* ---- rebalances ---------------------------------------------------------- */

/* The partitions of our topic in parts, into ps (at most MAX). */
static size_t fo_consumer_parts(const fo_consumer *c, const rd_kafka_topic_partition_list_t *parts,
                                int32_t *ps)
{
	size_t n = 0;
	for (int i = 0; parts && i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &parts->elems[i];
		if (strcmp(p->topic, c->topic) == 0 && p->partition >= 0 &&
		    p->partition < FO_CONSUMER_MAX_PARTITIONS)
			ps[n++] = p->partition;
	}
	return n;
}

/* Drops what the running poll collected from partitions being revoked. */
static void fo_consumer_drop_batch(fo_consumer *c, const int32_t *ps, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < c->batch_n; i++) {
		int revoked = 0;
		for (size_t j = 0; j < n && !revoked; j++)
			revoked = c->batch[i].partition == ps[j];
		if (revoked) {
			rd_kafka_message_destroy(c->batch[i]._rkm);
			c->st.dropped_revoked++;
		} else {
			c->batch[k++] = c->batch[i];
		}
	}
	c->batch_n = k;
}

static void fo_consumer_revoke(fo_consumer *c, const int32_t *ps, size_t n, int lost)
{
	fo_consumer_drop_batch(c, ps, n);
	if (c->hooks.on_revoke)
		c->hooks.on_revoke(c->hooks.opaque, ps, n, lost);
	for (size_t i = 0; i < n; i++) {
		if (c->assigned[ps[i]])
			c->st.assigned--;
		c->assigned[ps[i]] = 0;
		c->lag_valid[ps[i]] = 0;
	}
	c->st.revokes++;
}

static void fo_consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                                     rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	fo_consumer *c = opaque;
	const int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	int32_t ps[FO_CONSUMER_MAX_PARTITIONS];
	size_t n = fo_consumer_parts(c, parts, ps);
	rd_kafka_error_t *ierr = NULL;
	rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
	char list[256];
	int len = 0;
	for (size_t i = 0; i < n && len < (int)sizeof(list) - 12; i++)
		len +=
		    snprintf(list + len, sizeof(list) - (size_t)len, "%s%d", i ? "," : "", ps[i]);
	list[len < (int)sizeof(list) ? len : (int)sizeof(list) - 1] = '\0';

	if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (size_t i = 0; i < n; i++) {
			if (!c->assigned[ps[i]])
				c->st.assigned++;
			c->assigned[ps[i]] = 1;
		}
		c->st.assigns++;
		if (c->hooks.on_assign)
			c->hooks.on_assign(c->hooks.opaque, ps, n);
		if (coop)
			ierr = rd_kafka_incremental_assign(rk, parts);
		else
			aerr = rd_kafka_assign(rk, parts);
		fo_log(FO_LOG_INFO, "kafka_assign", "partitions assigned", FO_KS("topic", c->topic),
		       FO_KS("partitions", list),
		       FO_KS("protocol", coop ? "cooperative" : "eager"));
	} else if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
		const int lost = rd_kafka_assignment_lost(rk);
		fo_consumer_revoke(c, ps, n, lost);
		if (coop)
			ierr = rd_kafka_incremental_unassign(rk, parts);
		else
			aerr = rd_kafka_assign(rk, NULL);
		fo_log(FO_LOG_INFO, "kafka_revoke", lost ? "partitions lost" : "partitions revoked",
		       FO_KS("topic", c->topic), FO_KS("partitions", list));
	} else {
		/* the rebalance failed: give up the whole assignment, as lost */
		fo_log(FO_LOG_ERROR, "kafka_rebalance_error", rd_kafka_err2str(e),
		       FO_KS("topic", c->topic));
		n = 0;
		for (int32_t i = 0; i < FO_CONSUMER_MAX_PARTITIONS; i++)
			if (c->assigned[i])
				ps[n++] = i;
		fo_consumer_revoke(c, ps, n, 1);
		aerr = rd_kafka_assign(rk, NULL);
	}
	if (ierr) {
		fo_log(FO_LOG_ERROR, "kafka_assign_failed", rd_kafka_error_string(ierr),
		       FO_KS("topic", c->topic), FO_KS("partitions", list));
		rd_kafka_error_destroy(ierr);
	} else if (aerr) {
		fo_log(FO_LOG_ERROR, "kafka_assign_failed", rd_kafka_err2str(aerr),
		       FO_KS("topic", c->topic), FO_KS("partitions", list));
	}
}

/* ---- commits, statistics, DLQ deliveries (callbacks) --------------------- */

/* "raw_telemetry [3] offset 120: reason; ..." for each failed partition. */
static void fo_consumer_commit_errors(const fo_consumer *c,
                                      const rd_kafka_topic_partition_list_t *l,
                                      rd_kafka_resp_err_t e, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; l && i < l->cnt && len + 1 < cap; i++) {
		const rd_kafka_topic_partition_t *p = &l->elems[i];
		rd_kafka_resp_err_t pe = p->err ? p->err : e;
		if (!pe)
			continue;
		int w = snprintf(out + len, cap - len,
		                 "%scommit of %s [%" PRId32 "] offset %" PRId64 " failed: %s",
		                 len ? "; " : "", c->topic, p->partition, p->offset,
		                 rd_kafka_err2str(pe));
		if (w < 0)
			break;
		len += (size_t)w < cap - len ? (size_t)w : cap - len - 1;
	}
	if (!out[0] && e)
		snprintf(out, cap, "commit to group on %s failed: %s", c->brokers,
		         rd_kafka_err2str(e));
}

static void fo_consumer_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                                  rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	(void)rk;
	fo_consumer *c = opaque;
	if (e == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return; /* nothing to commit */
	fo_offsets_pos pos[FO_CONSUMER_MAX_PARTITIONS];
	size_t n = 0;
	int failed = e != RD_KAFKA_RESP_ERR_NO_ERROR;
	for (int i = 0; offsets && i < offsets->cnt && n < FO_CONSUMER_MAX_PARTITIONS; i++) {
		pos[n].partition = offsets->elems[i].partition;
		pos[n].offset = offsets->elems[i].offset;
		n++;
		failed |= offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR;
	}
	char msg[1024];
	if (failed) {
		c->st.commit_failures++;
		fo_consumer_commit_errors(c, offsets, e, msg, sizeof(msg));
		fo_log(FO_LOG_WARN, "kafka_commit_failed", msg, FO_KS("topic", c->topic));
	} else {
		c->st.commits++;
	}
	if (c->hooks.on_commit)
		c->hooks.on_commit(c->hooks.opaque, pos, n, failed ? msg : NULL);
}

static int64_t fo_consumer_jint(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(x) && x->valuedouble >= 0 ? (int64_t)x->valuedouble : -1;
}

/* Statistics: the topic's partitions' offsets, for the lag. */
static int fo_consumer_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	(void)rk;
	fo_consumer *c = opaque;
	cJSON *j = cJSON_ParseWithLength(json, len);
	if (!j)
		return 0;
	const cJSON *b, *brokers = cJSON_GetObjectItemCaseSensitive(j, "brokers");
	cJSON_ArrayForEach(b, brokers)
	{
		const cJSON *state = cJSON_GetObjectItemCaseSensitive(b, "state");
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(b, "source");
		if (cJSON_IsString(state) && strcmp(state->valuestring, "UP") == 0 &&
		    !(cJSON_IsString(src) && strcmp(src->valuestring, "internal") == 0))
			atomic_store(&c->brokers_down, 0); /* a broker answers again */
	}
	const cJSON *topics = cJSON_GetObjectItemCaseSensitive(j, "topics");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(topics, c->topic);
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(t, "partitions");
	const cJSON *p;
	cJSON_ArrayForEach(p, parts)
	{
		const long i = strtol(p->string, NULL, 10);
		if (i < 0 || i >= FO_CONSUMER_MAX_PARTITIONS || !c->assigned[i])
			continue;
		fo_consumer_lag *l = &c->lag[i];
		l->partition = (int32_t)i;
		l->high = fo_consumer_jint(p, "ls_offset");
		if (l->high < 0)
			l->high = fo_consumer_jint(p, "hi_offset");
		l->position = fo_consumer_jint(p, "app_offset");
		l->committed = fo_consumer_jint(p, "committed_offset");
		l->lag = l->high >= 0 && l->committed >= 0 ? l->high - l->committed : -1;
		c->lag_valid[i] = 1;
	}
	cJSON_Delete(j);
	return 0; /* librdkafka frees json */
}

static void fo_consumer_dlq_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	fo_consumer *c = opaque;
	const uint64_t tag = (uint64_t)(uintptr_t)m->_private;
	const int ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
	if (ok) {
		c->st.dlq_delivered++;
	} else {
		c->st.dlq_failed++;
		char msg[512];
		snprintf(msg, sizeof(msg), "dead letter to %s failed: %s", c->dlq_topic,
		         rd_kafka_err2str(m->err));
		if (!c->dlq_error[0])
			snprintf(c->dlq_error, sizeof(c->dlq_error), "%s", msg);
		fo_log(FO_LOG_ERROR, "dlq_failed", msg, FO_KS("topic", c->dlq_topic));
	}
	if (c->hooks.on_dlq)
		c->hooks.on_dlq(c->hooks.opaque, tag, ok);
}

/* ---- creation ------------------------------------------------------------ */

static char *fo_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = mi_malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static void fo_consumer_free(fo_consumer *c)
{
	if (c->dlq)
		rd_kafka_destroy(c->dlq);
	if (c->rk)
		rd_kafka_destroy(c->rk);
	mi_free(c->topic);
	mi_free(c->dlq_topic);
	mi_free(c->brokers);
	mi_free(c);
}

/* Checks that the topic and the DLQ topic exist on the brokers. */
static int fo_consumer_check_topics(fo_consumer *c, char *err, size_t errsz)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(c->rk, 1, NULL, &md, 10000);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz,
		         "cannot reach Kafka at %s within 10 s: %s (is the broker up? "
		         "./tools/fleetops up)",
		         c->brokers, rd_kafka_err2str(e));
		return -1;
	}
	const char *want[2] = {c->topic, c->dlq_topic};
	int rc = 0;
	for (int w = 0; w < 2 && rc == 0; w++) {
		int found = 0;
		for (int i = 0; i < md->topic_cnt; i++)
			if (strcmp(md->topics[i].topic, want[w]) == 0 &&
			    md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				found = 1;
		if (!found) {
			snprintf(err, errsz,
			         "topic %s does not exist on %s (create the topics with "
			         "./tools/services.sh topics)",
			         want[w], c->brokers);
			rc = -1;
		}
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

fo_consumer *fo_consumer_new(const fo_consumer_conf *conf, char *err, size_t errsz)
{
	fo_consumer *c = mi_zalloc(sizeof(*c));
	if (!c) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	const char *topic = conf->topic ? conf->topic : FO_CONSUMER_TOPIC_DEFAULT;
	char dlq_topic[256];
	snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", topic);
	c->topic = fo_strdup(topic);
	c->dlq_topic = fo_strdup(conf->dlq_topic ? conf->dlq_topic : dlq_topic);
	c->brokers = fo_strdup(conf->brokers ? conf->brokers : "127.0.0.1:9092");
	c->hooks = conf->hooks;
	if (!c->topic || !c->dlq_topic || !c->brokers) {
		fo_consumer_free(c);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	const char *client = conf->client_id ? conf->client_id : "fleetopsd";
	char stats[24], dlq_client[256];
	snprintf(stats, sizeof(stats), "%d",
	         conf->stats_interval_ms > 0    ? conf->stats_interval_ms
	         : conf->stats_interval_ms == 0 ? 5000
	                                        : 0);
	snprintf(dlq_client, sizeof(dlq_client), "%s-dlq", client);

	/* the consumer */
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	const char *const settings[][2] = {
	    {"bootstrap.servers", c->brokers},
	    {"group.id", conf->group ? conf->group : FO_CONSUMER_GROUP_DEFAULT},
	    {"client.id", client},
	    {"enable.auto.commit", "false"},
	    {"enable.auto.offset.store", "false"},
	    {"auto.offset.reset", "earliest"},
	    {"partition.assignment.strategy", "range"},
	    {"session.timeout.ms", "10000"},
	    {"statistics.interval.ms", stats},
	};
	int bad = 0;
	for (size_t i = 0; !bad && i < sizeof(settings) / sizeof(settings[0]); i++)
		bad = fo_kafka_conf_set(kc, settings[i][0], settings[i][1], "consumer", err,
		                        errsz) < 0;
	bad = bad || fo_kafka_conf_apply(kc, conf->props, conf->nprops, "consumer", err, errsz) < 0;
	if (bad) {
		rd_kafka_conf_destroy(kc);
		fo_consumer_free(c);
		return NULL;
	}
	rd_kafka_conf_set_opaque(kc, c);
	rd_kafka_conf_set_rebalance_cb(kc, fo_consumer_rebalance_cb);
	rd_kafka_conf_set_offset_commit_cb(kc, fo_consumer_commit_cb);
	rd_kafka_conf_set_stats_cb(kc, fo_consumer_stats_cb);
	rd_kafka_conf_set_error_cb(kc, fo_consumer_error_cb);
	rd_kafka_conf_set_log_cb(kc, fo_kafka_log_cb);
	char e[512];
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, e, sizeof(e));
	if (!c->rk) {
		snprintf(err, errsz, "cannot create the Kafka consumer: %s", e);
		rd_kafka_conf_destroy(kc);
		fo_consumer_free(c);
		return NULL;
	}
	rd_kafka_poll_set_consumer(c->rk);

	/* the DLQ producer */
	rd_kafka_conf_t *pc = rd_kafka_conf_new();
	const char *const psettings[][2] = {
	    {"bootstrap.servers", c->brokers},
	    {"client.id", dlq_client},
	    {"enable.idempotence", "true"},
	    {"acks", "all"},
	    {"linger.ms", "5"},
	    {"message.timeout.ms", "120000"},
	};
	for (size_t i = 0; !bad && i < sizeof(psettings) / sizeof(psettings[0]); i++)
		bad = fo_kafka_conf_set(pc, psettings[i][0], psettings[i][1], "DLQ producer", err,
		                        errsz) < 0;
	bad = bad || fo_kafka_conf_apply(pc, conf->dlq_props, conf->ndlq_props, "DLQ producer", err,
	                                 errsz) < 0;
	if (bad) {
		rd_kafka_conf_destroy(pc);
		fo_consumer_free(c);
		return NULL;
	}
	rd_kafka_conf_set_opaque(pc, c);
	rd_kafka_conf_set_dr_msg_cb(pc, fo_consumer_dlq_dr);
	rd_kafka_conf_set_error_cb(pc, fo_consumer_error_cb);
	rd_kafka_conf_set_log_cb(pc, fo_kafka_log_cb);
	c->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof(e));
	if (!c->dlq) {
		snprintf(err, errsz, "cannot create the DLQ producer: %s", e);
		rd_kafka_conf_destroy(pc);
		fo_consumer_free(c);
		return NULL;
	}

	if (fo_consumer_check_topics(c, err, errsz) < 0) {
		fo_consumer_free(c);
		return NULL;
	}
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t se = rd_kafka_subscribe(c->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (se != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz, "cannot subscribe to %s: %s", c->topic, rd_kafka_err2str(se));
		fo_consumer_free(c);
		return NULL;
	}
	fo_log(FO_LOG_INFO, "kafka_consumer", "consumer started", FO_KS("brokers", c->brokers),
	       FO_KS("group", conf->group ? conf->group : FO_CONSUMER_GROUP_DEFAULT),
	       FO_KS("topic", c->topic), FO_KS("dlq", c->dlq_topic));
	return c;
}

/* ---- the consumer thread's calls ------------------------------------------ */

int fo_consumer_poll(fo_consumer *c, fo_consumer_msg *out, size_t max, int timeout_ms, char *err,
                     size_t errsz)
{
	rd_kafka_poll(c->dlq, 0); /* DLQ delivery reports */
	c->batch = out;
	c->batch_n = 0;
	int t = timeout_ms;
	while (c->batch_n < max && !c->fatal) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, t);
		if (!m)
			break;
		t = 0;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				c->st.errors++;
				fo_log(
				    FO_LOG_WARN, "kafka_consume_error", rd_kafka_message_errstr(m),
				    FO_KS("topic", m->rkt ? rd_kafka_topic_name(m->rkt) : c->topic),
				    FO_KI("partition", m->partition), FO_KI("offset", m->offset));
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		fo_consumer_msg *o = &out[c->batch_n++];
		o->value = m->payload;
		o->len = m->len;
		o->key = m->key;
		o->key_len = m->key_len;
		o->partition = m->partition;
		o->offset = m->offset;
		o->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
		o->_rkm = m;
	}
	size_t n = c->batch_n;
	c->batch = NULL;
	c->batch_n = 0;
	c->st.messages += n;
	if (n)
		atomic_store(&c->brokers_down, 0);
	for (size_t i = 0; i < n; i++)
		c->st.bytes += out[i].len;
	if (c->fatal) {
		fo_consumer_release(c, out, n);
		snprintf(err, errsz, "%s", c->fatal_msg);
		return -1;
	}
	return (int)n;
}

void fo_consumer_release(fo_consumer *c, fo_consumer_msg *msgs, size_t n)
{
	(void)c;
	for (size_t i = 0; i < n; i++) {
		rd_kafka_message_destroy(msgs[i]._rkm);
		msgs[i]._rkm = NULL;
	}
}

int fo_consumer_commit(fo_consumer *c, const fo_offsets_pos *pos, size_t n, int sync, char *err,
                       size_t errsz)
{
	if (n == 0)
		return 0;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, c->topic, pos[i].partition)->offset =
		    pos[i].offset;
	rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, !sync);
	int rc = 0;
	int failed = e != RD_KAFKA_RESP_ERR_NO_ERROR;
	for (int i = 0; sync && i < l->cnt; i++)
		failed |= l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR;
	if (failed) {
		fo_consumer_commit_errors(c, l, e, err, errsz);
		rc = -1;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

int fo_consumer_commit_done(fo_consumer *c, fo_offsets *o, char *err, size_t errsz)
{
	fo_offsets_pos pos[FO_OFFSETS_MAX_PARTITIONS];
	size_t n = fo_offsets_to_commit(o, pos, FO_OFFSETS_MAX_PARTITIONS);
	if (n == 0)
		return 0;
	if (fo_consumer_commit(c, pos, n, 1, err, errsz) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		fo_offsets_committed(o, pos[i].partition, pos[i].offset);
	return (int)n;
}

int fo_consumer_pause(fo_consumer *c, int32_t partition, int pause, char *err, size_t errsz)
{
	if (partition < 0 || partition >= FO_CONSUMER_MAX_PARTITIONS || !c->assigned[partition]) {
		snprintf(err, errsz, "cannot %s %s [%" PRId32 "]: not assigned to this member",
		         pause ? "pause" : "resume", c->topic, partition);
		return -1;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, c->topic, partition);
	rd_kafka_resp_err_t e =
	    pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
	if (!e)
		e = l->elems[0].err;
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, errsz, "cannot %s %s [%" PRId32 "]: %s", pause ? "pause" : "resume",
		         c->topic, partition, rd_kafka_err2str(e));
		return -1;
	}
	return 0;
}

int fo_consumer_dlq(fo_consumer *c, const fo_consumer_msg *m, const char *reason, uint64_t tag,
                    char *err, size_t errsz)
{
	char part[16], off[24];
	snprintf(part, sizeof(part), "%" PRId32, m->partition);
	snprintf(off, sizeof(off), "%" PRId64, m->offset);
	for (;;) {
		rd_kafka_headers_t *h = rd_kafka_headers_new(4);
		rd_kafka_header_add(h, "fo-error", -1, reason, -1);
		rd_kafka_header_add(h, "fo-topic", -1, c->topic, -1);
		rd_kafka_header_add(h, "fo-partition", -1, part, -1);
		rd_kafka_header_add(h, "fo-offset", -1, off, -1);
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    c->dlq, RD_KAFKA_V_TOPIC(c->dlq_topic),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_KEY(m->key, m->key ? m->key_len : 0),
		    RD_KAFKA_V_VALUE((void *)m->value, m->len), RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)tag), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			c->st.dlq_sent++;
			return 0;
		}
		rd_kafka_headers_destroy(h); /* owned by librdkafka only on success */
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			snprintf(
			    err, errsz, "cannot send %s [%" PRId32 "] offset %" PRId64 " to %s: %s",
			    c->topic, m->partition, m->offset, c->dlq_topic, rd_kafka_err2str(e));
			return -1;
		}
		rd_kafka_poll(c->dlq, 10); /* backpressure: serve deliveries, retry */
	}
}

size_t fo_consumer_lag_get(const fo_consumer *c, fo_consumer_lag *out, size_t max)
{
	size_t n = 0;
	for (int i = 0; i < FO_CONSUMER_MAX_PARTITIONS && n < max; i++)
		if (c->assigned[i] && c->lag_valid[i])
			out[n++] = c->lag[i];
	return n;
}

void fo_consumer_stats_get(const fo_consumer *c, fo_consumer_stats *st)
{
	*st = c->st;
}

int fo_consumer_close(fo_consumer *c, int timeout_ms, fo_consumer_stats *st, char *err,
                      size_t errsz)
{
	int rc = 0;
	err[0] = '\0';
	rd_kafka_resp_err_t e = rd_kafka_consumer_close(c->rk); /* the last revoke runs here */
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errsz, "leaving group on %s: %s", c->brokers, rd_kafka_err2str(e));
		rc = -1;
	}
	rd_kafka_flush(c->dlq, timeout_ms > 0 ? timeout_ms : 0);
	const int left = rd_kafka_outq_len(c->dlq);
	if (rc == 0 && (left > 0 || c->st.dlq_failed)) {
		if (left > 0)
			snprintf(err, errsz, "%d dead letters to %s still undelivered after %d ms",
			         left, c->dlq_topic, timeout_ms);
		else
			snprintf(err, errsz, "%" PRIu64 " dead letters failed; first: %s",
			         c->st.dlq_failed, c->dlq_error);
		rc = -1;
	}
	if (st)
		*st = c->st;
	fo_consumer_free(c);
	return rc;
}

int fo_consumer_brokers_up(const fo_consumer *c)
{
	return !atomic_load(&c->brokers_down);
}
