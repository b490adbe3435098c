/*
 * zarr: see zarr.h. Metadata goes through cJSON once at open; the record
 * path only touches resolved fo_zarr_field offsets.
 */
#include "zarr.h"

#include "errbuf.h"
#include "jsonfile.h"

#include <blosc.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <mimalloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int fo_zarr_group_check(const char *group_dir, char *err, size_t errsz)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/.zgroup", group_dir);
	cJSON *j = fo_json_load_file(path, err, errsz);
	if (!j)
		return -1;
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "zarr_format");
	int ok = cJSON_IsNumber(fmt) && fmt->valueint == 2;
	if (!ok)
		fo_errf(err, errsz, "%s: zarr_format is not 2 (only zarr v2 is supported)", path);
	cJSON_Delete(j);
	return ok ? 0 : -1;
}

/* Parses a numpy typestr such as "<f8", "|u1", "<U16". */
static int fo_parse_typestr(const char *ts, fo_zarr_field *f)
{
	size_t n = strlen(ts);
	if (n < 3 || n >= sizeof(f->typestr))
		return -1;
	char order = ts[0];
	char kind = ts[1];
	char *end;
	long sz = strtol(ts + 2, &end, 10);
	if (*end != '\0' || sz <= 0 || sz > 4096)
		return -1;
	switch (kind) {
	case 'f':
		if (sz != 4 && sz != 8)
			return -1;
		break;
	case 'i':
	case 'u':
		if (sz != 1 && sz != 2 && sz != 4 && sz != 8)
			return -1;
		break;
	case 'b':
		if (sz != 1)
			return -1;
		break;
	case 'U':
		sz *= 4; /* UTF-32 code units */
		break;
	case 'S': break;
	default: return -1;
	}
	/* multi-byte numbers must be little-endian ('<'), or '|' for bytes */
	if (order == '>' && (kind == 'U' || sz > 1))
		return -1;
	if (order != '<' && order != '|' && order != '>' && order != '=')
		return -1;
	snprintf(f->typestr, sizeof(f->typestr), "%s", ts);
	f->kind = (fo_zarr_kind)kind;
	f->elem_size = (uint32_t)sz;
	return 0;
}

static int fo_parse_dtype(fo_zarr_array *a, const cJSON *dtype, const char *path, char *err,
                          size_t errsz)
{
	uint32_t off = 0;
	if (cJSON_IsString(dtype)) { /* a plain array: one unnamed field */
		fo_zarr_field *f = &a->fields[0];
		if (fo_parse_typestr(dtype->valuestring, f) < 0) {
			fo_errf(err, errsz, "%s: unsupported dtype \"%s\"", path,
			        dtype->valuestring);
			return -1;
		}
		snprintf(f->name, sizeof(f->name), "%s", a->name);
		f->count = 1;
		a->nfields = 1;
		a->itemsize = f->elem_size;
		return 0;
	}
	if (!cJSON_IsArray(dtype) || cJSON_GetArraySize(dtype) == 0) {
		fo_errf(err, errsz, "%s: dtype must be a typestr or a non-empty list of fields",
		        path);
		return -1;
	}
	a->structured = 1;
	const cJSON *it;
	cJSON_ArrayForEach(it, dtype)
	{
		if (a->nfields == FO_ZARR_MAX_FIELDS) {
			fo_errf(err, errsz, "%s: dtype has more than %d fields", path,
			        FO_ZARR_MAX_FIELDS);
			return -1;
		}
		fo_zarr_field *f = &a->fields[a->nfields];
		int n = cJSON_GetArraySize(it);
		const cJSON *name = cJSON_GetArrayItem(it, 0);
		const cJSON *ts = cJSON_GetArrayItem(it, 1);
		if (!cJSON_IsArray(it) || n < 2 || n > 3 || !cJSON_IsString(name)) {
			fo_errf(err, errsz,
			        "%s: dtype field %d is not [name, type] or [name, type, shape]",
			        path, a->nfields);
			return -1;
		}
		snprintf(f->name, sizeof(f->name), "%s", name->valuestring);
		if (!cJSON_IsString(ts) || fo_parse_typestr(ts->valuestring, f) < 0) {
			char *s = cJSON_PrintUnformatted(ts);
			fo_errf(err, errsz, "%s: field \"%s\" has unsupported dtype %s", path,
			        f->name, s ? s : "?");
			cJSON_free(s);
			return -1;
		}
		uint64_t count = 1;
		if (n == 3) {
			const cJSON *shape = cJSON_GetArrayItem(it, 2), *d;
			if (!cJSON_IsArray(shape)) {
				fo_errf(err, errsz, "%s: field \"%s\" shape is not a list", path,
				        f->name);
				return -1;
			}
			cJSON_ArrayForEach(d, shape)
			{
				if (!cJSON_IsNumber(d) || d->valuedouble < 0 ||
				    d->valuedouble > 1e6) {
					fo_errf(err, errsz, "%s: field \"%s\" has a bad shape",
					        path, f->name);
					return -1;
				}
				count *= (uint64_t)d->valuedouble;
			}
		}
		if (count > (1u << 20)) {
			fo_errf(err, errsz, "%s: field \"%s\" is too large", path, f->name);
			return -1;
		}
		f->count = (uint32_t)count;
		f->offset = off;
		off += f->count * f->elem_size;
		a->nfields++;
	}
	a->itemsize = off;
	if (off == 0) {
		fo_errf(err, errsz, "%s: dtype has zero itemsize", path);
		return -1;
	}
	return 0;
}

static int fo_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes base64 s into out (exactly n bytes expected); 0 or -1. */
static int fo_b64_decode(const char *s, uint8_t *out, size_t n)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		int v = fo_b64val((unsigned char)*s);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == n)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == n ? 0 : -1;
}

static int fo_parse_fill(fo_zarr_array *a, const cJSON *fv, const char *path, char *err,
                         size_t errsz)
{
	a->fill = mi_zalloc(a->itemsize);
	if (!a->fill) {
		fo_errf(err, errsz, "%s: out of memory", path);
		return -1;
	}
	if (!fv || cJSON_IsNull(fv))
		return 0;
	if (a->structured) {
		if (!cJSON_IsString(fv) ||
		    fo_b64_decode(fv->valuestring, a->fill, a->itemsize) < 0) {
			fo_errf(err, errsz, "%s: fill_value is not base64 of one %zu-byte record",
			        path, a->itemsize);
			return -1;
		}
		return 0;
	}
	/* plain numeric array */
	const fo_zarr_field *f = &a->fields[0];
	double v;
	if (cJSON_IsNumber(fv))
		v = fv->valuedouble;
	else if (cJSON_IsString(fv) && strcmp(fv->valuestring, "NaN") == 0)
		v = __builtin_nan("");
	else if (cJSON_IsBool(fv))
		v = cJSON_IsTrue(fv);
	else {
		fo_errf(err, errsz, "%s: unsupported fill_value", path);
		return -1;
	}
	if (f->kind == FO_ZK_FLOAT && f->elem_size == 4) {
		float x = (float)v;
		memcpy(a->fill, &x, 4);
	} else if (f->kind == FO_ZK_FLOAT) {
		memcpy(a->fill, &v, 8);
	} else {
		int64_t x = (int64_t)v;
		memcpy(a->fill, &x, f->elem_size); /* little-endian host */
	}
	return 0;
}

int fo_zarr_array_open(fo_zarr_array *a, const char *group_dir, const char *name, char *err,
                       size_t errsz)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	if ((size_t)snprintf(a->dir, sizeof(a->dir), "%s/%s", group_dir, name) >= sizeof(a->dir)) {
		fo_errf(err, errsz, "%s/%s: path too long", group_dir, name);
		return -1;
	}
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/.zarray", a->dir);
	cJSON *j = fo_json_load_file(path, err, errsz);
	if (!j)
		return -1;

	int rc = -1;
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "zarr_format");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
	const cJSON *chunks = cJSON_GetObjectItemCaseSensitive(j, "chunks");
	const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(j, "dtype");
	const cJSON *comp = cJSON_GetObjectItemCaseSensitive(j, "compressor");
	const cJSON *filters = cJSON_GetObjectItemCaseSensitive(j, "filters");
	const cJSON *order = cJSON_GetObjectItemCaseSensitive(j, "order");
	const cJSON *fill = cJSON_GetObjectItemCaseSensitive(j, "fill_value");

	if (!cJSON_IsNumber(fmt) || fmt->valueint != 2) {
		fo_errf(err, errsz, "%s: zarr_format is missing or not 2", path);
		goto out;
	}
	if (!cJSON_IsArray(shape) || !cJSON_IsArray(chunks)) {
		fo_errf(err, errsz, "%s: shape and chunks must be lists", path);
		goto out;
	}
	if (cJSON_GetArraySize(shape) != 1 || cJSON_GetArraySize(chunks) != 1) {
		fo_errf(err, errsz, "%s: only 1-D arrays are supported (shape has %d dimensions)",
		        path, cJSON_GetArraySize(shape));
		goto out;
	}
	const cJSON *s0 = cJSON_GetArrayItem(shape, 0), *c0 = cJSON_GetArrayItem(chunks, 0);
	if (!cJSON_IsNumber(s0) || s0->valuedouble < 0 || !cJSON_IsNumber(c0) ||
	    c0->valuedouble < 1) {
		fo_errf(err, errsz, "%s: shape must be >= 0 and chunks >= 1", path);
		goto out;
	}
	a->shape = (uint64_t)s0->valuedouble;
	a->chunk_len = (uint64_t)c0->valuedouble;
	a->nchunks = (a->shape + a->chunk_len - 1) / a->chunk_len;
	if (order && !(cJSON_IsString(order) && (strcmp(order->valuestring, "C") == 0 ||
	                                         strcmp(order->valuestring, "F") == 0))) {
		fo_errf(err, errsz, "%s: order must be \"C\" or \"F\"", path);
		goto out;
	}
	if (filters && !cJSON_IsNull(filters) &&
	    !(cJSON_IsArray(filters) && cJSON_GetArraySize(filters) == 0)) {
		fo_errf(err, errsz, "%s: filters are not supported", path);
		goto out;
	}
	if (!comp || cJSON_IsNull(comp)) {
		a->codec = FO_ZC_NONE;
	} else {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(comp, "id");
		if (!cJSON_IsString(id)) {
			fo_errf(err, errsz, "%s: compressor has no id", path);
			goto out;
		}
		if (strcmp(id->valuestring, "blosc") != 0) {
			fo_errf(err, errsz,
			        "%s: unsupported compressor \"%s\" (supported: blosc, none)", path,
			        id->valuestring);
			goto out;
		}
		a->codec = FO_ZC_BLOSC;
	}
	if (!dtype) {
		fo_errf(err, errsz, "%s: dtype is missing", path);
		goto out;
	}
	if (fo_parse_dtype(a, dtype, path, err, errsz) < 0)
		goto out;
	if (a->chunk_len > (1ull << 34) / a->itemsize) {
		fo_errf(err, errsz, "%s: chunks of %" PRIu64 " records are too large", path,
		        a->chunk_len);
		goto out;
	}
	if (fo_parse_fill(a, fill, path, err, errsz) < 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(j);
	if (rc < 0) {
		mi_free(a->fill);
		a->fill = NULL;
	}
	return rc;
}

void fo_zarr_array_close(fo_zarr_array *a)
{
	mi_free(a->fill);
	a->fill = NULL;
}

const fo_zarr_field *fo_zarr_field_find(const fo_zarr_array *a, const char *name)
{
	for (int i = 0; i < a->nfields; i++)
		if (strcmp(a->fields[i].name, name) == 0)
			return &a->fields[i];
	return NULL;
}

const fo_zarr_field *fo_zarr_field_require(const fo_zarr_array *a, const char *name,
                                           uint32_t min_count, char *err, size_t errsz)
{
	const fo_zarr_field *f = fo_zarr_field_find(a, name);
	if (!f) {
		fo_errf(err, errsz, "%s/.zarray: array \"%s\" has no field \"%s\" in its dtype",
		        a->dir, a->name, name);
		return NULL;
	}
	if (f->kind != FO_ZK_FLOAT && f->kind != FO_ZK_INT && f->kind != FO_ZK_UINT) {
		fo_errf(err, errsz, "%s/.zarray: field \"%s.%s\" has dtype %s, expected a number",
		        a->dir, a->name, name, f->typestr);
		return NULL;
	}
	if (f->count < min_count) {
		fo_errf(err, errsz,
		        "%s/.zarray: field \"%s.%s\" has %u elements, expected at least %u", a->dir,
		        a->name, name, f->count, min_count);
		return NULL;
	}
	return f;
}

uint64_t fo_zarr_chunk_records(const fo_zarr_array *a, uint64_t idx)
{
	uint64_t lo = idx * a->chunk_len;
	if (lo >= a->shape)
		return 0;
	uint64_t n = a->shape - lo;
	return n < a->chunk_len ? n : a->chunk_len;
}

int fo_zarr_chunk_decode(const fo_zarr_array *a, uint64_t idx, const void *src, size_t srclen,
                         void *dst, int nthreads, char *err, size_t errsz)
{
	size_t want = (size_t)a->chunk_len * a->itemsize;
	if (a->codec == FO_ZC_NONE) {
		if (srclen != want) {
			fo_errf(err, errsz,
			        "%s/%" PRIu64 ": chunk %" PRIu64
			        " of array \"%s\" holds %zu bytes, expected %zu",
			        a->dir, idx, idx, a->name, srclen, want);
			return -1;
		}
		memcpy(dst, src, want);
		return 0;
	}
	if (srclen < BLOSC_MIN_HEADER_LENGTH) {
		fo_errf(err, errsz,
		        "%s/%" PRIu64 ": chunk %" PRIu64
		        " of array \"%s\" is truncated (%zu bytes, shorter than a Blosc header)",
		        a->dir, idx, idx, a->name, srclen);
		return -1;
	}
	size_t nbytes = 0, cbytes = 0, blocksize = 0;
	blosc_cbuffer_sizes(src, &nbytes, &cbytes, &blocksize);
	if (cbytes != srclen) {
		fo_errf(err, errsz,
		        "%s/%" PRIu64 ": chunk %" PRIu64
		        " of array \"%s\" is %s: the Blosc header says %zu compressed bytes, the "
		        "file has %zu",
		        a->dir, idx, idx, a->name, cbytes > srclen ? "truncated" : "corrupt",
		        cbytes, srclen);
		return -1;
	}
	if (nbytes != want) {
		fo_errf(err, errsz,
		        "%s/%" PRIu64 ": chunk %" PRIu64
		        " of array \"%s\" decodes to %zu bytes, expected %zu (%" PRIu64
		        " records of %zu bytes)",
		        a->dir, idx, idx, a->name, nbytes, want, a->chunk_len, a->itemsize);
		return -1;
	}
	size_t vn = 0;
	if (blosc_cbuffer_validate(src, srclen, &vn) < 0 || vn != want) {
		fo_errf(err, errsz,
		        "%s/%" PRIu64 ": chunk %" PRIu64
		        " of array \"%s\" has a corrupt Blosc header",
		        a->dir, idx, idx, a->name);
		return -1;
	}
	int r = blosc_decompress_ctx(src, dst, want, nthreads);
	if (r < 0 || (size_t)r != want) {
		fo_errf(err, errsz,
		        "%s/%" PRIu64 ": chunk %" PRIu64
		        " of array \"%s\" is corrupt (Blosc error %d)",
		        a->dir, idx, idx, a->name, r);
		return -1;
	}
	return 0;
}

void fo_zarr_chunk_fill(const fo_zarr_array *a, void *dst, uint64_t n)
{
	uint8_t *p = dst;
	for (uint64_t i = 0; i < n; i++, p += a->itemsize)
		memcpy(p, a->fill, a->itemsize);
}

size_t fo_zarr_get_str(const uint8_t *rec, const fo_zarr_field *f, char *out, size_t cap)
{
	const uint8_t *p = rec + f->offset;
	size_t n = 0;
	if (f->kind == FO_ZK_UNICODE) {
		for (uint32_t i = 0; i < f->elem_size / 4 && n + 1 < cap; i++) {
			uint32_t cp;
			memcpy(&cp, p + 4 * i, 4);
			if (cp == 0)
				break;
			out[n++] = cp < 0x80 ? (char)cp : '?';
		}
	} else if (f->kind == FO_ZK_BYTES) {
		for (uint32_t i = 0; i < f->elem_size && n + 1 < cap && p[i]; i++)
			out[n++] = (char)p[i];
	}
	if (cap)
		out[n] = '\0';
	return n;
}

/* ---- cursor ----
 *
 * Inline mode: the caller's thread takes each planned chunk from chunkio
 * and decodes it into the cursor's one buffer.
 *
 * Decoder mode: decoder d owns a chunkio and FO_DEC_SLOTS decoded buffers
 * and handles plan positions d, d + n, d + 2n, ... in order. It hands each
 * decoded slot to the caller through two counting semaphores per decoder
 * (free slots / filled slots): one post and one wait per chunk of 20,000
 * records, never per record. Slot contents are written only by the decoder
 * before its sem_post(filled) and read only by the caller after the paired
 * sem_wait(filled); the caller gives the slot back with sem_post(free),
 * paired with the decoder's sem_wait(free). A stop flag ends the decoders
 * early (a new begin, or destroy).
 */

#define FO_DEC_SLOTS 3

typedef struct fo_dec_slot {
	uint8_t *buf;
	uint64_t index; /* chunk index decoded into buf */
	int rc;         /* 0, or -1 with err */
	char err[512];
	uint64_t file_bytes;
} fo_dec_slot;

typedef struct fo_decoder {
	struct fo_zarr_cursor *c;
	unsigned id;
	fo_chunkio *cio;
	pthread_t thread;
	int running;
	sem_t free_slots, filled;
	fo_dec_slot slots[FO_DEC_SLOTS];
	uint64_t w, r; /* slots written (decoder) / read (caller), private to each */
} fo_decoder;

struct fo_zarr_cursor {
	const fo_zarr_array *a;
	fo_chunkio *cio;
	int blosc_threads;
	uint8_t *buf;        /* one decoded chunk (inline mode) */
	const uint8_t *data; /* the chunk the caller is on */
	uint64_t cur;        /* chunk index in data, UINT64_MAX if none */
	uint64_t *plan;      /* planned chunk indices, ascending */
	size_t nplan, pos;   /* pos: next planned chunk not yet taken */
	uint64_t file_bytes, decoded_bytes, chunks;
	fo_decoder *dec; /* decoder mode: ndec decoders */
	unsigned ndec;
	fo_decoder *held; /* decoder whose slot the caller holds */
	atomic_int stop;
};

fo_zarr_cursor *fo_zarr_cursor_new(const fo_zarr_array *a, fo_chunkio *cio, int blosc_threads)
{
	fo_zarr_cursor *c = mi_zalloc(sizeof(*c));
	if (!c)
		return NULL;
	c->buf = mi_malloc_aligned(a->chunk_len * a->itemsize, 64);
	if (!c->buf) {
		mi_free(c);
		return NULL;
	}
	c->a = a;
	c->cio = cio;
	c->blosc_threads = blosc_threads < 1 ? 1 : blosc_threads;
	c->cur = UINT64_MAX;
	return c;
}

/* Decodes one chunk from chunkio into dst: fill_value for a missing file.
 * Returns 0 or -1 with err; *file_bytes gets the compressed size. */
static int fo_zarr_take_into(const fo_zarr_array *a, fo_chunkio *cio, int want, uint8_t *dst,
                             int nthreads, uint64_t *index, uint64_t *file_bytes, char *err,
                             size_t errsz)
{
	fo_chunk ch;
	int r = fo_chunkio_next(cio, &ch);
	if (r <= 0) {
		fo_errf(err, errsz, "%s: chunk reader failed: %s", a->dir,
		        r < 0 ? strerror(-r) : "sequence ended early");
		return -1;
	}
	int rc = 0;
	*index = ch.index;
	*file_bytes = 0;
	if (want) {
		if (ch.err == -ENOENT) {
			fo_zarr_chunk_fill(a, dst, a->chunk_len);
		} else if (ch.err) {
			fo_errf(err, errsz, "%s: chunk %" PRIu64 " of array \"%s\": %s", ch.path,
			        ch.index, a->name, strerror(-ch.err));
			rc = -1;
		} else {
			rc = fo_zarr_chunk_decode(a, ch.index, ch.data, ch.len, dst, nthreads, err,
			                          errsz);
			*file_bytes = ch.len;
		}
	}
	fo_chunkio_release(cio, &ch);
	return rc;
}

static void *fo_decoder_main(void *arg)
{
	fo_decoder *d = arg;
	fo_zarr_cursor *c = d->c;
	for (size_t p = d->id; p < c->nplan; p += c->ndec) {
		while (sem_wait(&d->free_slots) < 0) /* pairs with the caller's sem_post(free) */
			;
		if (atomic_load_explicit(&c->stop, memory_order_relaxed))
			break;
		fo_dec_slot *s = &d->slots[d->w++ % FO_DEC_SLOTS];
		s->err[0] = '\0';
		s->rc = fo_zarr_take_into(c->a, d->cio, 1, s->buf, 1, &s->index, &s->file_bytes,
		                          s->err, sizeof(s->err));
		sem_post(&d->filled); /* pairs with the caller's sem_wait(filled) */
	}
	return NULL;
}

static void fo_decoders_stop(fo_zarr_cursor *c)
{
	atomic_store_explicit(&c->stop, 1, memory_order_relaxed);
	for (unsigned i = 0; i < c->ndec; i++) {
		fo_decoder *d = &c->dec[i];
		if (!d->running)
			continue;
		sem_post(&d->free_slots); /* wake a decoder waiting for a slot */
		pthread_join(d->thread, NULL);
		d->running = 0;
	}
	for (unsigned i = 0; i < c->ndec; i++) {
		fo_decoder *d = &c->dec[i];
		sem_destroy(&d->free_slots);
		sem_destroy(&d->filled);
		sem_init(&d->free_slots, 0, FO_DEC_SLOTS);
		sem_init(&d->filled, 0, 0);
		d->w = d->r = 0;
	}
	c->held = NULL;
	atomic_store_explicit(&c->stop, 0, memory_order_relaxed);
}

int fo_zarr_cursor_set_decoders(fo_zarr_cursor *c, unsigned n, fo_chunkio_backend be,
                                unsigned readahead, char *err, size_t errsz)
{
	if (c->dec || n == 0)
		return c->dec && n == 0 ? -1 : 0;
	if (n > 16) {
		fo_errf(err, errsz, "%u decode threads: at most 16", n);
		return -1;
	}
	c->dec = mi_calloc(n, sizeof(*c->dec));
	if (!c->dec) {
		fo_errf(err, errsz, "out of memory");
		return -1;
	}
	c->ndec = n;
	for (unsigned i = 0; i < n; i++) {
		fo_decoder *d = &c->dec[i];
		d->c = c;
		d->id = i;
		sem_init(&d->free_slots, 0, FO_DEC_SLOTS);
		sem_init(&d->filled, 0, 0);
		if (!(d->cio = fo_chunkio_new(be, readahead, err, errsz)))
			return -1;
		for (int k = 0; k < FO_DEC_SLOTS; k++)
			if (!(d->slots[k].buf =
			          mi_malloc_aligned(c->a->chunk_len * c->a->itemsize, 64))) {
				fo_errf(err, errsz, "out of memory for decode buffers");
				return -1;
			}
	}
	return 0;
}

void fo_zarr_cursor_destroy(fo_zarr_cursor *c)
{
	if (!c)
		return;
	if (c->dec) {
		fo_decoders_stop(c);
		for (unsigned i = 0; i < c->ndec; i++) {
			fo_decoder *d = &c->dec[i];
			fo_chunkio_destroy(d->cio);
			for (int k = 0; k < FO_DEC_SLOTS; k++)
				mi_free(d->slots[k].buf);
			sem_destroy(&d->free_slots);
			sem_destroy(&d->filled);
		}
		mi_free(c->dec);
	}
	mi_free(c->buf);
	mi_free(c->plan);
	mi_free(c);
}

static int fo_u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

int fo_zarr_cursor_begin(fo_zarr_cursor *c, const uint64_t *lo, const uint64_t *hi, size_t n,
                         char *err, size_t errsz)
{
	const fo_zarr_array *a = c->a;
	size_t total = 0;
	for (size_t k = 0; k < n; k++) {
		if (lo[k] > hi[k] || hi[k] > a->shape) {
			fo_errf(err, errsz,
			        "%s: records [%" PRIu64 ", %" PRIu64
			        ") are outside array \"%s\" of %" PRIu64 " records",
			        a->dir, lo[k], hi[k], a->name, a->shape);
			return -1;
		}
		if (hi[k] > lo[k])
			total += (hi[k] - 1) / a->chunk_len - lo[k] / a->chunk_len + 1;
	}
	uint64_t *plan = mi_malloc((total ? total : 1) * sizeof(*plan));
	if (!plan) {
		fo_errf(err, errsz, "%s: out of memory planning chunk reads", a->dir);
		return -1;
	}
	size_t m = 0;
	for (size_t k = 0; k < n; k++)
		if (hi[k] > lo[k])
			for (uint64_t ch = lo[k] / a->chunk_len; ch <= (hi[k] - 1) / a->chunk_len;
			     ch++)
				plan[m++] = ch;
	qsort(plan, m, sizeof(*plan), fo_u64_cmp);
	size_t u = 0;
	for (size_t k = 0; k < m; k++)
		if (u == 0 || plan[u - 1] != plan[k])
			plan[u++] = plan[k];
	if (c->dec)
		fo_decoders_stop(c);
	mi_free(c->plan);
	c->plan = plan;
	c->nplan = u;
	c->pos = 0;
	c->cur = UINT64_MAX;
	c->data = NULL;
	if (!c->dec) {
		int r = fo_chunkio_begin(c->cio, a->dir, plan, u);
		if (r < 0) {
			fo_errf(err, errsz, "%s: cannot start chunk reads: %s", a->dir,
			        strerror(-r));
			return -1;
		}
		return 0;
	}
	/* decoder d reads plan positions d, d + ndec, ... */
	uint64_t *sub = mi_malloc((u ? u : 1) * sizeof(*sub));
	if (!sub) {
		fo_errf(err, errsz, "%s: out of memory planning chunk reads", a->dir);
		return -1;
	}
	for (unsigned i = 0; i < c->ndec; i++) {
		fo_decoder *d = &c->dec[i];
		size_t k = 0;
		for (size_t p = i; p < u; p += c->ndec)
			sub[k++] = plan[p];
		int r = fo_chunkio_begin(d->cio, a->dir, sub, k);
		if (r < 0 || pthread_create(&d->thread, NULL, fo_decoder_main, d) != 0) {
			fo_errf(err, errsz, "%s: cannot start decode thread %u: %s", a->dir, i,
			        strerror(r < 0 ? -r : errno));
			mi_free(sub);
			return -1;
		}
		d->running = 1;
	}
	mi_free(sub);
	return 0;
}

/* Takes the next planned chunk (decoding it if want, inline mode). */
static int fo_zarr_cursor_take(fo_zarr_cursor *c, int want, char *err, size_t errsz)
{
	const fo_zarr_array *a = c->a;
	size_t p = c->pos++;
	uint64_t index = 0, fb = 0;
	int rc;
	if (!c->dec) {
		rc = fo_zarr_take_into(a, c->cio, want, c->buf, c->blosc_threads, &index, &fb, err,
		                       errsz);
		c->data = c->buf;
	} else {
		if (c->held) { /* give the previous slot back: pairs with sem_wait(free) */
			c->held->r++;
			sem_post(&c->held->free_slots);
			c->held = NULL;
		}
		fo_decoder *d = &c->dec[p % c->ndec];
		while (sem_wait(&d->filled) < 0) /* pairs with the decoder's sem_post(filled) */
			;
		fo_dec_slot *s = &d->slots[d->r % FO_DEC_SLOTS];
		c->held = d;
		index = s->index;
		fb = s->file_bytes;
		rc = want ? s->rc : 0; /* a skipped chunk's problems are not the caller's */
		if (rc < 0)
			fo_errf(err, errsz, "%s", s->err);
		c->data = s->buf;
	}
	if (want) {
		c->cur = rc == 0 ? index : UINT64_MAX;
		c->chunks++;
		c->file_bytes += fb;
		if (rc == 0)
			c->decoded_bytes += a->chunk_len * a->itemsize;
	}
	return rc;
}

const uint8_t *fo_zarr_cursor_get(fo_zarr_cursor *c, uint64_t i, char *err, size_t errsz)
{
	const fo_zarr_array *a = c->a;
	uint64_t ch = i / a->chunk_len;
	if (ch != c->cur) {
		if (i >= a->shape) {
			fo_errf(err, errsz,
			        "%s: record %" PRIu64 " is outside array \"%s\" of %" PRIu64
			        " records",
			        a->dir, i, a->name, a->shape);
			return NULL;
		}
		/* skip planned chunks before ch, then take ch */
		while (c->pos < c->nplan && c->plan[c->pos] < ch)
			if (fo_zarr_cursor_take(c, 0, err, errsz) < 0)
				return NULL;
		if (c->pos >= c->nplan || c->plan[c->pos] != ch) {
			fo_errf(err, errsz,
			        "%s: record %" PRIu64 " (chunk %" PRIu64
			        ") of array \"%s\" was read out of order",
			        a->dir, i, ch, a->name);
			return NULL;
		}
		if (fo_zarr_cursor_take(c, 1, err, errsz) < 0)
			return NULL;
	}
	return c->data + (i - ch * a->chunk_len) * a->itemsize;
}

const uint8_t *fo_zarr_cursor_span(fo_zarr_cursor *c, uint64_t i, uint64_t *avail, char *err,
                                   size_t errsz)
{
	const uint8_t *r = fo_zarr_cursor_get(c, i, err, errsz);
	if (r) {
		const fo_zarr_array *a = c->a;
		uint64_t end = (i / a->chunk_len + 1) * a->chunk_len;
		*avail = (end < a->shape ? end : a->shape) - i;
	}
	return r;
}

void fo_zarr_cursor_stats(const fo_zarr_cursor *c, uint64_t *file_bytes, uint64_t *decoded_bytes,
                          uint64_t *chunks)
{
	*file_bytes = c->file_bytes;
	*decoded_bytes = c->decoded_bytes;
	*chunks = c->chunks;
}
