/*
 * gen_l5kit: the L5Kit zarr record layouts the generator writes.
 *
 * Owns the four record structs (byte-for-byte the numpy structured dtypes
 * of L5Kit's scenes / frames / agents / traffic_light_faces arrays, little
 * endian, no padding), the matching dtype field lists for the zarr writer,
 * the chunk lengths, the `.zattrs` label list and the meta.json transforms
 * of the real dataset (../shared/l5kit). Read-only data; any thread.
 *
 * Not a reader: consumers of a dataset must take the dtype from each
 * `.zarray` rather than from these structs.
 */
#ifndef FO_GEN_L5KIT_H
#define FO_GEN_L5KIT_H

#include <stddef.h>
#include <stdint.h>

#include "zarr_writer.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fleetops-gen writes little-endian records from memory"
#endif

#define FO_GEN_NLABELS       17
#define FO_GEN_LABEL_UNKNOWN 1
#define FO_GEN_LABEL_CAR     3
#define FO_GEN_LABEL_VAN     4

/* agents: 116 bytes, chunks of 20000 */
typedef struct __attribute__((packed)) fo_gen_agent {
	double centroid[2];
	float extent[3];
	float yaw;
	float velocity[2];
	uint64_t track_id;
	float label_probabilities[FO_GEN_NLABELS];
} fo_gen_agent;

/* frames: 136 bytes, chunks of 10000 */
typedef struct fo_gen_frame {
	int64_t timestamp;
	int64_t agent_index_interval[2];
	int64_t traffic_light_faces_index_interval[2];
	double ego_translation[3];
	double ego_rotation[3][3];
} fo_gen_frame;

/* scenes: 96 bytes, chunks of 10000; host is numpy <U16 (UTF-32LE) */
typedef struct fo_gen_scene_rec {
	int64_t frame_index_interval[2];
	uint32_t host[16];
	int64_t start_time;
	int64_t end_time;
} fo_gen_scene_rec;

/* traffic_light_faces: 140 bytes, chunks of 10000 (the generator writes none) */
typedef struct fo_gen_tl_face {
	uint32_t face_id[16];
	uint32_t traffic_light_id[16];
	float traffic_light_face_status[3];
} fo_gen_tl_face;

_Static_assert(sizeof(fo_gen_agent) == 116, "agents record is 116 bytes");
_Static_assert(sizeof(fo_gen_frame) == 136, "frames record is 136 bytes");
_Static_assert(sizeof(fo_gen_scene_rec) == 96, "scenes record is 96 bytes");
_Static_assert(sizeof(fo_gen_tl_face) == 140, "traffic light record is 140 bytes");

/* One array of the dataset: name, dtype and chunk length. */
typedef struct fo_gen_array_def {
	const char *name;
	const fo_zarrw_field *fields;
	size_t nfields;
	size_t chunk_len;
	size_t record_size; /* sizeof the struct above, checked against dtype */
} fo_gen_array_def;

enum { FO_GEN_SCENES, FO_GEN_FRAMES, FO_GEN_AGENTS, FO_GEN_TL_FACES, FO_GEN_NARRAYS };

extern const fo_gen_array_def fo_gen_arrays[FO_GEN_NARRAYS];

/* PERCEPTION_LABEL_* names of `.zattrs` "labels", in index order. */
extern const char *const fo_gen_labels[FO_GEN_NLABELS];

/* meta.json of the real dataset, as number text copied verbatim. */
extern const char *const fo_gen_world_to_ecef[4][4];
extern const char *const fo_gen_ecef_to_aerial[4][4];

/* Where and when the real single_scene.zarr was recorded: the ego's first
 * pose (world frame, metres / radians) and first frame time (ns). */
#define FO_GEN_REAL_EGO_X   (-664.10211182)
#define FO_GEN_REAL_EGO_Y   1069.47399902
#define FO_GEN_REAL_EGO_Z   271.47375488
#define FO_GEN_REAL_EGO_YAW 2.2884 /* atan2(0.75374955, -0.65706742) */
#define FO_GEN_REAL_T0_NS   INT64_C(1571846881500000000)

#endif /* FO_GEN_L5KIT_H */
