/*
 * telemetry: one vehicle observation as read from L5Kit, and the derived
 * telemetry of DESIGN.md ("Telemetry definitions").
 *
 * fo_obs is what the reader decodes from the zarr arrays; fo_telemetry_derive
 * turns it into fo_telemetry against the same vehicle's previous observation
 * (fo_track), on whichever thread owns that vehicle. Plain structs, no
 * allocation, no shared state.
 */
#ifndef FO_TELEMETRY_H
#define FO_TELEMETRY_H

#include "vmap.h"

#include <stdint.h>

typedef struct fo_obs {
	uint32_t scene;           /* zarr scene index */
	uint32_t frame;           /* frame index within the scene */
	uint64_t track;           /* L5Kit track id, FO_TRACK_EGO for the logging car */
	int64_t ts_ns;            /* frame timestamp, ns since the Unix epoch */
	double pos[3];            /* centroid (x, y, 0); ego: ego_translation */
	double vel[2];            /* agent velocity field; ignored for the ego */
	double yaw;               /* agent yaw; ego: from ego_rotation */
	double label_probability; /* max(label_probabilities); ego: 1.0 */
} fo_obs;

/* What a vehicle's previous observation leaves behind for the next one. */
typedef struct fo_track {
	int64_t ts_ns;
	double pos[3];
	double vel[3];
	double yaw;
	uint32_t count; /* observations so far */
} fo_track;

typedef struct fo_telemetry {
	uint32_t scene;
	uint32_t frame;
	uint64_t track;
	int64_t ts_ns;
	double pos[3];
	double vel[3];
	double acc[3];
	double vel_mag;
	double acc_mag;
	double yaw;
	double yaw_rate;
	double label_probability;
	uint32_t track_length;
	uint32_t frame_agents; /* ego only: agents in its frame; else FO_AGENTS_UNKNOWN */
} fo_telemetry;

/* No frame agent count (an agent's event, or one that does not carry it). */
#define FO_AGENTS_UNKNOWN UINT32_MAX

/* Derives t from o and the vehicle's previous state tr (zero-filled for a
 * vehicle not seen before), then advances tr to o. t->frame_agents is left
 * FO_AGENTS_UNKNOWN for the caller, who knows the frame, to set. Never fails: a frame
 * whose timestamp does not advance past the previous one (dt <= 0) gets zero
 * acceleration and yaw rate instead of a division by zero. */
void fo_telemetry_derive(fo_track *tr, const fo_obs *o, fo_telemetry *t);

/* Wraps an angle difference to [-pi, pi). */
double fo_wrap_pi(double a);

/* Formats "scene_NNN_track_T" / "scene_NNN_ego" into out (NUL-terminated);
 * returns the length. out must hold FO_VEHICLE_ID_MAX bytes. */
#define FO_VEHICLE_ID_MAX 48
int fo_vehicle_id_format(char *out, uint32_t scene, uint64_t track);

/* Formats "scene_NNN" (at least three digits); returns the length. */
int fo_scene_id_format(char *out, uint32_t scene);

#endif
