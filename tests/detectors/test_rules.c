/*
 * Unit: each detection rule at its thresholds (just below: quiet; just
 * above: fires with the right type, severity, features and thresholds),
 * cool-downs, concurrent anomalies, gating by track length and speed,
 * evidence, and the AnomalyEvent encoding.
 */
#include "anomaly.h"
#include "detector.h"
#include "fo_test.h"
#include "thresholds.h"

#include <cjson/cJSON.h>

static fo_thresholds th;

/* A vehicle cruising along x at speed v, one frame per 100 ms. */
static fo_telemetry obs(uint32_t frame, double x, double v, double a, double yaw, double p)
{
	fo_telemetry t = {.scene = 3,
	                  .frame = frame,
	                  .track = 9,
	                  .ts_ns = 1000000000LL + (int64_t)frame * 100000000LL};
	t.pos[0] = x;
	t.vel[0] = v;
	t.vel_mag = fabs(v);
	t.acc[0] = a;
	t.acc_mag = fabs(a);
	t.yaw = yaw;
	t.label_probability = p;
	t.track_length = frame + 1;
	return t;
}

/* Feeds frames 0..n-1 of steady driving at 10 m/s. */
static void cruise(fo_vdet *v, uint32_t n)
{
	fo_anomaly out[FO_RULE_COUNT];
	for (uint32_t f = 0; f < n; f++) {
		fo_telemetry t = obs(f, f * 1.0, 10.0, 0.0, 0.0, 0.95);
		FO_CHECK_MSG(fo_detect(&th, v, &t, FO_AGENTS_UNKNOWN, out) == 0, "cruise frame %u",
		             f);
	}
}

static double feature(const fo_anomaly *a, const char *name)
{
	for (int i = 0; i < a->nfeatures; i++)
		if (strcmp(a->features[i].name, name) == 0)
			return a->features[i].value;
	return NAN;
}

static int run1(fo_vdet *v, fo_telemetry t, uint32_t agents, fo_anomaly *out)
{
	return fo_detect(&th, v, &t, agents, out);
}

int main(void)
{
	fo_thresholds_default(&th);
	fo_anomaly out[FO_RULE_COUNT];

	/* hard braking: |a| > 3 and speed drop over 5 frames < -5 */
	{
		fo_vdet v = {0};
		cruise(&v, 20); /* frames 0..19 at 10 m/s, x = frame */
		/* speed 10 at frame 15 (5 frames back); 4.9 at 20: dv -5.1, |a| 4.5 */
		int n = run1(&v, obs(20, 20.0, 4.9, -4.5, 0, 0.95), FO_AGENTS_UNKNOWN, out);
		FO_CHECK(n == 1 && out[0].rule == FO_RULE_HARD_BRAKING);
		FO_CHECK(out[0].type == FO_AT_SUDDEN_DECELERATION &&
		         out[0].severity == FO_SEV_WARNING);
		FO_CHECK_NEAR(feature(&out[0], "velocity_delta"), -5.1, 1e-6);
		FO_CHECK_NEAR(feature(&out[0], "acceleration_magnitude"), 4.5, 1e-9);
		FO_CHECK(out[0].nthresholds == 3 && out[0].thresholds[1].value == -5.0);
		/* evidence: the last 10 observations, oldest first, ending at this one */
		FO_CHECK(out[0].nevidence == 10 && out[0].ev_frame[0] == 11 &&
		         out[0].ev_frame[9] == 20);
		FO_CHECK_NEAR(out[0].ev_speed[9], 4.9, 1e-6);

		fo_vdet w = {0};
		cruise(&w, 20);
		FO_CHECK(run1(&w, obs(20, 20.0, 5.1, -6.0, 0, 0.95), FO_AGENTS_UNKNOWN, out) ==
		         0); /* dv -4.9 */
		fo_vdet x = {0};
		cruise(&x, 20);
		FO_CHECK(run1(&x, obs(20, 20.0, 4.0, -2.9, 0, 0.95), FO_AGENTS_UNKNOWN, out) ==
		         0); /* |a| 2.9 */
		fo_vdet y = {0};
		cruise(&y, 20);
		FO_CHECK(run1(&y, obs(20, 20.0, 4.0, -5.0, 0, 0.95), FO_AGENTS_UNKNOWN, out) == 1);
		FO_CHECK(out[0].severity == FO_SEV_CRITICAL); /* at 5.0: CRITICAL */

		/* cool-down: the same condition 1..19 frames later is the same anomaly */
		for (uint32_t f = 21; f < 40; f++)
			FO_CHECK_MSG(run1(&v,
			                  obs(f, 20.0, f < 25 ? 4.9 - (f - 20) : 0,
			                      f < 25 ? -10 : 0, 0, 0.95),
			                  FO_AGENTS_UNKNOWN, out) == 0,
			             "frame %u in cool-down", f);
	}

	/* label drop over 3 frames: best of the previous 2 minus now > 0.2 */
	{
		fo_vdet v = {0};
		cruise(&v, 10);
		FO_CHECK(run1(&v, obs(10, 10, 10, 0, 0, 0.76), FO_AGENTS_UNKNOWN, out) ==
		         0); /* 0.19 */
		FO_CHECK(run1(&v, obs(11, 11, 10, 0, 0, 0.74), FO_AGENTS_UNKNOWN, out) ==
		         1); /* 0.21 vs 0.95 */
		FO_CHECK(out[0].rule == FO_RULE_LABEL_DROP &&
		         out[0].type == FO_AT_PERCEPTION_INSTABILITY);
		FO_CHECK_NEAR(feature(&out[0], "label_drop"), 0.21, 1e-6);
	}

	/* position jump: distance from prev + v * dt */
	{
		fo_vdet v = {0};
		cruise(&v, 10); /* x = 9 at frame 9, 10 m/s: predicts 10 at frame 10 */
		FO_CHECK(run1(&v, obs(10, 11.9, 10, 0, 0, 0.95), FO_AGENTS_UNKNOWN, out) ==
		         0); /* 1.9 */
		FO_CHECK(run1(&v, obs(11, 13.0 + 2.1, 10, 0, 0, 0.95), FO_AGENTS_UNKNOWN, out) ==
		         1);
		FO_CHECK(out[0].rule == FO_RULE_POSITION_JUMP);
		FO_CHECK_NEAR(feature(&out[0], "position_jump"), 2.2, 1e-9); /* predicted 12.9 */
	}

	/* yaw jump between consecutive frames, wrapped */
	{
		fo_vdet v = {0};
		cruise(&v, 10);
		FO_CHECK(run1(&v, obs(10, 10, 10, 0, 0.49, 0.95), FO_AGENTS_UNKNOWN, out) == 0);
		FO_CHECK(run1(&v, obs(11, 11, 10, 0, 0.49 + 0.51, 0.95), FO_AGENTS_UNKNOWN, out) ==
		         1);
		FO_CHECK(out[0].rule == FO_RULE_YAW_JUMP);
		fo_vdet w = {0};
		cruise(&w, 10); /* 3.1 -> -3.1 is a 0.08 rad turn, not a jump */
		FO_CHECK(run1(&w, obs(10, 10, 10, 0, 3.1, 0.95), FO_AGENTS_UNKNOWN, out) == 1);
		FO_CHECK(run1(&w, obs(11, 11, 10, 0, -3.1, 0.95), FO_AGENTS_UNKNOWN, out) == 0);
	}

	/* several rules at once: every one raised as CRITICAL */
	{
		fo_vdet v = {0};
		cruise(&v, 10);
		int n = run1(&v, obs(10, 14, 10, 0, 2.0, 0.3), FO_AGENTS_UNKNOWN, out);
		FO_CHECK(n == 3);
		for (int i = 0; i < n; i++) {
			FO_CHECK(out[i].severity == FO_SEV_CRITICAL);
			FO_CHECK_NEAR(feature(&out[i], "concurrent_anomalies"), 3, 0);
		}
	}

	/* track dropout: reappearing after more than 3 unseen frames, INFO */
	{
		fo_vdet v = {0};
		cruise(&v, 10);
		FO_CHECK(run1(&v, obs(13, 13, 10, 0, 0, 0.95), FO_AGENTS_UNKNOWN, out) ==
		         0); /* 3 unseen */
		FO_CHECK(run1(&v, obs(18, 18, 10, 0, 0, 0.95), FO_AGENTS_UNKNOWN, out) ==
		         1); /* 4 unseen */
		FO_CHECK(out[0].rule == FO_RULE_TRACK_DROPOUT && out[0].severity == FO_SEV_INFO);
		FO_CHECK_NEAR(feature(&out[0], "frames_unseen"), 4, 0);
		FO_CHECK_NEAR(feature(&out[0], "last_seen_frame"), 13, 0);
	}

	/* scene agent drop on the ego: more than 5 fewer agents than last frame */
	{
		fo_vdet e = {0};
		FO_CHECK(run1(&e, obs(0, 0, 10, 0, 0, 1), 30, out) == 0);
		FO_CHECK(run1(&e, obs(1, 1, 10, 0, 0, 1), 25, out) == 0); /* 5 */
		FO_CHECK(run1(&e, obs(2, 2, 10, 0, 0, 1), 19, out) == 1); /* 6 */
		FO_CHECK(out[0].rule == FO_RULE_SCENE_AGENT_DROP && out[0].type == FO_AT_DROPOUT);
		FO_CHECK(out[0].severity == FO_SEV_WARNING);
		FO_CHECK_NEAR(feature(&out[0], "agents_lost"), 6, 0);
	}

	/* gating: young tracks and slow objects */
	{
		fo_thresholds g = th;
		g.min_track_length = 10;
		g.yaw_min_speed = 2.0;
		fo_vdet v = {0};
		fo_telemetry a = obs(0, 0, 10, 0, 0, 0.95), b = obs(1, 5, 10, 0, 3.0, 0.2);
		FO_CHECK(fo_detect(&g, &v, &a, FO_AGENTS_UNKNOWN, out) == 0);
		FO_CHECK(fo_detect(&g, &v, &b, FO_AGENTS_UNKNOWN, out) == 0); /* length 2 < 10 */
		fo_vdet w = {0};
		for (uint32_t f = 0; f < 12; f++) {
			fo_telemetry t = obs(f, 0, 1.0, 0, 0, 0.95);
			t.pos[0] = f * 0.1;
			FO_CHECK(fo_detect(&g, &w, &t, FO_AGENTS_UNKNOWN, out) == 0);
		}
		fo_telemetry slow = obs(12, 1.2, 1.0, 0, 3.0, 0.95); /* 1 m/s: heading not judged */
		FO_CHECK(fo_detect(&g, &w, &slow, FO_AGENTS_UNKNOWN, out) == 0);
	}

	/* the wire form */
	{
		fo_vdet v = {0};
		cruise(&v, 20);
		FO_CHECK(run1(&v, obs(20, 20.0, 4.9, -4.5, 0, 0.95), FO_AGENTS_UNKNOWN, out) == 1);
		fo_uuid eid;
		fo_uuid5(&eid, &fo_uuid_ns_fleetops, "e", 1);
		char buf[FO_ANOMALY_JSON_MAX], key[64];
		size_t klen;
		size_t len = fo_anomaly_encode(&out[0], &eid, "2026-01-01T00:00:00.000Z", buf,
		                               sizeof(buf), key, &klen);
		FO_CHECK(len > 0 && klen == strlen("scene_003_track_9"));
		cJSON *j = cJSON_ParseWithLength(buf, len);
		FO_CHECK(j != NULL);
		if (j) {
			FO_CHECK_STR(cJSON_GetObjectItem(j, "anomaly_type")->valuestring,
			             "sudden_deceleration");
			FO_CHECK_STR(cJSON_GetObjectItem(j, "severity")->valuestring, "WARNING");
			FO_CHECK_STR(cJSON_GetObjectItem(j, "triggered_rule")->valuestring,
			             "hard_braking");
			FO_CHECK_STR(cJSON_GetObjectItem(j, "vehicle_id")->valuestring,
			             "scene_003_track_9");
			FO_CHECK_STR(cJSON_GetObjectItem(j, "event_version")->valuestring, "1.0.0");
			fo_uuid aid;
			fo_anomaly_id(&eid, FO_RULE_HARD_BRAKING, &aid);
			char s[40];
			fo_uuid_format(&aid, s);
			FO_CHECK_STR(cJSON_GetObjectItem(j, "anomaly_id")->valuestring, s);
			cJSON *ev = cJSON_GetObjectItem(j, "evidence");
			FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "frame_indices")) ==
			         10);
			FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "velocity_history")) ==
			         10);
			FO_CHECK(cJSON_GetArraySize(
			             cJSON_GetObjectItem(ev, "acceleration_history")) == 10);
			FO_CHECK_NEAR(
			    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "thresholds"), "decel_dv")
			        ->valuedouble,
			    -5, 0);
			cJSON_Delete(j);
		}
	}
	return fo_test_done("test_rules");
}
