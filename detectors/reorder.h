/*
 * reorder: puts one vehicle's events back in frame order, within a
 * tolerance of FO_REORDER_TOLERANCE frames, before the detectors see them.
 *
 * Kafka keeps one vehicle's messages in order within its partition, but a
 * producer retry, a rebalance or a replay running twice can still deliver
 * a frame late or twice, and the detectors' features (accelerations, jumps,
 * dropouts) assume frames arrive in order. A fo_reorder lives inside the
 * worker's per-vehicle state: a fixed-size struct, zero-filled = empty, no
 * allocation, used only by the thread that owns the vehicle.
 *
 * Rules, with T = FO_REORDER_TOLERANCE and `last` the last frame released:
 *   - The vehicle's first event is released at once (it sets `last`).
 *   - The next frame (last + 1) is released at once, followed by any
 *     waiting events that are then in order.
 *   - A frame further ahead waits for the missing ones, but only while no
 *     event more than T frames past the first missing frame has arrived:
 *     such an event means the missing frame is overtaken by more than T
 *     frames, so it is given up (a gap, which the dropout rule sees as one)
 *     and the waiting events are released in order. At most T events wait.
 *     An event already more than T frames past the missing one does not wait
 *     at all.
 *   - A frame at or before `last`, or equal to a waiting one, is late or a
 *     duplicate: it is not released, and the return code says which, so
 *     the caller counts it (and still marks its message processed).
 *   - fo_reorder_flush releases everything waiting (end of input,
 *     partition revoked); fo_reorder_advance gives missing frames up
 *     because the vehicle's scene has moved on without the vehicle (an
 *     event waiting at the end of a track would otherwise wait forever).
 * Released events come out through a caller array of FO_REORDER_OUT_MAX
 * entries, oldest first; each keeps the caller's tag (its origin, e.g. the
 * Kafka partition and offset to mark done) and event id.
 */
#ifndef FO_REORDER_H
#define FO_REORDER_H

#include "telemetry.h"
#include "uuid5.h"

#include <stdint.h>

#define FO_REORDER_TOLERANCE 2
#define FO_REORDER_OUT_MAX   (FO_REORDER_TOLERANCE + 1)

/* One event as it waits and as it is released. */
typedef struct fo_reorder_ev {
	fo_telemetry t;
	fo_uuid event_id;
	uint64_t tag; /* the caller's, returned untouched */
} fo_reorder_ev;

/* Per-vehicle state: zero-filled is empty. Fields are private. */
typedef struct fo_reorder {
	fo_reorder_ev _wait[FO_REORDER_TOLERANCE]; /* waiting, by frame */
	uint32_t _last;                            /* last frame released */
	uint8_t _n;                                /* events in _wait */
	uint8_t _started;                          /* _last is valid */
} fo_reorder;

/* What happened to a pushed event (flags; 0: released in order). */
enum {
	FO_REORDER_HELD = 1,      /* it waits for missing frames */
	FO_REORDER_GAP = 2,       /* missing frames were given up to release events */
	FO_REORDER_LATE = 4,      /* dropped: older than the last frame released */
	FO_REORDER_DUPLICATE = 8, /* dropped: its frame was released or is waiting */
};

/* Offers ev. Writes the events now released, in frame order, to
 * out[0 .. *n) (at most FO_REORDER_OUT_MAX; ev itself among them unless
 * the result has HELD, LATE or DUPLICATE). Returns the flags above. ev is
 * copied; it may be reused at once. Owner thread; no allocation. */
unsigned fo_reorder_push(fo_reorder *r, const fo_reorder_ev *ev, fo_reorder_ev *out, unsigned *n);

/* The vehicle's scene has reached `frame` (seen on its other vehicles):
 * gives up missing frames as an event at `frame` would, without adding
 * one. Writes released events to out[0 .. *n); returns FO_REORDER_GAP if
 * any was released, else 0. Owner thread. */
unsigned fo_reorder_advance(fo_reorder *r, uint32_t frame, fo_reorder_ev *out, unsigned *n);

/* Releases every waiting event, in frame order, to out[0 .. *n) (at most
 * FO_REORDER_TOLERANCE). Later events continue after the last one
 * released. Owner thread. */
void fo_reorder_flush(fo_reorder *r, fo_reorder_ev *out, unsigned *n);

/* Events waiting now. */
static inline unsigned fo_reorder_waiting(const fo_reorder *r)
{
	return r->_n;
}

#endif
