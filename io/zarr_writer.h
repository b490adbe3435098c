/*
 * zarr_writer: write 1-D structured zarr v2 arrays the way zarr-python does.
 *
 * Owns one array directory at a time (a `fo_zarrw`, variable `zw`): its
 * `.zarray`, and chunk files named "0", "1", ... each holding chunk_len
 * records compressed with Blosc (typesize = record size, as numcodecs
 * does for a structured dtype). Records are appended in order; a chunk
 * is compressed and written as soon as it is full, so memory stays at a
 * few chunk buffers however long the array grows. The last, partial
 * chunk is padded with zero records to the full chunk length, as zarr
 * stores it, and `.zarray` gets the final shape at fo_zarrw_finish().
 *
 * Threads: one caller thread per `zw`. With nworkers > 0 the writer
 * starts that many threads of its own that compress and write full
 * chunks while the caller keeps appending; each chunk is compressed by
 * one thread with blosc_compress_ctx(nthreads = 1), so chunk files are
 * byte-for-byte reproducible (multi-threaded Blosc orders blocks by
 * completion and is not). Appending blocks only when every buffer is in
 * flight.
 *
 * Guarantees: metadata files are written to a temporary name and renamed,
 * so a reader never sees half a `.zarray`. Not guaranteed: durability
 * (no fsync) or a usable array when fo_zarrw_finish() was not reached.
 *
 * Errors: every function returns 0 or -errno and fills errbuf with a
 * message that names the file or directory involved.
 */
#ifndef FO_ZARR_WRITER_H
#define FO_ZARR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/* One field of a structured dtype, as in a `.zarray` "dtype" list:
 * ["name", "<f8"] or ["name", "<f4", [3]] or ["name", "<f8", [3, 3]].
 * type is a numpy type string: byte order '<' or '|', a kind among
 * b i u f (element size in bytes) or U (UTF-32 code points) or S (bytes). */
typedef struct fo_zarrw_field {
	const char *name;
	const char *type;
	unsigned ndim; /* 0 for a scalar field, else 1 or 2 */
	unsigned shape[2];
} fo_zarrw_field;

typedef struct fo_zarrw_opts {
	const fo_zarrw_field *fields; /* copied at open; caller keeps ownership */
	size_t nfields;
	size_t chunk_len;  /* records per chunk, > 0 */
	const char *cname; /* Blosc codec, NULL = "lz4" */
	int clevel;        /* 0..9; L5Kit uses 5 */
	int shuffle;       /* 0 none, 1 byte, 2 bit; L5Kit uses 1 */
	unsigned nworkers; /* compression threads; 0 = compress in the caller */
} fo_zarrw_opts;

typedef struct fo_zarrw fo_zarrw;

/* fo_zarrw_open: create directory `dir` (its parent must exist; an
 * existing directory is reused) and write a provisional `.zarray` with
 * shape [0]. On success *out is a new writer the caller must release with
 * fo_zarrw_destroy(). Caller: any thread, which then owns the writer.
 * Returns 0, -EINVAL (bad opts or dtype), -ENOMEM, or the -errno of
 * mkdir/open/write (e.g. -ENOENT when the parent does not exist). */
int fo_zarrw_open(fo_zarrw **out, const char *dir, const fo_zarrw_opts *opts, char *errbuf,
                  size_t errlen);

/* Bytes per record of the dtype (sum of field sizes, no padding). */
size_t fo_zarrw_record_size(const fo_zarrw *zw);

/* Records appended so far. */
uint64_t fo_zarrw_length(const fo_zarrw *zw);

/* fo_zarrw_append: copy n records of fo_zarrw_record_size() bytes each.
 * Full chunks are handed to the workers (or compressed here when
 * nworkers = 0). Caller: the owning thread. Returns 0, or the first error
 * of this writer, including one raised by a worker (a chunk file that could
 * not be written), which surfaces at the next chunk boundary or at finish;
 * after an error the writer only accepts fo_zarrw_destroy(). */
int fo_zarrw_append(fo_zarrw *zw, const void *recs, size_t n, char *errbuf, size_t errlen);

/* fo_zarrw_finish: write the last partial chunk (zero-padded), wait for
 * every chunk file, then rewrite `.zarray` with the final shape. Caller:
 * the owning thread, once. Returns 0 or the first error of this writer. */
int fo_zarrw_finish(fo_zarrw *zw, char *errbuf, size_t errlen);

/* fo_zarrw_destroy: stop the workers and free the writer (NULL is fine).
 * Does not remove files. Without a successful finish the array on disk
 * keeps its provisional shape. */
void fo_zarrw_destroy(fo_zarrw *zw);

/* fo_zarrw_group_create: create directory `dir` (parent must exist; an
 * existing one is reused) with `.zgroup` {"zarr_format": 2} and, when
 * attrs is not NULL, `.zattrs` (attrs stays owned by the caller).
 * Returns 0 or -errno with the path in errbuf. */
int fo_zarrw_group_create(const char *dir, const cJSON *attrs, char *errbuf, size_t errlen);

/* Flags for fo_zarrw_write_json. */
#define FO_ZARRW_JSON_SORT_KEYS 1u /* object keys in byte order, as zarr */

/* fo_zarrw_write_json: write `root` to `path` (via path.tmp + rename)
 * formatted as Python's json.dumps(indent=4, ensure_ascii=True), which is
 * how zarr-python writes metadata: no trailing newline, integral numbers
 * as integers, other numbers in shortest round-trip form, cJSON_Raw items
 * verbatim. root stays owned by the caller. Returns 0 or -errno. */
int fo_zarrw_write_json(const char *path, const cJSON *root, unsigned flags, char *errbuf,
                        size_t errlen);

#endif /* FO_ZARR_WRITER_H */
