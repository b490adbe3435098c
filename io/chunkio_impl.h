/*
 * chunkio_impl: what chunkio.c shares with its backends. Private to io/.
 *
 * chunkio.c owns the sequence, the slots and their buffers, and opening
 * files; a backend only moves bytes: submit() starts reading the rest of a
 * slot's file, wait() returns one finished read. Reads of one slot are
 * resubmitted by chunkio.c until the file is complete (short reads).
 */
#ifndef FO_CHUNKIO_IMPL_H
#define FO_CHUNKIO_IMPL_H

#include "chunkio.h"

#include <limits.h>

typedef struct fo_cslot {
	uint64_t seq; /* position in the sequence */
	int fd;
	uint8_t *buf;
	size_t cap;
	size_t len;  /* file size at open */
	size_t done; /* bytes read so far */
	int err;
	int state; /* FO_CS_FREE, _READING, _READY, _HELD */
	char path[PATH_MAX + 32];
} fo_cslot;

enum { FO_CS_FREE = 0, FO_CS_READING, FO_CS_READY, FO_CS_HELD };

typedef struct fo_chunkio_ops {
	const char *name;
	/* Prepares the backend for `depth` concurrent reads; 0 or -errno. */
	int (*init)(fo_chunkio *cio, unsigned depth);
	/* Starts reading slot s from offset s->done; 0 or -errno. */
	int (*submit)(fo_chunkio *cio, fo_cslot *s);
	/* Flushes submitted reads to the kernel (may be a no-op). */
	int (*flush)(fo_chunkio *cio);
	/* Waits for one read to finish: *out is its slot, *res the byte count or
	 * -errno of that read. Returns 0, or -errno if the backend failed. */
	int (*wait)(fo_chunkio *cio, fo_cslot **out, int *res);
	void (*fini)(fo_chunkio *cio);
} fo_chunkio_ops;

extern const fo_chunkio_ops fo_chunkio_uring_ops;
extern const fo_chunkio_ops fo_chunkio_pread_ops;

struct fo_chunkio {
	const fo_chunkio_ops *ops;
	void *be; /* backend state */
	unsigned depth;
	fo_cslot *slots; /* depth slots; sequence position p uses p % depth */
	char dir[PATH_MAX];
	uint64_t *seq; /* chunk indices */
	size_t nseq;
	size_t next_sched; /* next sequence position to schedule */
	size_t next_out;   /* next sequence position to hand out */
	unsigned inflight;
};

#endif
