/* Unit: the telemetry definitions of DESIGN.md (core/telemetry.c), checked
 * against values computed by hand. */
#include "fo_test.h"
#include "event.h"
#include "telemetry.h"

#include <math.h>

static fo_obs agent(uint32_t frame, int64_t ts_ms, double x, double y, double vx, double vy,
                    double yaw, double p)
{
	fo_obs o = {.scene = 7,
	            .frame = frame,
	            .track = 42,
	            .ts_ns = ts_ms * 1000000,
	            .pos = {x, y, 0},
	            .vel = {vx, vy},
	            .yaw = yaw,
	            .label_probability = p};
	return o;
}

int main(void)
{
	fo_track tr = {0};
	fo_telemetry t;

	/* first observation: velocity from the field, no acceleration/yaw rate */
	fo_obs o = agent(0, 1000, 1.0, 2.0, 3.0, 4.0, 0.5, 0.9);
	fo_telemetry_derive(&tr, &o, &t);
	FO_CHECK_NEAR(t.vel_mag, 5.0, 1e-12);
	FO_CHECK_NEAR(t.acc_mag, 0.0, 0);
	FO_CHECK_NEAR(t.yaw_rate, 0.0, 0);
	FO_CHECK(t.track_length == 1);

	/* 100 ms later: v (3,4) -> (0,0): a = (-30,-40) m/s^2, |a| = 50 */
	o = agent(1, 1100, 1.3, 2.4, 0.0, 0.0, 0.6, 0.9);
	fo_telemetry_derive(&tr, &o, &t);
	FO_CHECK_NEAR(t.acc[0], -30.0, 1e-9);
	FO_CHECK_NEAR(t.acc[1], -40.0, 1e-9);
	FO_CHECK_NEAR(t.acc[2], 0.0, 0);
	FO_CHECK_NEAR(t.acc_mag, 50.0, 1e-9);
	FO_CHECK_NEAR(t.yaw_rate, 1.0, 1e-9); /* 0.1 rad / 0.1 s */
	FO_CHECK(t.track_length == 2);

	/* unseen for two frames: dt = 0.3 s against the previous observation;
	 * yaw 0.6 -> -3.0 wraps: diff = -3.6 + 2pi = 2.683185..., rate /0.3 */
	o = agent(4, 1400, 1.3, 2.4, 3.0, 0.0, -3.0, 0.9);
	fo_telemetry_derive(&tr, &o, &t);
	FO_CHECK_NEAR(t.acc[0], 10.0, 1e-9);
	FO_CHECK_NEAR(t.yaw_rate, (-3.6 + 2 * M_PI) / 0.3, 1e-9);
	FO_CHECK(t.track_length == 3);

	/* a timestamp that does not advance gives zeros, not infinities */
	o = agent(5, 1400, 1.3, 2.4, 9.0, 0.0, -3.0, 0.9);
	fo_telemetry_derive(&tr, &o, &t);
	FO_CHECK(isfinite(t.acc_mag) && t.acc_mag == 0.0 && t.yaw_rate == 0.0);

	/* ego: velocity from translation on all three axes, 0 at its first
	 * frame; acceleration 0 at its first two frames */
	fo_track et = {0};
	fo_obs e = {.scene = 7,
	            .frame = 0,
	            .track = FO_TRACK_EGO,
	            .ts_ns = 0,
	            .pos = {10, 20, 30},
	            .label_probability = 1.0};
	fo_telemetry_derive(&et, &e, &t);
	FO_CHECK(t.vel_mag == 0.0 && t.acc_mag == 0.0);
	e.frame = 1, e.ts_ns = 200000000, e.pos[0] = 11, e.pos[1] = 20, e.pos[2] = 30.2;
	fo_telemetry_derive(&et, &e, &t);
	FO_CHECK_NEAR(t.vel[0], 5.0, 1e-9);
	FO_CHECK_NEAR(t.vel[2], 1.0, 1e-9);
	FO_CHECK_NEAR(t.vel_mag, sqrt(26.0), 1e-9);
	FO_CHECK(t.acc_mag == 0.0);
	e.frame = 2, e.ts_ns = 400000000, e.pos[0] = 13, e.pos[2] = 30.2;
	fo_telemetry_derive(&et, &e, &t);
	FO_CHECK_NEAR(t.vel[0], 10.0, 1e-9);
	FO_CHECK_NEAR(t.acc[0], 25.0, 1e-9); /* (10 - 5) / 0.2 */
	FO_CHECK_NEAR(t.acc[2], -5.0, 1e-9); /* (0 - 1) / 0.2 */
	FO_CHECK(t.track_length == 3);

	FO_CHECK_NEAR(fo_wrap_pi(3 * M_PI), -M_PI, 1e-12);
	FO_CHECK_NEAR(fo_wrap_pi(-0.25), -0.25, 0);

	char id[FO_VEHICLE_ID_MAX];
	fo_vehicle_id_format(id, 7, 42);
	FO_CHECK_STR(id, "scene_007_track_42");
	fo_vehicle_id_format(id, 1234, FO_TRACK_EGO);
	FO_CHECK_STR(id, "scene_1234_ego");

	/* event ids are deterministic and distinct per vehicle and frame */
	fo_replay_meta m;
	fo_replay_meta_init(&m, &fo_uuid_ns_fleetops, 0);
	fo_uuid a, b, c;
	fo_event_id(&m, "scene_007_track_42", 18, 3, &a);
	fo_event_id(&m, "scene_007_track_42", 18, 3, &b);
	fo_event_id(&m, "scene_007_track_42", 18, 4, &c);
	FO_CHECK(memcmp(&a, &b, 16) == 0 && memcmp(&a, &c, 16) != 0);
	fo_uuid ref;
	fo_uuid5(&ref, &fo_uuid_ns_fleetops, "scene_007_track_42:3", 20);
	FO_CHECK(memcmp(&a, &ref, 16) == 0);
	return fo_test_done("test_telemetry");
}
