/*
 * replay: plays an L5Kit dataset as live telemetry. Reads frames in dataset
 * order (io/l5kit), derives each vehicle's telemetry against its previous
 * observation (core/telemetry), encodes RawTelemetryEvents (core/event) and
 * emits them to a sink, paced by the frames' own timestamps at `speed` times
 * real time (scenes play back to back) or as fast as possible.
 *
 * Runs on the calling thread; allocation happens at start and when a scene
 * holds more vehicles than any before it, never per event. Logs progress as
 * JSON lines every progress_interval seconds.
 */
#ifndef FO_REPLAY_H
#define FO_REPLAY_H

#include "l5kit.h"
#include "sink.h"
#include "telemetry.h"
#include "uuid5.h"

#include <signal.h>
#include <stdint.h>

typedef struct fo_replay_conf {
	const char *dataset;
	const char *scenes;       /* selection spec, NULL for all */
	const char *golden;       /* golden-scenes file (scenes + frame ranges), or NULL */
	double speed;             /* times real time; 0 = as fast as possible */
	fo_l5kit_conf io;
	const char *session_id;   /* NULL: derived from dataset path and scenes */
	double progress_interval; /* seconds between progress lines; 0 = none */
	volatile sig_atomic_t *stop; /* set asynchronously to stop early */
	/* optional: called with every derived telemetry after it was emitted,
	 * with its event id and, for the ego, the agents in its frame (else
	 * UINT32_MAX). A negative return stops the replay with err filled. */
	int (*on_telemetry)(void *arg, const fo_telemetry *t, const fo_uuid *event_id,
	                    uint32_t frame_agents, char *err, size_t errsz);
	void *arg;
} fo_replay_conf;

typedef struct fo_replay_result {
	uint64_t scenes, frames, events;
	double seconds;
	int interrupted;
	char session_id[FO_UUID_STR_LEN + 1];
	uint64_t file_bytes, decoded_bytes, chunks;
	char backend[16];
} fo_replay_result;

/* Derives the replay session id: UUIDv5 of the FleetOps namespace and
 * "replay:<dataset realpath>:<scenes or *>", or of a given name (a UUID
 * given as name is used as is). */
void fo_replay_session_id(fo_uuid *out, const char *dataset, const char *scenes,
                          const char *name);

/* Loads a golden-scenes file: {"name", "description", "scenes": [{"index": N,
 * "frames": [lo, hi], "description": "..."}]} ("frames" optional: all).
 * Returns the number of picks and the picks in *out (mi_free), or -1 with
 * err naming the file and the entry. */
long fo_golden_load(const char *path, fo_l5kit_pick **out, char *err, size_t errsz);

/* Replays into sink. Returns 0 (also when stopped early: res->interrupted),
 * or -1 with err (dataset or sink failure). res is filled either way. */
int fo_replay_run(const fo_replay_conf *conf, fo_sink *sink, fo_replay_result *res,
                  char *err, size_t errsz);

#endif
