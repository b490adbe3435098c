/*
 * offsets: which Kafka offsets may be committed, for at-least-once
 * consumption.
 *
 * A message is consumed on the consumer thread, processed on a shard worker
 * and done when its results are delivered; messages of one partition finish
 * in any order across workers. Kafka commits "the next offset to read", so
 * a partition's committable offset is its first offset not yet done: after a
 * crash, everything from there is consumed again and nothing done is lost
 * (deduplication downstream absorbs the repeats).
 *
 * Per assigned partition, a bitmap window of `window` offsets (a power of
 * two) marks the consumed offsets not yet done, from the committable offset
 * up; it slides as the low end completes. Offsets the consumer never sees
 * (compacted away, transaction markers) count as done. A partition whose
 * window is full refuses more offsets until its oldest completes: the
 * consumer must pause it (fo_offsets_room tells when). Memory is allocated
 * once by fo_offsets_new.
 *
 * Every consumed message gets a 64-bit tag (offset, partition and the
 * partition's assignment epoch) that travels with it through the pipeline
 * and comes back with the done notification, so a notification that
 * arrives after its partition was revoked, or revoked and assigned again,
 * is recognised as stale and ignored instead of corrupting the new state.
 *
 * Single-threaded: the consumer thread owns a fo_offsets; done
 * notifications reach that thread through the pipeline's own rings.
 */
#ifndef FO_OFFSETS_H
#define FO_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#define FO_OFFSETS_MAX_PARTITIONS 256
#define FO_OFFSETS_WINDOW_DEFAULT (1u << 18) /* 32 KiB of bitmap per partition */
#define FO_OFFSETS_OFFSET_MAX     ((INT64_C(1) << 48) - 1)

/* fo_offsets_consumed: the partition's window is full (pause it). */
#define FO_OFFSETS_FULL 1

typedef struct fo_offsets fo_offsets;

/* A partition and an offset: what to commit. */
typedef struct fo_offsets_pos {
	int32_t partition;
	int64_t offset;
} fo_offsets_pos;

typedef struct fo_offsets_stats {
	uint64_t consumed;   /* offsets recorded */
	uint64_t done;       /* done notifications applied */
	uint64_t stale;      /* done notifications ignored (revoked, reassigned, unknown) */
	uint64_t refused;    /* fo_offsets_consumed calls that found the window full */
	uint64_t in_flight;  /* consumed, not done, over all assigned partitions */
	unsigned partitions; /* assigned now */
} fo_offsets_stats;

/* Creates a tracker for partitions 0 .. max_partitions-1 (at most
 * FO_OFFSETS_MAX_PARTITIONS) with a window of `window` offsets each
 * (rounded up to a power of two, at least 64). Returns NULL on bad
 * arguments or out of memory. Freed by fo_offsets_destroy. */
fo_offsets *fo_offsets_new(unsigned max_partitions, size_t window);
void fo_offsets_destroy(fo_offsets *o);

/* Starts tracking partition afresh (after a rebalance assigns it): the
 * first consumed offset sets its start, and done notifications from any
 * earlier assignment become stale. Returns 0, or -1 if the partition is
 * out of range. Consumer thread. */
int fo_offsets_assign(fo_offsets *o, int32_t partition);

/* Stops tracking partition (revoked or lost); its pending offsets and
 * their later done notifications are forgotten. Consumer thread. */
void fo_offsets_revoke(fo_offsets *o, int32_t partition);

int fo_offsets_assigned(const fo_offsets *o, int32_t partition);

/* Records offset of partition as consumed and not done; offsets of a
 * partition must be recorded in increasing order. Sets *tag for the done
 * notification. Returns 0; FO_OFFSETS_FULL if the window has no room for
 * it (nothing recorded: pause the partition, record it once
 * fo_offsets_room says there is room); -1 if the partition is not
 * assigned, the offset is not above the last one recorded or is beyond
 * FO_OFFSETS_OFFSET_MAX. Consumer thread. */
int fo_offsets_consumed(fo_offsets *o, int32_t partition, int64_t offset, uint64_t *tag);

/* Marks the message of tag done, in any order. Returns 0, or 1 if the tag
 * is stale (its partition was revoked or reassigned since, or the offset
 * is not pending: a second notification), which is counted and otherwise
 * ignored. Consumer thread. */
int fo_offsets_done(fo_offsets *o, uint64_t tag);

/* The offset to commit for partition: its first offset not yet done (one
 * past the last consumed when all are done). -1 if the partition is not
 * assigned or nothing was consumed since its assignment. */
int64_t fo_offsets_committable(const fo_offsets *o, int32_t partition);

/* How many more offsets partition can take before its window is full,
 * counting from one past the last consumed (a skipped offset uses room). */
size_t fo_offsets_room(const fo_offsets *o, int32_t partition);

/* Consumed and not done on partition. */
size_t fo_offsets_pending(const fo_offsets *o, int32_t partition);

/* Writes to out (up to max) each assigned partition whose committable
 * offset is past the last one recorded by fo_offsets_committed; returns
 * how many. Pass them to fo_consumer_commit, then record success. */
size_t fo_offsets_to_commit(const fo_offsets *o, fo_offsets_pos *out, size_t max);

/* Records that offset was committed for partition (ignored if it is not
 * assigned). */
void fo_offsets_committed(fo_offsets *o, int32_t partition, int64_t offset);

void fo_offsets_stats_get(const fo_offsets *o, fo_offsets_stats *st);

/* A tag's parts, for logs and errors. */
static inline int64_t fo_offsets_tag_offset(uint64_t tag)
{
	return (int64_t)(tag & (uint64_t)FO_OFFSETS_OFFSET_MAX);
}

static inline int32_t fo_offsets_tag_partition(uint64_t tag)
{
	return (int32_t)(tag >> 48 & 0xff);
}

#endif
