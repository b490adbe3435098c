/*
 * ingest: the anomalies topic into the alerts table, at least once and
 * never twice.
 *
 * One thread, the ingest thread, owns a consumer (io/consumer.h, group
 * operator-service-group, topic anomalies, manual commits), its offset
 * tracker (io/offsets.h) and a PostgreSQL connection (db.h). Each round
 * it polls up to batch_max messages, checks each (anomaly_json.h; one that
 * does not parse goes to anomalies.dlq with the reason and is done once
 * the copy is stored) and writes the batch in one transaction. Only after
 * COMMIT are the batch's offsets marked done and committed to Kafka; a
 * crash at any point re-reads from the last committed offset, and the
 * insert's ON CONFLICT (anomaly_id) DO NOTHING absorbs the repeats.
 *
 * PostgreSQL unavailable: the batch is kept, every assigned partition is
 * paused (the consumer keeps polling, so the group keeps this member),
 * nothing is committed, and the write is retried with a doubling backoff
 * (200 ms to 5 s), reconnecting when the connection is gone; the outage
 * and the recovery are logged once each. A batch that PostgreSQL refuses
 * as data (which the checks should make impossible) is written row by
 * row, and the refused rows go to the DLQ with the SQL state.
 *
 * A rebalance revokes partitions inside a poll: the batch is written if
 * the database is up, offsets are committed, and rows of revoked
 * partitions that could not be written are dropped (their next owner reads
 * them again).
 *
 * fo_ingest_status may be called from any thread (atomics); everything
 * else from the ingest thread.
 */
#ifndef FO_INGEST_H
#define FO_INGEST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define FO_INGEST_GROUP_DEFAULT "operator-service-group"
#define FO_INGEST_TOPIC_DEFAULT "anomalies"

typedef struct fo_ingest_conf {
	const char *brokers;      /* default 127.0.0.1:9092 */
	const char *group;        /* default FO_INGEST_GROUP_DEFAULT */
	const char *topic;        /* default FO_INGEST_TOPIC_DEFAULT; DLQ "<topic>.dlq" */
	const char *dsn;          /* PostgreSQL; required */
	const char *const *props; /* extra "key=value" consumer settings */
	size_t nprops;
	size_t batch_max;            /* rows per transaction; default 1000 */
	double progress_interval;    /* seconds between progress log lines; 0: none */
	double idle_exit;            /* stop after this long without messages; 0: never */
	volatile sig_atomic_t *stop; /* set (by a signal handler) to stop */
	int migrate;                 /* apply migrations at start (fleetops-operator: 1) */
	struct fo_hub *hub;          /* alert_created after each COMMIT (api.h); NULL: none */
	struct fo_fleet *fleet;      /* recomputed vehicle states go here; NULL: none */
} fo_ingest_conf;

/* What /health and the logs report; a snapshot. */
typedef struct fo_ingest_status {
	int kafka_ok;         /* the consumer is up and has not failed */
	int postgres_ok;      /* the last database call succeeded */
	int64_t consumer_lag; /* sum over assigned partitions; -1 unknown */
	uint64_t consumed, alerts_inserted, duplicates, dlq, commits;
	uint64_t db_retries; /* failed writes retried */
} fo_ingest_status;

typedef struct fo_ingest fo_ingest;

/* Checks conf and prepares; connects nowhere yet. conf's strings must
 * outlive the fo_ingest. Returns NULL with err (bad setting, out of
 * memory). Freed by fo_ingest_destroy. Any thread, before fo_ingest_run. */
fo_ingest *fo_ingest_new(const fo_ingest_conf *conf, char *err, size_t errsz);

/* Runs until *conf->stop (or idle_exit): connects to PostgreSQL (retrying
 * until it answers), applies migrations if asked, creates the consumer,
 * then consumes; on stop, writes what it holds if it can, commits, and
 * leaves the group. Returns 0, or -1 with err on a fatal error (a changed
 * migration, a consumer that cannot start or failed for good, a DLQ
 * write that failed). The ingest thread. */
int fo_ingest_run(fo_ingest *in, char *err, size_t errsz);

/* A snapshot of the counters and health. Any thread. */
void fo_ingest_status_get(const fo_ingest *in, fo_ingest_status *st);

void fo_ingest_destroy(fo_ingest *in);

#endif
