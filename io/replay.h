/*
 * replay: plays an L5Kit dataset as live telemetry: reads frames in dataset
 * order (io/l5kit) and hands each one to on_frame, paced by the frames' own
 * timestamps at `speed` times real time (scenes play back to back) or as
 * fast as possible. What happens to a frame (sharding to workers, telemetry
 * derivation, encoding, detection) is the caller's.
 *
 * Runs on the calling thread (the reader stage); nothing is allocated per
 * frame. Golden-scenes files (scenes plus frame ranges) are loaded here.
 */
#ifndef FO_REPLAY_H
#define FO_REPLAY_H

#include "l5kit.h"
#include "telemetry.h"
#include "uuid5.h"

#include <signal.h>
#include <stdint.h>

struct fo_replay_result;

typedef struct fo_replay_conf {
	const char *dataset;
	const char *scenes; /* selection spec, NULL for all */
	const char *golden; /* golden-scenes file (scenes + frame ranges), or NULL */
	double speed;       /* times real time; 0 = as fast as possible */
	fo_l5kit_conf io;
	const char *session_id;      /* NULL: derived from dataset path and scenes */
	double progress_interval;    /* seconds between on_progress calls; 0 = none */
	volatile sig_atomic_t *stop; /* set asynchronously to stop early */
	/* called once the pass is planned (res has the totals), then with every
	 * frame (obs[0] is the ego) when it is due; a negative return stops the
	 * replay with err filled */
	int (*on_start)(void *arg, const struct fo_replay_result *res, char *err, size_t errsz);
	int (*on_frame)(void *arg, const fo_l5kit_frame *fr, char *err, size_t errsz);
	void (*on_progress)(void *arg, const struct fo_replay_result *res);
	void *arg;
} fo_replay_conf;

typedef struct fo_replay_result {
	uint64_t scenes_total, events_total; /* what the pass will read */
	uint64_t scenes, frames, events;     /* what it has read */
	double seconds;
	int interrupted;
	uint64_t file_bytes, decoded_bytes, chunks;
	char backend[16];
} fo_replay_result;

/* Derives the replay session id: UUIDv5 of the FleetOps namespace and
 * "replay:<dataset realpath>:<scenes or *>", or of a given name (a UUID
 * given as name is used as is). */
void fo_replay_session_id(fo_uuid *out, const char *dataset, const char *scenes, const char *name);

/* Loads a golden-scenes file: {"name", "description", "scenes": [{"index": N,
 * "frames": [lo, hi], "description": "..."}]} ("frames" optional: all).
 * Returns the number of picks and the picks in *out (mi_free), or -1 with
 * err naming the file and the entry. */
long fo_golden_load(const char *path, fo_l5kit_pick **out, char *err, size_t errsz);

/* Replays. Returns 0 (also when stopped early: res->interrupted), or -1
 * with err (a dataset problem, or a callback's). res is filled either way. */
int fo_replay_run(const fo_replay_conf *conf, fo_replay_result *res, char *err, size_t errsz);

#endif
