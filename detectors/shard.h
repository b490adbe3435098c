/*
 * shard: the detection state of the vehicles one worker owns — a
 * preallocated hash map from vehicle to its fo_vdet — and the counters of
 * what it decided. One shard per worker thread; vehicles reach a shard by a
 * hash of their id, so each vehicle's observations arrive in order on one
 * thread and nothing here is shared or locked.
 */
#ifndef FO_SHARD_H
#define FO_SHARD_H

#include "detector.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fo_shard fo_shard;

typedef struct fo_shard_stats {
	uint64_t observations;
	uint64_t anomalies[FO_RULE_COUNT];
	uint64_t by_severity[3];
	uint64_t vehicles; /* currently tracked */
} fo_shard_stats;

/* Creates a shard sized for `expected` vehicles; th is borrowed and must
 * outlive the shard. NULL on allocation failure. */
fo_shard *fo_shard_new(const fo_thresholds *th, size_t expected);
void fo_shard_destroy(fo_shard *s);

/* Runs the rules on t for its vehicle; writes up to FO_RULE_COUNT
 * anomalies to out and returns their number, or -1 if the map could not
 * grow. Owner thread only. */
int fo_shard_observe(fo_shard *s, const fo_telemetry *t, uint32_t frame_agents, fo_anomaly *out);

/* Forgets every vehicle of scene (its replay ended). Owner thread only. */
void fo_shard_forget_scene(fo_shard *s, uint32_t scene);

void fo_shard_stats_get(const fo_shard *s, fo_shard_stats *st);

#endif
