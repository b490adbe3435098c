/* Unit: the per-vehicle hash map (core/vmap.c) against a reference array
 * under random inserts, lookups and removals, through several growths. */
#include "fo_test.h"
#include "vmap.h"

#include <stdint.h>

#define N 20000

static uint64_t rng = 0x1234567;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(void)
{
	fo_vmap *m = fo_vmap_new(sizeof(uint64_t), 4);
	FO_CHECK(m != NULL);
	static int64_t ref[N]; /* value by key index, -1 if absent */
	for (int i = 0; i < N; i++)
		ref[i] = -1;
	size_t count = 0;
	for (int step = 0; step < 400000; step++) {
		uint32_t k = (uint32_t)(next_rand() % N);
		fo_vkey key = {k % 97, k / 97 == 0 ? FO_TRACK_EGO : k};
		int op = (int)(next_rand() % 4);
		if (op <= 1) {
			int created = -1;
			uint64_t *v = fo_vmap_upsert(m, key, &created);
			FO_CHECK(v != NULL);
			FO_CHECK(created == (ref[k] < 0));
			if (created) {
				FO_CHECK(*v == 0); /* zero-filled */
				count++;
			}
			*v = (uint64_t)step;
			ref[k] = step;
		} else if (op == 2) {
			int r = fo_vmap_remove(m, key);
			FO_CHECK(r == (ref[k] >= 0));
			if (r)
				count--;
			ref[k] = -1;
		} else {
			uint64_t *v = fo_vmap_get(m, key);
			FO_CHECK((v != NULL) == (ref[k] >= 0));
			if (v)
				FO_CHECK(*v == (uint64_t)ref[k]);
		}
		if (fo_test_failures > 10)
			break;
	}
	FO_CHECK(fo_vmap_count(m) == count);
	size_t it = 0, seen = 0;
	fo_vkey key;
	uint64_t *v;
	while ((v = fo_vmap_next(m, &it, &key))) {
		uint32_t k = key.track == FO_TRACK_EGO ? key.scene : (uint32_t)key.track;
		FO_CHECK(ref[k] >= 0 && *v == (uint64_t)ref[k]);
		seen++;
	}
	FO_CHECK(seen == count);
	/* removing one scene leaves the others */
	size_t in_scene5 = 0;
	for (int i = 0; i < N; i++)
		if (ref[i] >= 0 && (uint32_t)i % 97 == 5)
			in_scene5++;
	FO_CHECK(fo_vmap_remove_scene(m, 5) == in_scene5);
	FO_CHECK(fo_vmap_count(m) == count - in_scene5);
	for (int i = 0; i < N; i++) {
		fo_vkey key2 = {(uint32_t)i % 97,
		                (uint32_t)i / 97 == 0 ? FO_TRACK_EGO : (uint64_t)i};
		int present = fo_vmap_get(m, key2) != NULL;
		FO_CHECK(present == (ref[i] >= 0 && (uint32_t)i % 97 != 5));
	}
	fo_vmap_clear(m);
	FO_CHECK(fo_vmap_count(m) == 0);
	FO_CHECK(fo_vmap_get(m, (fo_vkey){1, 1}) == NULL);
	fo_vmap_destroy(m);
	return fo_test_done("test_vmap");
}
