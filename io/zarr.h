/*
 * zarr: zarr v2 array metadata and chunk decoding for 1-D structured arrays
 * (what L5Kit stores).
 *
 * fo_zarr_array_open parses an array's .zarray: shape, chunks, dtype as a
 * list of named fields with shapes, compressor (none or Blosc), filters,
 * fill_value and order. Records are then read by field name through the
 * resolved fo_zarr_field (offset, type, element count) — byte offsets are
 * always derived from the dtype, never assumed. fo_zarr_cursor streams the
 * records of a chosen set of chunks in order, with the reads of later chunks
 * in flight (io/chunkio) while the current one is decoded.
 *
 * Errors name the file, the array and the chunk. Functions that can fail
 * take `char *err, size_t errsz` and return 0 or -1 (or NULL).
 * An array and its cursors belong to one thread.
 */
#ifndef FO_ZARR_H
#define FO_ZARR_H

#include "chunkio.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FO_ZARR_MAX_FIELDS 32
#define FO_ZARR_NAME_MAX   64

typedef enum fo_zarr_kind {
	FO_ZK_FLOAT = 'f',
	FO_ZK_INT = 'i',
	FO_ZK_UINT = 'u',
	FO_ZK_BOOL = 'b',
	FO_ZK_UNICODE = 'U', /* UTF-32LE code units */
	FO_ZK_BYTES = 'S',
} fo_zarr_kind;

typedef struct fo_zarr_field {
	char name[FO_ZARR_NAME_MAX];
	char typestr[16]; /* as written, e.g. "<f8" */
	fo_zarr_kind kind;
	uint32_t elem_size; /* bytes per element */
	uint32_t count;     /* elements: product of the field's shape */
	uint32_t offset;    /* byte offset within the record */
} fo_zarr_field;

typedef enum fo_zarr_codec { FO_ZC_NONE = 0, FO_ZC_BLOSC } fo_zarr_codec;

typedef struct fo_zarr_array {
	char dir[PATH_MAX];          /* the array's directory */
	char name[FO_ZARR_NAME_MAX]; /* the array's name within its group */
	uint64_t shape;              /* records */
	uint64_t chunk_len;          /* records per chunk */
	uint64_t nchunks;
	size_t itemsize; /* bytes per record */
	fo_zarr_field fields[FO_ZARR_MAX_FIELDS];
	int nfields;
	int structured; /* dtype is a list of fields */
	fo_zarr_codec codec;
	uint8_t *fill; /* one record of fill_value (zeros if null) */
} fo_zarr_array;

/* Opens group_dir/name/.zarray. Returns 0, or -1 with err naming the file
 * and what is wrong (missing, malformed JSON, unsupported compressor,
 * filters, dtype, shape or order). Free with fo_zarr_array_close. */
int fo_zarr_array_open(fo_zarr_array *a, const char *group_dir, const char *name, char *err,
                       size_t errsz);
void fo_zarr_array_close(fo_zarr_array *a);

/* Checks that group_dir holds a zarr v2 group (.zgroup with zarr_format 2). */
int fo_zarr_group_check(const char *group_dir, char *err, size_t errsz);

/* Returns the field called name, or NULL. */
const fo_zarr_field *fo_zarr_field_find(const fo_zarr_array *a, const char *name);

/* Resolves a field the caller needs: it must exist, be numeric (float, int
 * or uint) and hold at least min_count elements. Returns it, or NULL with err
 * naming the array, the field and the dtype found. */
const fo_zarr_field *fo_zarr_field_require(const fo_zarr_array *a, const char *name,
                                           uint32_t min_count, char *err, size_t errsz);

/* Records held by chunk idx (the last chunk may be partial). */
uint64_t fo_zarr_chunk_records(const fo_zarr_array *a, uint64_t idx);

/* Decodes one chunk file's bytes (src, srclen) into dst, which must hold
 * chunk_len * itemsize bytes. Checks the Blosc header against the file
 * length (truncation) and the decoded size against chunk_len * itemsize.
 * nthreads: Blosc decompression threads. Returns 0 or -1 with err naming
 * the chunk file and the array. Any thread, no shared state. */
int fo_zarr_chunk_decode(const fo_zarr_array *a, uint64_t idx, const void *src, size_t srclen,
                         void *dst, int nthreads, char *err, size_t errsz);

/* Fills n records of dst with fill_value (a missing chunk file). */
void fo_zarr_chunk_fill(const fo_zarr_array *a, void *dst, uint64_t n);

/* Field readers: element i of field f of the record at rec, converted. */
static inline double fo_zarr_get_f64(const uint8_t *rec, const fo_zarr_field *f, uint32_t i)
{
	const uint8_t *p = rec + f->offset + (size_t)i * f->elem_size;
	switch (f->kind) {
	case FO_ZK_FLOAT:
		if (f->elem_size == 4) {
			float v;
			memcpy(&v, p, 4);
			return v;
		} else {
			double v;
			memcpy(&v, p, 8);
			return v;
		}
	case FO_ZK_INT:
		switch (f->elem_size) {
		case 1: return (int8_t)*p;
		case 2: {
			int16_t v;
			memcpy(&v, p, 2);
			return v;
		}
		case 4: {
			int32_t v;
			memcpy(&v, p, 4);
			return v;
		}
		default: {
			int64_t v;
			memcpy(&v, p, 8);
			return (double)v;
		}
		}
	case FO_ZK_UINT:
	case FO_ZK_BOOL:
		switch (f->elem_size) {
		case 1: return *p;
		case 2: {
			uint16_t v;
			memcpy(&v, p, 2);
			return v;
		}
		case 4: {
			uint32_t v;
			memcpy(&v, p, 4);
			return v;
		}
		default: {
			uint64_t v;
			memcpy(&v, p, 8);
			return (double)v;
		}
		}
	default: return 0.0;
	}
}

static inline int64_t fo_zarr_get_i64(const uint8_t *rec, const fo_zarr_field *f, uint32_t i)
{
	const uint8_t *p = rec + f->offset + (size_t)i * f->elem_size;
	if (f->kind == FO_ZK_FLOAT)
		return (int64_t)fo_zarr_get_f64(rec, f, i);
	switch (f->elem_size) {
	case 1: return f->kind == FO_ZK_INT ? (int8_t)*p : *p;
	case 2: {
		if (f->kind == FO_ZK_INT) {
			int16_t v;
			memcpy(&v, p, 2);
			return v;
		}
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	case 4: {
		if (f->kind == FO_ZK_INT) {
			int32_t v;
			memcpy(&v, p, 4);
			return v;
		}
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	default: {
		int64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	}
}

/* Copies a <U field (UTF-32LE) as ASCII/Latin-1 into out (NUL-terminated);
 * other code points become '?'. Returns the length. */
size_t fo_zarr_get_str(const uint8_t *rec, const fo_zarr_field *f, char *out, size_t cap);

/* ---- cursor: streams records of an array in increasing order ---- */

typedef struct fo_zarr_cursor fo_zarr_cursor;

/* Creates a cursor over a reading through cio (borrowed; one cursor per
 * chunkio at a time). Returns NULL on allocation failure. */
fo_zarr_cursor *fo_zarr_cursor_new(const fo_zarr_array *a, fo_chunkio *cio, int blosc_threads);
void fo_zarr_cursor_destroy(fo_zarr_cursor *c);

/* Moves decoding off the calling thread: n decode threads (0: decode on the
 * caller, the default), each reading its share of the planned chunks (every
 * n-th) through its own chunkio of backend `be` with `readahead` reads in
 * flight, and decoding them into a few buffers of its own while the caller
 * works on earlier chunks. Chunks still reach the caller in plan order, and
 * a bad chunk is reported when the caller reaches it. Call before
 * fo_zarr_cursor_begin. Returns 0 or -1 with err. */
int fo_zarr_cursor_set_decoders(fo_zarr_cursor *c, unsigned n, fo_chunkio_backend be,
                                unsigned readahead, char *err, size_t errsz);

/* Plans to read the chunks covering the record ranges [lo[k], hi[k]) (any
 * order, may overlap); reads start at once. Returns 0 or -1 with err. */
int fo_zarr_cursor_begin(fo_zarr_cursor *c, const uint64_t *lo, const uint64_t *hi, size_t n,
                         char *err, size_t errsz);

/* Returns record i, or NULL with err (bad chunk file, record outside the
 * planned ranges or before the current chunk). i must not go back to an
 * earlier chunk than the previous call's. The pointer is valid until the
 * cursor moves to another chunk. */
const uint8_t *fo_zarr_cursor_get(fo_zarr_cursor *c, uint64_t i, char *err, size_t errsz);

/* Like fo_zarr_cursor_get, and *avail is set to the number of records from
 * i on that are contiguous in memory (up to the end of i's chunk or of the
 * array), so callers can walk them with pointer arithmetic. */
const uint8_t *fo_zarr_cursor_span(fo_zarr_cursor *c, uint64_t i, uint64_t *avail, char *err,
                                   size_t errsz);

/* Bytes read from chunk files and decoded so far (for throughput figures). */
void fo_zarr_cursor_stats(const fo_zarr_cursor *c, uint64_t *file_bytes, uint64_t *decoded_bytes,
                          uint64_t *chunks);

#endif
