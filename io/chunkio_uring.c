/*
 * chunkio_uring: the io_uring backend of chunkio. One ring per chunkio with
 * twice `depth` entries; a read's user data is its slot. Reader thread only.
 */
#include "chunkio_impl.h"

#include <errno.h>
#include <liburing.h>
#include <mimalloc.h>

static int fo_uring_init(fo_chunkio *cio, unsigned depth)
{
	struct io_uring *ring = mi_zalloc(sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	int r = io_uring_queue_init(depth * 2, ring, 0);
	if (r < 0) {
		mi_free(ring);
		return r;
	}
	cio->be = ring;
	return 0;
}

static int fo_uring_submit(fo_chunkio *cio, fo_cslot *s)
{
	struct io_uring *ring = cio->be;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe) { /* queue full: push what is queued, then retry once */
		int r = io_uring_submit(ring);
		if (r < 0)
			return r;
		sqe = io_uring_get_sqe(ring);
		if (!sqe)
			return -EBUSY;
	}
	size_t want = s->len - s->done;
	if (want > (1u << 30))
		want = 1u << 30;
	io_uring_prep_read(sqe, s->fd, s->buf + s->done, (unsigned)want, (uint64_t)s->done);
	io_uring_sqe_set_data(sqe, s);
	return 0;
}

static int fo_uring_flush(fo_chunkio *cio)
{
	int r = io_uring_submit(cio->be);
	return r < 0 ? r : 0;
}

static int fo_uring_wait(fo_chunkio *cio, fo_cslot **out, int *res)
{
	struct io_uring *ring = cio->be;
	struct io_uring_cqe *cqe;
	int r;
	do
		r = io_uring_wait_cqe(ring, &cqe);
	while (r == -EINTR);
	if (r < 0)
		return r;
	*out = io_uring_cqe_get_data(cqe);
	*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

static void fo_uring_fini(fo_chunkio *cio)
{
	io_uring_queue_exit(cio->be);
	mi_free(cio->be);
}

const fo_chunkio_ops fo_chunkio_uring_ops = {
    .name = "io_uring",
    .init = fo_uring_init,
    .submit = fo_uring_submit,
    .flush = fo_uring_flush,
    .wait = fo_uring_wait,
    .fini = fo_uring_fini,
};
