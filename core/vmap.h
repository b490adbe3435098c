/*
 * vmap: an open-addressing hash map from a vehicle key (scene index, track
 * id) to a fixed-size value stored inline, for per-vehicle state on the hot
 * path.
 *
 * Linear probing over a power-of-two table kept at most half full; a lookup
 * touches one or two cache lines. Memory is allocated at creation and when
 * the table must double (amortised, and avoidable with fo_vmap_new's
 * capacity hint); never per lookup. Values move when the table grows, so a
 * pointer from fo_vmap_get/fo_vmap_upsert is valid until the next upsert.
 * Not thread-safe: each map belongs to one thread (the reader, or one worker).
 */
#ifndef FO_VMAP_H
#define FO_VMAP_H

#include <stddef.h>
#include <stdint.h>

/* Track id given to the logging car (its L5Kit track id is null). */
#define FO_TRACK_EGO UINT64_MAX

typedef struct fo_vkey {
	uint32_t scene;
	uint64_t track;
} fo_vkey;

/* A strong 64-bit mix of a vehicle key; also used to pick a shard. */
static inline uint64_t fo_vkey_hash(fo_vkey k)
{
	uint64_t x = k.track ^ ((uint64_t)k.scene * 0x9e3779b97f4a7c15ULL);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

typedef struct fo_vmap fo_vmap;

/* Creates a map for values of value_size bytes with room for at least
 * expected entries before it grows. Returns NULL on allocation failure.
 * Freed by fo_vmap_destroy. */
fo_vmap *fo_vmap_new(size_t value_size, size_t expected);
void fo_vmap_destroy(fo_vmap *m);

/* Returns the value for k, or NULL. */
void *fo_vmap_get(const fo_vmap *m, fo_vkey k);

/* Returns the value for k, inserting a zero-filled one (and setting *created
 * to 1) if absent. Returns NULL only if growing the table failed. */
void *fo_vmap_upsert(fo_vmap *m, fo_vkey k, int *created);

/* Removes k if present; returns 1 if it was. */
int fo_vmap_remove(fo_vmap *m, fo_vkey k);

/* Removes every entry of scene (its replay ended); returns how many. */
size_t fo_vmap_remove_scene(fo_vmap *m, uint32_t scene);

/* Removes every entry; keeps the table's memory. */
void fo_vmap_clear(fo_vmap *m);

size_t fo_vmap_count(const fo_vmap *m);

/* Iteration: for (size_t it = 0; (v = fo_vmap_next(m, &it, &key));) ...
 * The map must not be modified while iterating. */
void *fo_vmap_next(const fo_vmap *m, size_t *it, fo_vkey *key);

#endif
