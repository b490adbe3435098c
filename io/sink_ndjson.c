/*
 * sink_ndjson: DIR/<topic>.ndjson per produced topic, one event per line,
 * through a large stdio buffer per file. Files are created (truncated) at
 * open, so a role that produced nothing still leaves an empty file.
 * Sink thread only.
 */
#include "sink_impl.h"

#include <errno.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct fo_ndjson {
	FILE *f[FO_TOPIC_COUNT];
	char path[FO_TOPIC_COUNT][PATH_MAX];
} fo_ndjson;

static int fo_ndjson_close(fo_sink *s, int timeout_ms, char *err, size_t errsz);

static int fo_ndjson_open(fo_sink *s, const char *dir, char *err, size_t errsz)
{
	if (!dir || !*dir) {
		snprintf(err, errsz, "--sink ndjson:DIR needs a directory");
		return -1;
	}
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		snprintf(err, errsz, "%s: cannot create directory: %s", dir, strerror(errno));
		return -1;
	}
	fo_ndjson *nj = mi_zalloc(sizeof(*nj));
	if (!nj) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	s->be = nj;
	for (int t = 0; t < FO_TOPIC_COUNT; t++) {
		if (!(s->conf.topics & FO_TOPIC_BIT(t)))
			continue;
		snprintf(nj->path[t], sizeof(nj->path[t]), "%s/%s.ndjson", dir,
		         fo_topic_name((fo_topic)t));
		nj->f[t] = fopen(nj->path[t], "w");
		if (!nj->f[t]) {
			snprintf(err, errsz, "%s: %s", nj->path[t], strerror(errno));
			char e2[8];
			fo_ndjson_close(s, 0, e2, sizeof(e2));
			return -1;
		}
		setvbuf(nj->f[t], NULL, _IOFBF, 1 << 20);
	}
	return 0;
}

static int fo_ndjson_emit(fo_sink *s, fo_topic t, const char *key, size_t klen, const char *val,
                          size_t vlen, uint64_t seq, char *err, size_t errsz)
{
	(void)key, (void)klen;
	fo_ndjson *nj = s->be;
	FILE *f = nj->f[t];
	if (!f) {
		snprintf(err, errsz, "ndjson sink: topic %s is not produced by this role",
		         fo_topic_name(t));
		fo_sink_failed(s, t, seq);
		return -1;
	}
	if (fwrite(val, 1, vlen, f) != vlen || putc('\n', f) == EOF) {
		snprintf(err, errsz, "%s: write failed: %s", nj->path[t], strerror(errno));
		fo_sink_failed(s, t, seq);
		return -1;
	}
	fo_sink_delivered(s, t, seq);
	return 0;
}

static int fo_ndjson_close(fo_sink *s, int timeout_ms, char *err, size_t errsz)
{
	(void)timeout_ms;
	fo_ndjson *nj = s->be;
	int rc = 0;
	for (int t = 0; t < FO_TOPIC_COUNT; t++) {
		if (!nj->f[t])
			continue;
		if (fclose(nj->f[t]) != 0 && rc == 0) {
			snprintf(err, errsz, "%s: write failed: %s", nj->path[t], strerror(errno));
			rc = -1;
		}
	}
	mi_free(nj);
	return rc;
}

static void fo_ndjson_flush(fo_sink *s, int timeout_ms)
{
	(void)timeout_ms;
	fo_ndjson *nj = s->be;
	for (int t = 0; t < FO_TOPIC_COUNT; t++)
		if (nj->f[t])
			fflush(nj->f[t]);
}

const fo_sink_ops fo_sink_ndjson_ops = {
    .kind = "ndjson",
    .open = fo_ndjson_open,
    .emit = fo_ndjson_emit,
    .flush = fo_ndjson_flush,
    .close = fo_ndjson_close,
};
