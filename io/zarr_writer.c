/*
 * zarr_writer: streaming writer for 1-D structured zarr v2 arrays with a
 * Blosc compressor (see zarr_writer.h for the contract).
 *
 * Buffers: a writer owns nbufs = nworkers + 2 chunk buffers (one being
 * filled by the caller, one per worker, one queued) and one compressed
 * output buffer per worker. The caller fills `cur`; when it is full it is
 * queued as a job {buffer, chunk index} and a free buffer is taken, waiting
 * on `cv_free` when none is left. Workers pop jobs under `mu`, compress and
 * write outside the lock, then return the buffer to the free list.
 * Chunk files are independent, so workers may finish in any order.
 *
 * Errors raised by a worker are stored once (first wins) under `mu`; the
 * caller copies them to its own fields (cerr, cmsg) whenever it holds `mu`
 * anyway (taking or queueing a buffer, finish), so a worker's error is
 * reported at the caller's next chunk boundary. Locks are taken once per
 * chunk (tens of thousands of records), never per record.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* GNU strerror_r, which returns the message */
#endif

#include "zarr_writer.h"

#include <blosc.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZW_MAX_FIELDS 64

typedef struct zw_job {
	unsigned char *buf;
	uint64_t index;
} zw_job;

struct fo_zarrw {
	char *dir;
	fo_zarrw_field fields[ZW_MAX_FIELDS]; /* names/types point into strs */
	char *strs;
	size_t nfields;
	size_t recsize;
	size_t chunk_len;
	size_t chunk_bytes;
	char cname[16];
	int clevel;
	int shuffle;

	int cerr; /* caller's copy of the first error, -errno */
	char cmsg[512];
	uint64_t len;        /* records appended */
	uint64_t next_index; /* chunk index of `cur` */
	unsigned char *cur;  /* buffer being filled, NULL until taken */
	size_t cur_n;        /* records in cur */
	int finished;

	unsigned nworkers;
	pthread_t *threads;
	unsigned nthreads;         /* threads created, to join */
	unsigned nthreads_started; /* worker slots taken, under mu */
	unsigned char **cbufs;     /* compressed output, one per worker or 1 inline */
	size_t ncbufs;
	unsigned char **bufs; /* every chunk buffer, for freeing */
	size_t nbufs;

	pthread_mutex_t mu;     /* guards everything below */
	pthread_cond_t cv_work; /* jobs queued or stop; workers wait */
	pthread_cond_t cv_free; /* buffer freed or job done; caller waits */
	unsigned char **freelist;
	size_t nfree;
	zw_job *queue; /* ring of nbufs jobs */
	size_t qhead;
	size_t qlen;
	size_t inflight; /* queued + being written */
	int stop;
	int err; /* first error, -errno */
	char errmsg[512];
};

/* Copy the workers' first error to the caller's fields. Caller thread,
 * mu held (or no workers). */
static void zw_sync_err(fo_zarrw *zw)
{
	if (zw->err && !zw->cerr) {
		zw->cerr = zw->err;
		memcpy(zw->cmsg, zw->errmsg, sizeof zw->cmsg);
	}
}

/* ---- small helpers ---------------------------------------------------- */

static const char *zw_strerror(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

static int zw_fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int zw_fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
	if (errbuf && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Fail with -errno of the last system call and its message. */
static int zw_fail_errno(char *errbuf, size_t errlen, const char *what, const char *path)
{
	int e = errno ? errno : EIO;
	char tmp[128];
	return zw_fail(errbuf, errlen, -e, "%s %s: %s", what, path,
	               zw_strerror(e, tmp, sizeof tmp));
}

static char *zw_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/* mkdir that accepts an existing directory. */
static int zw_mkdir(const char *dir, char *errbuf, size_t errlen)
{
	struct stat st;
	if (mkdir(dir, 0755) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		errno = ENOTDIR;
	return zw_fail_errno(errbuf, errlen, "cannot create directory", dir);
}

static int zw_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write bytes to path (truncating). Returns 0 or -errno with a message. */
static int zw_write_file(const char *path, const void *p, size_t n, char *errbuf, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return zw_fail_errno(errbuf, errlen, "cannot create", path);
	int rc = zw_write_all(fd, p, n);
	if (rc < 0) {
		close(fd);
		errno = -rc;
		return zw_fail_errno(errbuf, errlen, "cannot write", path);
	}
	if (close(fd) < 0)
		return zw_fail_errno(errbuf, errlen, "cannot write", path);
	return 0;
}

/* ---- JSON in Python's json.dumps(indent=4) style ------------------------ */

typedef struct zw_sb {
	char *p;
	size_t n, cap;
	int oom;
} zw_sb;

static void sb_put(zw_sb *sb, const char *s, size_t n)
{
	if (sb->oom)
		return;
	if (sb->n + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;
		while (sb->n + n + 1 > cap)
			cap *= 2;
		char *q = realloc(sb->p, cap);
		if (!q) {
			sb->oom = 1;
			return;
		}
		sb->p = q;
		sb->cap = cap;
	}
	memcpy(sb->p + sb->n, s, n);
	sb->n += n;
	sb->p[sb->n] = '\0';
}

static void sb_puts(zw_sb *sb, const char *s)
{
	sb_put(sb, s, strlen(s));
}

static void sb_indent(zw_sb *sb, int level)
{
	for (int i = 0; i < level; i++)
		sb_put(sb, "    ", 4);
}

/* Decode one UTF-8 sequence; returns its length, 1 with U+FFFD if bad. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
	unsigned c = s[0];
	size_t n;
	uint32_t v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2;
		v = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		v = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		v = c & 0x07;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return n;
}

static void sb_string(zw_sb *sb, const char *s)
{
	char tmp[16];
	sb_put(sb, "\"", 1);
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	while (*u) {
		uint32_t cp;
		size_t n = utf8_next(u, &cp);
		u += n;
		switch (cp) {
		case '"': sb_puts(sb, "\\\""); continue;
		case '\\': sb_puts(sb, "\\\\"); continue;
		case '\n': sb_puts(sb, "\\n"); continue;
		case '\r': sb_puts(sb, "\\r"); continue;
		case '\t': sb_puts(sb, "\\t"); continue;
		case '\b': sb_puts(sb, "\\b"); continue;
		case '\f': sb_puts(sb, "\\f"); continue;
		default: break;
		}
		if (cp >= 0x20 && cp < 0x7f) {
			char c = (char)cp;
			sb_put(sb, &c, 1);
		} else if (cp < 0x10000) {
			snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)cp);
			sb_puts(sb, tmp);
		} else {
			cp -= 0x10000;
			snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", (unsigned)(0xd800 + (cp >> 10)),
			         (unsigned)(0xdc00 + (cp & 0x3ff)));
			sb_puts(sb, tmp);
		}
	}
	sb_put(sb, "\"", 1);
}

static void sb_number(zw_sb *sb, double d)
{
	char tmp[40];
	if (isnan(d)) {
		sb_puts(sb, "NaN");
		return;
	}
	if (isinf(d)) {
		sb_puts(sb, d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (d == floor(d) && fabs(d) < 9007199254740992.0) {
		snprintf(tmp, sizeof tmp, "%.0f", d);
		sb_puts(sb, tmp);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (!strpbrk(tmp, ".e"))
		strcat(tmp, ".0");
	sb_puts(sb, tmp);
}

static int key_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static void sb_value(zw_sb *sb, const cJSON *it, int level, unsigned flags)
{
	if (cJSON_IsRaw(it)) {
		sb_puts(sb, it->valuestring ? it->valuestring : "null");
	} else if (cJSON_IsNull(it) || cJSON_IsInvalid(it)) {
		sb_puts(sb, "null");
	} else if (cJSON_IsTrue(it)) {
		sb_puts(sb, "true");
	} else if (cJSON_IsFalse(it)) {
		sb_puts(sb, "false");
	} else if (cJSON_IsNumber(it)) {
		sb_number(sb, it->valuedouble);
	} else if (cJSON_IsString(it)) {
		sb_string(sb, it->valuestring);
	} else if (cJSON_IsArray(it) || cJSON_IsObject(it)) {
		int obj = cJSON_IsObject(it);
		size_t n = (size_t)cJSON_GetArraySize(it);
		if (n == 0) {
			sb_puts(sb, obj ? "{}" : "[]");
			return;
		}
		const cJSON **kids = malloc(n * sizeof *kids);
		if (!kids) {
			sb->oom = 1;
			return;
		}
		size_t i = 0;
		for (const cJSON *c = it->child; c && i < n; c = c->next)
			kids[i++] = c;
		if (obj && (flags & FO_ZARRW_JSON_SORT_KEYS))
			qsort(kids, n, sizeof *kids, key_cmp);
		sb_puts(sb, obj ? "{\n" : "[\n");
		for (i = 0; i < n; i++) {
			sb_indent(sb, level + 1);
			if (obj) {
				sb_string(sb, kids[i]->string);
				sb_puts(sb, ": ");
			}
			sb_value(sb, kids[i], level + 1, flags);
			sb_puts(sb, i + 1 < n ? ",\n" : "\n");
		}
		sb_indent(sb, level);
		sb_puts(sb, obj ? "}" : "]");
		free(kids);
	}
}

int fo_zarrw_write_json(const char *path, const cJSON *root, unsigned flags, char *errbuf,
                        size_t errlen)
{
	zw_sb sb = {0};
	sb_value(&sb, root, 0, flags);
	if (sb.oom || !sb.p) {
		free(sb.p);
		return zw_fail(errbuf, errlen, -ENOMEM, "out of memory formatting %s", path);
	}
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 5);
	if (!tmp) {
		free(sb.p);
		return zw_fail(errbuf, errlen, -ENOMEM, "out of memory for %s", path);
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	int rc = zw_write_file(tmp, sb.p, sb.n, errbuf, errlen);
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = zw_fail_errno(errbuf, errlen, "cannot rename to", path);
		unlink(tmp);
	}
	free(tmp);
	free(sb.p);
	return rc;
}

int fo_zarrw_group_create(const char *dir, const cJSON *attrs, char *errbuf, size_t errlen)
{
	int rc = zw_mkdir(dir, errbuf, errlen);
	if (rc)
		return rc;
	cJSON *g = cJSON_CreateObject();
	if (!g || !cJSON_AddNumberToObject(g, "zarr_format", 2)) {
		cJSON_Delete(g);
		return zw_fail(errbuf, errlen, -ENOMEM, "out of memory for %s", dir);
	}
	char *p = zw_join(dir, ".zgroup");
	rc = p ? fo_zarrw_write_json(p, g, FO_ZARRW_JSON_SORT_KEYS, errbuf, errlen)
	       : zw_fail(errbuf, errlen, -ENOMEM, "out of memory for %s", dir);
	free(p);
	cJSON_Delete(g);
	if (rc || !attrs)
		return rc;
	p = zw_join(dir, ".zattrs");
	rc = p ? fo_zarrw_write_json(p, attrs, FO_ZARRW_JSON_SORT_KEYS, errbuf, errlen)
	       : zw_fail(errbuf, errlen, -ENOMEM, "out of memory for %s", dir);
	free(p);
	return rc;
}

/* ---- dtype ---------------------------------------------------------------- */

/* Size in bytes of one element of a numpy type string, 0 if unsupported. */
static size_t zw_type_size(const char *t)
{
	if (!t || !strchr("<>|=", t[0]) || !t[1] || !strchr("biufUS", t[1]))
		return 0;
	char *end;
	errno = 0;
	unsigned long n = strtoul(t + 2, &end, 10);
	if (errno || end == t + 2 || *end || n == 0 || n > 1u << 20)
		return 0;
	switch (t[1]) {
	case 'b': return n == 1 ? 1 : 0;
	case 'i':
	case 'u': return (n == 1 || n == 2 || n == 4 || n == 8) ? n : 0;
	case 'f': return (n == 2 || n == 4 || n == 8) ? n : 0;
	case 'U': return n * 4;
	default: return n; /* 'S' */
	}
}

static const char ZW_B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of n zero bytes, as zarr encodes a structured fill_value. */
static char *zw_b64_zeros(size_t n)
{
	size_t out = (n + 2) / 3 * 4;
	char *s = malloc(out + 1);
	if (!s)
		return NULL;
	for (size_t i = 0, o = 0; i < n; i += 3) {
		size_t left = n - i;
		s[o++] = ZW_B64[0];
		s[o++] = ZW_B64[0];
		s[o++] = left > 1 ? ZW_B64[0] : '=';
		s[o++] = left > 2 ? ZW_B64[0] : '=';
	}
	s[out] = '\0';
	return s;
}

static cJSON *zw_meta(const fo_zarrw *zw, uint64_t shape)
{
	cJSON *m = cJSON_CreateObject();
	if (!m)
		return NULL;
	int ok = 1;
	cJSON *a = cJSON_AddArrayToObject(m, "chunks");
	ok &= a && cJSON_AddItemToArray(a, cJSON_CreateNumber((double)zw->chunk_len));
	cJSON *c = cJSON_AddObjectToObject(m, "compressor");
	ok &= c && cJSON_AddNumberToObject(c, "blocksize", 0) &&
	      cJSON_AddNumberToObject(c, "clevel", zw->clevel) &&
	      cJSON_AddStringToObject(c, "cname", zw->cname) &&
	      cJSON_AddStringToObject(c, "id", "blosc") &&
	      cJSON_AddNumberToObject(c, "shuffle", zw->shuffle);
	cJSON *dt = cJSON_AddArrayToObject(m, "dtype");
	for (size_t i = 0; ok && dt && i < zw->nfields; i++) {
		const fo_zarrw_field *f = &zw->fields[i];
		cJSON *e = cJSON_CreateArray();
		ok &= e && cJSON_AddItemToArray(dt, e) &&
		      cJSON_AddItemToArray(e, cJSON_CreateString(f->name)) &&
		      cJSON_AddItemToArray(e, cJSON_CreateString(f->type));
		if (ok && f->ndim > 0) {
			cJSON *sh = cJSON_CreateArray();
			ok &= sh && cJSON_AddItemToArray(e, sh);
			for (unsigned d = 0; ok && d < f->ndim; d++)
				ok &= cJSON_AddItemToArray(sh, cJSON_CreateNumber(f->shape[d]));
		}
	}
	ok &= dt != NULL;
	char *fill = zw_b64_zeros(zw->recsize);
	ok &= fill && cJSON_AddStringToObject(m, "fill_value", fill);
	free(fill);
	ok &= cJSON_AddNullToObject(m, "filters") != NULL;
	ok &= cJSON_AddStringToObject(m, "order", "C") != NULL;
	cJSON *s = cJSON_AddArrayToObject(m, "shape");
	ok &= s && cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shape));
	ok &= cJSON_AddNumberToObject(m, "zarr_format", 2) != NULL;
	if (!ok) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

static int zw_write_meta(fo_zarrw *zw, uint64_t shape, char *errbuf, size_t errlen)
{
	cJSON *m = zw_meta(zw, shape);
	char *p = zw_join(zw->dir, ".zarray");
	int rc;
	if (!m || !p)
		rc = zw_fail(errbuf, errlen, -ENOMEM, "out of memory for %s/.zarray", zw->dir);
	else
		rc = fo_zarrw_write_json(p, m, FO_ZARRW_JSON_SORT_KEYS, errbuf, errlen);
	free(p);
	cJSON_Delete(m);
	return rc;
}

/* ---- chunks ------------------------------------------------------------------ */

/* Compress and write one full chunk buffer as file dir/<index>.
 * Called by a worker (or the caller when nworkers = 0), no lock held. */
static int zw_write_chunk(const fo_zarrw *zw, const unsigned char *buf, uint64_t index,
                          unsigned char *cbuf, char *errbuf, size_t errlen)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%" PRIu64, zw->dir, index) >= sizeof path)
		return zw_fail(errbuf, errlen, -ENAMETOOLONG, "chunk path too long: %s", zw->dir);
	int csize = blosc_compress_ctx(zw->clevel, zw->shuffle, zw->recsize, zw->chunk_bytes, buf,
	                               cbuf, zw->chunk_bytes + BLOSC_MAX_OVERHEAD, zw->cname, 0, 1);
	if (csize <= 0)
		return zw_fail(errbuf, errlen, -EIO, "blosc could not compress chunk %s (code %d)",
		               path, csize);
	return zw_write_file(path, cbuf, (size_t)csize, errbuf, errlen);
}

static void *zw_worker(void *arg)
{
	fo_zarrw *zw = arg;
	unsigned me;
	char msg[sizeof zw->errmsg];

	pthread_mutex_lock(&zw->mu);
	me = zw->nthreads_started++;
	for (;;) {
		while (zw->qlen == 0 && !zw->stop)
			pthread_cond_wait(&zw->cv_work, &zw->mu);
		if (zw->qlen == 0)
			break;
		zw_job job = zw->queue[zw->qhead];
		zw->qhead = (zw->qhead + 1) % zw->nbufs;
		zw->qlen--;
		int failed = zw->err != 0;
		pthread_mutex_unlock(&zw->mu);

		int rc =
		    failed ? 0
		           : zw_write_chunk(zw, job.buf, job.index, zw->cbufs[me], msg, sizeof msg);

		pthread_mutex_lock(&zw->mu);
		if (rc && !zw->err) {
			zw->err = rc;
			memcpy(zw->errmsg, msg, sizeof msg);
		}
		zw->freelist[zw->nfree++] = job.buf;
		zw->inflight--;
		pthread_cond_broadcast(&zw->cv_free);
	}
	pthread_mutex_unlock(&zw->mu);
	return NULL;
}

/* Report the caller's copy of the first error. Caller thread. */
static int zw_report(fo_zarrw *zw, char *errbuf, size_t errlen)
{
	return zw_fail(errbuf, errlen, zw->cerr, "%s", zw->cmsg);
}

/* Take a free buffer into zw->cur, waiting for a worker when none is free.
 * Returns 0 or the writer's error. Caller thread. */
static int zw_take(fo_zarrw *zw)
{
	if (zw->nworkers == 0) {
		zw->cur = zw->bufs[0];
		return 0;
	}
	pthread_mutex_lock(&zw->mu);
	while (zw->nfree == 0 && !zw->err)
		pthread_cond_wait(&zw->cv_free, &zw->mu);
	zw_sync_err(zw);
	if (!zw->cerr)
		zw->cur = zw->freelist[--zw->nfree];
	pthread_mutex_unlock(&zw->mu);
	return zw->cerr;
}

/* Hand zw->cur (full, or zero-padded at finish) over for writing. */
static int zw_submit(fo_zarrw *zw)
{
	uint64_t index = zw->next_index++;
	unsigned char *buf = zw->cur;
	zw->cur = NULL;
	zw->cur_n = 0;
	if (zw->nworkers == 0) {
		int rc = zw_write_chunk(zw, buf, index, zw->cbufs[0], zw->cmsg, sizeof zw->cmsg);
		if (rc)
			zw->cerr = rc;
		return rc;
	}
	pthread_mutex_lock(&zw->mu);
	zw->queue[(zw->qhead + zw->qlen) % zw->nbufs] = (zw_job){buf, index};
	zw->qlen++;
	zw->inflight++;
	pthread_cond_signal(&zw->cv_work);
	zw_sync_err(zw);
	pthread_mutex_unlock(&zw->mu);
	return zw->cerr;
}

/* ---- public API ---------------------------------------------------------------- */

static int zw_copy_fields(fo_zarrw *zw, const fo_zarrw_opts *o, char *errbuf, size_t errlen)
{
	if (!o->fields || o->nfields == 0 || o->nfields > ZW_MAX_FIELDS)
		return zw_fail(errbuf, errlen, -EINVAL, "array %s: need 1..%d dtype fields",
		               zw->dir, ZW_MAX_FIELDS);
	size_t total = 0;
	for (size_t i = 0; i < o->nfields; i++) {
		const fo_zarrw_field *f = &o->fields[i];
		if (!f->name || !f->type)
			return zw_fail(errbuf, errlen, -EINVAL,
			               "array %s: field %zu has no name or type", zw->dir, i);
		total += strlen(f->name) + strlen(f->type) + 2;
	}
	zw->strs = malloc(total);
	if (!zw->strs)
		return zw_fail(errbuf, errlen, -ENOMEM, "out of memory for %s", zw->dir);
	char *s = zw->strs;
	zw->recsize = 0;
	for (size_t i = 0; i < o->nfields; i++) {
		const fo_zarrw_field *f = &o->fields[i];
		size_t el = zw_type_size(f->type);
		if (el == 0 || f->ndim > 2)
			return zw_fail(errbuf, errlen, -EINVAL,
			               "array %s: field '%s' has unsupported type '%s' or "
			               "ndim %u",
			               zw->dir, f->name, f->type, f->ndim);
		size_t count = 1;
		for (unsigned d = 0; d < f->ndim; d++) {
			if (f->shape[d] == 0)
				return zw_fail(errbuf, errlen, -EINVAL,
				               "array %s: field '%s' has a zero dimension", zw->dir,
				               f->name);
			count *= f->shape[d];
		}
		zw->fields[i] = *f;
		zw->fields[i].name = strcpy(s, f->name);
		s += strlen(f->name) + 1;
		zw->fields[i].type = strcpy(s, f->type);
		s += strlen(f->type) + 1;
		zw->recsize += el * count;
	}
	zw->nfields = o->nfields;
	return 0;
}

int fo_zarrw_open(fo_zarrw **out, const char *dir, const fo_zarrw_opts *o, char *errbuf,
                  size_t errlen)
{
	*out = NULL;
	if (!dir || !o)
		return zw_fail(errbuf, errlen, -EINVAL, "fo_zarrw_open: no path or options");
	fo_zarrw *zw = calloc(1, sizeof *zw);
	if (!zw)
		return zw_fail(errbuf, errlen, -ENOMEM, "out of memory for %s", dir);
	zw->dir = strdup(dir);
	if (!zw->dir) {
		free(zw);
		return zw_fail(errbuf, errlen, -ENOMEM, "out of memory for %s", dir);
	}
	pthread_mutex_init(&zw->mu, NULL);
	pthread_cond_init(&zw->cv_work, NULL);
	pthread_cond_init(&zw->cv_free, NULL);

	int rc = zw_copy_fields(zw, o, errbuf, errlen);
	if (rc)
		goto fail;
	const char *cname = o->cname ? o->cname : "lz4";
	if (o->chunk_len == 0 || o->clevel < 0 || o->clevel > 9 || o->shuffle < 0 ||
	    o->shuffle > 2 || strlen(cname) >= sizeof zw->cname || o->nworkers > 64) {
		rc = zw_fail(errbuf, errlen, -EINVAL,
		             "array %s: bad chunk length, clevel, shuffle, codec or "
		             "worker count",
		             dir);
		goto fail;
	}
	if (zw->recsize > (size_t)BLOSC_MAX_BUFFERSIZE / o->chunk_len) {
		rc = zw_fail(errbuf, errlen, -EINVAL,
		             "array %s: a chunk of %zu records of %zu bytes exceeds "
		             "Blosc's 2 GB limit",
		             dir, o->chunk_len, zw->recsize);
		goto fail;
	}
	strcpy(zw->cname, cname);
	zw->chunk_len = o->chunk_len;
	zw->chunk_bytes = o->chunk_len * zw->recsize;
	zw->clevel = o->clevel;
	zw->shuffle = o->shuffle;
	zw->nworkers = o->nworkers;

	zw->nbufs = zw->nworkers ? zw->nworkers + 2 : 1;
	size_t ncbufs = zw->nworkers ? zw->nworkers : 1;
	zw->ncbufs = ncbufs;
	zw->bufs = calloc(zw->nbufs, sizeof *zw->bufs);
	zw->freelist = calloc(zw->nbufs, sizeof *zw->freelist);
	zw->queue = calloc(zw->nbufs, sizeof *zw->queue);
	zw->cbufs = calloc(ncbufs, sizeof *zw->cbufs);
	if (!zw->bufs || !zw->freelist || !zw->queue || !zw->cbufs)
		goto oom;
	for (size_t i = 0; i < zw->nbufs; i++) {
		if (!(zw->bufs[i] = malloc(zw->chunk_bytes)))
			goto oom;
		zw->freelist[zw->nfree++] = zw->bufs[i];
	}
	for (size_t i = 0; i < ncbufs; i++)
		if (!(zw->cbufs[i] = malloc(zw->chunk_bytes + BLOSC_MAX_OVERHEAD)))
			goto oom;

	if ((rc = zw_mkdir(dir, errbuf, errlen)) != 0)
		goto fail;
	if ((rc = zw_write_meta(zw, 0, errbuf, errlen)) != 0)
		goto fail;

	if (zw->nworkers) {
		zw->threads = calloc(zw->nworkers, sizeof *zw->threads);
		if (!zw->threads)
			goto oom;
		for (unsigned i = 0; i < zw->nworkers; i++) {
			int e = pthread_create(&zw->threads[i], NULL, zw_worker, zw);
			if (e) {
				char tmp[128];
				rc = zw_fail(errbuf, errlen, -e,
				             "array %s: cannot start a compression thread: %s", dir,
				             zw_strerror(e, tmp, sizeof tmp));
				goto fail;
			}
			zw->nthreads++;
		}
	}
	*out = zw;
	return 0;

oom:
	rc = zw_fail(errbuf, errlen, -ENOMEM,
	             "out of memory for array %s (%zu-byte "
	             "chunks)",
	             dir, zw->chunk_bytes);
fail:
	fo_zarrw_destroy(zw);
	return rc;
}

size_t fo_zarrw_record_size(const fo_zarrw *zw)
{
	return zw->recsize;
}

uint64_t fo_zarrw_length(const fo_zarrw *zw)
{
	return zw->len;
}

int fo_zarrw_append(fo_zarrw *zw, const void *recs, size_t n, char *errbuf, size_t errlen)
{
	const unsigned char *src = recs;
	if (zw->finished)
		return zw_fail(errbuf, errlen, -EINVAL, "array %s: append after finish", zw->dir);
	if (zw->cerr)
		return zw_report(zw, errbuf, errlen);
	while (n > 0) {
		if (!zw->cur && zw_take(zw) != 0)
			return zw_report(zw, errbuf, errlen);
		size_t k = zw->chunk_len - zw->cur_n;
		if (k > n)
			k = n;
		memcpy(zw->cur + zw->cur_n * zw->recsize, src, k * zw->recsize);
		zw->cur_n += k;
		zw->len += k;
		src += k * zw->recsize;
		n -= k;
		if (zw->cur_n == zw->chunk_len && zw_submit(zw) != 0)
			return zw_report(zw, errbuf, errlen);
	}
	return 0;
}

int fo_zarrw_finish(fo_zarrw *zw, char *errbuf, size_t errlen)
{
	if (zw->finished)
		return zw_fail(errbuf, errlen, -EINVAL, "array %s: finished twice", zw->dir);
	zw->finished = 1;
	if (zw->cerr)
		return zw_report(zw, errbuf, errlen);
	if (zw->cur && zw->cur_n > 0) {
		/* zarr keeps a partial last chunk at full length, fill = zeros */
		memset(zw->cur + zw->cur_n * zw->recsize, 0,
		       (zw->chunk_len - zw->cur_n) * zw->recsize);
		zw_submit(zw);
	}
	if (zw->nworkers) {
		pthread_mutex_lock(&zw->mu);
		while (zw->inflight > 0)
			pthread_cond_wait(&zw->cv_free, &zw->mu);
		zw_sync_err(zw);
		pthread_mutex_unlock(&zw->mu);
	}
	if (zw->cerr)
		return zw_report(zw, errbuf, errlen);
	return zw_write_meta(zw, zw->len, errbuf, errlen);
}

void fo_zarrw_destroy(fo_zarrw *zw)
{
	if (!zw)
		return;
	if (zw->threads) {
		pthread_mutex_lock(&zw->mu);
		zw->stop = 1;
		pthread_cond_broadcast(&zw->cv_work);
		pthread_mutex_unlock(&zw->mu);
		for (unsigned i = 0; i < zw->nthreads; i++)
			pthread_join(zw->threads[i], NULL);
		free(zw->threads);
	}
	if (zw->bufs)
		for (size_t i = 0; i < zw->nbufs; i++)
			free(zw->bufs[i]);
	if (zw->cbufs)
		for (size_t i = 0; i < zw->ncbufs; i++)
			free(zw->cbufs[i]);
	free(zw->bufs);
	free(zw->cbufs);
	free(zw->freelist);
	free(zw->queue);
	free(zw->strs);
	free(zw->dir);
	pthread_cond_destroy(&zw->cv_free);
	pthread_cond_destroy(&zw->cv_work);
	pthread_mutex_destroy(&zw->mu);
	free(zw);
}
