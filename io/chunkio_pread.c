/*
 * chunkio_pread: the plain pread(2) backend of chunkio, for kernels or
 * sandboxes without io_uring. Submitted reads queue in FIFO order and run
 * synchronously in wait(); same interface, no read-ahead overlap.
 */
#include "chunkio_impl.h"

#include <errno.h>
#include <mimalloc.h>
#include <unistd.h>

typedef struct fo_pread_q {
	fo_cslot **q;
	unsigned cap, head, n;
} fo_pread_q;

static int fo_pread_init(fo_chunkio *cio, unsigned depth)
{
	fo_pread_q *pq = mi_zalloc(sizeof(*pq));
	if (!pq)
		return -ENOMEM;
	pq->cap = depth * 2;
	pq->q = mi_calloc(pq->cap, sizeof(*pq->q));
	if (!pq->q) {
		mi_free(pq);
		return -ENOMEM;
	}
	cio->be = pq;
	return 0;
}

static int fo_pread_submit(fo_chunkio *cio, fo_cslot *s)
{
	fo_pread_q *pq = cio->be;
	if (pq->n == pq->cap)
		return -EBUSY;
	pq->q[(pq->head + pq->n++) % pq->cap] = s;
	return 0;
}

static int fo_pread_flush(fo_chunkio *cio)
{
	(void)cio;
	return 0;
}

static int fo_pread_wait(fo_chunkio *cio, fo_cslot **out, int *res)
{
	fo_pread_q *pq = cio->be;
	if (pq->n == 0)
		return -EINVAL;
	fo_cslot *s = pq->q[pq->head];
	pq->head = (pq->head + 1) % pq->cap;
	pq->n--;
	size_t want = s->len - s->done;
	if (want > (1u << 30)) /* keep the result within an int */
		want = 1u << 30;
	ssize_t r;
	do
		r = pread(s->fd, s->buf + s->done, want, (off_t)s->done);
	while (r < 0 && errno == EINTR);
	*out = s;
	*res = r < 0 ? -errno : (int)r;
	return 0;
}

static void fo_pread_fini(fo_chunkio *cio)
{
	fo_pread_q *pq = cio->be;
	mi_free(pq->q);
	mi_free(pq);
}

const fo_chunkio_ops fo_chunkio_pread_ops = {
    .name = "pread",
    .init = fo_pread_init,
    .submit = fo_pread_submit,
    .flush = fo_pread_flush,
    .wait = fo_pread_wait,
    .fini = fo_pread_fini,
};
