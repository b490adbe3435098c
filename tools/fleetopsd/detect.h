/*
 * detect: the `fleetopsd detect` role. Consumes raw_telemetry in a consumer
 * group, runs the events through the pipeline's shard workers (dedup,
 * reorder, rules) and produces anomalies, at least once: a message's
 * offset is committed only when it and every earlier message of its
 * partition are processed and their anomalies acknowledged by the broker.
 */
#ifndef FO_DETECT_H
#define FO_DETECT_H

#include "pipeline.h"

#include <signal.h>
#include <stddef.h>

typedef struct fo_detect_conf {
	const char *brokers;
	const char *group;         /* consumer group (anomaly-service-group) */
	const char *const *cprops; /* extra consumer settings, "key=value" */
	size_t ncprops;
	double idle_exit;         /* stop after this many seconds without messages; 0: never */
	double commit_interval;   /* seconds between commits */
	double progress_interval; /* seconds between stats lines; 0: none */
	const char *report_path;  /* --report FILE or NULL */
	volatile sig_atomic_t *stop;
} fo_detect_conf;

/* Runs the detect role on the calling thread (the consumer/reader stage)
 * with the pipeline described by pc (its sink produces anomalies). Returns
 * the process exit status: 0 stopped cleanly (signal or idle), 1 failure
 * (logged). */
int fo_detect_run(const fo_detect_conf *dc, fo_pipeline_conf *pc);

#endif
