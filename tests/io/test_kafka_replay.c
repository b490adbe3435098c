/*
 * Integration: fleetopsd replay into the real Kafka broker, then every event
 * read back from raw_telemetry: the right count, unique event ids, key =
 * vehicle_id, and the partition Kafka's Java clients would choose for that
 * key (murmur2, 6 partitions), identical to the ndjson output of the same
 * session. Needs KAFKA_BROKERS (set by ./tools/fleetops test); exits 77
 * without it.
 */
#include "fo_test.h"
#include "l5kit_fixture.h"
#include "uuid5.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <time.h>

#define NPART 6

/* Kafka's Utils.murmur2 (seed 0x9747b28c), as the Java default partitioner. */
static int32_t murmur2(const uint8_t *data, int len)
{
	const uint32_t m = 0x5bd1e995;
	const int r = 24;
	uint32_t h = 0x9747b28c ^ (uint32_t)len;
	int len4 = len / 4;
	for (int i = 0; i < len4; i++) {
		int i4 = i * 4;
		uint32_t k = (uint32_t)data[i4] | (uint32_t)data[i4 + 1] << 8 |
		             (uint32_t)data[i4 + 2] << 16 | (uint32_t)data[i4 + 3] << 24;
		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len % 4) {
	case 3: h ^= (uint32_t)data[(len & ~3) + 2] << 16; /* fallthrough */
	case 2: h ^= (uint32_t)data[(len & ~3) + 1] << 8;  /* fallthrough */
	case 1: h ^= data[len & ~3]; h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)h;
}

static int count_lines(const char *path, char ***ids_out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	static char line[4096];
	int n = 0, cap = 1024;
	char **ids = malloc(sizeof(char *) * (size_t)cap);
	while (fgets(line, sizeof(line), f)) {
		cJSON *j = cJSON_Parse(line);
		if (!j)
			continue;
		if (n == cap)
			ids = realloc(ids, sizeof(char *) * (size_t)(cap *= 2));
		ids[n++] = strdup(cJSON_GetObjectItem(j, "event_id")->valuestring);
		cJSON_Delete(j);
	}
	fclose(f);
	*ids_out = ids;
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	const char *brokers = getenv("KAFKA_BROKERS");
	const char *bin = getenv("FO_BINARY_DIR");
	if (!brokers || !*brokers)
		FO_SKIP("KAFKA_BROKERS not set: no real broker (./tools/fleetops test starts one)");
	if (!bin)
		FO_SKIP("FO_BINARY_DIR not set (run through ctest)");

	char tmp[] = "/tmp/fo_kafka_replay_XXXXXX";
	if (!mkdtemp(tmp))
		return 1;
	char real[4200], dataset[4300];
	if (fo_test_real_scene(real, sizeof(real))) {
		snprintf(dataset, sizeof(dataset), "%s", real);
	} else {
		printf("note: ../shared not found; replaying a generated fixture instead\n");
		snprintf(dataset, sizeof(dataset), "%s/fx.zarr", tmp);
		fx_frame fr[50];
		for (int i = 0; i < 50; i++) {
			fr[i] = (fx_frame){.ts = 1000000000LL + i * 100000000LL, .nagents = 8};
			for (int k = 0; k < 8; k++)
				fr[i].agents[k] =
				    (fx_agent){k * 5.0 + i, 0, 0, 1, 0, (uint64_t)k + 1, 0.9f};
		}
		int bounds[3] = {0, 25, 50};
		FO_CHECK(fx_write_dataset(dataset, fr, 50, bounds, 2, 100) == 0);
	}

	/* a session id of our own, so only this run's events are counted */
	char session[64];
	snprintf(session, sizeof(session), "kafka-it-%ld-%d", (long)time(NULL), (int)getpid());
	fo_uuid su;
	fo_uuid5(&su, &fo_uuid_ns_fleetops, session, strlen(session));
	char session_uuid[FO_UUID_STR_LEN + 1];
	fo_uuid_format(&su, session_uuid);

	/* where each partition ends before we produce */
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "group.id", "fleetops-test-kafka-replay", errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	FO_CHECK(rk != NULL);
	int64_t start[NPART];
	for (int p = 0; p < NPART; p++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t e =
		    rd_kafka_query_watermark_offsets(rk, "raw_telemetry", p, &lo, &hi, 10000);
		FO_CHECK_MSG(e == 0, "watermarks of raw_telemetry [%d]: %s", p,
		             rd_kafka_err2str(e));
		start[p] = hi;
	}

	int st = fx_sh("%s/bin/fleetopsd replay --dataset %s --speed max --sink kafka --brokers %s "
	               "--session-id %s --progress 0 > %s/summary.json",
	               bin, dataset, brokers, session, tmp);
	FO_CHECK_MSG(st == 0, "fleetopsd replay into %s exited %d", brokers, st);
	st = fx_sh("%s/bin/fleetopsd replay --dataset %s --speed max --sink ndjson:%s/nd "
	           "--session-id %s --progress 0 > /dev/null",
	           bin, dataset, tmp, session);
	FO_CHECK(st == 0);
	char ndpath[4400];
	snprintf(ndpath, sizeof(ndpath), "%s/nd/raw_telemetry.ndjson", tmp);
	char **want_ids = NULL;
	int want = count_lines(ndpath, &want_ids);
	FO_CHECK(want > 0);

	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(NPART);
	for (int p = 0; p < NPART; p++)
		rd_kafka_topic_partition_list_add(parts, "raw_telemetry", p)->offset = start[p];
	FO_CHECK(rd_kafka_assign(rk, parts) == 0);
	rd_kafka_topic_partition_list_destroy(parts);

	char **got_ids = malloc(sizeof(char *) * (size_t)(want > 0 ? want : 1) * 2);
	int got = 0, bad_key = 0, bad_part = 0, per_part[NPART] = {0};
	time_t deadline = time(NULL) + 60;
	while (got < want && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		cJSON *j = cJSON_ParseWithLength(m->payload, m->len);
		const cJSON *md = j ? cJSON_GetObjectItem(j, "metadata") : NULL;
		const cJSON *sid = md ? cJSON_GetObjectItem(md, "replay_session_id") : NULL;
		if (!cJSON_IsString(sid) || strcmp(sid->valuestring, session_uuid) != 0) {
			cJSON_Delete(j); /* another producer's event */
			rd_kafka_message_destroy(m);
			continue;
		}
		const cJSON *vid = j ? cJSON_GetObjectItem(j, "vehicle_id") : NULL;
		const cJSON *eid = j ? cJSON_GetObjectItem(j, "event_id") : NULL;
		FO_CHECK_MSG(j && vid && eid, "unparseable message at partition %d offset %lld",
		             (int)m->partition, (long long)m->offset);
		if (j && vid && eid) {
			if (got < want * 2)
				got_ids[got++] = strdup(eid->valuestring);
			if (!m->key || m->key_len != strlen(vid->valuestring) ||
			    memcmp(m->key, vid->valuestring, m->key_len) != 0)
				bad_key++;
			int expect_p = (murmur2(m->key, (int)m->key_len) & 0x7fffffff) % NPART;
			if (expect_p != m->partition)
				bad_part++;
			per_part[m->partition]++;
		}
		cJSON_Delete(j);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);

	FO_CHECK_MSG(got == want, "read back %d events from raw_telemetry, produced %d", got, want);
	FO_CHECK_MSG(bad_key == 0, "%d messages whose key is not their vehicle_id", bad_key);
	FO_CHECK_MSG(bad_part == 0, "%d messages not on murmur2(key) %% 6", bad_part);
	int used = 0;
	for (int p = 0; p < NPART; p++)
		used += per_part[p] > 0;
	FO_CHECK_MSG(used == NPART, "events spread over %d of 6 partitions", used);
	/* the same event ids as the ndjson run of the same session */
	if (got == want) {
		qsort(got_ids, (size_t)got, sizeof(char *), cmp_str);
		qsort(want_ids, (size_t)want, sizeof(char *), cmp_str);
		for (int i = 0; i < got; i++) {
			if (strcmp(got_ids[i], want_ids[i]) != 0) {
				FO_CHECK_MSG(0, "event ids differ from the ndjson run at %d", i);
				break;
			}
			if (i && strcmp(got_ids[i], got_ids[i - 1]) == 0) {
				FO_CHECK_MSG(0, "duplicate event id %s", got_ids[i]);
				break;
			}
		}
	}
	printf("read back %d of %d events over %d partitions\n", got, want, used);
	fx_sh("rm -rf %s", tmp);
	return fo_test_done("test_kafka_replay");
}
