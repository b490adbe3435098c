/*
 * reorder: see reorder.h. With at most T waiting events, everything is a
 * small sorted array: a push merges the new event into a local copy of the
 * waiting ones, releases what the rules allow from the front and keeps the
 * rest. Frame arithmetic is done in 64 bits so that frames near UINT32_MAX
 * cannot wrap.
 */
#include "reorder.h"

#include <string.h>

static inline void fo_reorder_emit(fo_reorder *r, const fo_reorder_ev *e, fo_reorder_ev *out,
                                   unsigned *n)
{
	out[(*n)++] = *e;
	r->_last = e->t.frame;
	r->_started = 1;
}

/* Releases from the front of all[0 .. cnt) (sorted, all past _last) what
 * the rules allow when the newest frame seen is horizon, keeps the rest
 * waiting and returns FO_REORDER_GAP if a missing frame was given up. */
static unsigned fo_reorder_resolve(fo_reorder *r, const fo_reorder_ev *all, unsigned cnt,
                                   uint64_t horizon, fo_reorder_ev *out, unsigned *n)
{
	unsigned i = 0, gap = 0;
	for (;;) {
		while (i < cnt && (uint64_t)all[i].t.frame == (uint64_t)r->_last + 1)
			fo_reorder_emit(r, &all[i++], out, n);
		/* the missing frame _last + 1 is overtaken by more than T */
		if (i < cnt && horizon > (uint64_t)r->_last + 1 + FO_REORDER_TOLERANCE) {
			fo_reorder_emit(r, &all[i++], out, n);
			gap = FO_REORDER_GAP;
			continue;
		}
		break;
	}
	r->_n = (uint8_t)(cnt - i);
	if (r->_n && all + i != r->_wait)
		memmove(r->_wait, all + i, r->_n * sizeof(all[0]));
	return gap;
}

unsigned fo_reorder_push(fo_reorder *r, const fo_reorder_ev *ev, fo_reorder_ev *out, unsigned *n)
{
	const uint32_t f = ev->t.frame;
	*n = 0;
	if (!r->_started) {
		fo_reorder_emit(r, ev, out, n);
		return 0;
	}
	if (f <= r->_last)
		return f == r->_last ? FO_REORDER_DUPLICATE : FO_REORDER_LATE;
	for (unsigned i = 0; i < r->_n; i++)
		if (r->_wait[i].t.frame == f)
			return FO_REORDER_DUPLICATE;
	if ((uint64_t)f == (uint64_t)r->_last + 1) {
		fo_reorder_emit(r, ev, out, n);
		return fo_reorder_resolve(r, r->_wait, r->_n, f, out, n);
	}
	/* ahead of the next frame: merge it into the waiting ones */
	fo_reorder_ev all[FO_REORDER_TOLERANCE + 1];
	unsigned cnt = 0, k = 0;
	while (k < r->_n && r->_wait[k].t.frame < f)
		all[cnt++] = r->_wait[k++];
	all[cnt++] = *ev;
	while (k < r->_n)
		all[cnt++] = r->_wait[k++];
	const uint64_t newest = all[cnt - 1].t.frame;
	unsigned rc = fo_reorder_resolve(r, all, cnt, newest, out, n);
	for (unsigned i = 0; i < r->_n; i++)
		if (r->_wait[i].t.frame == f)
			rc |= FO_REORDER_HELD;
	return rc;
}

unsigned fo_reorder_advance(fo_reorder *r, uint32_t frame, fo_reorder_ev *out, unsigned *n)
{
	*n = 0;
	if (!r->_n)
		return 0;
	return fo_reorder_resolve(r, r->_wait, r->_n, frame, out, n);
}

void fo_reorder_flush(fo_reorder *r, fo_reorder_ev *out, unsigned *n)
{
	*n = 0;
	for (unsigned i = 0; i < r->_n; i++)
		fo_reorder_emit(r, &r->_wait[i], out, n);
	r->_n = 0;
}
