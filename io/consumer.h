/*
 * consumer: the Kafka consumer side of fleetopsd detect, and its dead
 * letter queue.
 *
 * A librdkafka KafkaConsumer in a consumer group (anomaly-service-group)
 * subscribed to raw_telemetry, for at-least-once processing: nothing is
 * committed automatically and no offset is stored by librdkafka; the
 * caller commits explicit offsets (io/offsets.h decides which) with
 * fo_consumer_commit. A group without a committed offset starts from the
 * earliest message.
 *
 * Partition assignment: the eager `range` assignor by default. With six
 * partitions and a handful of fleetopsd processes, a rebalance that stops
 * every member briefly is cheap, and it keeps the revoke path simple and
 * uniform: on every rebalance the pipeline drains and commits everything,
 * then gets a fresh assignment starting at the committed offsets. The
 * cooperative-sticky assignor moves fewer partitions, but librdkafka 2.0.2
 * (Debian 12) has known faults with it around closing during a rebalance
 * (fixed in 2.2/2.3); it can still be chosen with
 * -X partition.assignment.strategy=cooperative-sticky, and the rebalance
 * callback then uses the incremental assign/unassign calls.
 *
 * Rebalances run inside fo_consumer_poll (and fo_consumer_close) on the
 * consumer thread: the on_assign hook runs before the partitions are
 * assigned, on_revoke before they are taken away, so it can drain the
 * messages in flight and commit their offsets while this member still owns
 * them. Messages of revoked partitions that the same poll call had already
 * collected are dropped before it returns (their new owner, or this member
 * after a new assignment, reads them again from the committed offset).
 *
 * A message that cannot be processed goes to the dead letter topic
 * (raw_telemetry.dlq) with fo_consumer_dlq: its original key and bytes and
 * the headers fo-error (why), fo-topic, fo-partition and fo-offset, through
 * a small idempotent producer of its own. Its delivery is reported through
 * the on_dlq hook, so the offset is marked done only once the copy is safe.
 *
 * Consumer lag per partition comes from librdkafka's statistics (every
 * stats_interval_ms), parsed on the consumer thread.
 *
 * Threads: everything here runs on one thread, the consumer thread, which
 * also runs the hooks. Messages returned by fo_consumer_poll stay valid
 * until fo_consumer_release (any thread may read them meanwhile). Errors
 * name the topic, partition and offset they concern.
 */
#ifndef FO_CONSUMER_H
#define FO_CONSUMER_H

#include "offsets.h"

#include <stddef.h>
#include <stdint.h>

#define FO_CONSUMER_GROUP_DEFAULT  "anomaly-service-group"
#define FO_CONSUMER_TOPIC_DEFAULT  "raw_telemetry"
#define FO_CONSUMER_MAX_PARTITIONS FO_OFFSETS_MAX_PARTITIONS

typedef struct fo_consumer fo_consumer;

/* One consumed message; key and value point into librdkafka's buffer. */
typedef struct fo_consumer_msg {
	const char *value;
	size_t len;
	const char *key; /* NULL when the message has none */
	size_t key_len;
	int32_t partition;
	int64_t offset;
	int64_t timestamp_ms; /* the message's (producer's) timestamp; -1 if none */
	void *_rkm;           /* private: the rd_kafka_message_t */
} fo_consumer_msg;

/* Called on the consumer thread, from fo_consumer_poll or fo_consumer_close. */
typedef struct fo_consumer_hooks {
	void *opaque;
	/* partitions of the topic were assigned; their messages follow. */
	void (*on_assign)(void *opaque, const int32_t *partitions, size_t n);
	/* partitions are about to be taken away: finish their messages and
	 * commit now. lost: the group already gave them to another member (a
	 * session timeout); commits will fail, just forget them. */
	void (*on_revoke)(void *opaque, const int32_t *partitions, size_t n, int lost);
	/* the DLQ copy of the message of tag was stored (ok = 1) or failed for
	 * good (ok = 0, logged). */
	void (*on_dlq)(void *opaque, uint64_t tag, int ok);
	/* a commit finished; error is NULL on success. Called for synchronous
	 * commits too (during a later poll). */
	void (*on_commit)(void *opaque, const fo_offsets_pos *pos, size_t n, const char *error);
} fo_consumer_hooks;

typedef struct fo_consumer_conf {
	const char *brokers;      /* bootstrap servers; default 127.0.0.1:9092 */
	const char *group;        /* default FO_CONSUMER_GROUP_DEFAULT */
	const char *topic;        /* default FO_CONSUMER_TOPIC_DEFAULT */
	const char *dlq_topic;    /* default "<topic>.dlq" */
	const char *client_id;    /* default "fleetopsd" */
	const char *const *props; /* extra "key=value" librdkafka settings, consumer */
	size_t nprops;
	const char *const *dlq_props; /* the same for the DLQ producer */
	size_t ndlq_props;
	int stats_interval_ms; /* lag refresh; default 5000, -1 disables */
	fo_consumer_hooks hooks;
} fo_consumer_conf;

typedef struct fo_consumer_stats {
	uint64_t messages; /* returned by fo_consumer_poll */
	uint64_t bytes;
	uint64_t dropped_revoked; /* collected, then dropped by a revoke in the same poll */
	uint64_t errors;          /* consume errors (logged) */
	uint64_t assigns, revokes;
	uint64_t commits, commit_failures;
	uint64_t dlq_sent, dlq_delivered, dlq_failed;
	unsigned assigned; /* partitions now */
} fo_consumer_stats;

/* One partition's lag as of the last statistics. */
typedef struct fo_consumer_lag {
	int32_t partition;
	int64_t high;      /* end of the partition (last stable offset) */
	int64_t position;  /* next offset this member fetches for the application */
	int64_t committed; /* the group's committed offset; -1 none */
	int64_t lag;       /* high - committed (Kafka's consumer lag); -1 unknown */
} fo_consumer_lag;

/* 0 after librdkafka reported every broker down, until a broker is up
 * again (the next statistics, stats_interval_ms) or messages arrive; else
 * 1. Any thread. */
int fo_consumer_brokers_up(const fo_consumer *c);

/* Creates the consumer and its DLQ producer, checks with the brokers that
 * the topic and the DLQ topic exist, and subscribes. Returns NULL with err
 * (a bad setting, an unreachable broker, a missing topic: each named).
 * conf and its strings are copied. Freed by fo_consumer_close. Consumer
 * thread from here on. */
fo_consumer *fo_consumer_new(const fo_consumer_conf *conf, char *err, size_t errsz);

/* Waits up to timeout_ms for a first message, then takes whatever else is
 * ready, up to max, into out; serves rebalances (hooks), statistics and
 * DLQ delivery reports on the way. Returns the number of messages (0 on
 * timeout), or -1 with err if the consumer has failed for good (a fatal
 * error: the process should stop). Each returned message must be passed to
 * fo_consumer_release. Consumer thread. */
int fo_consumer_poll(fo_consumer *c, fo_consumer_msg *out, size_t max, int timeout_ms, char *err,
                     size_t errsz);

/* Frees messages returned by fo_consumer_poll. Consumer thread (or the
 * thread the messages were handed to, once the consumer no longer polls). */
void fo_consumer_release(fo_consumer *c, fo_consumer_msg *msgs, size_t n);

/* Commits "next offset to read" for each pos (partitions of the topic):
 * sync waits for the broker and returns 0 or -1 with err naming each
 * failed partition and offset; async returns 0 once the request is queued
 * (the outcome reaches on_commit). Consumer thread, hooks included. */
int fo_consumer_commit(fo_consumer *c, const fo_offsets_pos *pos, size_t n, int sync, char *err,
                       size_t errsz);

/* Commits, synchronously, every partition whose committable offset in o
 * has moved, and records the commit in o. Returns the number of partitions
 * committed (0: nothing new), or -1 with err (nothing recorded: the same
 * offsets are tried again next time). Consumer thread, hooks included. */
int fo_consumer_commit_done(fo_consumer *c, fo_offsets *o, char *err, size_t errsz);

/* Stops (pause = 1) or restarts fetching partition, e.g. while its offset
 * window is full. Messages already fetched for it are discarded by
 * librdkafka and fetched again on resume from the application's position.
 * Returns 0, or -1 with err (e.g. the partition is not assigned to this
 * member). Consumer thread. */
int fo_consumer_pause(fo_consumer *c, int32_t partition, int pause, char *err, size_t errsz);

/* Sends m's key and bytes to the DLQ topic with headers fo-error =
 * reason, fo-topic, fo-partition, fo-offset. The bytes are copied: m may
 * be released at once. tag comes back through on_dlq with the outcome.
 * Returns 0, or -1 with err if it could not even be queued. Consumer
 * thread. */
int fo_consumer_dlq(fo_consumer *c, const fo_consumer_msg *m, const char *reason, uint64_t tag,
                    char *err, size_t errsz);

/* Writes the lag of each assigned partition (as of the last statistics)
 * to out, up to max; returns how many. Consumer thread. */
size_t fo_consumer_lag_get(const fo_consumer *c, fo_consumer_lag *out, size_t max);

void fo_consumer_stats_get(const fo_consumer *c, fo_consumer_stats *st);

/* Leaves the group (a last revoke runs the on_revoke hook, which should
 * commit), waits up to timeout_ms for DLQ deliveries, fills *st if not
 * NULL and frees everything. Returns 0, or -1 with err if DLQ messages
 * were not delivered or the close failed. Consumer thread. */
int fo_consumer_close(fo_consumer *c, int timeout_ms, fo_consumer_stats *st, char *err,
                      size_t errsz);

#endif
