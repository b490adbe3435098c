/*
 * chunkio: reads a sequence of whole files (zarr chunks) in order, with up to
 * `depth` reads in flight ahead of the consumer, into buffers that are reused.
 *
 * Two backends behind one interface, chosen once at creation: io_uring
 * (chunkio_uring.c) and plain pread (chunkio_pread.c, used when io_uring is
 * unavailable or asked for). Files are opened synchronously as they are
 * scheduled; the reads themselves go through the backend. A chunkio belongs
 * to one thread (the reader); nothing here locks.
 *
 * Per-file problems (missing file, I/O error, a file that changes size under
 * us) are reported on that chunk in fo_chunk.err, so the caller can treat a
 * missing chunk as fill_value and anything else as an error naming the file.
 */
#ifndef FO_CHUNKIO_H
#define FO_CHUNKIO_H

#include <stddef.h>
#include <stdint.h>

typedef enum fo_chunkio_backend {
	FO_CHUNKIO_AUTO = 0,
	FO_CHUNKIO_URING,
	FO_CHUNKIO_PREAD,
} fo_chunkio_backend;

typedef struct fo_chunkio fo_chunkio;

/* One file as read: valid from fo_chunkio_next until fo_chunkio_release. */
typedef struct fo_chunk {
	uint64_t index;   /* the chunk index given to fo_chunkio_begin */
	const char *path; /* the file's path */
	const uint8_t *data;
	size_t len;
	int err; /* 0, or -errno: -ENOENT for a missing file */
} fo_chunk;

/* Creates a reader with `depth` reads in flight (1..64). AUTO tries io_uring
 * and falls back to pread. Returns NULL with err on failure (an explicit
 * FO_CHUNKIO_URING that cannot start is a failure). Free with
 * fo_chunkio_destroy. */
fo_chunkio *fo_chunkio_new(fo_chunkio_backend be, unsigned depth, char *err, size_t errsz);
void fo_chunkio_destroy(fo_chunkio *cio);

/* "io_uring" or "pread". */
const char *fo_chunkio_backend_name(const fo_chunkio *cio);

/* Starts reading dir/<index> for each of the n indices, in that order,
 * dropping any earlier sequence (its reads are drained first). indices is
 * copied. Returns 0 or -errno (allocation). */
int fo_chunkio_begin(fo_chunkio *cio, const char *dir, const uint64_t *indices, size_t n);

/* Waits for the next file of the sequence. Returns 1 with *c filled, 0 at
 * the end of the sequence, or -errno if the backend itself failed. The
 * previous chunk must have been released. */
int fo_chunkio_next(fo_chunkio *cio, fo_chunk *c);

/* Gives the chunk's buffer back for the reads ahead. */
void fo_chunkio_release(fo_chunkio *cio, fo_chunk *c);

#endif
