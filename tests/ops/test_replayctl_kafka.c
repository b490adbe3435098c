/*
 * Integration: replayctl driving the real fleetopsd (FO_BINARY_DIR/bin) on a
 * generated dataset (fleetops-gen --preset test: 3 scenes, 6,796 events)
 * with --sink kafka to the real broker (KAFKA_BROKERS; exits 77 without).
 *
 *  1. the scenes come from `fleetopsd info --json`;
 *  2. a replay of every scene at max speed finishes with exit code 0 and
 *     the expected event count, and raw_telemetry holds exactly those
 *     events under the replay's session id (uuid5 of the replay id);
 *  3. a replay at real time is stopped midway: SIGTERM, exit 130, status
 *     "stopped", fewer events than the scene holds.
 * Other producers may write the same topics meanwhile: events are told
 * apart by metadata.replay_session_id.
 */
#include "fo_test.h"
#include "replayctl.h"
#include "uuid5.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <time.h>
#include <unistd.h>

#define sh fo_test_sh

static const char *brokers, *bin, *src;
static char tmp[] = "/tmp/fo_replayctl_kafka_XXXXXX";

static rd_kafka_t *consumer(void)
{
	char e[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof(e));
	rd_kafka_conf_set(c, "group.id", "fo-test-replayctl-reader", e, sizeof(e));
	rd_kafka_conf_set(c, "enable.auto.commit", "false", e, sizeof(e));
	return rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
}

/* End offsets of raw_telemetry's 6 partitions. */
static int ends(int64_t *end)
{
	rd_kafka_t *rk = consumer();
	int rc = 0;
	for (int p = 0; p < 6 && rc == 0; p++) {
		int64_t lo;
		rc = rd_kafka_query_watermark_offsets(rk, "raw_telemetry", p, &lo, &end[p], 10000)
		         ? -1
		         : 0;
	}
	rd_kafka_destroy(rk);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* raw_telemetry events from from[] to the current end whose session is
 * `session`: counts them in *total and their distinct event ids. */
static long count_session(const int64_t *from, const char *session, long *total)
{
	int64_t end[6];
	if (ends(end) < 0)
		return -1;
	rd_kafka_t *rk = consumer();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(6);
	long want = 0, got = 0, n = 0, cap = 1024;
	char **ids = malloc((size_t)cap * sizeof(*ids));
	for (int p = 0; p < 6; p++) {
		rd_kafka_topic_partition_list_add(l, "raw_telemetry", p)->offset = from[p];
		want += (long)(end[p] - from[p]);
	}
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	*total = 0;
	time_t deadline = time(NULL) + 60;
	while (got < want && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (!m->err) {
			got++;
			cJSON *j = cJSON_ParseWithLength(m->payload, m->len);
			const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(md, "replay_session_id");
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "event_id");
			if (cJSON_IsString(s) && strcmp(s->valuestring, session) == 0 &&
			    cJSON_IsString(id)) {
				(*total)++;
				if (n == cap)
					ids = realloc(ids, (size_t)(cap *= 2) * sizeof(*ids));
				ids[n++] = strdup(id->valuestring);
			}
			cJSON_Delete(j);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	qsort(ids, (size_t)n, sizeof(*ids), cmp_str);
	long distinct = 0;
	for (long i = 0; i < n; i++)
		distinct += i == 0 || strcmp(ids[i], ids[i - 1]) != 0;
	for (long i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return got < want ? -1 : distinct;
}

static cJSON *call_status(fo_replayctl *rc, const char *id)
{
	char *b = NULL;
	size_t l;
	int s = fo_replayctl_status(rc, id, &b, &l);
	FO_CHECK(s == 200);
	cJSON *j = cJSON_Parse(b);
	free(b);
	return j;
}

static const char *str(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Waits (at most secs) until replay id has ended; returns its Replay. */
static cJSON *wait_ended(fo_replayctl *rc, const char *id, int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		cJSON *j = call_status(rc, id);
		if (strcmp(str(j, "status"), "running") != 0 && *str(j, "ended_at"))
			return j;
		cJSON_Delete(j);
		usleep(100000);
	}
	FO_CHECK_MSG(0, "replay %s did not end within %d s", id, secs);
	return call_status(rc, id);
}

int main(void)
{
	brokers = getenv("KAFKA_BROKERS");
	bin = getenv("FO_BINARY_DIR");
	src = getenv("FO_SOURCE_DIR");
	if (!brokers || !*brokers)
		FO_SKIP("KAFKA_BROKERS not set: no real broker (./tools/fleetops test starts one)");
	if (!bin || !src)
		FO_SKIP("FO_BINARY_DIR/FO_SOURCE_DIR not set (run through ctest)");
	if (!mkdtemp(tmp))
		return 1;
	char ds[4300], exe[4300], th[4300], logs[4300];
	snprintf(ds, sizeof(ds), "%s/fleet.zarr", tmp);
	snprintf(exe, sizeof(exe), "%s/bin/fleetopsd", bin);
	snprintf(th, sizeof(th), "%s/config/thresholds.json", src);
	snprintf(logs, sizeof(logs), "%s/logs", tmp);
	FO_CHECK(sh("%s/bin/fleetops-gen --preset test --out %s -q", bin, ds) == 0);

	fo_replayctl_conf conf = {
	    .fleetopsd = exe, .dataset = ds, .brokers = brokers, .thresholds = th, .log_dir = logs};
	char err[512];
	fo_replayctl *rc = fo_replayctl_new(&conf, err, sizeof(err));
	FO_CHECK_MSG(rc, "%s", err);
	if (!rc)
		return fo_test_done("test_replayctl_kafka");

	/* 1. scenes */
	FO_CHECK(fo_replayctl_wait_scenes(rc, 0) == 1);
	char *b;
	size_t l;
	FO_CHECK(fo_replayctl_scenes(rc, &b, &l) == 200);
	cJSON *j = cJSON_Parse(b);
	free(b);
	cJSON *scenes = cJSON_GetObjectItem(j, "scenes");
	FO_CHECK(cJSON_GetArraySize(scenes) == 3);
	double events_all = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, scenes) events_all += num(s, "frames") + num(s, "agents");
	FO_CHECK_MSG(events_all == 6796, "scenes hold %.0f events", events_all);
	FO_CHECK_STR(str(cJSON_GetArrayItem(scenes, 1), "scene_id"), "scene_001");
	cJSON_Delete(j);

	/* 2. all scenes at max speed */
	int64_t from[6];
	FO_CHECK(ends(from) == 0);
	const char *req = "{\"scenes\":\"0-2\",\"speed\":\"max\"}";
	FO_CHECK(fo_replayctl_start_json(rc, req, strlen(req), &b, &l) == 202);
	j = cJSON_Parse(b);
	free(b);
	char id[64];
	snprintf(id, sizeof(id), "%s", str(j, "replay_id"));
	FO_CHECK(num(j, "events_total") == 6796);
	cJSON_Delete(j);
	j = wait_ended(rc, id, 120);
	FO_CHECK_STR(str(j, "status"), "finished");
	FO_CHECK(num(j, "exit_code") == 0);
	FO_CHECK_MSG(num(j, "events") == 6796, "events %.0f", num(j, "events"));
	FO_CHECK(num(j, "events_per_s") > 0);
	FO_CHECK(num(j, "anomalies") >= 1);
	fo_uuid u;
	char want[FO_UUID_STR_LEN + 1];
	fo_uuid5(&u, &fo_uuid_ns_fleetops, id, strlen(id));
	fo_uuid_format(&u, want);
	FO_CHECK_STR(str(j, "replay_session_id"), want);
	printf("replay %s: %.0f events at %.0f events/s, %.0f anomalies\n", id, num(j, "events"),
	       num(j, "events_per_s"), num(j, "anomalies"));
	cJSON_Delete(j);
	long total = 0, distinct = count_session(from, want, &total);
	FO_CHECK_MSG(distinct == 6796,
	             "raw_telemetry: %ld distinct events of session %s (%ld in all)", distinct,
	             want, total);
	printf("raw_telemetry: %ld distinct events of the replay's session (%ld messages)\n",
	       distinct, total);

	/* 3. stop a real-time replay midway (scene 0: 120 frames = 12 s) */
	FO_CHECK(fo_replayctl_start(rc, "0", "1", &b, &l) == 202);
	j = cJSON_Parse(b);
	free(b);
	snprintf(id, sizeof(id), "%s", str(j, "replay_id"));
	cJSON_Delete(j);
	double events = 0;
	for (int i = 0; i < 100 && events <= 0; i++) {
		usleep(100000);
		j = call_status(rc, id);
		events = num(j, "events");
		cJSON_Delete(j);
	}
	FO_CHECK_MSG(events > 0, "no progress from the running replay");
	FO_CHECK(fo_replayctl_stop(rc, id, &b, &l) == 200);
	free(b);
	j = wait_ended(rc, id, 30);
	FO_CHECK_STR(str(j, "status"), "stopped");
	FO_CHECK_MSG(num(j, "exit_code") == 130, "exit_code %.0f", num(j, "exit_code"));
	FO_CHECK(num(j, "events") > 0 && num(j, "events") < 2280);
	printf("stopped replay %s after %.0f of 2280 events\n", id, num(j, "events"));
	cJSON_Delete(j);

	fo_replayctl_destroy(rc);
	if (!fo_test_failures)
		sh("rm -rf %s", tmp);
	else
		fprintf(stderr, "kept %s\n", tmp);
	return fo_test_done("test_replayctl_kafka");
}
