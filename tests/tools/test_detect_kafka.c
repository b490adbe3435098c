/*
 * Integration: fleetopsd detect against the real broker.
 *
 *  1. every scripted anomaly of a generated dataset, replayed into
 *     raw_telemetry, reaches the anomalies topic (one detect process);
 *  2. kill -9 of detect midway and a restart: every expected anomaly still
 *     arrives (duplicates allowed, with the same anomaly id);
 *  3. two detect processes in one group share the partitions and together
 *     find everything.
 * Each case uses a group of its own whose offsets start at the end of
 * raw_telemetry, and a replay session of its own, so the topics' history
 * does not matter. Needs KAFKA_BROKERS (./tools/fleetops test); exits 77
 * without it.
 */
#include "fo_test.h"
#include "uuid5.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *brokers, *bin, *src;
static char tmp[] = "/tmp/fo_detect_kafka_XXXXXX";

#define sh fo_test_sh

static rd_kafka_t *client(const char *group)
{
	char e[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof(e));
	rd_kafka_conf_set(c, "group.id", group, e, sizeof(e));
	rd_kafka_conf_set(c, "enable.auto.commit", "false", e, sizeof(e));
	return rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
}

/* End offsets of the partitions of topic. */
static int ends(const char *topic, int64_t *end, int n)
{
	rd_kafka_t *rk = client("fo-test-probe");
	for (int p = 0; p < n; p++) {
		int64_t lo, hi;
		if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000))
			return -1;
		end[p] = hi;
	}
	rd_kafka_destroy(rk);
	return 0;
}

/* Commits group's offsets on raw_telemetry at the topic's current end. */
static int start_group_at_end(const char *group)
{
	int64_t end[6];
	if (ends("raw_telemetry", end, 6) < 0)
		return -1;
	rd_kafka_t *rk = client(group);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(6);
	for (int p = 0; p < 6; p++)
		rd_kafka_topic_partition_list_add(l, "raw_telemetry", p)->offset = end[p];
	rd_kafka_resp_err_t e = rd_kafka_commit(rk, l, 0);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return e ? -1 : 0;
}

/* Anomalies produced since from[]: up to max (anomaly_id, event_id,
 * vehicle_id, anomaly_type) tuples as one "aid eid vid type" line each. */
static int read_anomalies(const int64_t *from, char **out, int max)
{
	rd_kafka_t *rk = client("fo-test-reader");
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(6);
	int64_t end[6];
	if (ends("anomalies", end, 6) < 0)
		return -1;
	int want = 0, got = 0, n = 0;
	for (int p = 0; p < 6; p++) {
		rd_kafka_topic_partition_list_add(l, "anomalies", p)->offset = from[p];
		want += (int)(end[p] - from[p]);
	}
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	time_t deadline = time(NULL) + 30;
	while (got < want && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (!m->err) {
			got++;
			cJSON *j = cJSON_ParseWithLength(m->payload, m->len);
			if (j && n < max) {
				char line[256];
				snprintf(line, sizeof(line), "%s %s %s %s",
				         cJSON_GetObjectItem(j, "anomaly_id")->valuestring,
				         cJSON_GetObjectItem(j, "event_id")->valuestring,
				         cJSON_GetObjectItem(j, "vehicle_id")->valuestring,
				         cJSON_GetObjectItem(j, "anomaly_type")->valuestring);
				out[n++] = strdup(line);
			}
			cJSON_Delete(j);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n;
}

typedef struct expect {
	char vid[64], type[32];
	char eids[24][40]; /* event ids of the frames where it may be found */
	int neids;
} expect;

/* The scripted anomalies of the dataset and their candidate event ids in
 * session `session` (frames frame_index .. detect_frame + 3). */
static int load_expected(const char *ds, const char *session, expect *ex, int max)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/scripted_anomalies.json", ds);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	static char buf[1 << 20];
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	cJSON *j = cJSON_Parse(buf), *a;
	fo_uuid ns;
	fo_uuid5(&ns, &fo_uuid_ns_fleetops, session, strlen(session));
	int n = 0;
	cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "anomalies"))
	{
		if (n == max)
			break;
		expect *e = &ex[n++];
		snprintf(e->vid, sizeof(e->vid), "%s",
		         cJSON_GetObjectItem(a, "vehicle_id")->valuestring);
		snprintf(e->type, sizeof(e->type), "%s",
		         cJSON_GetObjectItem(a, "expected_anomaly_type")->valuestring);
		int f0 = cJSON_GetObjectItem(a, "frame_index")->valueint;
		int f1 = cJSON_GetObjectItem(a, "detect_frame")->valueint + 3;
		e->neids = 0;
		for (int fr = f0; fr <= f1 && e->neids < 24; fr++) {
			char name[96];
			int k = snprintf(name, sizeof(name), "%s:%d", e->vid, fr);
			fo_uuid id;
			fo_uuid5(&id, &ns, name, (size_t)k);
			fo_uuid_format(&id, e->eids[e->neids++]);
		}
	}
	cJSON_Delete(j);
	return n;
}

/* Checks every expected anomaly against the lines read; returns misses. */
static int check_found(const char *what, const expect *ex, int nex, char **lines, int n)
{
	int missing = 0;
	for (int i = 0; i < nex; i++) {
		int hit = 0;
		for (int k = 0; k < n && !hit; k++)
			for (int e = 0; e < ex[i].neids && !hit; e++)
				hit = strstr(lines[k], ex[i].eids[e]) &&
				      strstr(lines[k], ex[i].vid) && strstr(lines[k], ex[i].type);
		if (!hit) {
			fprintf(stderr, "%s: no %s anomaly for %s\n", what, ex[i].type, ex[i].vid);
			missing++;
		}
	}
	return missing;
}

static pid_t spawn_detect(const char *group, const char *tag)
{
	pid_t pid = fork();
	if (pid == 0) {
		char th[4200], out[4300], log[4300];
		snprintf(th, sizeof(th), "%s/config/thresholds.json", src);
		snprintf(out, sizeof(out), "%s/%s.json", tmp, tag);
		snprintf(log, sizeof(log), "%s/%s.log", tmp, tag);
		freopen(out, "w", stdout);
		freopen(log, "w", stderr);
		char exe[4200];
		snprintf(exe, sizeof(exe), "%s/bin/fleetopsd", bin);
		execl(exe, "fleetopsd", "detect", "--brokers", brokers, "--group", group,
		      "--thresholds", th, "--idle-exit", "4", "--commit-interval", "0.2",
		      "--progress", "1",
		      /* a killed member leaves the group within seconds */
		      "-C", "session.timeout.ms=6000", "-C", "heartbeat.interval.ms=1000",
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int replay(const char *ds, const char *session, const char *speed)
{
	return sh("%s/bin/fleetopsd replay --dataset %s --speed %s --session-id %s --brokers %s "
	          "--progress 0 > %s/replay-%s.json 2> %s/replay-%s.log",
	          bin, ds, speed, session, brokers, tmp, session, tmp, session);
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
	char ds[4300];
	snprintf(ds, sizeof(ds), "%s/fleet.zarr", tmp);
	/* 6 scenes of the test preset's plans: 14 scripted anomalies, ~24k events */
	FO_CHECK(sh("%s/bin/fleetops-gen --preset test --scenes 6 --out %s -q", bin, ds) == 0);
	static expect ex[64];
	long stamp = (long)time(NULL) * 1000 + getpid() % 1000;
	char group[128], session[128];
	int64_t from[6];
	static char *lines[100000];

	/* 1. one detect process */
	snprintf(group, sizeof(group), "fo-test-detect-%ld-a", stamp);
	snprintf(session, sizeof(session), "detect-it-%ld-a", stamp);
	int nex = load_expected(ds, session, ex, 64);
	FO_CHECK(nex >= 10);
	FO_CHECK(start_group_at_end(group) == 0);
	FO_CHECK(ends("anomalies", from, 6) == 0);
	FO_CHECK(replay(ds, session, "max") == 0);
	FO_CHECK(wait_exit(spawn_detect(group, "a")) == 0);
	int n = read_anomalies(from, lines, 100000);
	FO_CHECK_MSG(check_found("one detect", ex, nex, lines, n) == 0, "see above");
	printf("one detect: %d scripted anomalies, %d anomalies read\n", nex, n);

	/* 2. kill -9 midway, restart */
	snprintf(group, sizeof(group), "fo-test-detect-%ld-b", stamp);
	snprintf(session, sizeof(session), "detect-it-%ld-b", stamp);
	nex = load_expected(ds, session, ex, 64);
	FO_CHECK(start_group_at_end(group) == 0);
	FO_CHECK(ends("anomalies", from, 6) == 0);
	pid_t d1 = spawn_detect(group, "b1");
	/* a paced replay (about 7 s) so the kill lands in the middle of it */
	pid_t rp = fork();
	if (rp == 0)
		_exit(replay(ds, session, "10") == 0 ? 0 : 1);
	sleep(3);
	kill(d1, SIGKILL);
	FO_CHECK(wait_exit(d1) == 128 + SIGKILL);
	FO_CHECK(wait_exit(rp) == 0);
	FO_CHECK(wait_exit(spawn_detect(group, "b2")) == 0); /* picks up after the last commit */
	n = read_anomalies(from, lines, 100000);
	FO_CHECK_MSG(check_found("kill -9 and restart", ex, nex, lines, n) == 0, "see above");
	printf("kill -9 and restart: %d scripted anomalies, %d anomalies read\n", nex, n);

	/* 3. two processes in one group */
	snprintf(group, sizeof(group), "fo-test-detect-%ld-c", stamp);
	snprintf(session, sizeof(session), "detect-it-%ld-c", stamp);
	nex = load_expected(ds, session, ex, 64);
	FO_CHECK(start_group_at_end(group) == 0);
	FO_CHECK(ends("anomalies", from, 6) == 0);
	pid_t c1 = spawn_detect(group, "c1"), c2 = spawn_detect(group, "c2");
	sleep(2); /* both join before the events arrive */
	FO_CHECK(replay(ds, session, "20") == 0);
	FO_CHECK(wait_exit(c1) == 0);
	FO_CHECK(wait_exit(c2) == 0);
	n = read_anomalies(from, lines, 100000);
	FO_CHECK_MSG(check_found("two detects", ex, nex, lines, n) == 0, "see above");
	/* both took part: each consumed something */
	for (int k = 1; k <= 2; k++) {
		char path[4400];
		snprintf(path, sizeof(path), "%s/c%d.json", tmp, k);
		FILE *f = fopen(path, "r");
		char sum[4096] = "";
		if (f) {
			size_t r = fread(sum, 1, sizeof(sum) - 1, f);
			sum[r] = '\0';
			fclose(f);
		}
		cJSON *j = cJSON_Parse(sum);
		double consumed = j ? cJSON_GetObjectItem(j, "consumed")->valuedouble : 0;
		FO_CHECK_MSG(consumed > 0, "detect process %d consumed nothing: %s", k, sum);
		cJSON_Delete(j);
	}
	printf("two detects: %d scripted anomalies, %d anomalies read\n", nex, n);

	if (!fo_test_failures)
		sh("rm -rf %s", tmp);
	else
		fprintf(stderr, "logs kept in %s\n", tmp);
	return fo_test_done("test_detect_kafka");
}
