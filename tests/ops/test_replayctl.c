/*
 * replayctl against a fake fleetopsd: a shell script this test writes,
 * which answers `info --json` with three scenes and plays `run` the way a
 * control file (DIR/mode) says: ok (progress lines, summary, exit 0), fail
 * (an error line, exit 3), usage (a plain-text usage error, exit 2), slow
 * (progress every 0.1 s for 5 s; SIGTERM exits 130), deaf (ignores SIGTERM).
 * It records its arguments in DIR/argv-ID and its pid in DIR/pid-ID.
 *
 * Covers: the scenes cache and info failure/retry, 400s naming the field,
 * start/status/list, progress parsing, finished/failed with exit code and
 * error, stop (SIGTERM, and SIGKILL after the grace period), the 409 on a
 * concurrent start, 404s, a spawn that fails, the log file, destroy
 * stopping a running child, and how long request calls take.
 */
#include "fo_test.h"
#include "replayctl.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define sh fo_test_sh

static char dir[] = "/tmp/fo_replayctl_XXXXXX";
static char bin[256], logs[256];

static const char fake[] =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\")\n"
    "if [ \"$1\" = info ]; then\n"
    "  if [ -f \"$d/info_fail\" ]; then\n"
    "    echo '{\"ts\":\"t\",\"level\":\"error\",\"event_type\":\"dataset_error\","
    "\"msg\":\"x.zarr/.zgroup: No such file or directory\"}' >&2\n"
    "    exit 1\n"
    "  fi\n"
    "  echo '{\"dataset\":\"x\",\"io\":\"pread\",\"frames\":30,\"agents\":600,\"scenes\":["
    "{\"scene_index\":0,\"scene_id\":\"scene_000\",\"frames\":10,\"agents\":100,\"host\":\"h\"},"
    "{\"scene_index\":1,\"scene_id\":\"scene_001\",\"frames\":10,\"agents\":200,\"host\":\"h\"},"
    "{\"scene_index\":2,\"scene_id\":\"scene_002\",\"frames\":10,\"agents\":300,\"host\":\"h\"}"
    "]}'\n"
    "  exit 0\n"
    "fi\n"
    "sid=none; prev=\n"
    "for a in \"$@\"; do [ \"$prev\" = --session-id ] && sid=$a; prev=$a; done\n"
    "printf '%s\\n' \"$@\" > \"$d/argv-$sid\"\n"
    "echo $$ > \"$d/pid-$sid\"\n"
    "L='\"ts\":\"t\",\"service\":\"fleetopsd\",\"level\":\"info\"'\n"
    "echo \"{$L,\\\"event_type\\\":\\\"replay_start\\\",\\\"replay_session_id\\\":"
    "\\\"11111111-2222-5333-8444-555555555555\\\",\\\"scenes\\\":2,\\\"events\\\":320}\" >&2\n"
    "case $(cat \"$d/mode\") in\n"
    "ok)\n"
    "  echo \"{$L,\\\"event_type\\\":\\\"replay_progress\\\",\\\"events_read\\\":100,"
    "\\\"events_total\\\":320,\\\"percent\\\":31.2,\\\"scenes_read\\\":0}\" >&2\n"
    "  echo \"{$L,\\\"event_type\\\":\\\"pipeline_stats\\\",\\\"events\\\":90,"
    "\\\"events_per_s\\\":450.25}\" >&2\n"
    "  sleep 0.2\n"
    "  echo 'stage (latency, us)  count  p50' >&2\n"
    "  echo \"{\\\"role\\\":\\\"run\\\",\\\"status\\\":\\\"ok\\\",\\\"events\\\":320,"
    "\\\"anomalies\\\":4,\\\"events_per_s\\\":1600}\"\n"
    "  echo \"{$L,\\\"event_type\\\":\\\"replay_done\\\",\\\"events\\\":320,"
    "\\\"anomalies\\\":4,\\\"seconds\\\":0.2,\\\"events_per_s\\\":1600.04,"
    "\\\"interrupted\\\":false}\" >&2\n"
    "  exit 0;;\n"
    "fail)\n"
    "  echo '{\"ts\":\"t\",\"level\":\"error\",\"event_type\":\"sink_error\","
    "\"msg\":\"raw_telemetry: Local: Broker transport failure\"}' >&2\n"
    "  echo \"{$L,\\\"event_type\\\":\\\"replay_done\\\",\\\"events\\\":0}\" >&2\n"
    "  exit 3;;\n"
    "usage)\n"
    "  echo 'fleetopsd: --speed \"x\": expected 1, a number > 0, or max' >&2\n"
    "  exit 2;;\n"
    "slow)\n"
    "  trap 'echo \"{$L,\\\"event_type\\\":\\\"replay_done\\\",\\\"events\\\":77}\" >&2; exit "
    "130' TERM\n"
    "  i=0\n"
    "  while [ $i -lt 50 ]; do\n"
    "    i=$((i+1))\n"
    "    echo \"{$L,\\\"event_type\\\":\\\"pipeline_stats\\\",\\\"events\\\":$((i*10)),"
    "\\\"events_per_s\\\":100}\" >&2\n"
    "    sleep 0.1\n"
    "  done\n"
    "  exit 0;;\n"
    "deaf)\n"
    "  trap '' TERM\n"
    "  while :; do sleep 0.1; done;;\n"
    "esac\n"
    "exit 9\n";

static void set_mode(const char *m)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/mode", dir);
	FILE *f = fopen(p, "w");
	fprintf(f, "%s\n", m);
	fclose(f);
}

/* Calls a request, checks its status, returns the parsed body (caller
 * deletes). */
static cJSON *expect(int status, int got, char *body, size_t len, int line)
{
	if (got != status)
		fprintf(stderr, "line %d: status %d, expected %d: %.*s\n", line, got, status,
		        (int)len, body ? body : "");
	FO_CHECK(got == status);
	FO_CHECK(body && strlen(body) == len);
	cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
	FO_CHECK_MSG(cJSON_IsObject(j), "line %d: body %s", line, body ? body : "(null)");
	free(body);
	return j;
}

#define CALL(status, fn, ...)                                                                      \
	({                                                                                         \
		char *_b = NULL;                                                                   \
		size_t _l = 0;                                                                     \
		int _s = fn(__VA_ARGS__, &_b, &_l);                                                \
		expect(status, _s, _b, _l, __LINE__);                                              \
	})

static const char *str(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The error of a 400 names the field. */
static void check_400(fo_replayctl *rc, const char *scenes, const char *speed, const char *field)
{
	cJSON *j = CALL(400, fo_replayctl_start, rc, scenes, speed);
	const char *e = str(j, "error");
	FO_CHECK_MSG(e && strncmp(e, field, strlen(field)) == 0, "scenes=%s speed=%s: %s",
	             scenes ? scenes : "-", speed ? speed : "-", e ? e : "(none)");
	cJSON_Delete(j);
}

static void check_400_json(fo_replayctl *rc, const char *req, const char *field, int stop)
{
	cJSON *j = stop ? CALL(400, fo_replayctl_stop_json, rc, req, strlen(req))
	                : CALL(400, fo_replayctl_start_json, rc, req, strlen(req));
	const char *e = str(j, "error");
	FO_CHECK_MSG(e && strncmp(e, field, strlen(field)) == 0, "%s: %s", req, e ? e : "(none)");
	cJSON_Delete(j);
}

/* Polls replay id until it is no longer running (or was, and ended_at is
 * set), at most 10 s; returns its last Replay. */
static cJSON *wait_ended(fo_replayctl *rc, const char *id)
{
	for (int i = 0; i < 200; i++) {
		cJSON *j = CALL(200, fo_replayctl_status, rc, id);
		if (strcmp(str(j, "status"), "running") != 0 && str(j, "ended_at"))
			return j;
		cJSON_Delete(j);
		usleep(50000);
	}
	FO_CHECK_MSG(0, "replay %s did not end", id);
	return CALL(200, fo_replayctl_status, rc, id);
}

static int file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static pid_t child_pid(const char *id)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/pid-%s", dir, id);
	FILE *f = fopen(p, "r");
	int pid = 0;
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid;
}

static fo_replayctl *make(const char *dataset, double grace)
{
	static const char *extra[] = {"--workers", "1"};
	fo_replayctl_conf c = {.fleetopsd = bin,
	                       .dataset = dataset,
	                       .brokers = "127.0.0.1:1",
	                       .thresholds = "th.json",
	                       .extra_args = extra,
	                       .nextra = 2,
	                       .log_dir = logs,
	                       .stop_grace = grace};
	char err[512];
	fo_replayctl *rc = fo_replayctl_new(&c, err, sizeof(err));
	FO_CHECK_MSG(rc, "%s", err);
	return rc;
}

static void test_no_dataset(void)
{
	fo_replayctl *rc = make(NULL, 0);
	cJSON *j = CALL(200, fo_replayctl_scenes, rc);
	FO_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "dataset")));
	FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "scenes")) == 0);
	FO_CHECK(str(j, "message") && strstr(str(j, "message"), "no dataset"));
	cJSON_Delete(j);
	j = CALL(409, fo_replayctl_start, rc, "0", "1");
	FO_CHECK(strstr(str(j, "error"), "no dataset configured"));
	cJSON_Delete(j);
	FO_CHECK(fo_replayctl_wait_scenes(rc, 10) == -1);
	fo_replayctl_destroy(rc);

	fo_replayctl_conf c = {.fleetopsd = "/nonexistent/fleetopsd"};
	char err[512] = "";
	FO_CHECK(fo_replayctl_new(&c, err, sizeof(err)) == NULL);
	FO_CHECK_MSG(strstr(err, "/nonexistent/fleetopsd"), "%s", err);
}

static void test_info_failure_and_retry(void)
{
	sh("touch %s/info_fail", dir);
	fo_replayctl *rc = make("x.zarr", 0);
	FO_CHECK(fo_replayctl_wait_scenes(rc, 5000) == -1);
	cJSON *j = CALL(503, fo_replayctl_scenes, rc);
	FO_CHECK_MSG(strstr(str(j, "error"), ".zgroup: No such file"), "%s", str(j, "error"));
	cJSON_Delete(j);
	cJSON_Delete(CALL(503, fo_replayctl_start, rc, "0", "1"));
	sh("rm %s/info_fail", dir);
	/* retried at most every 2 s, on a request */
	usleep(2100000);
	cJSON_Delete(CALL(503, fo_replayctl_scenes, rc));
	FO_CHECK(fo_replayctl_wait_scenes(rc, 5000) == 1);
	j = CALL(200, fo_replayctl_scenes, rc);
	FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "scenes")) == 3);
	cJSON_Delete(j);
	fo_replayctl_destroy(rc);
}

static void test_validation(fo_replayctl *rc)
{
	cJSON *j = CALL(200, fo_replayctl_scenes, rc);
	FO_CHECK_STR(str(j, "dataset"), "x.zarr");
	cJSON *s2 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "scenes"), 2);
	FO_CHECK_STR(str(s2, "scene_id"), "scene_002");
	FO_CHECK(num(s2, "scene_index") == 2 && num(s2, "frames") == 10 &&
	         num(s2, "agents") == 300);
	cJSON_Delete(j);

	check_400(rc, "abc", "1", "scenes");
	check_400(rc, "0-3", "1", "scenes");
	check_400(rc, "3", "1", "scenes");
	check_400(rc, "2-1", "1", "scenes");
	check_400(rc, "", "1", "scenes");
	check_400(rc, "0,,1", "1", "scenes");
	check_400(rc, "0,", "1", "scenes");
	check_400(rc, "-1", "1", "scenes");
	check_400(rc, "1234567890", "1", "scenes");
	check_400(rc, "0", "0", "speed");
	check_400(rc, "0", "-2", "speed");
	check_400(rc, "0", "fast", "speed");
	check_400(rc, "0", "inf", "speed");
	check_400(rc, "0", "nan", "speed");
	check_400(rc, "0", "", "speed");
	check_400_json(rc, "not json", "body", 0);
	check_400_json(rc, "[1,2]", "body", 0);
	check_400_json(rc, "", "body", 0);
	check_400_json(rc, "{\"scenes\":3}", "scenes", 0);
	check_400_json(rc, "{\"scenes\":\"0\",\"speed\":true}", "speed", 0);
	check_400_json(rc, "{\"scenes\":\"0\",\"speed\":0}", "speed", 0);
	check_400_json(rc, "{\"scenes\":\"0\",\"speed\":\"slow\"}", "speed", 0);
	check_400_json(rc, "{}", "replay_id", 1);
	check_400_json(rc, "{\"replay_id\":5}", "replay_id", 1);
	check_400_json(rc, "nope", "body", 1);

	j = CALL(404, fo_replayctl_status, rc, "r-0-0");
	FO_CHECK(strstr(str(j, "error"), "r-0-0"));
	cJSON_Delete(j);
	cJSON_Delete(CALL(404, fo_replayctl_stop, rc, "r-0-0"));
	j = CALL(200, fo_replayctl_list, rc);
	FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "replays")) == 0);
	cJSON_Delete(j);
}

static void test_finished(fo_replayctl *rc, char *id, size_t idsz)
{
	set_mode("ok");
	const char *req = "{\"scenes\":\" 0-1 \",\"speed\":50,\"unknown\":1}";
	cJSON *j = CALL(202, fo_replayctl_start_json, rc, req, strlen(req));
	snprintf(id, idsz, "%s", str(j, "replay_id") ? str(j, "replay_id") : "");
	FO_CHECK(strncmp(id, "r-", 2) == 0);
	FO_CHECK_STR(str(j, "status"), "running");
	FO_CHECK_STR(str(j, "scenes"), "0-1");
	FO_CHECK(num(j, "speed") == 50);
	FO_CHECK(num(j, "events_total") == 320); /* (10 + 100) + (10 + 200) */
	FO_CHECK(str(j, "started_at") && strlen(str(j, "started_at")) == FO_ISO8601_LEN);
	FO_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "ended_at")));
	FO_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "exit_code")));
	cJSON_Delete(j);

	/* one at a time: a second start names the running replay */
	j = CALL(409, fo_replayctl_start, rc, "2", "max");
	FO_CHECK_STR(str(j, "replay_id"), id);
	FO_CHECK(str(j, "error") && strstr(str(j, "error"), id));
	cJSON_Delete(j);

	j = wait_ended(rc, id);
	FO_CHECK_STR(str(j, "status"), "finished");
	FO_CHECK(num(j, "exit_code") == 0);
	FO_CHECK(num(j, "events") == 320);
	FO_CHECK(num(j, "events_per_s") == 1600);
	FO_CHECK(num(j, "anomalies") == 4);
	FO_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "error")));
	FO_CHECK_STR(str(j, "replay_session_id"), "11111111-2222-5333-8444-555555555555");
	FO_CHECK(str(j, "ended_at") && strcmp(str(j, "ended_at"), str(j, "started_at")) >= 0);
	const char *log = str(j, "log");
	FO_CHECK(log && strstr(log, id));
	FO_CHECK(log && file_has(log, "\"replay_command\""));
	FO_CHECK(log && file_has(log, "stage (latency, us)"));
	FO_CHECK(log && file_has(log, "\"replay_exit\""));
	cJSON_Delete(j);

	char argv[300];
	snprintf(argv, sizeof(argv), "%s/argv-%s", dir, id);
	FO_CHECK(file_has(argv, "run\n--dataset\nx.zarr\n--scenes\n0-1\n--speed\n50\n"));
	FO_CHECK(file_has(argv, "--sink\nkafka\n"));
	char want[128];
	snprintf(want, sizeof(want), "--session-id\n%s\n", id);
	FO_CHECK(file_has(argv, want));
	FO_CHECK(file_has(argv, "--brokers\n127.0.0.1:1\n"));
	FO_CHECK(file_has(argv, "--thresholds\nth.json\n"));
	FO_CHECK(file_has(argv, "--workers\n1\n"));
}

static void test_failed(fo_replayctl *rc)
{
	set_mode("fail");
	cJSON *j = CALL(202, fo_replayctl_start, rc, NULL, "max");
	FO_CHECK_STR(str(j, "scenes"), "0-2");
	FO_CHECK_STR(str(j, "speed"), "max");
	FO_CHECK(num(j, "events_total") == 630);
	char id[64];
	snprintf(id, sizeof(id), "%s", str(j, "replay_id"));
	cJSON_Delete(j);
	j = wait_ended(rc, id);
	FO_CHECK_STR(str(j, "status"), "failed");
	FO_CHECK(num(j, "exit_code") == 3);
	FO_CHECK_STR(str(j, "error"), "raw_telemetry: Local: Broker transport failure");
	cJSON_Delete(j);

	set_mode("usage");
	j = CALL(202, fo_replayctl_start, rc, "1", "2.5");
	FO_CHECK(num(j, "speed") == 2.5);
	snprintf(id, sizeof(id), "%s", str(j, "replay_id"));
	cJSON_Delete(j);
	j = wait_ended(rc, id);
	FO_CHECK_STR(str(j, "status"), "failed");
	FO_CHECK(num(j, "exit_code") == 2);
	FO_CHECK(str(j, "error") && strstr(str(j, "error"), "fleetopsd: --speed"));
	cJSON_Delete(j);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_stop(fo_replayctl *rc)
{
	set_mode("slow");
	cJSON *j = CALL(202, fo_replayctl_start, rc, "2", "1");
	char id[64];
	snprintf(id, sizeof(id), "%s", str(j, "replay_id"));
	cJSON_Delete(j);
	/* progress while running */
	double events = 0;
	for (int i = 0; i < 100 && events <= 0; i++) {
		usleep(30000);
		j = CALL(200, fo_replayctl_status, rc, id);
		events = num(j, "events");
		FO_CHECK_STR(str(j, "status"), "running");
		cJSON_Delete(j);
	}
	FO_CHECK_MSG(events > 0, "no progress while running");

	/* request calls return quickly, also while a child writes: p99 under a
	 * millisecond (the worst one is reported; a VM may deschedule us) */
	enum { N = 2000 };
	static int64_t dts[N];
	for (int i = 0; i < N; i++) {
		char *b;
		size_t l;
		int64_t t0 = fo_time_mono_ns();
		int s = i % 2 ? fo_replayctl_status(rc, id, &b, &l) : fo_replayctl_list(rc, &b, &l);
		dts[i] = fo_time_mono_ns() - t0;
		FO_CHECK(s == 200);
		free(b);
	}
	qsort(dts, N, sizeof(dts[0]), cmp_i64);
	printf("request calls (status/list, %d): p50 %.1f us, p99 %.1f us, max %.1f us\n", N,
	       (double)dts[N / 2] / 1e3, (double)dts[N * 99 / 100] / 1e3, (double)dts[N - 1] / 1e3);
	FO_CHECK_MSG(dts[N * 99 / 100] < 1000000, "p99 %.0f us", (double)dts[N * 99 / 100] / 1e3);

	j = CALL(200, fo_replayctl_stop, rc, id);
	FO_CHECK_STR(str(j, "status"), "stopped");
	cJSON_Delete(j);
	/* a new start right after a stop is allowed */
	set_mode("ok");
	j = CALL(202, fo_replayctl_start, rc, "0", "max");
	char id2[64];
	snprintf(id2, sizeof(id2), "%s", str(j, "replay_id"));
	cJSON_Delete(j);
	j = wait_ended(rc, id);
	FO_CHECK_STR(str(j, "status"), "stopped");
	FO_CHECK(num(j, "exit_code") == 130);
	FO_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "error")));
	FO_CHECK(num(j, "events") == 77);
	cJSON_Delete(j);
	/* stopping again is fine; stopping a finished one is a 409 */
	cJSON_Delete(CALL(200, fo_replayctl_stop, rc, id));
	cJSON_Delete(wait_ended(rc, id2));
	j = CALL(409, fo_replayctl_stop, rc, id2);
	FO_CHECK(strstr(str(j, "error"), "finished"));
	cJSON_Delete(j);

	/* list: newest first */
	j = CALL(200, fo_replayctl_list, rc);
	cJSON *a = cJSON_GetObjectItem(j, "replays");
	FO_CHECK(cJSON_GetArraySize(a) == 5);
	FO_CHECK_STR(str(cJSON_GetArrayItem(a, 0), "replay_id"), id2);
	FO_CHECK_STR(str(cJSON_GetArrayItem(a, 1), "replay_id"), id);
	cJSON_Delete(j);

	fo_replayctl_stats st;
	fo_replayctl_stats_get(rc, &st);
	FO_CHECK(st.running == 0 && st.started == 5 && st.finished == 2 && st.failed == 2 &&
	         st.stopped == 1);
}

/* SIGTERM ignored: SIGKILL after the grace period; destroy stops a running
 * replay; a binary gone at start is a failed replay. */
static void test_kill_and_destroy(void)
{
	fo_replayctl *rc = make("x.zarr", 0.3);
	set_mode("deaf");
	cJSON *j = CALL(202, fo_replayctl_start, rc, "0", "1");
	char id[64];
	snprintf(id, sizeof(id), "%s", str(j, "replay_id"));
	cJSON_Delete(j);
	usleep(300000);
	int64_t t0 = fo_time_mono_ns();
	cJSON_Delete(CALL(200, fo_replayctl_stop, rc, id));
	j = wait_ended(rc, id);
	double took = (double)(fo_time_mono_ns() - t0) / 1e9;
	FO_CHECK_STR(str(j, "status"), "stopped");
	FO_CHECK(num(j, "exit_code") == 128 + SIGKILL);
	FO_CHECK_MSG(took >= 0.3 && took < 3, "stop took %.2f s", took);
	cJSON_Delete(j);

	set_mode("slow");
	j = CALL(202, fo_replayctl_start, rc, "0", "1");
	snprintf(id, sizeof(id), "%s", str(j, "replay_id"));
	cJSON_Delete(j);
	pid_t pid = 0;
	for (int i = 0; i < 100 && !(pid = child_pid(id)); i++)
		usleep(20000);
	FO_CHECK(pid > 0);
	fo_replayctl_destroy(rc);
	FO_CHECK(pid > 0 && kill(pid, 0) < 0 && errno == ESRCH);

	rc = make("x.zarr", 0);
	chmod(bin, 0644);
	j = CALL(202, fo_replayctl_start, rc, "0", "1");
	snprintf(id, sizeof(id), "%s", str(j, "replay_id"));
	cJSON_Delete(j);
	j = wait_ended(rc, id);
	FO_CHECK_STR(str(j, "status"), "failed");
	FO_CHECK_MSG(str(j, "error") && strstr(str(j, "error"), "cannot start"), "%s",
	             str(j, "error"));
	cJSON_Delete(j);
	chmod(bin, 0755);
	fo_replayctl_destroy(rc);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(bin, sizeof(bin), "%s/fleetopsd", dir);
	snprintf(logs, sizeof(logs), "%s/logs/replays", dir);
	FILE *f = fopen(bin, "w");
	fputs(fake, f);
	fclose(f);
	chmod(bin, 0755);
	set_mode("ok");

	test_no_dataset();
	test_info_failure_and_retry();
	fo_replayctl *rc = make("x.zarr", 0);
	FO_CHECK(fo_replayctl_wait_scenes(rc, 0) == 1); /* new waited for info */
	test_validation(rc);
	char id[64];
	test_finished(rc, id, sizeof(id));
	test_failed(rc);
	test_stop(rc);
	fo_replayctl_destroy(rc);
	test_kill_and_destroy();

	if (!fo_test_failures)
		sh("rm -rf %s", dir);
	else
		fprintf(stderr, "kept %s\n", dir);
	return fo_test_done("test_replayctl");
}
