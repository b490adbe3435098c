/*
 * pipeline: fleetopsd's stages and the rings between them.
 *
 *   reader (caller's thread: replay)  --SPSC ring per worker-->
 *   shard workers (pinned; a vehicle goes to worker hash(vehicle) % N, so
 *   its observations stay in order on one thread)  --SPSC ring per worker-->
 *   sink thread (Kafka producer, ndjson files or null)
 *
 * A worker derives each vehicle's telemetry (core/telemetry), encodes the
 * RawTelemetryEvent (core/event), runs the rules (detectors/shard) and
 * encodes the anomalies; the sink thread only emits bytes. Per-vehicle
 * state lives in each worker's own map; every thread records latency into
 * its own histograms and counters (no shared writes per event); the
 * reporter merges them for the periodic stats line and the final report.
 * Rings are bounded and nothing is dropped: a full ring makes its producer
 * wait.
 */
#ifndef FO_PIPELINE_H
#define FO_PIPELINE_H

#include "event.h"
#include "uuid5.h"
#include "l5kit.h"
#include "sink.h"
#include "thresholds.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct fo_pipeline fo_pipeline;

#define FO_MAX_WORKERS 64

typedef struct fo_pipeline_conf {
	unsigned workers;     /* shard workers, >= 1 */
	size_t ring_capacity; /* slots per ring (rounded to a power of two) */
	int cpu_reader;       /* CPU to pin each stage to, -1: not pinned */
	int cpu_sink;
	int cpu_workers[FO_MAX_WORKERS];
	int emit_raw;               /* produce raw_telemetry */
	int detect;                 /* run the rules, produce anomalies */
	const fo_thresholds *th;    /* borrowed */
	const fo_replay_meta *meta; /* session, for event ids; borrowed */
	fo_sink *sink;              /* borrowed; used by the sink thread only */
	int consume;                /* detect: input is consumed telemetry whose tags are
	                             * acknowledged when done (dedup, reorder, acks) */
	size_t dedup_capacity;      /* detect: event ids remembered per worker */
} fo_pipeline_conf;

/* Creates the rings and starts the workers and the sink thread (and pins
 * the calling thread, the reader, if asked). Returns NULL with err. */
fo_pipeline *fo_pipeline_start(const fo_pipeline_conf *conf, char *err, size_t errsz);

/* Reader: shards one frame's observations to the workers (obs[0] is the
 * ego and carries the frame's agent count). Waits while a ring is full.
 * Returns 0, or -1 with err if a stage has failed. */
int fo_pipeline_frame(fo_pipeline *p, const fo_l5kit_frame *fr, char *err, size_t errsz);

/* Reader (detect): hands one consumed RawTelemetryEvent to its vehicle's
 * worker (waiting while its ring is full). tag identifies the message; it
 * comes back from fo_pipeline_acks once the event is processed (deduped,
 * reordered, checked) and every anomaly it caused is delivered. emit_ns:
 * the event's processing_time (its replay emit, wall clock). Publish with
 * fo_pipeline_publish after a batch. Returns 0, or -1 with err if a stage
 * has failed. */
int fo_pipeline_telemetry(fo_pipeline *p, const fo_telemetry *t, const fo_uuid *event_id,
                          int64_t emit_ns, uint64_t tag, char *err, size_t errsz);
void fo_pipeline_publish(fo_pipeline *p);

/* Reader (detect): asks every worker to release what its reorder buffers
 * hold (before a commit that must cover everything consumed). */
void fo_pipeline_flush(fo_pipeline *p);

/* Reader (detect): tags of messages now done (see fo_pipeline_telemetry),
 * up to max; returns how many. Also after fo_pipeline_finish, for the last
 * ones. */
size_t fo_pipeline_acks(fo_pipeline *p, uint64_t *tags, size_t max);

/* Reader: one JSON stats line (events/s, ring occupancy, p99s) now. */
void fo_pipeline_log_stats(fo_pipeline *p);

/* Reader: closes the input, waits for the workers and the sink thread to
 * drain and stop. Returns 0, or -1 with err (a stage's failure). */
int fo_pipeline_finish(fo_pipeline *p, char *err, size_t errsz);

/* After finish: prints the latency table to out and, if path is not NULL,
 * writes the report as JSON there. extra: a JSON fragment of more fields
 * ("\"k\":v,...") for the report, or NULL. Returns 0 or -1 (cannot write). */
int fo_pipeline_report(fo_pipeline *p, FILE *out, const char *path, const char *extra);

/* After finish: counters for the summary. */
typedef struct fo_pipeline_totals {
	uint64_t observations, raw_events, anomalies;
	uint64_t by_rule[8];
	uint64_t duplicates, late, reordered, evicted; /* detect */
	double seconds;
} fo_pipeline_totals;
void fo_pipeline_totals_get(const fo_pipeline *p, fo_pipeline_totals *t);

void fo_pipeline_destroy(fo_pipeline *p);

/* Parses "0,1,3" into cpus[] (at most max); returns the count or -1. */
int fo_parse_cpus(const char *s, int *cpus, int max);

#endif
