/*
 * sink_impl: what sink.c shares with its backends. Private to io/.
 */
#ifndef FO_SINK_IMPL_H
#define FO_SINK_IMPL_H

#include "sink.h"

typedef struct fo_sink_ops {
	const char *kind;
	/* arg: the text after "kind:" in the spec, or NULL */
	int (*open)(fo_sink *s, const char *arg, char *err, size_t errsz);
	/* seq: the event's sequence number, for fo_sink_delivered/_failed */
	int (*emit)(fo_sink *s, fo_topic t, const char *key, size_t klen, const char *val,
	            size_t vlen, uint64_t seq, char *err, size_t errsz);
	void (*poll)(fo_sink *s);
	/* pushes everything out and waits up to timeout_ms (NULL: nothing to wait for) */
	void (*flush)(fo_sink *s, int timeout_ms);
	/* flushes and frees backend state; 0 or -1 with err */
	int (*close)(fo_sink *s, int timeout_ms, char *err, size_t errsz);
} fo_sink_ops;

struct fo_sink {
	const fo_sink_ops *ops;
	fo_sink_conf conf;
	fo_sink_stats st;
	struct fo_hist *lat[FO_TOPIC_COUNT]; /* emit -> delivered, or NULL */
	/* every emitted event gets a sequence number; a window of their emit
	 * times (0 once settled) lets the settled watermark advance in order */
	uint64_t next_seq, settled;
	int64_t *window; /* FO_SINK_WINDOW entries, indexed by seq & mask */
	int64_t now_ns;  /* wall clock for delivery latencies, refreshed every
	                  * 64 emits and before delivery reports are served */
	void *be;
};

#define FO_SINK_WINDOW (1u << 20) /* events in flight at most */

/* Books the delivery (or write) of event seq of topic t. */
void fo_sink_delivered(fo_sink *s, fo_topic t, uint64_t seq);
/* Books its failure (it settles, and counts as failed). */
void fo_sink_failed(fo_sink *s, fo_topic t, uint64_t seq);

extern const fo_sink_ops fo_sink_null_ops;
extern const fo_sink_ops fo_sink_ndjson_ops;
extern const fo_sink_ops fo_sink_kafka_ops;

#endif
