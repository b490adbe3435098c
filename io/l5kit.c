/*
 * l5kit: see l5kit.h. The field names are L5Kit's (l5kit/data/zarr_dataset.py
 * and labels.py); their offsets and types come from each array's dtype.
 */
#include "l5kit.h"

#include "errbuf.h"
#include "zarr.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mimalloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fo_l5kit {
	char path[PATH_MAX];
	fo_zarr_array scenes_a, frames_a, agents_a;
	/* resolved fields */
	const fo_zarr_field *s_frames, *s_host, *s_start, *s_end;
	const fo_zarr_field *f_ts, *f_agents, *f_trans, *f_rot;
	const fo_zarr_field *a_centroid, *a_yaw, *a_vel, *a_track, *a_label;
	int a_native; /* agents fields have L5Kit's own types: take the fast path */
	fo_l5kit_scene *scenes;
	uint32_t nscenes;
	fo_chunkio *frames_io, *agents_io;
	fo_zarr_cursor *frames_c, *agents_c;
	/* the current pass */
	fo_l5kit_pick *sel; /* scene and absolute frame range [frame_lo, frame_hi) */
	uint64_t *sel_lo, *sel_hi;
	size_t nsel, k;
	uint64_t f;       /* next frame (global index) */
	uint64_t prev_a1; /* end of the previous frame's agents */
	fo_obs *obs;
	size_t obs_cap;
};

const char *fo_l5kit_path(const fo_l5kit *ds)
{
	return ds->path;
}

const char *fo_l5kit_backend(const fo_l5kit *ds)
{
	return fo_chunkio_backend_name(ds->frames_io);
}

uint32_t fo_l5kit_scene_count(const fo_l5kit *ds)
{
	return ds->nscenes;
}

const fo_l5kit_scene *fo_l5kit_scene_get(const fo_l5kit *ds, uint32_t index)
{
	return index < ds->nscenes ? &ds->scenes[index] : NULL;
}

uint64_t fo_l5kit_agent_count(const fo_l5kit *ds)
{
	return ds->agents_a.shape;
}

uint64_t fo_l5kit_frame_count(const fo_l5kit *ds)
{
	return ds->frames_a.shape;
}

static int fo_is(const fo_zarr_field *f, fo_zarr_kind kind, uint32_t size)
{
	return f->kind == kind && f->elem_size == size;
}

static int fo_l5kit_resolve(fo_l5kit *ds, char *err, size_t errsz)
{
	const fo_zarr_array *s = &ds->scenes_a, *f = &ds->frames_a, *a = &ds->agents_a;
#define FO_REQ(dst, arr, name, n)                                                                  \
	if (!((dst) = fo_zarr_field_require((arr), (name), (n), err, errsz)))                      \
		return -1;
	FO_REQ(ds->s_frames, s, "frame_index_interval", 2);
	FO_REQ(ds->f_ts, f, "timestamp", 1);
	FO_REQ(ds->f_agents, f, "agent_index_interval", 2);
	FO_REQ(ds->f_trans, f, "ego_translation", 3);
	FO_REQ(ds->f_rot, f, "ego_rotation", 9);
	FO_REQ(ds->a_centroid, a, "centroid", 2);
	FO_REQ(ds->a_yaw, a, "yaw", 1);
	FO_REQ(ds->a_vel, a, "velocity", 2);
	FO_REQ(ds->a_track, a, "track_id", 1);
	FO_REQ(ds->a_label, a, "label_probabilities", 1);
#undef FO_REQ
	ds->a_native = fo_is(ds->a_centroid, FO_ZK_FLOAT, 8) && fo_is(ds->a_yaw, FO_ZK_FLOAT, 4) &&
	               fo_is(ds->a_vel, FO_ZK_FLOAT, 4) && fo_is(ds->a_label, FO_ZK_FLOAT, 4) &&
	               (fo_is(ds->a_track, FO_ZK_UINT, 8) || fo_is(ds->a_track, FO_ZK_INT, 8));
	/* optional, informational */
	ds->s_host = fo_zarr_field_find(s, "host");
	ds->s_start = fo_zarr_field_find(s, "start_time");
	ds->s_end = fo_zarr_field_find(s, "end_time");
	if (ds->s_start && ds->s_start->kind != FO_ZK_INT && ds->s_start->kind != FO_ZK_UINT)
		ds->s_start = NULL;
	if (ds->s_end && ds->s_end->kind != FO_ZK_INT && ds->s_end->kind != FO_ZK_UINT)
		ds->s_end = NULL;
	if (ds->f_ts->kind == FO_ZK_FLOAT) {
		fo_errf(
		    err, errsz,
		    "%s/.zarray: field \"frames.timestamp\" has dtype %s, expected an integer (ns)",
		    f->dir, ds->f_ts->typestr);
		return -1;
	}
	if (ds->a_track->kind == FO_ZK_FLOAT) {
		fo_errf(err, errsz,
		        "%s/.zarray: field \"agents.track_id\" has dtype %s, expected an integer",
		        a->dir, ds->a_track->typestr);
		return -1;
	}
	return 0;
}

static int fo_l5kit_load_scenes(fo_l5kit *ds, char *err, size_t errsz)
{
	const fo_zarr_array *sa = &ds->scenes_a;
	if (sa->shape > UINT32_MAX) {
		fo_errf(err, errsz, "%s: too many scenes (%" PRIu64 ")", sa->dir, sa->shape);
		return -1;
	}
	ds->nscenes = (uint32_t)sa->shape;
	ds->scenes = mi_calloc(ds->nscenes ? ds->nscenes : 1, sizeof(*ds->scenes));
	fo_zarr_cursor *c = fo_zarr_cursor_new(sa, ds->frames_io, 1);
	if (!ds->scenes || !c) {
		fo_zarr_cursor_destroy(c);
		fo_errf(err, errsz, "%s: out of memory", sa->dir);
		return -1;
	}
	uint64_t lo = 0, hi = sa->shape;
	int rc = fo_zarr_cursor_begin(c, &lo, &hi, 1, err, errsz);
	for (uint32_t i = 0; rc == 0 && i < ds->nscenes; i++) {
		const uint8_t *r = fo_zarr_cursor_get(c, i, err, errsz);
		if (!r) {
			rc = -1;
			break;
		}
		fo_l5kit_scene *sc = &ds->scenes[i];
		sc->index = i;
		int64_t f0 = fo_zarr_get_i64(r, ds->s_frames, 0);
		int64_t f1 = fo_zarr_get_i64(r, ds->s_frames, 1);
		if (f0 < 0 || f1 < f0 || (uint64_t)f1 > ds->frames_a.shape) {
			fo_errf(err, errsz,
			        "%s: scene %u has frame_index_interval [%" PRId64 ", %" PRId64
			        ") outside the frames array of %" PRIu64 " frames",
			        sa->dir, i, f0, f1, ds->frames_a.shape);
			rc = -1;
			break;
		}
		sc->frame_lo = (uint64_t)f0;
		sc->frame_hi = (uint64_t)f1;
		sc->start_time = ds->s_start ? fo_zarr_get_i64(r, ds->s_start, 0) : 0;
		sc->end_time = ds->s_end ? fo_zarr_get_i64(r, ds->s_end, 0) : 0;
		if (ds->s_host)
			fo_zarr_get_str(r, ds->s_host, sc->host, sizeof(sc->host));
	}
	fo_zarr_cursor_destroy(c);
	return rc;
}

fo_l5kit *fo_l5kit_open(const char *path, const fo_l5kit_conf *conf, char *err, size_t errsz)
{
	fo_l5kit_conf def = {FO_CHUNKIO_AUTO, 4, 1, 0};
	if (!conf)
		conf = &def;
	fo_l5kit *ds = mi_zalloc(sizeof(*ds));
	if (!ds) {
		fo_errf(err, errsz, "out of memory");
		return NULL;
	}
	snprintf(ds->path, sizeof(ds->path), "%s", path);
	size_t len = strlen(ds->path);
	while (len > 1 && ds->path[len - 1] == '/')
		ds->path[--len] = '\0';
	unsigned ra = conf->readahead ? conf->readahead : 4;
	int bt = conf->blosc_threads > 0 ? conf->blosc_threads : 1;

	if (fo_zarr_group_check(ds->path, err, errsz) < 0)
		goto fail;
	if (fo_zarr_array_open(&ds->scenes_a, ds->path, "scenes", err, errsz) < 0)
		goto fail;
	if (fo_zarr_array_open(&ds->frames_a, ds->path, "frames", err, errsz) < 0)
		goto fail;
	if (fo_zarr_array_open(&ds->agents_a, ds->path, "agents", err, errsz) < 0)
		goto fail;
	if (fo_l5kit_resolve(ds, err, errsz) < 0)
		goto fail;
	if (!(ds->frames_io = fo_chunkio_new(conf->backend, ra, err, errsz)))
		goto fail;
	if (!(ds->agents_io = fo_chunkio_new(conf->backend, ra, err, errsz)))
		goto fail;
	ds->frames_c = fo_zarr_cursor_new(&ds->frames_a, ds->frames_io, 1);
	ds->agents_c = fo_zarr_cursor_new(&ds->agents_a, ds->agents_io, bt);
	if (!ds->frames_c || !ds->agents_c) {
		fo_errf(err, errsz, "%s: out of memory", ds->path);
		goto fail;
	}
	if (conf->decode_threads && fo_zarr_cursor_set_decoders(ds->agents_c, conf->decode_threads,
	                                                        conf->backend, ra, err, errsz) < 0)
		goto fail;
	if (fo_l5kit_load_scenes(ds, err, errsz) < 0)
		goto fail;
	return ds;
fail:
	fo_l5kit_close(ds);
	return NULL;
}

void fo_l5kit_close(fo_l5kit *ds)
{
	if (!ds)
		return;
	fo_zarr_cursor_destroy(ds->frames_c);
	fo_zarr_cursor_destroy(ds->agents_c);
	fo_chunkio_destroy(ds->frames_io);
	fo_chunkio_destroy(ds->agents_io);
	fo_zarr_array_close(&ds->scenes_a);
	fo_zarr_array_close(&ds->frames_a);
	fo_zarr_array_close(&ds->agents_a);
	mi_free(ds->scenes);
	mi_free(ds->sel);
	mi_free(ds->sel_lo);
	mi_free(ds->sel_hi);
	mi_free(ds->obs);
	mi_free(ds);
}

/* Reads frame fi's agent interval and checks it against the agents array. */
static int fo_l5kit_agent_interval(fo_l5kit *ds, const uint8_t *fr, uint64_t fi, uint64_t *a0,
                                   uint64_t *a1, char *err, size_t errsz)
{
	int64_t lo = fo_zarr_get_i64(fr, ds->f_agents, 0);
	int64_t hi = fo_zarr_get_i64(fr, ds->f_agents, 1);
	if (lo < 0 || hi < lo || (uint64_t)hi > ds->agents_a.shape) {
		fo_errf(err, errsz,
		        "%s: frame %" PRIu64 " has agent_index_interval [%" PRId64 ", %" PRId64
		        ") outside the agents array of %" PRIu64 " records",
		        ds->frames_a.dir, fi, lo, hi, ds->agents_a.shape);
		return -1;
	}
	*a0 = (uint64_t)lo;
	*a1 = (uint64_t)hi;
	return 0;
}

static int fo_u32_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

static int fo_pick_cmp(const void *x, const void *y)
{
	return fo_u32_cmp(&((const fo_l5kit_pick *)x)->scene, &((const fo_l5kit_pick *)y)->scene);
}

int fo_l5kit_begin(fo_l5kit *ds, const uint32_t *scenes, size_t n, uint64_t *frames_out,
                   uint64_t *agents_out, char *err, size_t errsz)
{
	size_t m = scenes ? n : ds->nscenes;
	fo_l5kit_pick *picks = mi_malloc((m ? m : 1) * sizeof(*picks));
	if (!picks) {
		fo_errf(err, errsz, "out of memory");
		return -1;
	}
	size_t u = 0;
	for (size_t i = 0; i < m; i++) {
		uint32_t s = scenes ? scenes[i] : (uint32_t)i;
		int dup = 0;
		for (size_t j = 0; j < u && scenes; j++)
			dup |= picks[j].scene == s;
		if (!dup)
			picks[u++] = (fo_l5kit_pick){s, 0, UINT32_MAX};
	}
	int rc = fo_l5kit_begin_picks(ds, picks, u, frames_out, agents_out, err, errsz);
	mi_free(picks);
	return rc;
}

int fo_l5kit_begin_picks(fo_l5kit *ds, const fo_l5kit_pick *picks, size_t m, uint64_t *frames_out,
                         uint64_t *agents_out, char *err, size_t errsz)
{
	fo_l5kit_pick *sel = mi_malloc((m ? m : 1) * sizeof(*sel));
	uint64_t *flo = mi_malloc((m ? m : 1) * sizeof(*flo));
	uint64_t *fhi = mi_malloc((m ? m : 1) * sizeof(*fhi));
	uint64_t *alo = mi_malloc((m ? m : 1) * sizeof(*alo));
	uint64_t *ahi = mi_malloc((m ? m : 1) * sizeof(*ahi));
	int rc = -1;
	if (!sel || !flo || !fhi || !alo || !ahi) {
		fo_errf(err, errsz, "out of memory");
		goto out;
	}
	if (m)
		memcpy(sel, picks, m * sizeof(*sel));
	qsort(sel, m, sizeof(*sel), fo_pick_cmp);
	for (size_t i = 0; i < m; i++) {
		if (sel[i].scene >= ds->nscenes) {
			fo_errf(err, errsz,
			        "%s: scene %u does not exist (the dataset has %u scenes)", ds->path,
			        sel[i].scene, ds->nscenes);
			goto out;
		}
		if (i && sel[i].scene == sel[i - 1].scene) {
			fo_errf(err, errsz, "%s: scene %u is picked twice", ds->path, sel[i].scene);
			goto out;
		}
		const fo_l5kit_scene *sc = &ds->scenes[sel[i].scene];
		uint64_t len = sc->frame_hi - sc->frame_lo;
		uint64_t lo = sel[i].frame_lo < len ? sel[i].frame_lo : len;
		uint64_t hi = sel[i].frame_hi < len ? sel[i].frame_hi : len;
		flo[i] = sc->frame_lo + lo;
		fhi[i] = sc->frame_lo + (hi > lo ? hi : lo);
	}

	/* pass 1: each pick's agent range from its first and last frame */
	if (fo_zarr_cursor_begin(ds->frames_c, flo, fhi, m, err, errsz) < 0)
		goto out;
	uint64_t nframes = 0, nagents = 0;
	for (size_t i = 0; i < m; i++) {
		alo[i] = ahi[i] = 0;
		if (fhi[i] == flo[i])
			continue;
		uint64_t a0, a1, b0, b1;
		const uint8_t *r = fo_zarr_cursor_get(ds->frames_c, flo[i], err, errsz);
		if (!r || fo_l5kit_agent_interval(ds, r, flo[i], &a0, &a1, err, errsz) < 0)
			goto out;
		r = fo_zarr_cursor_get(ds->frames_c, fhi[i] - 1, err, errsz);
		if (!r || fo_l5kit_agent_interval(ds, r, fhi[i] - 1, &b0, &b1, err, errsz) < 0)
			goto out;
		if (b1 < a0) {
			fo_errf(err, errsz,
			        "%s: scene %u's last frame ends its agents at %" PRIu64
			        ", before its first frame's start %" PRIu64,
			        ds->frames_a.dir, sel[i].scene, b1, a0);
			goto out;
		}
		alo[i] = a0;
		ahi[i] = b1;
		nframes += fhi[i] - flo[i];
		nagents += b1 - a0;
	}
	/* pass 2 plans: frames again from the start, agents of the picks */
	if (fo_zarr_cursor_begin(ds->frames_c, flo, fhi, m, err, errsz) < 0)
		goto out;
	if (fo_zarr_cursor_begin(ds->agents_c, alo, ahi, m, err, errsz) < 0)
		goto out;
	mi_free(ds->sel);
	mi_free(ds->sel_lo);
	mi_free(ds->sel_hi);
	ds->sel = sel;
	ds->sel_lo = flo;
	ds->sel_hi = fhi;
	sel = NULL;
	flo = fhi = NULL;
	ds->nsel = m;
	ds->k = 0;
	ds->f = m ? ds->sel_lo[0] : 0;
	ds->prev_a1 = 0;
	if (frames_out)
		*frames_out = nframes;
	if (agents_out)
		*agents_out = nagents;
	rc = 0;
out:
	mi_free(sel);
	mi_free(flo);
	mi_free(fhi);
	mi_free(alo);
	mi_free(ahi);
	return rc;
}

static double fo_label_max(const uint8_t *r, const fo_zarr_field *f)
{
	double m = fo_zarr_get_f64(r, f, 0);
	for (uint32_t i = 1; i < f->count; i++) {
		double v = fo_zarr_get_f64(r, f, i);
		if (v > m)
			m = v;
	}
	return m;
}

/* Decodes n consecutive agent records at r into o, for any numeric dtype. */
static void fo_l5kit_agents_generic(const fo_l5kit *ds, const uint8_t *r, uint64_t n, fo_obs *o)
{
	const size_t stride = ds->agents_a.itemsize;
	for (uint64_t k = 0; k < n; k++, r += stride, o++) {
		o->track = (uint64_t)fo_zarr_get_i64(r, ds->a_track, 0);
		o->pos[0] = fo_zarr_get_f64(r, ds->a_centroid, 0);
		o->pos[1] = fo_zarr_get_f64(r, ds->a_centroid, 1);
		o->pos[2] = 0.0;
		o->vel[0] = fo_zarr_get_f64(r, ds->a_vel, 0);
		o->vel[1] = fo_zarr_get_f64(r, ds->a_vel, 1);
		o->yaw = fo_zarr_get_f64(r, ds->a_yaw, 0);
		o->label_probability = fo_label_max(r, ds->a_label);
	}
}

/* The same for L5Kit's own field types (f8 centroid, f4 yaw/velocity/labels,
 * 8-byte track id): fixed-size loads at the offsets the dtype gave. */
static void fo_l5kit_agents_native(const fo_l5kit *ds, const uint8_t *r, uint64_t n, fo_obs *o)
{
	const size_t stride = ds->agents_a.itemsize;
	const uint32_t oc = ds->a_centroid->offset, oy = ds->a_yaw->offset;
	const uint32_t ov = ds->a_vel->offset, ot = ds->a_track->offset;
	const uint32_t ol = ds->a_label->offset, nl = ds->a_label->count;
	for (uint64_t k = 0; k < n; k++, r += stride, o++) {
		double c[2];
		float v[2], yaw;
		memcpy(c, r + oc, sizeof(c));
		memcpy(v, r + ov, sizeof(v));
		memcpy(&yaw, r + oy, sizeof(yaw));
		memcpy(&o->track, r + ot, sizeof(o->track));
		o->pos[0] = c[0];
		o->pos[1] = c[1];
		o->pos[2] = 0.0;
		o->vel[0] = v[0];
		o->vel[1] = v[1];
		o->yaw = yaw;
		float m, x;
		memcpy(&m, r + ol, 4);
		for (uint32_t i = 1; i < nl; i++) {
			memcpy(&x, r + ol + 4 * i, 4);
			m = x > m ? x : m;
		}
		o->label_probability = m;
	}
}

/* Blosc v1 carries no checksum: damage that still decompresses shows up as
 * impossible values, so they are refused. Returns what is wrong, or NULL. */
static const char *fo_l5kit_obs_check(const fo_obs *o)
{
	if (o->track == FO_TRACK_EGO)
		return "track_id 2^64-1 is reserved";
	if (!isfinite(o->pos[0]) || !isfinite(o->pos[1]))
		return "centroid is not finite";
	if (!isfinite(o->vel[0]) || !isfinite(o->vel[1]))
		return "velocity is not finite";
	if (!isfinite(o->yaw))
		return "yaw is not finite";
	if (!(o->label_probability >= 0.0 && o->label_probability <= 1.0))
		return "label_probabilities are outside [0, 1]";
	return NULL;
}

int fo_l5kit_next(fo_l5kit *ds, fo_l5kit_frame *out, char *err, size_t errsz)
{
	while (ds->k < ds->nsel && ds->f >= ds->sel_hi[ds->k]) {
		if (++ds->k < ds->nsel)
			ds->f = ds->sel_lo[ds->k];
	}
	if (ds->k >= ds->nsel)
		return 0;
	const fo_l5kit_scene *sc = &ds->scenes[ds->sel[ds->k].scene];
	uint64_t fi = ds->f++;
	const uint8_t *fr = fo_zarr_cursor_get(ds->frames_c, fi, err, errsz);
	if (!fr)
		return -1;
	uint64_t a0, a1;
	if (fo_l5kit_agent_interval(ds, fr, fi, &a0, &a1, err, errsz) < 0)
		return -1;
	if (a0 < ds->prev_a1) {
		fo_errf(err, errsz,
		        "%s: frame %" PRIu64 " has agent_index_interval [%" PRIu64 ", %" PRIu64
		        ") overlapping the previous frame's agents (which end at %" PRIu64 ")",
		        ds->frames_a.dir, fi, a0, a1, ds->prev_a1);
		return -1;
	}
	ds->prev_a1 = a1;
	size_t need = (size_t)(a1 - a0) + 1;
	if (need > ds->obs_cap) {
		size_t cap = ds->obs_cap ? ds->obs_cap : 256;
		while (cap < need)
			cap *= 2;
		fo_obs *o = mi_realloc_aligned(ds->obs, cap * sizeof(*o), 64);
		if (!o) {
			fo_errf(err, errsz, "%s: out of memory for a frame of %zu agents", ds->path,
			        need);
			return -1;
		}
		ds->obs = o;
		ds->obs_cap = cap;
	}
	uint32_t frame = (uint32_t)(fi - sc->frame_lo);
	int64_t ts = fo_zarr_get_i64(fr, ds->f_ts, 0);
	fo_obs *o = ds->obs;
	o->scene = sc->index;
	o->frame = frame;
	o->track = FO_TRACK_EGO;
	o->ts_ns = ts;
	for (int i = 0; i < 3; i++)
		o->pos[i] = fo_zarr_get_f64(fr, ds->f_trans, (uint32_t)i);
	o->vel[0] = o->vel[1] = 0.0;
	/* ego_rotation is row-major 3x3: yaw = atan2(R[1][0], R[0][0]) */
	o->yaw = atan2(fo_zarr_get_f64(fr, ds->f_rot, 3), fo_zarr_get_f64(fr, ds->f_rot, 0));
	o->label_probability = 1.0;
	if (!isfinite(o->pos[0]) || !isfinite(o->pos[1]) || !isfinite(o->pos[2]) ||
	    !isfinite(o->yaw)) {
		fo_errf(err, errsz,
		        "%s/%" PRIu64 ": frame record %" PRIu64 " (chunk %" PRIu64
		        " of array \"frames\"): ego_translation or ego_rotation is not finite; the "
		        "chunk is corrupt or the data is bad",
		        ds->frames_a.dir, fi / ds->frames_a.chunk_len, fi,
		        fi / ds->frames_a.chunk_len);
		return -1;
	}
	o++;
	for (uint64_t ai = a0; ai < a1;) {
		uint64_t avail;
		const uint8_t *r = fo_zarr_cursor_span(ds->agents_c, ai, &avail, err, errsz);
		if (!r)
			return -1;
		uint64_t n = a1 - ai < avail ? a1 - ai : avail;
		if (ds->a_native)
			fo_l5kit_agents_native(ds, r, n, o);
		else
			fo_l5kit_agents_generic(ds, r, n, o);
		for (uint64_t k = 0; k < n; k++, o++) {
			o->scene = sc->index;
			o->frame = frame;
			o->ts_ns = ts;
			const char *bad = fo_l5kit_obs_check(o);
			if (bad) {
				uint64_t at = ai + k;
				fo_errf(err, errsz,
				        "%s/%" PRIu64 ": agent record %" PRIu64 " (chunk %" PRIu64
				        " of array \"agents\"): %s; the chunk is corrupt or the "
				        "data is bad",
				        ds->agents_a.dir, at / ds->agents_a.chunk_len, at,
				        at / ds->agents_a.chunk_len, bad);
				return -1;
			}
		}
		ai += n;
	}
	out->scene = sc->index;
	out->frame = frame;
	out->frame_global = fi;
	out->ts_ns = ts;
	out->n = (size_t)(a1 - a0) + 1;
	out->obs = ds->obs;
	return 1;
}

void fo_l5kit_io_stats(const fo_l5kit *ds, uint64_t *file_bytes, uint64_t *decoded_bytes,
                       uint64_t *chunks)
{
	uint64_t fb, db, ch, fb2, db2, ch2;
	fo_zarr_cursor_stats(ds->frames_c, &fb, &db, &ch);
	fo_zarr_cursor_stats(ds->agents_c, &fb2, &db2, &ch2);
	*file_bytes = fb + fb2;
	*decoded_bytes = db + db2;
	*chunks = ch + ch2;
}

long fo_l5kit_parse_scenes(const char *spec, uint32_t count, uint32_t **out, char *err,
                           size_t errsz)
{
	size_t cap = 64, n = 0;
	uint32_t *v = mi_malloc(cap * sizeof(*v));
	const char *p = spec;
	if (!v) {
		fo_errf(err, errsz, "out of memory");
		return -1;
	}
	while (*p) {
		char *end;
		unsigned long lo, hi;
		if (!isdigit((unsigned char)*p))
			goto bad;
		lo = strtoul(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (*p == '\0' || *p == ',') {
				hi = count ? count - 1 : 0; /* open range "N-" */
				if (count == 0 || lo > hi)
					goto range;
			} else {
				if (!isdigit((unsigned char)*p))
					goto bad;
				hi = strtoul(p, &end, 10);
				p = end;
			}
		}
		if (*p == ',')
			p++;
		else if (*p != '\0')
			goto bad;
		if (hi < lo || hi >= count)
			goto range;
		for (unsigned long s = lo; s <= hi; s++) {
			if (n == cap) {
				cap *= 2;
				uint32_t *nv = mi_realloc(v, cap * sizeof(*v));
				if (!nv) {
					mi_free(v);
					fo_errf(err, errsz, "out of memory");
					return -1;
				}
				v = nv;
			}
			v[n++] = (uint32_t)s;
		}
		continue;
	range:
		mi_free(v);
		fo_errf(err, errsz,
		        "--scenes \"%s\": range %lu-%lu is outside the dataset's scenes 0-%ld",
		        spec, lo, hi, (long)count - 1);
		return -1;
	}
	if (n == 0)
		goto bad;
	qsort(v, n, sizeof(*v), fo_u32_cmp);
	*out = v;
	return (long)n;
bad:
	mi_free(v);
	fo_errf(err, errsz, "--scenes \"%s\": expected indices or ranges such as 0-9,12,20-", spec);
	return -1;
}
