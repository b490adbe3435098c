/*
 * bench_telemetry_parse: nanoseconds per RawTelemetryEvent for FleetOps'
 * parser (io/telemetry_json.c) against cJSON, on one thread.
 *
 *   bench_telemetry_parse [SECONDS [fleetops]]
 *
 * SECONDS per contender (default 1); with "fleetops", only FleetOps' parser
 * runs (for a profiler).
 *
 * The input is 4,096 distinct events from fo_event_encode_telemetry (every
 * 8th an ego with its frame's agent count, values at L5Kit scales, ~630
 * bytes each), parsed round-robin so branch predictors see varied digits.
 * Contenders:
 *   fleetops       fo_telemetry_json_parse: every field, checked, into
 *                  fo_telemetry + ids (what fleetopsd detect does)
 *   cjson_tree     cJSON_ParseWithLength + cJSON_Delete: the tree alone
 *   cjson_fields   the tree, then every field looked up by name
 *                  (cJSON_GetObjectItemCaseSensitive), the two UUIDs and
 *                  event_time parsed: the same work as fleetops
 * Prints one JSON line: ns per event and events/s for each, and the ratio.
 */
#include "event.h"
#include "json.h"
#include "telemetry_json.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEV 4096

static char *ev[NEV];
static size_t ev_len[NEV];
static volatile uint64_t sink_;

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double urand(double lo, double hi)
{
	return lo + (hi - lo) * (double)(rnd() >> 11) / 9007199254740992.0;
}

static void make_events(void)
{
	fo_uuid s;
	fo_uuid5(&s, &fo_uuid_ns_fleetops, "bench", 5);
	fo_replay_meta m;
	fo_replay_meta_init(&m, &s, 0.0);
	char proc[FO_ISO8601_LEN + 1];
	fo_time_iso8601(fo_time_wall_ns(), proc);
	for (int i = 0; i < NEV; i++) {
		fo_telemetry t = {0};
		t.scene = (uint32_t)(rnd() % 100);
		t.frame = (uint32_t)(rnd() % 248);
		t.track = i % 8 == 0 ? FO_TRACK_EGO : rnd() % 2000;
		t.ts_ns = 1571846881502000000LL + (int64_t)t.frame * 100000000;
		t.pos[0] = urand(-2000, 2000);
		t.pos[1] = urand(-2000, 2000);
		t.vel[0] = urand(-15, 15);
		t.vel[1] = urand(-15, 15);
		t.acc[0] = urand(-3, 3);
		t.acc[1] = urand(-3, 3);
		t.vel_mag = hypot(t.vel[0], t.vel[1]);
		t.acc_mag = hypot(t.acc[0], t.acc[1]);
		t.yaw = urand(-3.14, 3.14);
		t.yaw_rate = urand(-1, 1);
		t.label_probability = t.track == FO_TRACK_EGO ? 1.0 : urand(0.8, 1);
		t.track_length = (uint32_t)(rnd() % 248) + 1;
		t.frame_agents = t.track == FO_TRACK_EGO ? 84 : FO_AGENTS_UNKNOWN;
		char buf[FO_EVENT_MAX];
		fo_event_out eo;
		ev_len[i] = fo_event_encode_telemetry(&t, &m, proc, buf, sizeof(buf), &eo);
		ev[i] = malloc(ev_len[i] + 1);
		memcpy(ev[i], buf, ev_len[i]);
		ev[i][ev_len[i]] = '\0';
	}
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(x) ? x->valuestring : "";
}

/* cJSON with the work fo_telemetry_json_parse does (minus most checks). */
static int cjson_fields(const char *s, size_t n, fo_telemetry_json *o)
{
	cJSON *j = cJSON_ParseWithLength(s, n);
	if (!j)
		return -1;
	int rc = 0;
	const cJSON *tel = cJSON_GetObjectItemCaseSensitive(j, "telemetry");
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
	const char *ax[3] = {"x", "y", "z"};
	const cJSON *pos = cJSON_GetObjectItemCaseSensitive(tel, "position");
	const cJSON *vel = cJSON_GetObjectItemCaseSensitive(tel, "velocity");
	const cJSON *acc = cJSON_GetObjectItemCaseSensitive(tel, "acceleration");
	for (int i = 0; i < 3; i++) {
		o->t.pos[i] = num(pos, ax[i]);
		o->t.vel[i] = num(vel, ax[i]);
		o->t.acc[i] = num(acc, ax[i]);
	}
	o->t.vel_mag = num(vel, "magnitude");
	o->t.acc_mag = num(acc, "magnitude");
	o->t.yaw = num(tel, "yaw");
	o->t.yaw_rate = num(tel, "yaw_rate");
	o->t.label_probability = num(tel, "label_probability");
	o->t.track_length = (uint32_t)num(tel, "track_length");
	o->t.frame = (uint32_t)num(j, "frame_index");
	o->t.track = (uint64_t)num(j, "track_id");
	o->t.scene = (uint32_t)strtoul(str(j, "scene_id") + 6, NULL, 10);
	rc |= fo_uuid_parse(&o->event_id, str(j, "event_id"));
	rc |= fo_uuid_parse(&o->session, str(md, "replay_session_id"));
	const char *et = str(j, "event_time");
	rc |= fo_telemetry_json_time(et, strlen(et), &o->t.ts_ns);
	o->replay_rate = num(md, "replay_rate");
	const cJSON *fa = cJSON_GetObjectItemCaseSensitive(md, "frame_agents");
	o->t.frame_agents = cJSON_IsNumber(fa) ? (uint32_t)fa->valuedouble : FO_AGENTS_UNKNOWN;
	sink_ += strlen(str(j, "vehicle_id"));
	cJSON_Delete(j);
	return rc;
}

/* Runs one contender for about `seconds`; returns ns per event. */
static double run(int which, double seconds)
{
	const int64_t t0 = fo_time_mono_ns(), limit = (int64_t)(seconds * 1e9);
	uint64_t n = 0;
	char err[256];
	fo_telemetry_json o;
	int64_t now;
	do {
		for (int i = 0; i < NEV; i++) {
			if (which == 0) {
				if (fo_telemetry_json_parse(ev[i], ev_len[i], &o, err,
				                            sizeof(err)) < 0) {
					fprintf(stderr, "bench_telemetry_parse: %s\n", err);
					exit(1);
				}
				sink_ += o.t.frame;
			} else if (which == 1) {
				cJSON *j = cJSON_ParseWithLength(ev[i], ev_len[i]);
				sink_ += j != NULL;
				cJSON_Delete(j);
			} else {
				if (cjson_fields(ev[i], ev_len[i], &o) < 0) {
					fprintf(stderr,
					        "bench_telemetry_parse: cJSON could not read event "
					        "%d\n",
					        i);
					exit(1);
				}
				sink_ += o.t.frame;
			}
		}
		n += NEV;
		now = fo_time_mono_ns();
	} while (now - t0 < limit);
	return (double)(now - t0) / (double)n;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	if (seconds <= 0)
		seconds = 1.0;
	make_events();
	size_t bytes = 0;
	for (int i = 0; i < NEV; i++)
		bytes += ev_len[i];
	run(0, 0.1); /* warm up */
	const double fo = run(0, seconds);
	if (argc > 2 && strcmp(argv[2], "fleetops") == 0) {
		printf("{\"bench\":\"telemetry_parse\",\"fleetops_ns\":%.1f}\n", fo);
		return 0;
	}
	const double tree = run(1, seconds);
	const double fields = run(2, seconds);

	char buf[1024];
	fo_jw jw;
	fo_jw_init(&jw, buf, sizeof(buf));
	fo_jw_lit(&jw, "{\"bench\":\"telemetry_parse\",\"events\":");
	fo_jw_u64(&jw, NEV);
	fo_jw_lit(&jw, ",\"mean_bytes\":");
	fo_jw_fixed(&jw, (double)bytes / NEV, 1);
	fo_jw_lit(&jw, ",\"fleetops_ns\":");
	fo_jw_fixed(&jw, fo, 1);
	fo_jw_lit(&jw, ",\"fleetops_events_per_s\":");
	fo_jw_fixed(&jw, 1e9 / fo, 0);
	fo_jw_lit(&jw, ",\"fleetops_MB_per_s\":");
	fo_jw_fixed(&jw, (double)bytes / NEV / fo * 1e3, 0);
	fo_jw_lit(&jw, ",\"cjson_tree_ns\":");
	fo_jw_fixed(&jw, tree, 1);
	fo_jw_lit(&jw, ",\"cjson_fields_ns\":");
	fo_jw_fixed(&jw, fields, 1);
	fo_jw_lit(&jw, ",\"speedup_vs_cjson_fields\":");
	fo_jw_fixed(&jw, fields / fo, 1);
	fo_jw_char(&jw, '}');
	printf("%.*s\n", (int)jw.len, jw.buf);
	return sink_ == 42; /* keeps the work observable */
}
