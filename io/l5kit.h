/*
 * l5kit: an L5Kit dataset (zarr v2 group with scenes, frames and agents) as a
 * stream of frames, each carrying the observations of the logging car (the
 * ego) and every agent seen in it, in dataset order: scenes -> frames ->
 * agents.
 *
 * Opening checks the group, each array's .zarray, and that every field the
 * replay needs is in its dtype with a usable type; scenes are read whole at
 * open. Iterating streams frames and agents chunk by chunk through two
 * cursors with their reads in flight (io_uring or pread) and checks every
 * frame and agent interval. One thread (the reader) owns a fo_l5kit.
 * Errors name the file, the array, the chunk or record, and what is wrong.
 */
#ifndef FO_L5KIT_H
#define FO_L5KIT_H

#include "chunkio.h"
#include "telemetry.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fo_l5kit fo_l5kit;

typedef struct fo_l5kit_conf {
	fo_chunkio_backend backend; /* AUTO: io_uring, else pread */
	unsigned readahead;         /* chunk reads in flight per array (default 4) */
	int blosc_threads;          /* Blosc threads per chunk decode (default 1) */
	unsigned decode_threads;    /* agents chunks decoded off the reader thread by
	                             * this many threads (0: on the reader thread) */
} fo_l5kit_conf;

typedef struct fo_l5kit_scene {
	uint32_t index;
	uint64_t frame_lo, frame_hi; /* frames [lo, hi) of the frames array */
	int64_t start_time, end_time;
	char host[40];
} fo_l5kit_scene;

/* One frame: obs[0] is the ego, obs[1..n) the agents in record order. */
typedef struct fo_l5kit_frame {
	uint32_t scene;
	uint32_t frame;        /* index within its scene */
	uint64_t frame_global; /* index in the frames array */
	int64_t ts_ns;
	size_t n;
	const fo_obs *obs; /* valid until the next fo_l5kit_next */
} fo_l5kit_frame;

/* Opens the dataset at path (a directory ending in .zarr). conf may be NULL
 * for defaults. Returns NULL with err on any problem. Free with
 * fo_l5kit_close. */
fo_l5kit *fo_l5kit_open(const char *path, const fo_l5kit_conf *conf, char *err, size_t errsz);
void fo_l5kit_close(fo_l5kit *ds);

const char *fo_l5kit_path(const fo_l5kit *ds);
const char *fo_l5kit_backend(const fo_l5kit *ds);
uint32_t fo_l5kit_scene_count(const fo_l5kit *ds);
const fo_l5kit_scene *fo_l5kit_scene_get(const fo_l5kit *ds, uint32_t index);
uint64_t fo_l5kit_agent_count(const fo_l5kit *ds);
uint64_t fo_l5kit_frame_count(const fo_l5kit *ds);

/* A scene to replay and the frames of it to play: [frame_lo, frame_hi)
 * within the scene, clamped to its length (frame_hi UINT32_MAX: to the end).
 * Frame indices in events stay relative to the scene's first frame. */
typedef struct fo_l5kit_pick {
	uint32_t scene;
	uint32_t frame_lo, frame_hi;
} fo_l5kit_pick;

/* Starts a pass over picks (sorted into dataset order; a scene picked twice
 * is an error). Same results and errors as fo_l5kit_begin. */
int fo_l5kit_begin_picks(fo_l5kit *ds, const fo_l5kit_pick *picks, size_t n, uint64_t *frames,
                         uint64_t *agents, char *err, size_t errsz);

/* Starts a pass over the given scenes (NULL, 0: all), visited in dataset
 * order whatever the order given; duplicates are ignored. Counts what the
 * pass will emit into *frames and *agents (either may be NULL). Returns 0, or
 * -1 with err (unknown scene index, agent interval out of range, bad chunk). */
int fo_l5kit_begin(fo_l5kit *ds, const uint32_t *scenes, size_t n, uint64_t *frames,
                   uint64_t *agents, char *err, size_t errsz);

/* Reads the next frame. Returns 1 with *f filled, 0 at the end of the pass,
 * -1 with err. */
int fo_l5kit_next(fo_l5kit *ds, fo_l5kit_frame *f, char *err, size_t errsz);

/* Chunk-file bytes read and bytes decoded so far, over both arrays. */
void fo_l5kit_io_stats(const fo_l5kit *ds, uint64_t *file_bytes, uint64_t *decoded_bytes,
                       uint64_t *chunks);

/* Parses a scene selection such as "0-9,12,20-" into a sorted list of
 * indices below `count`. Returns the list length (freed by the caller with
 * mi_free) in *out, or -1 with err. */
long fo_l5kit_parse_scenes(const char *spec, uint32_t count, uint32_t **out, char *err,
                           size_t errsz);

#endif
