/*
 * thresholds: the numbers the detection rules decide with, and where they
 * came from. Defaults are the rule book's; `fleetops-calibrate` writes a
 * thresholds.json from golden scenes that fleetopsd loads with --thresholds.
 * Plain data: read-only once the workers start, so any thread may read it.
 */
#ifndef FO_THRESHOLDS_H
#define FO_THRESHOLDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fo_thresholds {
	/* sudden_deceleration over the last decel_window frames */
	double decel_accel;    /* |a| above this (m/s^2) */
	double decel_dv;       /* and speed change over the window below this (m/s) */
	double decel_critical; /* |a| at or above this: CRITICAL, else WARNING */
	uint32_t decel_window; /* frames */
	/* perception_instability over the last perception_window frames */
	double label_drop;    /* fall of max label probability */
	double position_jump; /* m off the position predicted from the last velocity */
	double yaw_jump;      /* rad between consecutive frames */
	double yaw_min_speed; /* m/s: a slower object's heading is not judged */
	uint32_t perception_window;
	/* dropout */
	uint32_t dropout_frames;   /* unseen for more than this many frames: INFO */
	uint32_t scene_agent_drop; /* active agents falling by more than this: WARNING */
	/* one lasting condition is one anomaly */
	uint32_t cooldown_frames;  /* per vehicle and rule */
	uint32_t min_track_length; /* observations before braking and perception rules apply */
	/* provenance, as written by the calibration tool */
	char source[256]; /* "defaults" or the file loaded */
	char dataset[256];
	char calibrated_at[32];
	double percentile;
} fo_thresholds;

/* The rule book's defaults (decel 3.0 m/s^2 and -5.0 m/s over 5 frames,
 * CRITICAL at 5.0; label drop 0.2, position jump 2.0 m, yaw jump 0.5 rad
 * over 3 frames; dropout after 3 frames, scene drop of 5 agents; cool-down
 * 20 frames). */
void fo_thresholds_default(fo_thresholds *th);

/* Loads thresholds.json over the defaults: {"values": {name: number}, ...}.
 * Unknown names and out-of-range values are errors naming the file and the
 * key. Returns 0 or -1 with err. */
int fo_thresholds_load(fo_thresholds *th, const char *path, char *err, size_t errsz);

/* Writes th as thresholds.json (values plus provenance: percentile,
 * dataset, date, and the figures each value was derived from in extra, a
 * JSON object text or NULL). Returns 0 or -1 with err. */
int fo_thresholds_save(const fo_thresholds *th, const char *path, const char *extra, char *err,
                       size_t errsz);

#endif
