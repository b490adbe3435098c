/*
 * Integration: the fleet view (ops/fleet.h) against the real broker and a
 * throwaway PostgreSQL database.
 *
 *  1. at start the map is seeded from the vehicles table (state, position,
 *     open alerts) before any telemetry arrives;
 *  2. RawTelemetryEvents produced to a test topic of this run reach the
 *     emit callback as vehicle_updated with the right positions within a
 *     second or so (the time is printed); a message that is not an event is
 *     counted, not applied; stats messages come once a second;
 *  3. the vehicles table gets the last positions in a few batched upserts,
 *     and `state` is never written (a set_state in memory stays there);
 *  4. PostgreSQL away (connections refused, the fleet's backend killed):
 *     positions keep flowing to the emit callback, postgres_ok drops, and
 *     once the database is back it gets the latest positions;
 *  5. a restart with the same group seeds the last positions from the table
 *     and, the offsets having been committed, reads nothing again.
 * Needs KAFKA_BROKERS and PG_DSN (./tools/fleetops test); exits 77 without.
 */
#include "pg_fixture.h"

#include "db.h"
#include "event.h"
#include "fleet.h"
#include "log.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <time.h>

#define NVEH 3
static const char *vids[NVEH] = {"scene_900_track_1", "scene_900_track_2", "scene_900_ego"};
static const uint64_t tracks[NVEH] = {1, 2, FO_TRACK_EGO};

static const char *brokers;
static char topic[96], group[96];
static fo_replay_meta meta;

/* What the emit callback saw, under mu. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	long frame;
	double x;
	char state[32];
} seen[NVEH + 1];
static int stats_msgs, stats_ok;

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double x_of(int v, int frame)
{
	return 100.0 * v + 1.5 * frame;
}

static void on_emit(void *arg, const char *json, size_t len)
{
	(void)arg;
	cJSON *j = cJSON_ParseWithLength(json, len);
	if (!j) {
		fprintf(stderr, "emitted JSON does not parse: %.200s\n", json);
		exit(1);
	}
	const char *type = cJSON_GetObjectItemCaseSensitive(j, "type")->valuestring;
	pthread_mutex_lock(&mu);
	if (strcmp(type, "stats") == 0) {
		stats_msgs++;
		stats_ok = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "events_per_s")) &&
		           cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "latency_p99_ms")) &&
		           cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "vehicles"));
	} else {
		const cJSON *v;
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "vehicles"))
		{
			const char *id =
			    cJSON_GetObjectItemCaseSensitive(v, "vehicle_id")->valuestring;
			for (int i = 0; i < NVEH + 1; i++) {
				if (i < NVEH ? strcmp(id, vids[i]) != 0
				             : strcmp(id, "seeded_vehicle") != 0)
					continue;
				const cJSON *fr =
				    cJSON_GetObjectItemCaseSensitive(v, "frame_index");
				seen[i].frame = cJSON_IsNumber(fr) ? fr->valueint : -1;
				const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, "x");
				seen[i].x = cJSON_IsNumber(x) ? x->valuedouble : NAN;
				snprintf(seen[i].state, sizeof(seen[i].state), "%s",
				         cJSON_GetObjectItemCaseSensitive(v, "state")->valuestring);
			}
		}
	}
	pthread_mutex_unlock(&mu);
	cJSON_Delete(j);
}

static rd_kafka_t *producer(void)
{
	char e[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof(e));
	rd_kafka_conf_set(c, "log_level", "3", e, sizeof(e));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
	if (!rk) {
		fprintf(stderr, "rd_kafka_new: %s\n", e);
		exit(1);
	}
	return rk;
}

/* Creates (create = 1) or deletes the test topic. */
static int topic_admin(int create)
{
	rd_kafka_t *rk = producer();
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	char e[512];
	int rc = -1;
	if (create) {
		rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 3, 1, e, sizeof(e));
		rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
		rd_kafka_NewTopic_destroy(nt);
	} else {
		rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
		rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
		rd_kafka_DeleteTopic_destroy(dt);
	}
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	if (ev && !rd_kafka_event_error(ev)) {
		size_t n = 0;
		const rd_kafka_topic_result_t **r =
		    create ? rd_kafka_CreateTopics_result_topics(
		                 rd_kafka_event_CreateTopics_result(ev), &n)
		           : rd_kafka_DeleteTopics_result_topics(
		                 rd_kafka_event_DeleteTopics_result(ev), &n);
		rc = n == 1 && rd_kafka_topic_result_error(r[0]) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0
		                                                                               : -1;
		if (rc)
			fprintf(stderr, "topic %s: %s\n", topic,
			        n ? rd_kafka_err2str(rd_kafka_topic_result_error(r[0]))
			          : "no result");
	} else {
		fprintf(stderr, "topic admin: %s\n",
		        ev ? rd_kafka_event_error_string(ev) : "timeout");
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

/* Frames [from, to) of every test vehicle, and (bad) one non-event. */
static void produce(int from, int to, int bad)
{
	rd_kafka_t *rk = producer();
	char proc[FO_ISO8601_LEN + 1];
	fo_time_iso8601(fo_time_wall_ns(), proc);
	for (int fr = from; fr < to; fr++)
		for (int v = 0; v < NVEH; v++) {
			fo_telemetry t = {0};
			t.scene = 900;
			t.track = tracks[v];
			t.frame = (uint32_t)fr;
			t.ts_ns = 1571846881500000000LL + (int64_t)fr * 100000000LL;
			t.pos[0] = x_of(v, fr);
			t.pos[1] = -50.0;
			t.vel[0] = 15.0;
			t.vel_mag = 15.0;
			t.yaw = 0.5;
			t.label_probability = 1.0;
			t.track_length = (uint32_t)fr + 1;
			t.frame_agents = t.track == FO_TRACK_EGO ? 2 : FO_AGENTS_UNKNOWN;
			char buf[FO_EVENT_MAX];
			fo_event_out eo;
			size_t n =
			    fo_event_encode_telemetry(&t, &meta, proc, buf, sizeof(buf), &eo);
			FO_CHECK(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
			                           RD_KAFKA_V_KEY(eo.key, eo.key_len),
			                           RD_KAFKA_V_VALUE(buf, n),
			                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			                           RD_KAFKA_V_END) == 0);
		}
	if (bad) {
		const char *junk = "{\"vehicle_id\": \"scene_900_track_1\"";
		rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
		                  RD_KAFKA_V_VALUE((void *)junk, strlen(junk)),
		                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	}
	FO_CHECK(rd_kafka_flush(rk, 30000) == 0);
	rd_kafka_destroy(rk);
}

/* Waits up to ms for every test vehicle to be emitted at frame; returns
 * the milliseconds it took, or -1. */
static long wait_emitted(int frame, int ms)
{
	int64_t t0 = fo_time_mono_ns();
	for (;;) {
		int ok = 1;
		pthread_mutex_lock(&mu);
		for (int v = 0; v < NVEH; v++)
			ok &= seen[v].frame == frame && seen[v].x == x_of(v, frame);
		pthread_mutex_unlock(&mu);
		long el = (long)((fo_time_mono_ns() - t0) / 1000000);
		if (ok)
			return el;
		if (el > ms)
			return -1;
		nap_ms(10);
	}
}

/* Waits up to ms for the table to hold frame for every test vehicle. */
static int wait_table(PGconn *pg, int frame, int ms)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM vehicles WHERE vehicle_id LIKE 'scene_900_%%' "
	         "AND last_frame_index = %d",
	         frame);
	for (int t = 0; t <= ms; t += 50) {
		if (fo_pg_num(pg, sql) == NVEH)
			return 0;
		nap_ms(50);
	}
	return -1;
}

static fo_fleet *start(char *err, size_t errsz)
{
	/* a fresh topic of this run: read it from its start */
	static const char *props[] = {"auto.offset.reset=earliest"};
	fo_fleet_conf c = {
	    .brokers = brokers,
	    .group = group,
	    .topic = topic,
	    .dsn = fo_pg_dsn,
	    .props = props,
	    .nprops = 1,
	    .db_flush_ms = 300,
	    .emit = on_emit,
	};
	return fo_fleet_start(&c, err, errsz);
}

int main(void)
{
	brokers = getenv("KAFKA_BROKERS");
	if (!brokers || !*brokers)
		FO_SKIP("KAFKA_BROKERS not set (run through ./tools/fleetops test)");
	fo_log_init("test_fleet_kafka");
	fo_pg_create();
	fo_uuid s;
	fo_uuid5(&s, &fo_uuid_ns_fleetops, "test_fleet_kafka", 16);
	fo_replay_meta_init(&meta, &s, 50.0);
	snprintf(topic, sizeof(topic), "fo_test_fleet_%d", (int)getpid());
	snprintf(group, sizeof(group), "fo-test-fleet-%d", (int)getpid());
	if (topic_admin(1) < 0)
		FO_SKIP("cannot create topic %s on %s", topic, brokers);

	char err[1024];
	fo_db *db = fo_db_new(fo_pg_dsn);
	FO_CHECK(fo_db_connect(db, err, sizeof(err)) == FO_DB_OK);
	FO_CHECK_MSG(fo_db_migrate(db, NULL, err, sizeof(err)) == FO_DB_OK, "%s", err);
	fo_db_destroy(db);
	PGconn *pg = fo_pg_connect();
	/* a vehicle of the test that the lifecycle made ALERTING, and one with a
	 * position from an earlier run */
	FO_CHECK(fo_pg_exec(pg, "INSERT INTO vehicles (vehicle_id, state) VALUES "
	                        "('scene_900_track_1', 'ALERTING')") == 0);
	FO_CHECK(fo_pg_exec(pg, "INSERT INTO vehicles (vehicle_id, state, last_x, last_y, "
	                        "last_speed, last_frame_index, last_event_time) VALUES "
	                        "('seeded_vehicle', 'DEGRADED', 12.5, -3.25, 4.0, 77, "
	                        "'2019-10-23T16:08:09.200Z')") == 0);

	/* 1. seeded before telemetry */
	fo_fleet *f = start(err, sizeof(err));
	FO_CHECK_MSG(f != NULL, "%s", err);
	if (!f)
		goto out;
	char *json = NULL;
	size_t len;
	int found = 0;
	for (int t = 0; t < 100 && !found; t++) {
		if (fo_fleet_vehicle(f, "seeded_vehicle", &json, &len) == FO_FLEET_OK)
			found = 1;
		else
			nap_ms(50);
	}
	FO_CHECK_MSG(found, "seeded_vehicle not in the map 5 s after start");
	if (found) {
		cJSON *j = cJSON_ParseWithLength(json, len);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "vehicle");
		FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(v, "state")->valuestring, "DEGRADED");
		FO_CHECK(cJSON_GetObjectItemCaseSensitive(v, "x")->valuedouble == 12.5);
		FO_CHECK(cJSON_GetObjectItemCaseSensitive(v, "frame_index")->valueint == 77);
		FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(v, "event_time")->valuestring,
		             "2019-10-23T16:08:09.200Z");
		cJSON_Delete(j);
		free(json);
	}
	FO_CHECK(fo_fleet_list(f, "ALERTING", &json, &len) == FO_FLEET_OK);
	FO_CHECK(strstr(json, "\"scene_900_track_1\"") != NULL);
	free(json);

	/* 2. telemetry to the emit callback */
	produce(0, 20, 1);
	long ms = wait_emitted(19, 10000);
	FO_CHECK_MSG(ms >= 0, "vehicle_updated at frame 19 not seen within 10 s");
	printf("test_fleet_kafka: last positions emitted %ld ms after the producer's flush\n", ms);
	FO_CHECK_MSG(ms >= 0 && ms < 3000, "took %ld ms", ms);
	pthread_mutex_lock(&mu);
	FO_CHECK_STR(seen[0].state, "ALERTING"); /* the seeded state, kept */
	FO_CHECK_STR(seen[1].state, "NORMAL");
	pthread_mutex_unlock(&mu);
	fo_fleet_status st;
	for (int t = 0; t < 40; t++) {
		fo_fleet_status_get(f, &st);
		pthread_mutex_lock(&mu);
		int got = stats_msgs;
		pthread_mutex_unlock(&mu);
		if (st.bad == 1 && got > 0)
			break;
		nap_ms(50);
	}
	FO_CHECK(st.bad == 1);
	FO_CHECK(st.applied == 20 * NVEH);
	FO_CHECK(st.kafka_ok == 1);
	pthread_mutex_lock(&mu);
	FO_CHECK(stats_msgs > 0 && stats_ok);
	pthread_mutex_unlock(&mu);
	FO_CHECK(fo_fleet_vehicle(f, "scene_900_ego", &json, &len) == FO_FLEET_OK);
	cJSON *j = cJSON_ParseWithLength(json, len);
	FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "telemetry")) == 20);
	cJSON_Delete(j);
	free(json);

	/* 3. the table: last positions, in batches, state untouched */
	FO_CHECK_MSG(wait_table(pg, 19, 5000) == 0, "positions not in the table within 5 s");
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM vehicles WHERE vehicle_id = 'scene_900_track_2' AND "
	         "last_x = %.4f AND last_y = -50 AND last_speed = 15 AND last_yaw = 0.5 AND "
	         "scene_id = 'scene_900' AND last_event_time = '2019-10-23T16:08:03.400Z' AND "
	         "state = 'NORMAL'",
	         x_of(1, 19));
	FO_CHECK(fo_pg_num(pg, sql) == 1);
	FO_CHECK(fo_pg_num(pg, "SELECT count(*) FROM vehicles WHERE vehicle_id = "
	                       "'scene_900_track_1' AND state = 'ALERTING'") == 1);
	fo_fleet_status_get(f, &st);
	FO_CHECK(st.postgres_ok == 1);
	FO_CHECK_MSG(st.db_writes >= 1 && st.db_writes <= 6, "%llu upserts for 20 frames",
	             (unsigned long long)st.db_writes);
	FO_CHECK(st.db_rows <= st.db_writes * NVEH);
	/* a state given in memory is never written by the fleet */
	FO_CHECK(fo_fleet_set_state(f, "scene_900_track_1", FO_FLEET_NORMAL, 0) == FO_FLEET_OK);
	produce(20, 21, 0);
	FO_CHECK(wait_table(pg, 20, 5000) == 0);
	FO_CHECK(fo_pg_num(pg, "SELECT count(*) FROM vehicles WHERE vehicle_id = "
	                       "'scene_900_track_1' AND state = 'ALERTING'") == 1);
	pthread_mutex_lock(&mu);
	FO_CHECK_STR(seen[0].state, "NORMAL");
	pthread_mutex_unlock(&mu);

	/* 4. PostgreSQL away, then back */
	PGconn *admin = PQconnectdb(getenv("PG_DSN"));
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", fo_pg_name);
	FO_CHECK(fo_pg_exec(admin, sql) == 0);
	snprintf(sql, sizeof(sql),
	         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	         "application_name = 'fleetops-operator-fleet' AND datname = '%s'",
	         fo_pg_name);
	FO_CHECK(fo_pg_exec(admin, sql) == 0);
	produce(21, 30, 0);
	FO_CHECK_MSG(wait_emitted(29, 10000) >= 0, "positions stopped while PostgreSQL was away");
	int down = 0;
	for (int t = 0; t < 100 && !down; t++) {
		fo_fleet_status_get(f, &st);
		down = !st.postgres_ok;
		nap_ms(50);
	}
	FO_CHECK_MSG(down, "postgres_ok still 1 with the database away");
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM vehicles WHERE vehicle_id LIKE 'scene_900_%%' AND "
	         "last_frame_index = 29");
	FO_CHECK(fo_pg_num(pg, sql) == 0);
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS true", fo_pg_name);
	FO_CHECK(fo_pg_exec(admin, sql) == 0);
	PQfinish(admin);
	FO_CHECK_MSG(wait_table(pg, 29, 15000) == 0,
	             "latest positions not written after the outage");
	fo_fleet_status_get(f, &st);
	FO_CHECK(st.postgres_ok == 1 && st.db_failures >= 1);
	fo_fleet_stop(f);

	/* 5. restart: seeded from the table, nothing read again */
	memset(seen, 0, sizeof(seen));
	f = start(err, sizeof(err));
	FO_CHECK_MSG(f != NULL, "%s", err);
	if (!f)
		goto out;
	found = 0;
	for (int t = 0; t < 100 && !found; t++) {
		if (fo_fleet_vehicle(f, "scene_900_track_2", &json, &len) == FO_FLEET_OK)
			found = 1;
		else
			nap_ms(50);
	}
	FO_CHECK_MSG(found, "scene_900_track_2 not seeded 5 s after the restart");
	if (found) {
		j = cJSON_ParseWithLength(json, len);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "vehicle");
		FO_CHECK(cJSON_GetObjectItemCaseSensitive(v, "x")->valuedouble == x_of(1, 29));
		FO_CHECK(cJSON_GetObjectItemCaseSensitive(v, "frame_index")->valueint == 29);
		FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(v, "scene_id")->valuestring,
		             "scene_900");
		FO_CHECK_STR(cJSON_GetObjectItemCaseSensitive(v, "state")->valuestring, "NORMAL");
		cJSON_Delete(j);
		free(json);
	}
	FO_CHECK(fo_fleet_list(f, "ALERTING", &json, &len) == FO_FLEET_OK);
	FO_CHECK(strstr(json, "\"scene_900_track_1\"") != NULL); /* the table's state */
	free(json);
	nap_ms(3000); /* time to read anything the group had not committed */
	fo_fleet_status_get(f, &st);
	FO_CHECK_MSG(st.applied == 0, "%llu events read again after the restart",
	             (unsigned long long)st.applied);
	FO_CHECK(st.vehicles == NVEH + 1);
	fo_fleet_stop(f);

out:
	PQfinish(pg);
	topic_admin(0);
	fo_pg_drop();
	return fo_test_done("test_fleet_kafka");
}
