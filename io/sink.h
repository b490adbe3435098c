/*
 * sink: where encoded events go. One interface, three backends chosen once
 * from a spec string:
 *   null        encode everything, discard it (benchmarks without I/O)
 *   ndjson:DIR  DIR/<topic>.ndjson, one event per line, the exact Kafka value
 *   kafka       librdkafka producer: batched, lz4, idempotent, acks=all,
 *               key = the event's key, murmur2 partitioning like Java clients
 *
 * A sink is used by one thread (the sink stage); the Kafka backend's delivery
 * reports run on that thread inside fo_sink_poll / fo_sink_emit. Nothing is
 * dropped: a full producer queue blocks emit while it serves delivery
 * reports, and fo_sink_close reports every event not delivered.
 */
#ifndef FO_SINK_H
#define FO_SINK_H

#include <stddef.h>
#include <stdint.h>

typedef enum fo_topic {
	FO_TOPIC_RAW_TELEMETRY = 0,
	FO_TOPIC_ANOMALIES,
	FO_TOPIC_OPERATOR_ACTIONS,
	FO_TOPIC_COUNT
} fo_topic;

#define FO_TOPIC_BIT(t) (1u << (t))

const char *fo_topic_name(fo_topic t);

typedef struct fo_sink fo_sink;

typedef struct fo_sink_conf {
	const char *spec;         /* "null", "ndjson:DIR" or "kafka" */
	unsigned topics;          /* FO_TOPIC_BIT()s this role produces */
	const char *brokers;      /* kafka: bootstrap servers */
	const char *const *props; /* kafka: extra "key=value" librdkafka settings */
	size_t nprops;
	const char *client_id; /* kafka: client.id */
} fo_sink_conf;

typedef struct fo_sink_stats {
	uint64_t emitted[FO_TOPIC_COUNT];
	uint64_t delivered[FO_TOPIC_COUNT]; /* confirmed (kafka) or written */
	uint64_t failed[FO_TOPIC_COUNT];
	uint64_t bytes;
	uint64_t queue_full_waits; /* kafka backpressure episodes */
} fo_sink_stats;

/* Creates the sink. For kafka, connects and checks that every topic of
 * conf->topics exists (an error names the topic and the brokers). Returns
 * NULL with err. Destroyed by fo_sink_close. */
fo_sink *fo_sink_new(const fo_sink_conf *conf, char *err, size_t errsz);

/* Name of the backend: "null", "ndjson" or "kafka". */
const char *fo_sink_kind(const fo_sink *s);

/* Emits one event. emit_ns: when the event entered the pipeline (wall
 * clock), for the delivery latency histograms; 0 when unknown. Blocks
 * (serving delivery reports) while the producer queue is full. Returns 0,
 * or -1 if the sink has failed for good (err filled: a write error, a fatal
 * producer error). */
int fo_sink_emit(fo_sink *s, fo_topic t, const char *key, size_t klen, const char *val, size_t vlen,
                 int64_t emit_ns, char *err, size_t errsz);

/* Histograms (one per topic, fo_hist from core/hist.h) the sink records
 * "emit -> delivered" latency into, when the event is written (ndjson,
 * null) or acknowledged by the broker (Kafka); NULL to stop. Borrowed; sink
 * thread only. */
struct fo_hist;
void fo_sink_set_latency(fo_sink *s, struct fo_hist *const *per_topic);

/* Sequence numbers: the n-th event emitted is number n (from 0). Every
 * event below fo_sink_settled() has been delivered (or written), or has
 * failed and is counted; a caller can so learn that everything it emitted
 * before some point is safe, e.g. to commit the input offsets that led to
 * it. fo_sink_next_seq() is the number the next event will get. */
uint64_t fo_sink_next_seq(const fo_sink *s);
uint64_t fo_sink_settled(const fo_sink *s);

/* Waits up to timeout_ms until every event emitted so far has settled
 * (Kafka: acknowledged; files: written out). Returns 0, or -1 if some are
 * still in flight. Sink thread. */
int fo_sink_flush(fo_sink *s, int timeout_ms);

/* Serves delivery reports without blocking. */
void fo_sink_poll(fo_sink *s);

/* Counters so far (cheap; sink thread). */
void fo_sink_stats_get(const fo_sink *s, fo_sink_stats *st);

/* Flushes everything (waiting up to timeout_ms for Kafka deliveries), fills
 * *st if not NULL, and frees the sink. Returns 0 if every emitted event was
 * delivered or written, -1 with err naming what was not (topic, count, first
 * error). */
int fo_sink_close(fo_sink *s, int timeout_ms, fo_sink_stats *st, char *err, size_t errsz);

#endif
