/*
 * detector: the explainable rules, evaluated per vehicle on each new
 * telemetry observation.
 *
 *   hard_braking      sudden_deceleration  |a| > decel_accel and the speed
 *                     change over the last decel_window frames < decel_dv;
 *                     CRITICAL at |a| >= decel_critical, else WARNING
 *   label_drop        perception_instability  max label probability of the
 *                     previous perception_window-1 frames minus now > label_drop
 *   position_jump     perception_instability  distance from the position the
 *                     last velocity predicts > position_jump
 *   yaw_jump          perception_instability  |wrap(yaw - yaw_prev)| > yaw_jump
 *                     between consecutive frames, at yaw_min_speed or faster
 *   track_dropout     dropout (INFO)  the vehicle reappears after being unseen
 *                     for more than dropout_frames frames
 *   scene_agent_drop  dropout (WARNING, on the scene's ego)  the frame's
 *                     active agents fell by more than scene_agent_drop
 *
 * Braking and perception rules apply once a vehicle has min_track_length
 * observations (a young track's velocity and heading are not settled yet).
 * Each rule has a cool-down per vehicle: after it fires, it stays quiet for
 * cooldown_frames frames, so one lasting condition is one anomaly. When
 * several rules fire on the same observation, each is raised as CRITICAL.
 *
 * fo_detect is a pure function of the thresholds, the vehicle's fo_vdet and
 * the observation: no allocation, no locks, no shared state. The thread that
 * owns the vehicle (its shard worker) owns its fo_vdet.
 */
#ifndef FO_DETECTOR_H
#define FO_DETECTOR_H

#include "anomaly.h"
#include "telemetry.h"
#include "thresholds.h"

#include <stdint.h>

/* One remembered observation. */
typedef struct fo_vobs {
	int64_t ts_ns;
	double x, y;
	float vx, vy;
	float speed, accel;
	float yaw, label;
	uint32_t frame;
} fo_vobs;

/* Per-vehicle detector state; zero-filled is the initial state. */
typedef struct fo_vdet {
	fo_vobs h[FO_EVIDENCE_MAX]; /* ring of the last observations */
	uint8_t n;                  /* entries in h */
	uint8_t head;               /* next slot to write */
	uint8_t have_agents;
	uint32_t agents;                     /* ego: active agents in its last frame */
	uint32_t quiet_until[FO_RULE_COUNT]; /* cool-down: frame before which a rule stays quiet */
	uint8_t fired[FO_RULE_COUNT];
} fo_vdet;

/* Evaluates every rule on t against v, records t in v, and writes the
 * anomalies raised (at most FO_RULE_COUNT) into out. frame_agents: for the
 * ego, the number of agents in t's frame (FO_AGENTS_UNKNOWN if not known).
 * Returns the number of anomalies. Worker thread; no allocation. */
int fo_detect(const fo_thresholds *th, fo_vdet *v, const fo_telemetry *t, uint32_t frame_agents,
              fo_anomaly *out);

/* The raw features of an observation against the vehicle's history, before
 * any threshold: what calibration looks at. Fills without recording t;
 * a feature that needs history it does not have is NAN. */
typedef struct fo_features {
	double accel; /* |a| */
	double dv;    /* speed change over the decel window */
	double label_drop;
	double position_jump;
	double yaw_jump;
	double frames_unseen;
} fo_features;

/* Records t in v's history without evaluating any rule (calibration). */
void fo_detect_record(fo_vdet *v, const fo_telemetry *t);

void fo_detect_features(const fo_thresholds *th, const fo_vdet *v, const fo_telemetry *t,
                        fo_features *f);

#endif
