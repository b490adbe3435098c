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
	int (*emit)(fo_sink *s, fo_topic t, const char *key, size_t klen, const char *val,
	            size_t vlen, int64_t emit_ns, char *err, size_t errsz);
	void (*poll)(fo_sink *s);
	/* flushes and frees backend state; 0 or -1 with err */
	int (*close)(fo_sink *s, int timeout_ms, char *err, size_t errsz);
} fo_sink_ops;

struct fo_sink {
	const fo_sink_ops *ops;
	fo_sink_conf conf;
	fo_sink_stats st;
	struct fo_hist *lat[FO_TOPIC_COUNT]; /* emit -> delivered, or NULL */
	void *be;
};

/* Books one delivered event of topic t that entered at emit_ns. */
void fo_sink_delivered(fo_sink *s, fo_topic t, int64_t emit_ns);

extern const fo_sink_ops fo_sink_null_ops;
extern const fo_sink_ops fo_sink_ndjson_ops;
extern const fo_sink_ops fo_sink_kafka_ops;

#endif
