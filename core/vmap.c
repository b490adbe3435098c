/*
 * vmap: see vmap.h. Each slot is {used, key, value} laid out in one array;
 * deletion uses backward-shift so no tombstones accumulate.
 */
#include "vmap.h"

#include <mimalloc.h>
#include <string.h>

struct fo_vmap {
	uint8_t *slots;
	size_t slot_size; /* header + value, rounded to 8 */
	size_t value_size;
	size_t mask;
	size_t count;
};

typedef struct fo_vslot {
	uint32_t used;
	uint32_t scene;
	uint64_t track;
} fo_vslot;

static inline fo_vslot *fo_vmap_slot(const fo_vmap *m, size_t i)
{
	return (fo_vslot *)(m->slots + i * m->slot_size);
}

static size_t fo_pow2_at_least(size_t n)
{
	size_t c = 16;
	while (c < n)
		c <<= 1;
	return c;
}

static int fo_vmap_alloc(fo_vmap *m, size_t cap)
{
	uint8_t *s = mi_zalloc_aligned(cap * m->slot_size, 64);
	if (!s)
		return -1;
	m->slots = s;
	m->mask = cap - 1;
	m->count = 0;
	return 0;
}

fo_vmap *fo_vmap_new(size_t value_size, size_t expected)
{
	fo_vmap *m = mi_zalloc(sizeof(*m));
	if (!m)
		return NULL;
	m->value_size = value_size;
	m->slot_size = (sizeof(fo_vslot) + value_size + 7) & ~(size_t)7;
	if (fo_vmap_alloc(m, fo_pow2_at_least(expected * 2)) < 0) {
		mi_free(m);
		return NULL;
	}
	return m;
}

void fo_vmap_destroy(fo_vmap *m)
{
	if (!m)
		return;
	mi_free(m->slots);
	mi_free(m);
}

static inline int fo_vkey_eq(const fo_vslot *s, fo_vkey k)
{
	return s->track == k.track && s->scene == k.scene;
}

void *fo_vmap_get(const fo_vmap *m, fo_vkey k)
{
	for (size_t i = fo_vkey_hash(k) & m->mask;; i = (i + 1) & m->mask) {
		fo_vslot *s = fo_vmap_slot(m, i);
		if (!s->used)
			return NULL;
		if (fo_vkey_eq(s, k))
			return s + 1;
	}
}

static int fo_vmap_grow(fo_vmap *m)
{
	uint8_t *old = m->slots;
	size_t old_cap = m->mask + 1;
	if (fo_vmap_alloc(m, old_cap * 2) < 0) {
		m->slots = old;
		return -1;
	}
	for (size_t j = 0; j < old_cap; j++) {
		fo_vslot *o = (fo_vslot *)(old + j * m->slot_size);
		if (!o->used)
			continue;
		size_t i = fo_vkey_hash((fo_vkey){o->scene, o->track}) & m->mask;
		while (fo_vmap_slot(m, i)->used)
			i = (i + 1) & m->mask;
		memcpy(fo_vmap_slot(m, i), o, m->slot_size);
		m->count++;
	}
	mi_free(old);
	return 0;
}

void *fo_vmap_upsert(fo_vmap *m, fo_vkey k, int *created)
{
	if ((m->count + 1) * 2 > m->mask + 1 && fo_vmap_grow(m) < 0)
		return NULL;
	size_t i = fo_vkey_hash(k) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		fo_vslot *s = fo_vmap_slot(m, i);
		if (!s->used)
			break;
		if (fo_vkey_eq(s, k)) {
			if (created)
				*created = 0;
			return s + 1;
		}
	}
	fo_vslot *s = fo_vmap_slot(m, i);
	memset(s, 0, m->slot_size);
	s->used = 1;
	s->scene = k.scene;
	s->track = k.track;
	m->count++;
	if (created)
		*created = 1;
	return s + 1;
}

int fo_vmap_remove(fo_vmap *m, fo_vkey k)
{
	size_t i = fo_vkey_hash(k) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		fo_vslot *s = fo_vmap_slot(m, i);
		if (!s->used)
			return 0;
		if (fo_vkey_eq(s, k))
			break;
	}
	/* backward-shift deletion: pull later members of the run into the hole */
	size_t hole = i;
	for (size_t j = (i + 1) & m->mask;; j = (j + 1) & m->mask) {
		fo_vslot *s = fo_vmap_slot(m, j);
		if (!s->used)
			break;
		size_t home = fo_vkey_hash((fo_vkey){s->scene, s->track}) & m->mask;
		/* s may fill the hole if its home is not in (hole, j] cyclically */
		int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!in_range) {
			memcpy(fo_vmap_slot(m, hole), s, m->slot_size);
			hole = j;
		}
	}
	fo_vmap_slot(m, hole)->used = 0;
	m->count--;
	return 1;
}

size_t fo_vmap_remove_scene(fo_vmap *m, uint32_t scene)
{
	/* collect a batch of keys, then remove them: removal shifts entries,
	 * so it must not run under an iterator */
	size_t removed = 0;
	fo_vkey keys[256];
	for (;;) {
		size_t it = 0, k = 0;
		fo_vkey key;
		while (k < 256 && fo_vmap_next(m, &it, &key))
			if (key.scene == scene)
				keys[k++] = key;
		if (k == 0)
			return removed;
		for (size_t i = 0; i < k; i++)
			removed += (size_t)fo_vmap_remove(m, keys[i]);
	}
}

void fo_vmap_clear(fo_vmap *m)
{
	memset(m->slots, 0, (m->mask + 1) * m->slot_size);
	m->count = 0;
}

size_t fo_vmap_count(const fo_vmap *m)
{
	return m->count;
}

void *fo_vmap_next(const fo_vmap *m, size_t *it, fo_vkey *key)
{
	for (; *it <= m->mask; (*it)++) {
		fo_vslot *s = fo_vmap_slot(m, *it);
		if (s->used) {
			(*it)++;
			if (key)
				*key = (fo_vkey){s->scene, s->track};
			return s + 1;
		}
	}
	return NULL;
}
