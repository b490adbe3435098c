/*
 * Integration: the Kafka consumer (io/consumer.c) against the real broker.
 *
 * Produces 1,200 messages with a key prefix of its own to raw_telemetry,
 * then in a fresh consumer group (started at the current end of every
 * partition, so other data in the topic is not read):
 *   - consumes them, each once, at the partition and offset the producer
 *     was told, every partition starting at the group's offset;
 *   - commits half of each partition, checks the lag figures, closes;
 *   - reopens the group and checks that every partition resumes exactly
 *     at its committed offset;
 *   - sends one message to raw_telemetry.dlq and reads it back: same key
 *     and bytes, headers fo-error, fo-topic, fo-partition, fo-offset.
 * Other producers may write to raw_telemetry meanwhile: their messages are
 * consumed and ignored. A fleetopsd detect running at the same time in
 * anomaly-service-group will dead-letter this test's messages (they are not
 * telemetry), so the DLQ copy is recognised by its key and its reason.
 * Needs KAFKA_BROKERS (set by ./tools/fleetops test);
 * exits 77 without it.
 */
#include "consumer.h"
#include "fo_test.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define NMSG  1200
#define NPART 6
#define TOPIC "raw_telemetry"

static const char *brokers;
static char prefix[64];
static int32_t sent_part[NMSG];
static int64_t sent_off[NMSG];

typedef struct hooks_log {
	int assigned, revokes, lost, dlq_ok, dlq_calls;
	uint64_t dlq_tag;
} hooks_log;

static void on_assign(void *opaque, const int32_t *ps, size_t n)
{
	(void)ps;
	((hooks_log *)opaque)->assigned += (int)n;
}

static void on_revoke(void *opaque, const int32_t *ps, size_t n, int lost)
{
	(void)ps;
	hooks_log *h = opaque;
	h->revokes++;
	h->assigned -= (int)n;
	h->lost |= lost;
}

static void on_dlq(void *opaque, uint64_t tag, int ok)
{
	hooks_log *h = opaque;
	h->dlq_calls++;
	h->dlq_tag = tag;
	h->dlq_ok = ok;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	int i = (int)(intptr_t)m->_private;
	FO_CHECK_MSG(m->err == RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(m->err));
	sent_part[i] = m->partition;
	sent_off[i] = m->offset;
}

static rd_kafka_t *plain(rd_kafka_type_t type, const char *group)
{
	char e[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", brokers, e, sizeof(e));
	rd_kafka_conf_set(conf, "log_level", "3", e, sizeof(e));
	if (group) {
		rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e));
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
	}
	if (type == RD_KAFKA_PRODUCER) {
		rd_kafka_conf_set(conf, "partitioner", "murmur2_random", e, sizeof(e));
		rd_kafka_conf_set(conf, "enable.idempotence", "true", e, sizeof(e));
		rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, e, sizeof(e));
	FO_CHECK_MSG(rk != NULL, "%s", e);
	return rk;
}

/* Index of one of our messages from its key "<prefix>-<i>", or -1. */
static int index_of(const fo_consumer_msg *m)
{
	size_t pl = strlen(prefix);
	if (!m->key || m->key_len <= pl + 1 || memcmp(m->key, prefix, pl) != 0 || m->key[pl] != '-')
		return -1;
	char num[16];
	size_t nl = m->key_len - pl - 1 < 15 ? m->key_len - pl - 1 : 15;
	memcpy(num, m->key + pl + 1, nl);
	num[nl] = '\0';
	int i = atoi(num);
	return i >= 0 && i < NMSG ? i : -1;
}

static fo_consumer *open_group(const char *group, hooks_log *h)
{
	char err[1024];
	fo_consumer_conf conf = {
	    .brokers = brokers,
	    .group = group,
	    .client_id = "test_consumer_kafka",
	    .stats_interval_ms = 200,
	    .hooks = {.opaque = h,
	              .on_assign = on_assign,
	              .on_revoke = on_revoke,
	              .on_dlq = on_dlq},
	};
	fo_consumer *c = fo_consumer_new(&conf, err, sizeof(err));
	FO_CHECK_MSG(c != NULL, "%s", err);
	return c;
}

/* Consumes until want of our messages arrived (60 s at most). seen counts
 * ours; first[p] records the first offset seen on each partition, ours or
 * not; keep (if not NULL) receives one of ours, unreleased. */
static int consume(fo_consumer *c, int *seen, int want, int64_t *first, fo_consumer_msg *keep)
{
	fo_consumer_msg msgs[256];
	char err[1024];
	int got = 0;
	const double t0 = now_s();
	while (got < want && now_s() - t0 < 60) {
		int n = fo_consumer_poll(c, msgs, 256, 200, err, sizeof(err));
		FO_CHECK_MSG(n >= 0, "%s", err);
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			const int32_t p = msgs[i].partition;
			if (p >= 0 && p < NPART && first[p] < 0)
				first[p] = msgs[i].offset;
			int k = index_of(&msgs[i]);
			if (k < 0)
				continue; /* someone else's message */
			seen[k]++;
			got++;
			FO_CHECK(p == sent_part[k] && msgs[i].offset == sent_off[k]);
			if (keep && !keep->_rkm) {
				*keep = msgs[i];
				msgs[i]._rkm = NULL;
			}
		}
		for (int i = 0; i < n; i++)
			if (msgs[i]._rkm)
				fo_consumer_release(c, &msgs[i], 1);
	}
	return got;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	brokers = getenv("KAFKA_BROKERS");
	if (!brokers || !*brokers)
		FO_SKIP("KAFKA_BROKERS not set (./tools/fleetops test starts the broker)");
	char err[1024], group[96];
	snprintf(prefix, sizeof(prefix), "fo-test-consumer-%d-%ld", (int)getpid(),
	         (long)time(NULL));
	snprintf(group, sizeof(group), "%s-group", prefix);

	/* where every partition (and the DLQ) ends now */
	rd_kafka_t *prod = plain(RD_KAFKA_PRODUCER, NULL);
	int64_t end0[NPART], lo, hi, dlq_end;
	for (int p = 0; p < NPART; p++) {
		rd_kafka_resp_err_t e =
		    rd_kafka_query_watermark_offsets(prod, TOPIC, p, &lo, &hi, 10000);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
			FO_SKIP("cannot query %s on %s: %s", TOPIC, brokers, rd_kafka_err2str(e));
		end0[p] = hi;
	}
	FO_CHECK(rd_kafka_query_watermark_offsets(prod, TOPIC ".dlq", 0, &lo, &dlq_end, 10000) ==
	         RD_KAFKA_RESP_ERR_NO_ERROR);

	/* the fresh group starts there: commit those offsets before it joins */
	rd_kafka_t *init = plain(RD_KAFKA_CONSUMER, group);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
	for (int p = 0; p < NPART; p++)
		rd_kafka_topic_partition_list_add(l, TOPIC, p)->offset = end0[p];
	rd_kafka_resp_err_t ce = rd_kafka_commit(init, l, 0);
	FO_CHECK_MSG(ce == RD_KAFKA_RESP_ERR_NO_ERROR, "initial commit: %s", rd_kafka_err2str(ce));
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(init);
	rd_kafka_destroy(init);

	for (int i = 0; i < NMSG; i++) {
		char key[96], val[128];
		int kl = snprintf(key, sizeof(key), "%s-%d", prefix, i);
		int vl = snprintf(val, sizeof(val), "{\"test\":\"consumer\",\"n\":%d}", i);
		FO_CHECK(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(TOPIC),
		                           RD_KAFKA_V_KEY(key, (size_t)kl),
		                           RD_KAFKA_V_VALUE(val, (size_t)vl),
		                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                           RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
		                           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
	}
	FO_CHECK(rd_kafka_flush(prod, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(prod);

	/* 1. everything once, from the group's offsets */
	hooks_log h1 = {0};
	fo_consumer *c = open_group(group, &h1);
	if (!c)
		return fo_test_done("test_consumer_kafka");
	static int seen[NMSG];
	int64_t first[NPART];
	for (int p = 0; p < NPART; p++)
		first[p] = -1;
	fo_consumer_msg keep = {0};
	const double t0 = now_s();
	FO_CHECK(consume(c, seen, NMSG, first, &keep) == NMSG);
	printf("consumed %d messages in %.2f s (group join included)\n", NMSG, now_s() - t0);
	for (int i = 0; i < NMSG; i++)
		FO_CHECK_MSG(seen[i] == 1, "message %d seen %d times", i, seen[i]);
	for (int p = 0; p < NPART; p++)
		FO_CHECK_MSG(first[p] == end0[p], "partition %d started at %lld, group offset %lld",
		             p, (long long)first[p], (long long)end0[p]);
	FO_CHECK(h1.assigned == NPART);

	/* 2. commit half of our messages in every partition */
	fo_offsets_pos pos[NPART];
	int expect_again = 0;
	for (int p = 0; p < NPART; p++) {
		int64_t offs[NMSG];
		int n = 0;
		for (int i = 0; i < NMSG; i++)
			if (sent_part[i] == p)
				offs[n++] = sent_off[i];
		FO_CHECK(n > 0);
		qsort(offs, (size_t)n, sizeof(offs[0]), cmp_i64);
		pos[p].partition = p;
		pos[p].offset = n ? offs[n / 2] : end0[p];
		expect_again += n - n / 2;
	}
	FO_CHECK_MSG(fo_consumer_commit(c, pos, NPART, 1, err, sizeof(err)) == 0, "%s", err);
	/* lag: from the statistics, once they have seen the commit */
	fo_consumer_lag lag[NPART];
	size_t nl = 0;
	int lag_ok = 0;
	const double t1 = now_s();
	while (!lag_ok && now_s() - t1 < 10) {
		fo_consumer_msg tmp[64];
		int n = fo_consumer_poll(c, tmp, 64, 100, err, sizeof(err));
		if (n > 0)
			fo_consumer_release(c, tmp, (size_t)n);
		nl = fo_consumer_lag_get(c, lag, NPART);
		lag_ok = nl == NPART;
		for (size_t i = 0; i < nl; i++)
			lag_ok &= lag[i].committed == pos[lag[i].partition].offset;
	}
	FO_CHECK_MSG(lag_ok, "lag statistics for %zu partitions", nl);
	for (size_t i = 0; lag_ok && i < nl; i++) {
		int p = lag[i].partition;
		FO_CHECK(lag[i].high >= pos[p].offset && lag[i].lag == lag[i].high - pos[p].offset);
		FO_CHECK(lag[i].lag > 0 && lag[i].position >= pos[p].offset);
	}

	/* 3. a dead letter */
	char dkey[96], dval[128];
	snprintf(dkey, sizeof(dkey), "%.*s", (int)keep.key_len, keep.key);
	snprintf(dval, sizeof(dval), "%.*s", (int)keep.len, keep.value);
	const int32_t dpart = keep.partition;
	const int64_t doff = keep.offset;
	char reason[160];
	snprintf(reason, sizeof(reason), "event_time: not ISO-8601 (%s)", prefix);
	FO_CHECK(fo_consumer_dlq(c, &keep, reason, 4242, err, sizeof(err)) == 0);
	fo_consumer_release(c, &keep, 1);
	const double t2 = now_s();
	while (!h1.dlq_calls && now_s() - t2 < 20) {
		fo_consumer_msg tmp[64];
		int n = fo_consumer_poll(c, tmp, 64, 100, err, sizeof(err));
		if (n > 0)
			fo_consumer_release(c, tmp, (size_t)n);
	}
	FO_CHECK(h1.dlq_calls == 1 && h1.dlq_ok && h1.dlq_tag == 4242);

	fo_consumer_stats st;
	FO_CHECK_MSG(fo_consumer_close(c, 10000, &st, err, sizeof(err)) == 0, "%s", err);
	FO_CHECK(h1.revokes >= 1 && h1.assigned == 0 && !h1.lost);
	FO_CHECK(st.dlq_delivered == 1 && st.commits >= 1 && st.commit_failures == 0);

	/* 4. the group resumes at the committed offsets */
	hooks_log h2 = {0};
	c = open_group(group, &h2);
	memset(seen, 0, sizeof(seen));
	for (int p = 0; p < NPART; p++)
		first[p] = -1;
	FO_CHECK(consume(c, seen, expect_again, first, NULL) == expect_again);
	for (int p = 0; p < NPART; p++)
		FO_CHECK_MSG(first[p] == pos[p].offset,
		             "partition %d resumed at %lld, committed %lld", p, (long long)first[p],
		             (long long)pos[p].offset);
	for (int i = 0; i < NMSG; i++)
		FO_CHECK_MSG(seen[i] == (sent_off[i] >= pos[sent_part[i]].offset),
		             "message %d (partition %d offset %lld) seen %d times", i,
		             (int)sent_part[i], (long long)sent_off[i], seen[i]);
	FO_CHECK(fo_consumer_close(c, 10000, NULL, err, sizeof(err)) == 0);

	/* 5. the dead letter, read back with its headers */
	rd_kafka_t *rd = plain(RD_KAFKA_CONSUMER, group);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, TOPIC ".dlq", 0)->offset = dlq_end;
	rd_kafka_assign(rd, l);
	rd_kafka_topic_partition_list_destroy(l);
	int found = 0;
	const double t3 = now_s();
	while (!found && now_s() - t3 < 20) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rd, 200);
		if (!m)
			continue;
		rd_kafka_headers_t *hd = NULL;
		const void *why = NULL;
		size_t wl = 0;
		if (!m->err && m->key_len == strlen(dkey) &&
		    memcmp(m->key, dkey, m->key_len) == 0 &&
		    rd_kafka_message_headers(m, &hd) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    rd_kafka_header_get_last(hd, "fo-error", &why, &wl) ==
		        RD_KAFKA_RESP_ERR_NO_ERROR &&
		    wl == strlen(reason) && memcmp(why, reason, wl) == 0) {
			found = 1;
			FO_CHECK(m->len == strlen(dval) && memcmp(m->payload, dval, m->len) == 0);
			char want[3][64];
			const char *names[3] = {"fo-topic", "fo-partition", "fo-offset"};
			snprintf(want[0], 64, "%s", TOPIC);
			snprintf(want[1], 64, "%d", (int)dpart);
			snprintf(want[2], 64, "%lld", (long long)doff);
			for (int i = 0; i < 3; i++) {
				const void *v = NULL;
				size_t vl = 0;
				rd_kafka_header_get_last(hd, names[i], &v, &vl);
				FO_CHECK_MSG(v && vl == strlen(want[i]) &&
				                 memcmp(v, want[i], vl) == 0,
				             "header %s = %.*s, want %s", names[i], (int)vl,
				             v ? (const char *)v : "", want[i]);
			}
		}
		rd_kafka_message_destroy(m);
	}
	FO_CHECK_MSG(found, "the dead letter did not reach %s.dlq", TOPIC);
	rd_kafka_consumer_close(rd);
	rd_kafka_destroy(rd);
	return fo_test_done("test_consumer_kafka");
}
