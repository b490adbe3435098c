/*
 * Unit: the sinks (io/sink*.c). null and ndjson count and write every event;
 * the Kafka backend delivers through librdkafka's mock cluster (unit tier:
 * no real broker) and reports an unreachable broker, a bad setting and an
 * unknown sink by name.
 */
#include "fo_test.h"
#include "sink.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static int emit_n(fo_sink *s, fo_topic t, int n)
{
	char err[512], val[64];
	for (int i = 0; i < n; i++) {
		int len = snprintf(val, sizeof(val), "{\"n\":%d}", i);
		if (fo_sink_emit(s, t, "scene_000_track_1", 17, val, (size_t)len, 0, err,
		                 sizeof(err)) < 0) {
			fprintf(stderr, "emit %d: %s\n", i, err);
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	char err[1024];
	fo_sink_stats st;
	const unsigned both =
	    FO_TOPIC_BIT(FO_TOPIC_RAW_TELEMETRY) | FO_TOPIC_BIT(FO_TOPIC_ANOMALIES);

	/* null: counts, discards */
	fo_sink *s = fo_sink_new(&(fo_sink_conf){.spec = "null", .topics = both}, err, sizeof(err));
	FO_CHECK(s && emit_n(s, FO_TOPIC_RAW_TELEMETRY, 1000) == 0);
	FO_CHECK(fo_sink_close(s, 0, &st, err, sizeof(err)) == 0);
	FO_CHECK(st.emitted[FO_TOPIC_RAW_TELEMETRY] == 1000 &&
	         st.delivered[FO_TOPIC_RAW_TELEMETRY] == 1000);

	/* ndjson: one line per event, a file per produced topic, empty if none */
	char tmp[] = "/tmp/fo_sink_XXXXXX", spec[128], path[256];
	FO_CHECK(mkdtemp(tmp) != NULL);
	snprintf(spec, sizeof(spec), "ndjson:%s/out", tmp);
	s = fo_sink_new(&(fo_sink_conf){.spec = spec, .topics = both}, err, sizeof(err));
	FO_CHECK(s && emit_n(s, FO_TOPIC_RAW_TELEMETRY, 3) == 0);
	FO_CHECK(fo_sink_close(s, 0, &st, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/out/raw_telemetry.ndjson", tmp);
	FILE *f = fopen(path, "r");
	char buf[256] = "";
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	FO_CHECK_STR(buf, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
	struct stat sb;
	snprintf(path, sizeof(path), "%s/out/anomalies.ndjson", tmp);
	FO_CHECK(stat(path, &sb) == 0 && sb.st_size == 0);

	/* ndjson into a directory that cannot be created */
	s = fo_sink_new(&(fo_sink_conf){.spec = "ndjson:/proc/fleetops/x", .topics = both}, err,
	                sizeof(err));
	FO_CHECK(s == NULL && strstr(err, "/proc/fleetops/x") != NULL);

	/* unknown sink, bad Kafka setting */
	s = fo_sink_new(&(fo_sink_conf){.spec = "s3:bucket", .topics = both}, err, sizeof(err));
	FO_CHECK(s == NULL && strstr(err, "expected null, ndjson:DIR or kafka") != NULL);
	const char *bad[] = {"linger.ms=banana"};
	s = fo_sink_new(&(fo_sink_conf){.spec = "kafka", .topics = both, .props = bad, .nprops = 1},
	                err, sizeof(err));
	FO_CHECK_MSG(s == NULL && strstr(err, "linger.ms") != NULL, "%s", err);

	/* Kafka through the mock cluster: every event acknowledged */
	const char *mock[] = {"test.mock.num.brokers=1"};
	s = fo_sink_new(
	    &(fo_sink_conf){.spec = "kafka", .topics = both, .props = mock, .nprops = 1}, err,
	    sizeof(err));
	FO_CHECK_MSG(s != NULL, "%s", err);
	if (s) {
		FO_CHECK(emit_n(s, FO_TOPIC_RAW_TELEMETRY, 20000) == 0);
		FO_CHECK(emit_n(s, FO_TOPIC_ANOMALIES, 10) == 0);
		/* a topic the role does not produce is refused, not sent */
		FO_CHECK(fo_sink_emit(s, FO_TOPIC_OPERATOR_ACTIONS, "k", 1, "{}", 2, 0, err,
		                      sizeof(err)) == -1);
		int rc = fo_sink_close(s, 30000, &st, err, sizeof(err));
		/* the refused event counts as emitted and not delivered */
		FO_CHECK_MSG(rc == -1 && strstr(err, "operator_actions"), "rc %d: %s", rc, err);
		FO_CHECK(st.delivered[FO_TOPIC_RAW_TELEMETRY] == 20000);
		FO_CHECK(st.delivered[FO_TOPIC_ANOMALIES] == 10);
	}

	/* an unreachable broker is a clear error within the 10 s connect limit */
	s = fo_sink_new(&(fo_sink_conf){.spec = "kafka", .topics = both, .brokers = "127.0.0.1:1"},
	                err, sizeof(err));
	FO_CHECK(s == NULL);
	FO_CHECK_MSG(strstr(err, "cannot reach Kafka at 127.0.0.1:1") != NULL, "%s", err);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	FO_CHECK(system(cmd) == 0);
	return fo_test_done("test_sink");
}
