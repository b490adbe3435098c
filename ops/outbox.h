/*
 * outbox: puts the operator_actions rows on Kafka as OperatorActionEvents
 * (docs/kafka_schemas.md), at least once, in created_at order.
 *
 * One thread of its own, with its own PostgreSQL connection and an
 * idempotent librdkafka producer (acks=all). It wakes when kicked (after
 * an action commits) and at least once a second, reads up to 500 rows
 * whose published_at is NULL (oldest first; FOR UPDATE SKIP LOCKED, so two
 * operator processes never send a row twice at once), produces each to the
 * topic keyed by action_id, waits for every delivery report, then sets
 * published_at on the delivered rows in the same transaction. A row is
 * marked only after the broker acknowledged it; a crash between the two
 * sends it again (consumers deduplicate by action_id: the event's bytes,
 * processing_time included, are the same each time). The state is the
 * table, so rows written while the broker or this process was away are
 * sent once both are back. Broker and database outages are logged once
 * when they start and once when they end.
 */
#ifndef FO_OUTBOX_H
#define FO_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

typedef struct fo_outbox fo_outbox;

typedef struct fo_outbox_conf {
	const char *brokers;        /* bootstrap.servers */
	const char *dsn;            /* PostgreSQL */
	const char *topic;          /* NULL: "operator_actions" */
	const char *const *kafka_x; /* extra librdkafka "key=value" settings (later win) */
	size_t kafka_x_n;
	int batch; /* rows per round, 1..500; 0: 500 */
} fo_outbox_conf;

/* Creates the producer and starts the thread (it connects to PostgreSQL
 * itself and retries; neither service has to be up). conf's strings are
 * copied. Returns NULL with err on a bad setting. Main thread. */
fo_outbox *fo_outbox_start(const fo_outbox_conf *conf, char *err, size_t errsz);

/* Wakes the thread to publish now (after an action committed). Any
 * thread; never blocks on I/O. NULL-safe. */
void fo_outbox_kick(fo_outbox *ob);

typedef struct fo_outbox_status {
	uint64_t published; /* events acknowledged by the broker since start */
	int64_t pending;    /* unpublished rows at the last scan; -1 before the first */
	int broker_ok;      /* 0 after a failed delivery or all brokers down, until one succeeds */
	int postgres_ok;    /* 0 while the outbox cannot reach PostgreSQL */
} fo_outbox_status;

/* A snapshot of the counters (/health, /metrics). Any thread. */
void fo_outbox_status_get(const fo_outbox *ob, fo_outbox_status *st);

/* Stops the thread (an unfinished round is abandoned: its rows stay
 * unpublished and go out on the next start), destroys the producer, frees
 * ob. NULL-safe. Main thread. */
void fo_outbox_stop(fo_outbox *ob);

#endif
