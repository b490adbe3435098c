/*
 * chunkio: the backend-independent part (see chunkio.h, chunkio_impl.h).
 *
 * Slots form a window over the sequence: position p lives in slot
 * p % depth, and position p + depth is scheduled only when p is released,
 * so buffers are reused in order and at most `depth` files are open.
 */
#include "chunkio_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

fo_chunkio *fo_chunkio_new(fo_chunkio_backend be, unsigned depth, char *err, size_t errsz)
{
	if (depth < 1 || depth > 64) {
		snprintf(err, errsz, "chunk read-ahead depth %u out of range 1..64", depth);
		return NULL;
	}
	fo_chunkio *cio = mi_zalloc(sizeof(*cio));
	fo_cslot *slots = mi_calloc(depth, sizeof(*slots));
	if (!cio || !slots) {
		mi_free(cio);
		mi_free(slots);
		snprintf(err, errsz, "out of memory creating the chunk reader");
		return NULL;
	}
	cio->slots = slots;
	cio->depth = depth;
	for (unsigned i = 0; i < depth; i++)
		slots[i].fd = -1;

	int r = -EINVAL;
	if (be == FO_CHUNKIO_AUTO || be == FO_CHUNKIO_URING) {
		cio->ops = &fo_chunkio_uring_ops;
		r = cio->ops->init(cio, depth);
		if (r < 0 && be == FO_CHUNKIO_URING) {
			snprintf(err, errsz, "io_uring unavailable: %s", strerror(-r));
			mi_free(slots);
			mi_free(cio);
			return NULL;
		}
	}
	if (r < 0) {
		cio->ops = &fo_chunkio_pread_ops;
		r = cio->ops->init(cio, depth);
		if (r < 0) {
			snprintf(err, errsz, "chunk reader: %s", strerror(-r));
			mi_free(slots);
			mi_free(cio);
			return NULL;
		}
	}
	return cio;
}

const char *fo_chunkio_backend_name(const fo_chunkio *cio)
{
	return cio->ops->name;
}

/* Waits for one read and books its result into its slot. */
static int fo_chunkio_reap(fo_chunkio *cio)
{
	fo_cslot *s;
	int res;
	int r = cio->ops->wait(cio, &s, &res);
	if (r < 0)
		return r;
	cio->inflight--;
	if (res < 0) {
		s->err = res;
		s->state = FO_CS_READY;
	} else if (res == 0) {
		s->err = -EIO; /* the file ended before the size it had at open */
		s->state = FO_CS_READY;
	} else {
		s->done += (size_t)res;
		if (s->done < s->len) {
			if ((r = cio->ops->submit(cio, s)) < 0 || (r = cio->ops->flush(cio)) < 0)
				return r;
			cio->inflight++;
		} else {
			s->state = FO_CS_READY;
		}
	}
	return 0;
}

static void fo_chunkio_close_slot(fo_cslot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->state = FO_CS_FREE;
}

/* Opens and submits reads for the window [next_out, next_out + depth). */
static int fo_chunkio_schedule(fo_chunkio *cio)
{
	int submitted = 0;
	while (cio->next_sched < cio->nseq && cio->next_sched < cio->next_out + cio->depth) {
		fo_cslot *s = &cio->slots[cio->next_sched % cio->depth];
		s->seq = cio->next_sched;
		s->err = 0;
		s->done = 0;
		s->len = 0;
		snprintf(s->path, sizeof(s->path), "%s/%" PRIu64, cio->dir,
		         cio->seq[cio->next_sched]);
		cio->next_sched++;
		s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (s->fd < 0 || fstat(s->fd, &st) < 0) {
			s->err = -errno;
			s->state = FO_CS_READY;
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			s->err = -EISDIR;
			s->state = FO_CS_READY;
			continue;
		}
		s->len = (size_t)st.st_size;
		if (s->len > s->cap) {
			uint8_t *nb = mi_malloc_aligned(s->len, 4096);
			if (!nb) {
				s->err = -ENOMEM;
				s->state = FO_CS_READY;
				continue;
			}
			mi_free(s->buf);
			s->buf = nb;
			s->cap = s->len;
		}
		if (s->len == 0) {
			s->state = FO_CS_READY;
			continue;
		}
		int r = cio->ops->submit(cio, s);
		if (r < 0)
			return r;
		s->state = FO_CS_READING;
		cio->inflight++;
		submitted = 1;
	}
	return submitted ? cio->ops->flush(cio) : 0;
}

static void fo_chunkio_drain(fo_chunkio *cio)
{
	while (cio->inflight > 0)
		if (fo_chunkio_reap(cio) < 0)
			break;
	for (unsigned i = 0; i < cio->depth; i++)
		fo_chunkio_close_slot(&cio->slots[i]);
}

int fo_chunkio_begin(fo_chunkio *cio, const char *dir, const uint64_t *indices, size_t n)
{
	fo_chunkio_drain(cio);
	uint64_t *seq = NULL;
	if (n) {
		seq = mi_malloc(n * sizeof(*seq));
		if (!seq)
			return -ENOMEM;
		memcpy(seq, indices, n * sizeof(*seq));
	}
	mi_free(cio->seq);
	cio->seq = seq;
	cio->nseq = n;
	cio->next_sched = 0;
	cio->next_out = 0;
	snprintf(cio->dir, sizeof(cio->dir), "%s", dir);
	return fo_chunkio_schedule(cio);
}

int fo_chunkio_next(fo_chunkio *cio, fo_chunk *c)
{
	if (cio->next_out >= cio->nseq)
		return 0;
	int r = fo_chunkio_schedule(cio);
	if (r < 0)
		return r;
	fo_cslot *s = &cio->slots[cio->next_out % cio->depth];
	while (s->state == FO_CS_READING)
		if ((r = fo_chunkio_reap(cio)) < 0)
			return r;
	s->state = FO_CS_HELD;
	c->index = cio->seq[cio->next_out];
	c->path = s->path;
	c->data = s->buf;
	c->len = s->err ? 0 : s->len;
	c->err = s->err;
	return 1;
}

void fo_chunkio_release(fo_chunkio *cio, fo_chunk *c)
{
	fo_cslot *s = &cio->slots[cio->next_out % cio->depth];
	(void)c;
	fo_chunkio_close_slot(s);
	cio->next_out++;
	/* refill the window now so the kernel works while the caller decodes */
	(void)fo_chunkio_schedule(cio);
}

void fo_chunkio_destroy(fo_chunkio *cio)
{
	if (!cio)
		return;
	fo_chunkio_drain(cio);
	cio->ops->fini(cio);
	for (unsigned i = 0; i < cio->depth; i++)
		mi_free(cio->slots[i].buf);
	mi_free(cio->slots);
	mi_free(cio->seq);
	mi_free(cio);
}
