/*
 * Unit: the fleet view's map, change set and JSON (ops/fleet.h) without
 * Kafka or PostgreSQL, through a fleet made by fo_fleet_new and fed with
 * encoded RawTelemetryEvents.
 *
 *  1. 10,000 vehicles: one vehicle_updated pass carries each exactly once,
 *     split into messages of at most max_per_msg, with its position;
 *  2. 123 of them move: the next pass carries exactly those 123, then
 *     nothing; set_state marks a vehicle changed (a new one too, without a
 *     position), repeating the same state does not;
 *  3. the snapshot and GET /vehicles bodies parse, have the contract's
 *     fields, are ordered by id, and filter by state (a bad state is
 *     refused);
 *  4. the trail keeps the last N samples oldest first; a redelivered
 *     sample is skipped; an older time (a scene replayed again) restarts
 *     the trail;
 *  5. bad messages are counted, not applied; vehicles beyond max_vehicles
 *     are dropped and counted;
 *  6. readers on another thread while events are applied (run under TSan
 *     with -DFO_SANITIZE=thread to check the locking).
 */
#include "fo_test.h"

#include "event.h"
#include "fleet.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

#define BASE_NS 1571846881500000000LL

static fo_replay_meta meta;
static char proc[FO_ISO8601_LEN + 1];

/* Every message the fleet emitted, parsed. */
static cJSON *msgs[4096];
static size_t nmsgs;

static void on_emit(void *arg, const char *json, size_t len)
{
	(void)arg;
	cJSON *j = cJSON_ParseWithLength(json, len);
	FO_CHECK_MSG(j != NULL, "emitted JSON does not parse: %.200s", json);
	if (j && nmsgs < 4096)
		msgs[nmsgs++] = j;
}

static void clear_msgs(void)
{
	for (size_t i = 0; i < nmsgs; i++)
		cJSON_Delete(msgs[i]);
	nmsgs = 0;
}

/* Encodes one event of vehicle (scene, track) at frame, at (x, y). */
static size_t mk(char *buf, uint32_t scene, uint64_t track, uint32_t frame, double x, double y)
{
	fo_telemetry t = {0};
	t.scene = scene;
	t.track = track;
	t.frame = frame;
	t.ts_ns = BASE_NS + (int64_t)frame * 100000000LL;
	t.pos[0] = x;
	t.pos[1] = y;
	t.vel[0] = 3;
	t.vel[1] = 4;
	t.vel_mag = 5;
	t.acc[0] = 0.5;
	t.acc_mag = 0.5;
	t.yaw = 1.25;
	t.label_probability = 1;
	t.track_length = frame + 1;
	t.frame_agents = track == FO_TRACK_EGO ? 7 : FO_AGENTS_UNKNOWN;
	fo_event_out eo;
	size_t n = fo_event_encode_telemetry(&t, &meta, proc, buf, FO_EVENT_MAX, &eo);
	if (n == 0) {
		fprintf(stderr, "encode failed\n");
		exit(1);
	}
	return n;
}

/* Applies one event. Returns what fo_fleet_apply returned. */
static size_t apply1(fo_fleet *f, uint32_t scene, uint64_t track, uint32_t frame, double x,
                     double y)
{
	char buf[FO_EVENT_MAX];
	size_t n = mk(buf, scene, track, frame, x, y);
	const char *m = buf;
	return fo_fleet_apply(f, &m, &n, 1);
}

/* The vehicles of every vehicle_updated message emitted, by id into seen
 * (the number of times each appeared); returns the total. */
static size_t count_updated(size_t *per_msg_max, cJSON **last_of)
{
	size_t total = 0;
	*per_msg_max = 0;
	for (size_t i = 0; i < nmsgs; i++) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(msgs[i], "type");
		FO_CHECK(cJSON_IsString(type) && strcmp(type->valuestring, "vehicle_updated") == 0);
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(msgs[i], "vehicles");
		FO_CHECK(cJSON_IsArray(vs));
		size_t k = (size_t)cJSON_GetArraySize(vs);
		if (k > *per_msg_max)
			*per_msg_max = k;
		total += k;
		if (last_of && k)
			*last_of = cJSON_GetArrayItem(vs, (int)k - 1);
	}
	return total;
}

static const cJSON *field(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void check_vehicle_fields(const cJSON *v)
{
	static const char *keys[] = {"vehicle_id",  "scene_id",   "state",        "x",
	                             "y",           "speed",      "acceleration", "yaw",
	                             "frame_index", "event_time", "open_alerts"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		FO_CHECK_MSG(field(v, keys[i]) != NULL, "Vehicle lacks %s", keys[i]);
	FO_CHECK(cJSON_GetArraySize(v) == (int)(sizeof(keys) / sizeof(keys[0])));
	FO_CHECK(cJSON_IsString(field(v, "vehicle_id")));
	FO_CHECK(cJSON_IsString(field(v, "state")));
	FO_CHECK(cJSON_IsNumber(field(v, "open_alerts")));
}

static void test_map_and_changes(void)
{
	fo_fleet_conf c = {.emit = on_emit, .max_per_msg = 2000, .expected_vehicles = 64};
	char err[256];
	fo_fleet *f = fo_fleet_new(&c, err, sizeof(err));
	FO_CHECK(f != NULL);
	if (!f)
		return;

	/* 1. 10,000 vehicles in one apply call: 100 scenes x 100 tracks */
	enum { NV = 10000 };
	static char bufs[NV][FO_EVENT_MAX];
	static const char *ptrs[NV];
	static size_t lens[NV];
	for (int i = 0; i < NV; i++) {
		lens[i] = mk(bufs[i], (uint32_t)(i / 100), (uint64_t)(i % 100), 0, i, -i);
		ptrs[i] = bufs[i];
	}
	FO_CHECK(fo_fleet_apply(f, ptrs, lens, NV) == NV);
	FO_CHECK(fo_fleet_flush(f) == NV);
	size_t maxk;
	FO_CHECK(count_updated(&maxk, NULL) == NV);
	FO_CHECK(maxk == 2000);
	FO_CHECK(nmsgs == 5);
	/* every vehicle once, at its position */
	static unsigned char seen[NV];
	memset(seen, 0, sizeof(seen));
	int wrong = 0;
	for (size_t m = 0; m < nmsgs; m++) {
		const cJSON *v;
		cJSON_ArrayForEach(v, field(msgs[m], "vehicles"))
		{
			unsigned sc, tr;
			if (sscanf(field(v, "vehicle_id")->valuestring, "scene_%u_track_%u", &sc,
			           &tr) != 2) {
				wrong++;
				continue;
			}
			int i = (int)(sc * 100 + tr);
			seen[i]++;
			wrong +=
			    field(v, "x")->valuedouble != i || field(v, "y")->valuedouble != -i;
			wrong += strcmp(field(v, "state")->valuestring, "NORMAL") != 0;
			wrong += field(v, "frame_index")->valueint != 0;
		}
	}
	FO_CHECK(wrong == 0);
	int once = 1;
	for (int i = 0; i < NV; i++)
		once &= seen[i] == 1;
	FO_CHECK(once);
	check_vehicle_fields(cJSON_GetArrayItem(field(msgs[0], "vehicles"), 0));
	clear_msgs();
	FO_CHECK(fo_fleet_flush(f) == 0);
	FO_CHECK(nmsgs == 0);

	/* 2. 123 vehicles move */
	size_t k = 0;
	for (int i = 0; i < NV; i += 81) {
		lens[k] = mk(bufs[k], (uint32_t)(i / 100), (uint64_t)(i % 100), 1, i + 0.5, 7.25);
		ptrs[k] = bufs[k];
		k++;
	}
	FO_CHECK(k == 124);
	/* 124 events, one vehicle twice (the last wins): 123 vehicles */
	lens[123] = mk(bufs[123], 0, 0, 2, 99.5, 8.5);
	FO_CHECK(fo_fleet_apply(f, ptrs, lens, k) == k);
	FO_CHECK(fo_fleet_flush(f) == 123);
	cJSON *last = NULL;
	FO_CHECK(count_updated(&maxk, &last) == 123);
	memset(seen, 0, sizeof(seen));
	wrong = 0;
	for (size_t m = 0; m < nmsgs; m++) {
		const cJSON *v;
		cJSON_ArrayForEach(v, field(msgs[m], "vehicles"))
		{
			unsigned sc, tr;
			sscanf(field(v, "vehicle_id")->valuestring, "scene_%u_track_%u", &sc, &tr);
			int i = (int)(sc * 100 + tr);
			seen[i]++;
			if (i == 0)
				wrong += field(v, "x")->valuedouble != 99.5 ||
				         field(v, "frame_index")->valueint != 2;
			else
				wrong += i % 81 != 0 || field(v, "x")->valuedouble != i + 0.5 ||
				         field(v, "y")->valuedouble != 7.25;
		}
	}
	FO_CHECK(wrong == 0);
	clear_msgs();
	FO_CHECK(fo_fleet_flush(f) == 0);

	/* set_state: a known vehicle and one known only from alerts */
	FO_CHECK(fo_fleet_set_state(f, "scene_005_track_7", FO_FLEET_ALERTING, 2) == FO_FLEET_OK);
	FO_CHECK(fo_fleet_set_state(f, "alerts_only_vehicle", FO_FLEET_DEGRADED, 1) == FO_FLEET_OK);
	FO_CHECK(fo_fleet_set_state(f, "", FO_FLEET_DEGRADED, 1) == FO_FLEET_EINVAL);
	FO_CHECK(fo_fleet_flush(f) == 2);
	FO_CHECK(count_updated(&maxk, NULL) == 2);
	const cJSON *v0 = cJSON_GetArrayItem(field(msgs[0], "vehicles"), 0);
	const cJSON *v1 = cJSON_GetArrayItem(field(msgs[0], "vehicles"), 1);
	FO_CHECK_STR(field(v0, "vehicle_id")->valuestring, "scene_005_track_7");
	FO_CHECK_STR(field(v0, "state")->valuestring, "ALERTING");
	FO_CHECK(field(v0, "open_alerts")->valueint == 2);
	FO_CHECK(field(v0, "x")->valuedouble == 507);
	FO_CHECK_STR(field(v0, "scene_id")->valuestring, "scene_005");
	FO_CHECK_STR(field(v1, "vehicle_id")->valuestring, "alerts_only_vehicle");
	FO_CHECK(cJSON_IsNull(field(v1, "x")) && cJSON_IsNull(field(v1, "event_time")));
	FO_CHECK(cJSON_IsNull(field(v1, "scene_id")) && cJSON_IsNull(field(v1, "frame_index")));
	check_vehicle_fields(v1);
	clear_msgs();
	/* the same state again is no change */
	FO_CHECK(fo_fleet_set_state(f, "scene_005_track_7", FO_FLEET_ALERTING, 2) == FO_FLEET_OK);
	FO_CHECK(fo_fleet_flush(f) == 0);
	/* a state change of a vehicle that then moves is one entry */
	FO_CHECK(fo_fleet_set_state(f, "scene_005_track_7", FO_FLEET_UNDER_INTERVENTION, -1) == 0);
	FO_CHECK(apply1(f, 5, 7, 3, 1.0, 2.0) == 1);
	FO_CHECK(fo_fleet_flush(f) == 1);
	v0 = cJSON_GetArrayItem(field(msgs[0], "vehicles"), 0);
	FO_CHECK_STR(field(v0, "state")->valuestring, "UNDER_INTERVENTION");
	FO_CHECK(field(v0, "open_alerts")->valueint == 2); /* -1 kept the count */
	FO_CHECK(field(v0, "x")->valuedouble == 1.0);
	clear_msgs();

	/* 3. snapshot and list */
	char *json;
	size_t len;
	FO_CHECK(fo_fleet_snapshot(f, &json, &len) == FO_FLEET_OK);
	FO_CHECK(strlen(json) == len);
	cJSON *snap = cJSON_ParseWithLength(json, len);
	FO_CHECK(cJSON_IsArray(snap) && cJSON_GetArraySize(snap) == NV + 1);
	int ordered = 1;
	const char *prev = "";
	const cJSON *v;
	cJSON_ArrayForEach(v, snap)
	{
		check_vehicle_fields(v);
		ordered &= strcmp(prev, field(v, "vehicle_id")->valuestring) < 0;
		prev = field(v, "vehicle_id")->valuestring;
	}
	FO_CHECK(ordered);
	cJSON_Delete(snap);
	free(json);

	FO_CHECK(fo_fleet_list(f, "DEGRADED", &json, &len) == FO_FLEET_OK);
	cJSON *lst = cJSON_ParseWithLength(json, len);
	const cJSON *vs = field(lst, "vehicles");
	FO_CHECK(cJSON_IsArray(vs) && cJSON_GetArraySize(vs) == 1);
	FO_CHECK_STR(field(cJSON_GetArrayItem(vs, 0), "vehicle_id")->valuestring,
	             "alerts_only_vehicle");
	cJSON_Delete(lst);
	free(json);
	FO_CHECK(fo_fleet_list(f, NULL, &json, &len) == FO_FLEET_OK);
	lst = cJSON_ParseWithLength(json, len);
	FO_CHECK(cJSON_GetArraySize(field(lst, "vehicles")) == NV + 1);
	cJSON_Delete(lst);
	free(json);
	json = NULL;
	FO_CHECK(fo_fleet_list(f, "alerting", &json, &len) == FO_FLEET_EINVAL);
	FO_CHECK(json == NULL);

	fo_fleet_status st;
	fo_fleet_status_get(f, &st);
	FO_CHECK(st.vehicles == NV + 1);
	FO_CHECK(st.applied == NV + 124 + 1);
	FO_CHECK(st.bad == 0);
	FO_CHECK(st.kafka_ok == 0 && st.postgres_ok == 0);
	fo_fleet_stop(f);
}

static void test_trail(void)
{
	fo_fleet_conf c = {.emit = on_emit, .samples = 5};
	char err[256];
	fo_fleet *f = fo_fleet_new(&c, err, sizeof(err));
	FO_CHECK(f != NULL);
	if (!f)
		return;
	for (uint32_t fr = 0; fr < 12; fr++)
		FO_CHECK(apply1(f, 3, FO_TRACK_EGO, fr, fr * 10.0, 1.0) == 1);
	char *json;
	size_t len;
	FO_CHECK(fo_fleet_vehicle(f, "scene_003_ego", &json, &len) == FO_FLEET_OK);
	cJSON *j = cJSON_ParseWithLength(json, len);
	free(json);
	const cJSON *tel = field(j, "telemetry");
	FO_CHECK(cJSON_IsArray(tel) && cJSON_GetArraySize(tel) == 5);
	int i = 0, ok = 1;
	const cJSON *s;
	cJSON_ArrayForEach(s, tel)
	{
		ok &= field(s, "frame_index")->valueint == 7 + i;
		ok &= field(s, "x")->valuedouble == (7 + i) * 10.0;
		ok &= field(s, "speed")->valuedouble == 5 &&
		      field(s, "acceleration")->valuedouble == 0.5;
		ok &= cJSON_IsString(field(s, "event_time")) && cJSON_IsNumber(field(s, "yaw"));
		i++;
	}
	FO_CHECK(ok);
	const cJSON *veh = field(j, "vehicle");
	check_vehicle_fields(veh);
	FO_CHECK(field(veh, "frame_index")->valueint == 11);
	FO_CHECK_STR(field(veh, "event_time")->valuestring, "2019-10-23T16:08:02.600Z");
	FO_CHECK(field(veh, "speed")->valuedouble == 5);
	FO_CHECK(fabs(field(veh, "yaw")->valuedouble - 1.25) < 1e-9);
	cJSON_Delete(j);

	/* a redelivered sample: skipped, no change */
	fo_fleet_flush(f);
	clear_msgs();
	FO_CHECK(apply1(f, 3, FO_TRACK_EGO, 9, 90.0, 1.0) == 0);
	fo_fleet_status st;
	fo_fleet_status_get(f, &st);
	FO_CHECK(st.duplicates == 1);
	FO_CHECK(fo_fleet_flush(f) == 0);

	/* an older time: the scene again from its start */
	FO_CHECK(apply1(f, 3, FO_TRACK_EGO, 0, -5.0, 1.0) == 1);
	FO_CHECK(fo_fleet_vehicle(f, "scene_003_ego", &json, &len) == FO_FLEET_OK);
	j = cJSON_ParseWithLength(json, len);
	free(json);
	FO_CHECK(cJSON_GetArraySize(field(j, "telemetry")) == 1);
	FO_CHECK(field(field(j, "vehicle"), "x")->valuedouble == -5.0);
	cJSON_Delete(j);
	FO_CHECK(fo_fleet_flush(f) == 1);
	clear_msgs();

	FO_CHECK(fo_fleet_vehicle(f, "scene_003_track_1", &json, &len) == FO_FLEET_NOT_FOUND);

	/* bad messages */
	const char *bad[] = {"not json", "{\"event_version\":\"1.0.0\"}"};
	size_t bl[] = {8, strlen(bad[1])};
	FO_CHECK(fo_fleet_apply(f, bad, bl, 2) == 0);
	fo_fleet_status_get(f, &st);
	FO_CHECK(st.bad == 2);
	FO_CHECK(st.consumed == 12 + 1 + 1 + 2);
	fo_fleet_stop(f);

	/* max_vehicles */
	fo_fleet_conf c2 = {.max_vehicles = 3};
	f = fo_fleet_new(&c2, err, sizeof(err));
	for (uint64_t t = 0; t < 5; t++)
		apply1(f, 1, t, 0, 0, 0);
	fo_fleet_status_get(f, &st);
	FO_CHECK(st.vehicles == 3 && st.dropped == 2 && st.applied == 3);
	FO_CHECK(fo_fleet_set_state(f, "another", FO_FLEET_NORMAL, 0) == FO_FLEET_ENOMEM);
	fo_fleet_stop(f);

	/* bad settings */
	fo_fleet_conf c3 = {.samples = FO_FLEET_SAMPLES_MAX + 1};
	FO_CHECK(fo_fleet_new(&c3, err, sizeof(err)) == NULL);
	FO_CHECK(strstr(err, "samples") != NULL);
	fo_fleet_state fs;
	FO_CHECK(fo_fleet_state_parse("UNDER_INTERVENTION", &fs) == 0 &&
	         fs == FO_FLEET_UNDER_INTERVENTION);
	FO_CHECK(fo_fleet_state_parse("normal", &fs) == -1);
}

/* 6. readers on another thread during applies */
static atomic_int reading;

static void *reader(void *arg)
{
	fo_fleet *f = arg;
	size_t rounds = 0;
	while (atomic_load(&reading)) {
		char *json;
		size_t len;
		if (fo_fleet_snapshot(f, &json, &len) == FO_FLEET_OK)
			free(json);
		if (fo_fleet_vehicle(f, "scene_001_track_1", &json, &len) == FO_FLEET_OK)
			free(json);
		fo_fleet_set_state(f, "scene_001_track_2", (fo_fleet_state)(rounds % 4), 1);
		fo_fleet_status st;
		fo_fleet_status_get(f, &st);
		rounds++;
	}
	return (void *)(uintptr_t)rounds;
}

static void test_threads(void)
{
	fo_fleet_conf c = {.expected_vehicles = 16};
	char err[256];
	fo_fleet *f = fo_fleet_new(&c, err, sizeof(err));
	atomic_store(&reading, 1);
	pthread_t th;
	pthread_create(&th, NULL, reader, f);
	for (uint32_t fr = 0; fr < 200; fr++)
		for (uint64_t t = 0; t < 50; t++)
			apply1(f, 1, t, fr, fr, t);
	fo_fleet_flush(f);
	atomic_store(&reading, 0);
	void *rounds;
	pthread_join(th, &rounds);
	fo_fleet_status st;
	fo_fleet_status_get(f, &st);
	FO_CHECK(st.applied == 200 * 50);
	FO_CHECK(st.vehicles == 50);
	FO_CHECK((uintptr_t)rounds > 0);
	fo_fleet_stop(f);
}

int main(void)
{
	fo_uuid s;
	fo_uuid5(&s, &fo_uuid_ns_fleetops, "test_fleet", 10);
	fo_replay_meta_init(&meta, &s, 0.0);
	fo_time_iso8601(fo_time_wall_ns(), proc);
	test_map_and_changes();
	test_trail();
	test_threads();
	clear_msgs();
	return fo_test_done("test_fleet");
}
