/*
 * Unit: the Kafka consumer (io/consumer.c) against librdkafka's mock
 * cluster (no broker needed).
 *
 *   consume     600 keyed messages over 6 partitions arrive once each, with
 *               the partition and offset their producer was told
 *   commit      half of each partition committed; the lag statistics agree
 *   DLQ         a message sent to raw_telemetry.dlq with its key, bytes and
 *               fo-error / fo-topic / fo-partition / fo-offset headers; the
 *               on_dlq hook reports it with the caller's tag
 *   resume      offsets committed by the on_revoke hook while closing (as
 *               the pipeline does) are where the next consumer of the
 *               group starts, exactly
 *   pause       a paused partition delivers nothing until it is resumed
 *   rebalance   a second member joins: the first is revoked (hook) and the
 *               partitions end up split between the two, none twice
 *   errors      a missing topic and a bad setting are named
 */
#include "consumer.h"
#include "fo_test.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdint.h>
#include <time.h>

#define NMSG  600
#define NPART 6

static char bootstraps[256];
static int32_t sent_part[NMSG];
static int64_t sent_off[NMSG];

typedef struct hooks_log {
	fo_consumer *c; /* set: on_revoke commits commit_on_revoke */
	const fo_offsets_pos *commit_on_revoke;
	int revoke_commit_rc;
	int assigned[NPART];
	int assigns, revokes, last_revoke_n, lost;
	int commits_ok, commits_failed;
	uint64_t dlq_tag;
	int dlq_ok, dlq_calls;
} hooks_log;

static void on_assign(void *opaque, const int32_t *ps, size_t n)
{
	hooks_log *h = opaque;
	h->assigns++;
	for (size_t i = 0; i < n; i++)
		if (ps[i] >= 0 && ps[i] < NPART)
			h->assigned[ps[i]] = 1;
}

static void on_revoke(void *opaque, const int32_t *ps, size_t n, int lost)
{
	hooks_log *h = opaque;
	h->revokes++;
	h->last_revoke_n = (int)n;
	h->lost |= lost;
	for (size_t i = 0; i < n; i++)
		if (ps[i] >= 0 && ps[i] < NPART)
			h->assigned[ps[i]] = 0;
	if (h->c && h->commit_on_revoke) { /* what the pipeline does: commit while it owns them */
		char err[512];
		h->revoke_commit_rc =
		    fo_consumer_commit(h->c, h->commit_on_revoke, NPART, 1, err, sizeof(err));
		FO_CHECK_MSG(h->revoke_commit_rc == 0, "%s", err);
		h->commit_on_revoke = NULL;
	}
}

static void on_dlq(void *opaque, uint64_t tag, int ok)
{
	hooks_log *h = opaque;
	h->dlq_calls++;
	h->dlq_tag = tag;
	h->dlq_ok = ok;
}

static void on_commit(void *opaque, const fo_offsets_pos *pos, size_t n, const char *error)
{
	hooks_log *h = opaque;
	(void)pos;
	(void)n;
	if (error)
		h->commits_failed++;
	else
		h->commits_ok++;
}

static int count_assigned(const hooks_log *h)
{
	int n = 0;
	for (int i = 0; i < NPART; i++)
		n += h->assigned[i];
	return n;
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
	FO_CHECK(m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
	sent_part[i] = m->partition;
	sent_off[i] = m->offset;
}

static void produce_all(void)
{
	char e[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, e, sizeof(e));
	rd_kafka_conf_set(conf, "partitioner", "murmur2_random", e, sizeof(e));
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	FO_CHECK(p != NULL);
	for (int i = 0; i < NMSG; i++) {
		char key[32], val[64];
		int kl = snprintf(key, sizeof(key), "k%d", i);
		int vl = snprintf(val, sizeof(val), "{\"n\":%d}", i);
		rd_kafka_resp_err_t err = rd_kafka_producev(
		    p, RD_KAFKA_V_TOPIC("raw_telemetry"), RD_KAFKA_V_KEY(key, (size_t)kl),
		    RD_KAFKA_V_VALUE(val, (size_t)vl), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
		FO_CHECK(err == RD_KAFKA_RESP_ERR_NO_ERROR);
	}
	FO_CHECK(rd_kafka_flush(p, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}

/* n more messages, keyed "x<i>", straight to partition p. */
static void produce_extra(int32_t p, int n)
{
	char e[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, e, sizeof(e));
	rd_kafka_t *pr = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	for (int i = 0; i < n; i++) {
		char key[16];
		int kl = snprintf(key, sizeof(key), "x%d", i);
		FO_CHECK(rd_kafka_producev(pr, RD_KAFKA_V_TOPIC("raw_telemetry"),
		                           RD_KAFKA_V_PARTITION(p), RD_KAFKA_V_KEY(key, (size_t)kl),
		                           RD_KAFKA_V_VALUE("{}", 2),
		                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
	}
	FO_CHECK(rd_kafka_flush(pr, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(pr);
}

static fo_consumer *open_consumer(const char *group, hooks_log *h, const char *topic, char *err,
                                  size_t errsz)
{
	/* the mock group coordinator waits session.timeout.ms - 1 s for members
	 * to rejoin a rebalance (3 s for the first join, which a session must
	 * outlast): a short session keeps the test quick */
	static const char *props[] = {"session.timeout.ms=4000", "heartbeat.interval.ms=300",
	                              "fetch.wait.max.ms=50"};
	fo_consumer_conf conf = {
	    .brokers = bootstraps,
	    .group = group,
	    .topic = topic,
	    .client_id = "test_consumer",
	    .props = props,
	    .nprops = 3,
	    .stats_interval_ms = 100,
	    .hooks = {.opaque = h,
	              .on_assign = on_assign,
	              .on_revoke = on_revoke,
	              .on_dlq = on_dlq,
	              .on_commit = on_commit},
	};
	return fo_consumer_new(&conf, err, errsz);
}

/* Index of a message from its key "k<i>", or -1. */
static int index_of(const fo_consumer_msg *m)
{
	if (!m->key || m->key_len < 2 || m->key[0] != 'k')
		return -1;
	return atoi(m->key + 1) < NMSG ? atoi(m->key + 1) : -1;
}

/* Polls c until want messages arrived (or 30 s), counting each message;
 * the first message of each index is kept in keep (if not NULL) unless
 * already kept. Returns the number received. */
static int consume(fo_consumer *c, int *seen, int want, fo_consumer_msg *keep, int64_t *first_off)
{
	fo_consumer_msg msgs[64];
	char err[512];
	int got = 0;
	const double t0 = now_s();
	while (got < want && now_s() - t0 < 30) {
		int n = fo_consumer_poll(c, msgs, 64, 100, err, sizeof(err));
		FO_CHECK_MSG(n >= 0, "%s", err);
		for (int i = 0; i < n; i++) {
			int k = index_of(&msgs[i]);
			FO_CHECK(k >= 0);
			if (k < 0)
				continue;
			seen[k]++;
			got++;
			FO_CHECK(msgs[i].partition == sent_part[k] &&
			         msgs[i].offset == sent_off[k]);
			FO_CHECK(msgs[i].timestamp_ms > 0 && msgs[i].len > 5);
			int32_t p = msgs[i].partition;
			if (first_off && (first_off[p] < 0 || msgs[i].offset < first_off[p]))
				first_off[p] = msgs[i].offset;
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

/* Polls c for ms milliseconds; messages are unexpected unless some_ok
 * (they are released either way). Returns how many arrived. */
static int poll_for(fo_consumer *c, int ms, int some_ok)
{
	fo_consumer_msg msgs[16];
	char err[512];
	int got = 0;
	const double t0 = now_s();
	while (now_s() - t0 < ms / 1000.0) {
		int n = fo_consumer_poll(c, msgs, 16, 20, err, sizeof(err));
		FO_CHECK_MSG(n >= 0, "%s", err);
		FO_CHECK_MSG(n <= 0 || some_ok, "%d unexpected messages", n);
		if (n > 0) {
			fo_consumer_release(c, msgs, (size_t)n);
			got += n;
		}
	}
	return got;
}

static void idle(fo_consumer *c, int ms)
{
	poll_for(c, ms, 0);
}

static void read_dlq(const fo_consumer_msg *orig, const char *orig_key, const char *orig_val)
{
	char e[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, e, sizeof(e));
	rd_kafka_conf_set(conf, "group.id", "dlq-reader", e, sizeof(e));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, "raw_telemetry.dlq", 0)->offset =
	    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_message_t *m = NULL;
	const double t0 = now_s();
	while (!m && now_s() - t0 < 10) {
		m = rd_kafka_consumer_poll(rk, 100);
		if (m && m->err) {
			rd_kafka_message_destroy(m);
			m = NULL;
		}
	}
	FO_CHECK(m != NULL);
	if (m) {
		FO_CHECK(m->key_len == strlen(orig_key) &&
		         memcmp(m->key, orig_key, m->key_len) == 0);
		FO_CHECK(m->len == strlen(orig_val) && memcmp(m->payload, orig_val, m->len) == 0);
		rd_kafka_headers_t *h = NULL;
		FO_CHECK(rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR);
		const char *names[4] = {"fo-error", "fo-topic", "fo-partition", "fo-offset"};
		char want[4][128];
		snprintf(want[0], 128, "telemetry.velocity.x: expected a number");
		snprintf(want[1], 128, "raw_telemetry");
		snprintf(want[2], 128, "%d", (int)orig->partition);
		snprintf(want[3], 128, "%lld", (long long)orig->offset);
		for (int i = 0; h && i < 4; i++) {
			const void *v;
			size_t vl;
			FO_CHECK(rd_kafka_header_get_last(h, names[i], &v, &vl) ==
			         RD_KAFKA_RESP_ERR_NO_ERROR);
			FO_CHECK_MSG(vl == strlen(want[i]) && memcmp(v, want[i], vl) == 0,
			             "header %s = %.*s, want %s", names[i], (int)vl,
			             (const char *)v, want[i]);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

int main(void)
{
	char e[512], err[1024];
	/* a mock cluster of one broker, owned by a bare producer handle */
	rd_kafka_conf_t *mconf = rd_kafka_conf_new();
	rd_kafka_conf_set(mconf, "log_level", "3", e, sizeof(e));
	rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, e, sizeof(e));
	rd_kafka_mock_cluster_t *mc = mrk ? rd_kafka_mock_cluster_new(mrk, 1) : NULL;
	if (!mc)
		FO_SKIP("librdkafka's mock cluster is not available: %s", e);
	snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mc));
	FO_CHECK(rd_kafka_mock_topic_create(mc, "raw_telemetry", NPART, 1) == 0);
	FO_CHECK(rd_kafka_mock_topic_create(mc, "raw_telemetry.dlq", 1, 1) == 0);
	produce_all();
	int per_part[NPART] = {0};
	for (int i = 0; i < NMSG; i++)
		per_part[sent_part[i]]++;
	for (int p = 0; p < NPART; p++)
		FO_CHECK(per_part[p] > 0);

	/* errors: a missing topic, a bad setting */
	hooks_log h0 = {0};
	FO_CHECK(open_consumer("g", &h0, "no_such_topic", err, sizeof(err)) == NULL);
	FO_CHECK_MSG(strstr(err, "topic no_such_topic does not exist on") != NULL, "%s", err);
	static const char *bad[] = {"fetch.wait.max.ms=banana"};
	fo_consumer_conf bc = {.brokers = bootstraps, .props = bad, .nprops = 1};
	FO_CHECK(fo_consumer_new(&bc, err, sizeof(err)) == NULL);
	FO_CHECK_MSG(strstr(err, "consumer setting fetch.wait.max.ms") != NULL, "%s", err);

	/* consume everything once */
	hooks_log h1 = {0};
	fo_consumer *c = open_consumer("test-group", &h1, NULL, err, sizeof(err));
	FO_CHECK_MSG(c != NULL, "%s", err);
	if (!c)
		return fo_test_done("test_consumer");
	int seen[NMSG] = {0};
	fo_consumer_msg keep = {0};
	FO_CHECK(consume(c, seen, NMSG, &keep, NULL) == NMSG);
	for (int i = 0; i < NMSG; i++)
		FO_CHECK_MSG(seen[i] == 1, "message %d seen %d times", i, seen[i]);
	FO_CHECK(h1.assigns >= 1 && count_assigned(&h1) == NPART);
	idle(c, 300);

	/* commit half of every partition */
	fo_offsets_pos pos[NPART];
	for (int p = 0; p < NPART; p++) {
		pos[p].partition = p;
		pos[p].offset = per_part[p] / 2;
	}
	FO_CHECK_MSG(fo_consumer_commit(c, pos, NPART, 1, err, sizeof(err)) == 0, "%s", err);
	idle(c, 400); /* the commit hook and fresh statistics */
	FO_CHECK(h1.commits_ok >= 1 && h1.commits_failed == 0);
	fo_consumer_lag lag[NPART];
	size_t nl = fo_consumer_lag_get(c, lag, NPART);
	FO_CHECK_MSG(nl == NPART, "%zu partitions with lag", nl);
	for (size_t i = 0; i < nl; i++) {
		int p = lag[i].partition;
		FO_CHECK_MSG(lag[i].high == per_part[p] && lag[i].committed == per_part[p] / 2 &&
		                 lag[i].lag == per_part[p] - per_part[p] / 2 &&
		                 lag[i].position == per_part[p],
		             "partition %d: high %lld committed %lld lag %lld position %lld", p,
		             (long long)lag[i].high, (long long)lag[i].committed,
		             (long long)lag[i].lag, (long long)lag[i].position);
	}

	/* a dead letter, acknowledged through the hook with our tag */
	char orig_key[32], orig_val[64];
	snprintf(orig_key, sizeof(orig_key), "%.*s", (int)keep.key_len, keep.key);
	snprintf(orig_val, sizeof(orig_val), "%.*s", (int)keep.len, keep.value);
	fo_consumer_msg orig = keep;
	FO_CHECK(fo_consumer_dlq(c, &keep, "telemetry.velocity.x: expected a number", 777, err,
	                         sizeof(err)) == 0);
	fo_consumer_release(c, &keep, 1);
	const double t0 = now_s();
	while (!h1.dlq_calls && now_s() - t0 < 10)
		idle(c, 50);
	FO_CHECK(h1.dlq_calls == 1 && h1.dlq_ok == 1 && h1.dlq_tag == 777);

	/* closing revokes everything; the hook commits two thirds then */
	fo_offsets_pos resume[NPART];
	for (int p = 0; p < NPART; p++) {
		resume[p].partition = p;
		resume[p].offset = 2 * per_part[p] / 3;
	}
	h1.c = c;
	h1.commit_on_revoke = resume;
	h1.revoke_commit_rc = -1;
	fo_consumer_stats st;
	FO_CHECK_MSG(fo_consumer_close(c, 5000, &st, err, sizeof(err)) == 0, "%s", err);
	FO_CHECK(h1.revokes >= 1 && h1.last_revoke_n == NPART && !h1.lost);
	FO_CHECK(h1.revoke_commit_rc == 0);
	FO_CHECK(st.messages == NMSG && st.dlq_sent == 1 && st.dlq_delivered == 1);
	FO_CHECK(st.assigned == 0 && st.commits >= 1);
	read_dlq(&orig, orig_key, orig_val);

	/* the group resumes at the committed offsets */
	hooks_log h2 = {0};
	c = open_consumer("test-group", &h2, NULL, err, sizeof(err));
	FO_CHECK_MSG(c != NULL, "%s", err);
	memset(seen, 0, sizeof(seen));
	int64_t first[NPART];
	for (int p = 0; p < NPART; p++)
		first[p] = -1;
	int want = 0;
	for (int p = 0; p < NPART; p++)
		want += per_part[p] - (int)resume[p].offset;
	FO_CHECK(consume(c, seen, want, NULL, first) == want);
	idle(c, 300);
	for (int p = 0; p < NPART; p++)
		FO_CHECK_MSG(first[p] == resume[p].offset,
		             "partition %d resumed at %lld, want %lld", p, (long long)first[p],
		             (long long)resume[p].offset);
	for (int i = 0; i < NMSG; i++)
		FO_CHECK(seen[i] == (sent_off[i] >= resume[sent_part[i]].offset));

	/* pause: nothing more from partition 0 until it is resumed */
	FO_CHECK(fo_consumer_pause(c, 0, 1, err, sizeof(err)) == 0);
	produce_extra(0, 10);
	int extra = 0, other = 0;
	const double tp = now_s();
	while (now_s() - tp < 1.0) {
		fo_consumer_msg m[16];
		int n = fo_consumer_poll(c, m, 16, 50, err, sizeof(err));
		for (int i = 0; i < n; i++)
			*(m[i].partition == 0 ? &extra : &other) += 1;
		if (n > 0)
			fo_consumer_release(c, m, (size_t)n);
	}
	FO_CHECK_MSG(extra == 0 && other == 0, "%d + %d messages while paused", extra, other);
	FO_CHECK(fo_consumer_pause(c, 0, 0, err, sizeof(err)) == 0);
	const double tr = now_s();
	while (extra < 10 && now_s() - tr < 10) {
		fo_consumer_msg m[16];
		int n = fo_consumer_poll(c, m, 16, 50, err, sizeof(err));
		for (int i = 0; i < n; i++) {
			FO_CHECK(m[i].partition == 0 && m[i].key && m[i].key[0] == 'x');
			extra++;
		}
		if (n > 0)
			fo_consumer_release(c, m, (size_t)n);
	}
	FO_CHECK_MSG(extra == 10, "%d of 10 messages after resuming", extra);
	FO_CHECK(fo_consumer_pause(c, 99, 1, err, sizeof(err)) == -1);
	FO_CHECK_MSG(strstr(err, "cannot pause raw_telemetry [99]") != NULL, "%s", err);

	/* a second member joins: an eager rebalance splits the partitions, and
	 * both members read from the committed offsets again (the second half
	 * was never committed: at-least-once redelivers it) */
	hooks_log h3 = {0};
	fo_consumer *c2 = open_consumer("test-group", &h3, NULL, err, sizeof(err));
	FO_CHECK_MSG(c2 != NULL, "%s", err);
	const double t1 = now_s();
	int again = 0;
	while (c2 && now_s() - t1 < 30 &&
	       !(count_assigned(&h2) + count_assigned(&h3) == NPART && count_assigned(&h3) > 0 &&
	         count_assigned(&h2) > 0 && again >= want)) {
		again += poll_for(c, 20, 1);
		again += poll_for(c2, 20, 1);
	}
	/* each rebalance round (the join may take more than one) starts over */
	FO_CHECK_MSG(again >= want, "%d redelivered after the rebalance, want %d or more", again,
	             want);
	FO_CHECK_MSG(count_assigned(&h2) == NPART / 2 && count_assigned(&h3) == NPART / 2,
	             "split %d + %d", count_assigned(&h2), count_assigned(&h3));
	FO_CHECK(h2.revokes >= 1);
	for (int p = 0; p < NPART; p++)
		FO_CHECK(h2.assigned[p] + h3.assigned[p] == 1);
	if (c2)
		FO_CHECK(fo_consumer_close(c2, 5000, NULL, err, sizeof(err)) == 0);

	/* the broker goes away: brokers_up says so (what /health reports), and
	 * says it is back once the broker answers again */
	FO_CHECK(fo_consumer_brokers_up(c) == 1);
	rd_kafka_mock_broker_set_down(mc, 1);
	const double t2 = now_s();
	while (now_s() - t2 < 30 && fo_consumer_brokers_up(c))
		poll_for(c, 50, 1);
	FO_CHECK_MSG(!fo_consumer_brokers_up(c),
	             "brokers still up %.1f s after the broker went down", now_s() - t2);
	rd_kafka_mock_broker_set_up(mc, 1);
	const double t3 = now_s();
	while (now_s() - t3 < 30 && !fo_consumer_brokers_up(c))
		poll_for(c, 50, 1);
	FO_CHECK_MSG(fo_consumer_brokers_up(c), "brokers not up %.1f s after the broker came back",
	             now_s() - t3);
	FO_CHECK_MSG(fo_consumer_close(c, 5000, &st, err, sizeof(err)) == 0, "%s", err);
	printf("consume, commit, DLQ, resume, pause and rebalance through the mock cluster: %d "
	       "messages\n",
	       NMSG);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mrk);
	return fo_test_done("test_consumer");
}
