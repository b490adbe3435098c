/*
 * shard: see shard.h.
 */
#include "shard.h"

#include "vmap.h"

#include <mimalloc.h>
#include <string.h>

struct fo_shard {
	const fo_thresholds *th;
	fo_vmap *vehicles; /* vehicle -> fo_vdet */
	fo_shard_stats st;
};

fo_shard *fo_shard_new(const fo_thresholds *th, size_t expected)
{
	fo_shard *s = mi_zalloc(sizeof(*s));
	if (!s)
		return NULL;
	s->th = th;
	s->vehicles = fo_vmap_new(sizeof(fo_vdet), expected);
	if (!s->vehicles) {
		mi_free(s);
		return NULL;
	}
	return s;
}

void fo_shard_destroy(fo_shard *s)
{
	if (!s)
		return;
	fo_vmap_destroy(s->vehicles);
	mi_free(s);
}

int fo_shard_observe(fo_shard *s, const fo_telemetry *t, uint32_t frame_agents, fo_anomaly *out)
{
	fo_vdet *v = fo_vmap_upsert(s->vehicles, (fo_vkey){t->scene, t->track}, NULL);
	if (!v)
		return -1;
	int n = fo_detect(s->th, v, t, frame_agents, out);
	s->st.observations++;
	for (int i = 0; i < n; i++) {
		s->st.anomalies[out[i].rule]++;
		s->st.by_severity[out[i].severity]++;
	}
	return n;
}

void fo_shard_forget_scene(fo_shard *s, uint32_t scene)
{
	/* collect first: removal reorders the table under an iterator */
	fo_vkey keys[256];
	for (;;) {
		size_t it = 0, k = 0;
		fo_vkey key;
		while (k < 256 && fo_vmap_next(s->vehicles, &it, &key))
			if (key.scene == scene)
				keys[k++] = key;
		if (k == 0)
			return;
		for (size_t i = 0; i < k; i++)
			fo_vmap_remove(s->vehicles, keys[i]);
	}
}

void fo_shard_stats_get(const fo_shard *s, fo_shard_stats *st)
{
	*st = s->st;
	st->vehicles = fo_vmap_count(s->vehicles);
}
