/*
 * gen_world: the synthetic driving world behind fleetops-gen.
 *
 * Owns one scene at a time (a `fo_gen_scene`, variable `sc`): a ring road
 * (a rounded rectangle with six concentric lanes, three each way, right-hand
 * traffic) rotated to the heading the real L5Kit drive took and placed next
 * to it, M tracked vehicles and the ego driving on it at 10 Hz, and the
 * scripted anomalies of that scene. fo_gen_scene_step() produces one frame
 * at a time, so a scene never holds more than one frame of records.
 *
 * Motion: each vehicle moves along its lane by its speed (smooth: a slow
 * sinusoid around a cruise speed, 0..16 m/s, lateral acceleration under
 * 2.2 m/s^2 on the bends); the velocity field is the exact backward
 * difference of the centroid, (p_t - p_{t-1}) / 0.1 s, plus at most
 * 0.01 m/s of noise per axis on unscripted vehicles; yaw follows the lane
 * heading. Scripted vehicles carry no noise, so the rule arithmetic in
 * each anomaly's description holds to float32 precision.
 *
 * Determinism: everything derives from (seed, scene index) through
 * splitmix64 / xoshiro256** and a stateless hash for per-frame noise (no
 * rand(), no time); the same parameters give byte-identical records with
 * the same libm (sin, cos and fmod results can differ between libms).
 *
 * Threads: a scene belongs to the thread that created it.
 */
#ifndef FO_GEN_WORLD_H
#define FO_GEN_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "gen_l5kit.h"

#define FO_GEN_DT_NS      INT64_C(100000000) /* 10 Hz */
#define FO_GEN_MAX_VANISH 12

typedef enum fo_gen_kind {
	FO_GEN_HARD_BRAKING_WARNING,
	FO_GEN_HARD_BRAKING_CRITICAL,
	FO_GEN_POSITION_JUMP,
	FO_GEN_LABEL_COLLAPSE,
	FO_GEN_YAW_FLIP,
	FO_GEN_TRACK_DROPOUT,
	FO_GEN_MASS_VANISH,
	FO_GEN_NKINDS
} fo_gen_kind;

/* One scripted anomaly, as recorded in scripted_anomalies.json. Frames are
 * indices within the scene. */
typedef struct fo_gen_anomaly {
	fo_gen_kind kind;
	unsigned scene;
	uint64_t track_id;     /* 0 for mass_vanish: it belongs to the ego */
	unsigned frame_index;  /* first frame where the condition is in the data */
	unsigned frame_end;    /* last such frame */
	unsigned detect_frame; /* frame at which the default rule should fire */
	unsigned onset_frame;  /* first frame the script changes anything */
	unsigned nvanished;
	uint64_t vanished[FO_GEN_MAX_VANISH];    /* mass_vanish: tracks lost */
	uint64_t replacement[FO_GEN_MAX_VANISH]; /* ... re-detected under these */
	char description[1024];
} fo_gen_anomaly;

/* A named set of sizes plus the anomaly layout per scene. */
typedef struct fo_gen_preset fo_gen_preset;

typedef struct fo_gen_params {
	uint64_t seed;
	unsigned scenes, vehicles, frames;
	int anomalies; /* 0: no scripted anomalies at all */
	const fo_gen_preset *preset;
} fo_gen_params;

typedef struct fo_gen_scene fo_gen_scene;

/* Preset lookup by name ("demo", "test", "bench"); NULL if unknown. */
const fo_gen_preset *fo_gen_preset_find(const char *name);
const char *fo_gen_preset_name(const fo_gen_preset *p);
void fo_gen_preset_sizes(const fo_gen_preset *p, unsigned *scenes, unsigned *vehicles,
                         unsigned *frames);

/* Names used in the sidecar for a kind: the kind itself, the anomaly_type
 * and severity the detector is expected to raise. */
const char *fo_gen_kind_name(fo_gen_kind k);
const char *fo_gen_kind_type(fo_gen_kind k);
const char *fo_gen_kind_severity(fo_gen_kind k);

/* Timestamp (ns) of frame f of scene s; scenes follow each other with a
 * one-second gap, as make_fleet.py lays them out. */
int64_t fo_gen_frame_time(const fo_gen_params *p, unsigned s, unsigned f);

/* fo_gen_scene_new: plan scene `index` (vehicles, ego, anomalies).
 * Returns 0, -ENOMEM or -EINVAL (errbuf says why). The caller destroys
 * the scene with fo_gen_scene_destroy(). */
int fo_gen_scene_new(fo_gen_scene **out, const fo_gen_params *p, unsigned index, char *errbuf,
                     size_t errlen);

/* Anomalies placed in this scene, in frame order. Valid until destroy. */
size_t fo_gen_scene_anomalies(const fo_gen_scene *sc, const fo_gen_anomaly **out);

/* Notes about scripted anomalies that did not fit this scene (too few
 * frames or vehicles); NULL-terminated, valid until destroy. */
const char *const *fo_gen_scene_notes(const fo_gen_scene *sc);

/* Most agent records a frame of this scene can hold. */
size_t fo_gen_scene_max_agents(const fo_gen_scene *sc);

/* fo_gen_scene_step: advance to the next frame and write its agent records
 * (sorted by track id) to `agents` (room for fo_gen_scene_max_agents()),
 * and its timestamp and ego pose to *fr (the caller fills the index
 * intervals). Returns the number of agent records. Call exactly
 * `frames` times. */
size_t fo_gen_scene_step(fo_gen_scene *sc, fo_gen_agent *agents, fo_gen_frame *fr);

void fo_gen_scene_destroy(fo_gen_scene *sc);

#endif /* FO_GEN_WORLD_H */
