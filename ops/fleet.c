/*
 * fleet: see fleet.h.
 *
 * Under the mutex `mu`: the vehicle array, the sample slab, the hash slots
 * and the two change lists (ws: for the next vehicle_updated; db: for the
 * next upsert). A vehicle is on a list at most once (its flag says so), so
 * each list fits in the vehicle array's capacity. Everything else belongs
 * to the fleet thread: the parse scratch, the copies the flushes work on,
 * the consumer, the PostgreSQL connection and the latency histogram.
 * Counters read by fo_fleet_status_get are atomics.
 *
 * A missing value (a vehicle known only from alerts, or a row written
 * before migration 0004) is NaN for the numbers, -1 for frame_index and
 * FO_FLEET_NO_TIME for event_time; each becomes JSON null.
 *
 * PostgreSQL: fo_db (db.h) is a blocking connection without a general
 * query call, so this file drives a libpq connection of its own with the
 * asynchronous calls (PQconnectStartParams/PQconnectPoll,
 * PQsendQueryParams/PQconsumeInput), one step per pass of the fleet loop:
 * a query in flight never stops the consumer.
 */
#include "fleet.h"

#include "consumer.h"
#include "errbuf.h"
#include "hist.h"
#include "json.h"
#include "log.h"
#include "telemetry.h"
#include "telemetry_json.h"
#include "timefmt.h"

#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FO_FLEET_NO_TIME      INT64_MIN
#define FO_FLEET_SCENE_MAX    31
#define FO_FLEET_REC_JSON_MAX 2048 /* one Vehicle object, worst case (escaped id) */
#define FO_FLEET_SMP_JSON_MAX 256  /* one telemetry sample */
#define FO_FLEET_BACKOFF_MIN  200000000LL
#define FO_FLEET_BACKOFF_MAX  5000000000LL
#define FO_FLEET_CONNECT_NS   5000000000LL  /* connect attempt deadline */
#define FO_FLEET_QUERY_NS     15000000000LL /* query deadline (statement_timeout 10 s) */
#define FO_FLEET_MAX_PROPS    64
#define FO_FLEET_SEC          1000000000LL

/* One trail sample (40 bytes). */
typedef struct fo_fleet_sample {
	int64_t event_ns;
	double x, y;
	uint32_t frame;
	float speed, acc, yaw;
} fo_fleet_sample;

/* A Vehicle object's fields: what readers and flushes copy out. */
typedef struct fo_fleet_rec {
	char id[FO_FLEET_ID_MAX + 1];
	char scene[FO_FLEET_SCENE_MAX + 1]; /* "" when unknown */
	uint8_t id_len;
	uint8_t state;
	int64_t open_alerts;
	int64_t frame;                /* -1 when unknown */
	int64_t event_ns;             /* FO_FLEET_NO_TIME when unknown */
	double x, y, speed, acc, yaw; /* NaN when unknown */
} fo_fleet_rec;

typedef struct fo_fleet_veh {
	fo_fleet_rec r;
	uint64_t hash;
	uint16_t head, n; /* trail: next slot written, samples held */
	uint8_t ws_dirty, db_dirty;
	uint8_t state_known; /* state came from PostgreSQL or fo_fleet_set_state */
} fo_fleet_veh;

typedef enum fo_fleet_dbp {
	FO_DBP_OFF,        /* no dsn */
	FO_DBP_IDLE,       /* no connection; next attempt at retry_at */
	FO_DBP_CONNECTING, /* PQconnectPoll until deadline */
	FO_DBP_READY,      /* connected, nothing in flight */
	FO_DBP_SEED,       /* the seed query in flight */
	FO_DBP_UPSERT,     /* the position upsert in flight */
} fo_fleet_dbp;

/* A growable output buffer; allocation failure is sticky (oom). */
typedef struct fo_fleet_buf {
	char *p;
	size_t len, cap;
	int oom;
} fo_fleet_buf;

struct fo_fleet {
	fo_fleet_conf conf;
	char *brokers, *group, *topic, *dsn;
	char **props;

	/* the map, under mu */
	pthread_mutex_t mu;
	fo_fleet_veh *v;
	fo_fleet_sample *smp; /* capv * samples */
	size_t nv, capv;
	uint32_t *slots; /* vehicle index + 1; 0 empty */
	size_t nslots;   /* power of two, at least 2 * nv */
	uint32_t *ws_list, *db_list;
	size_t nws, ndb;

	/* the fleet thread's */
	fo_telemetry_json *evs;
	fo_fleet_rec *out; /* vehicle_updated copies */
	size_t outcap;
	fo_fleet_rec *dbrecs; /* the upsert in flight */
	size_t ndbrecs, dbcap;
	fo_fleet_buf buf, dbbuf;
	fo_hist *lat;
	fo_hist_ival *iv;
	uint64_t applied_at_tick;
	int64_t tick_ns;
	fo_consumer *cons;
	fo_consumer_msg *msgs;
	int kafka_failed;
	PGconn *pg;
	fo_fleet_dbp dbp;
	PostgresPollingStatusType connpoll; /* what PQconnectPoll last asked for */
	int db_down, seeded;
	int64_t retry_at, backoff, down_since, deadline, next_db_flush;
	pthread_t th;
	int has_thread;
	atomic_int stop;

	/* fo_fleet_status_get */
	atomic_ullong consumed, applied, bad, dups, dropped, vehicles, db_writes, db_rows,
	    db_failures, sent, eps, p50_us, p99_us;
	atomic_llong lag;
	atomic_int kafka_ok, postgres_ok;
};

/* ---- small helpers ------------------------------------------------------- */

static const char *const fo_fleet_states[] = {"NORMAL", "DEGRADED", "ALERTING",
                                              "UNDER_INTERVENTION"};

const char *fo_fleet_state_str(fo_fleet_state s)
{
	return (unsigned)s < 4 ? fo_fleet_states[s] : "NORMAL";
}

int fo_fleet_state_parse(const char *s, fo_fleet_state *out)
{
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, fo_fleet_states[i]) == 0) {
			*out = (fo_fleet_state)i;
			return 0;
		}
	return -1;
}

static uint64_t fo_fleet_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* Ensures room for need more bytes. Returns 0, or -1 (oom set). */
static int fo_fleet_buf_room(fo_fleet_buf *b, size_t need)
{
	if (b->oom)
		return -1;
	if (b->cap - b->len >= need)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void fo_fleet_buf_add(fo_fleet_buf *b, const char *s, size_t n)
{
	if (fo_fleet_buf_room(b, n + 1) == 0) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len] = '\0';
	}
}

#define fo_fleet_buf_lit(b, s) fo_fleet_buf_add((b), (s), sizeof(s) - 1)

/* A writer over the buffer's free space, at least need bytes of it. */
static int fo_fleet_buf_jw(fo_fleet_buf *b, size_t need, fo_jw *jw)
{
	if (fo_fleet_buf_room(b, need + 1) < 0)
		return -1;
	fo_jw_init(jw, b->p + b->len, b->cap - b->len - 1);
	return 0;
}

static void fo_fleet_buf_done(fo_fleet_buf *b, const fo_jw *jw)
{
	if (jw->overflow) { /* cannot happen with the bounds above; refuse rather than cut */
		b->oom = 1;
		return;
	}
	b->len += jw->len;
	b->p[b->len] = '\0';
}

/* Hands the buffer to the caller as a malloc'd string. */
static int fo_fleet_buf_take(fo_fleet_buf *b, char **json, size_t *len)
{
	if (b->oom || fo_fleet_buf_room(b, 1) < 0) {
		free(b->p);
		*b = (fo_fleet_buf){0};
		return FO_FLEET_ENOMEM;
	}
	b->p[b->len] = '\0';
	*json = b->p;
	*len = b->len;
	*b = (fo_fleet_buf){0};
	return FO_FLEET_OK;
}

static void fo_fleet_jw_time(fo_jw *jw, int64_t ns)
{
	if (ns == FO_FLEET_NO_TIME) {
		fo_jw_lit(jw, "null");
		return;
	}
	char iso[FO_ISO8601_LEN + 1];
	fo_time_iso8601(ns, iso);
	fo_jw_char(jw, '"');
	fo_jw_raw(jw, iso, FO_ISO8601_LEN);
	fo_jw_char(jw, '"');
}

/* One Vehicle object (docs/operator_api.md). */
static void fo_fleet_rec_json(fo_jw *jw, const fo_fleet_rec *r)
{
	fo_jw_lit(jw, "{\"vehicle_id\":");
	fo_jw_str(jw, r->id, r->id_len);
	fo_jw_lit(jw, ",\"scene_id\":");
	if (r->scene[0])
		fo_jw_str(jw, r->scene, strlen(r->scene));
	else
		fo_jw_lit(jw, "null");
	fo_jw_lit(jw, ",\"state\":\"");
	fo_jw_cstr(jw, fo_fleet_state_str((fo_fleet_state)r->state));
	fo_jw_lit(jw, "\",\"x\":");
	fo_jw_fixed(jw, r->x, 4);
	fo_jw_lit(jw, ",\"y\":");
	fo_jw_fixed(jw, r->y, 4);
	fo_jw_lit(jw, ",\"speed\":");
	fo_jw_fixed(jw, r->speed, 4);
	fo_jw_lit(jw, ",\"acceleration\":");
	fo_jw_fixed(jw, r->acc, 4);
	fo_jw_lit(jw, ",\"yaw\":");
	fo_jw_fixed(jw, r->yaw, 6);
	fo_jw_lit(jw, ",\"frame_index\":");
	if (r->frame < 0)
		fo_jw_lit(jw, "null");
	else
		fo_jw_i64(jw, r->frame);
	fo_jw_lit(jw, ",\"event_time\":");
	fo_fleet_jw_time(jw, r->event_ns);
	fo_jw_lit(jw, ",\"open_alerts\":");
	fo_jw_i64(jw, r->open_alerts);
	fo_jw_char(jw, '}');
}

static void fo_fleet_buf_rec(fo_fleet_buf *b, const fo_fleet_rec *r)
{
	fo_jw jw;
	if (fo_fleet_buf_jw(b, FO_FLEET_REC_JSON_MAX, &jw) == 0) {
		fo_fleet_rec_json(&jw, r);
		fo_fleet_buf_done(b, &jw);
	}
}

static int fo_fleet_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const fo_fleet_rec *)a)->id, ((const fo_fleet_rec *)b)->id);
}

/* ---- the map (under mu) -------------------------------------------------- */

static fo_fleet_sample *fo_fleet_ring(fo_fleet *f, size_t idx)
{
	return f->smp + idx * f->conf.samples;
}

static fo_fleet_veh *fo_fleet_find(fo_fleet *f, const char *id, size_t n, uint64_t h)
{
	size_t mask = f->nslots - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		uint32_t s = f->slots[i];
		if (!s)
			return NULL;
		fo_fleet_veh *v = &f->v[s - 1];
		if (v->hash == h && v->r.id_len == n && memcmp(v->r.id, id, n) == 0)
			return v;
	}
}

static void fo_fleet_slot_put(uint32_t *slots, size_t nslots, uint64_t h, uint32_t val)
{
	size_t mask = nslots - 1, i = (size_t)h & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = val;
}

/* Doubles the vehicle array (and what is sized by it). Returns 0 or -1. */
static int fo_fleet_grow(fo_fleet *f)
{
	size_t cap = f->capv * 2;
	fo_fleet_veh *v = realloc(f->v, cap * sizeof(*v));
	if (!v)
		return -1;
	f->v = v;
	fo_fleet_sample *s = realloc(f->smp, cap * f->conf.samples * sizeof(*s));
	if (!s)
		return -1;
	f->smp = s;
	uint32_t *w = realloc(f->ws_list, cap * sizeof(*w));
	if (!w)
		return -1;
	f->ws_list = w;
	uint32_t *d = realloc(f->db_list, cap * sizeof(*d));
	if (!d)
		return -1;
	f->db_list = d;
	f->capv = cap;
	return 0;
}

static int fo_fleet_rehash(fo_fleet *f)
{
	size_t n = f->nslots * 2;
	uint32_t *slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < f->nv; i++)
		fo_fleet_slot_put(slots, n, f->v[i].hash, (uint32_t)(i + 1));
	free(f->slots);
	f->slots = slots;
	f->nslots = n;
	return 0;
}

/* "scene_NNN" from the front of a vehicle id, "" if it has none. */
static void fo_fleet_scene_of(const char *id, size_t n, char *scene)
{
	scene[0] = '\0';
	size_t k = 6;
	if (n <= k || memcmp(id, "scene_", 6) != 0)
		return;
	while (k < n && k < FO_FLEET_SCENE_MAX && id[k] >= '0' && id[k] <= '9')
		k++;
	if (k == 6)
		return;
	memcpy(scene, id, k);
	scene[k] = '\0';
}

/* The vehicle id, created (without a position, NORMAL) if new. NULL if the
 * map is full (max_vehicles) or could not grow. The pointer is valid until
 * the next insertion. */
static fo_fleet_veh *fo_fleet_upsert(fo_fleet *f, const char *id, size_t n, uint64_t h)
{
	fo_fleet_veh *v = fo_fleet_find(f, id, n, h);
	if (v)
		return v;
	if (f->nv >= f->conf.max_vehicles)
		return NULL;
	if (f->nv == f->capv && fo_fleet_grow(f) < 0)
		return NULL;
	if ((f->nv + 1) * 2 > f->nslots && fo_fleet_rehash(f) < 0)
		return NULL;
	v = &f->v[f->nv];
	memset(v, 0, sizeof(*v));
	memcpy(v->r.id, id, n);
	v->r.id[n] = '\0';
	v->r.id_len = (uint8_t)n;
	fo_fleet_scene_of(id, n, v->r.scene);
	v->r.state = FO_FLEET_NORMAL;
	v->r.frame = -1;
	v->r.event_ns = FO_FLEET_NO_TIME;
	v->r.x = v->r.y = v->r.speed = v->r.acc = v->r.yaw = NAN;
	v->hash = h;
	fo_fleet_slot_put(f->slots, f->nslots, h, (uint32_t)(f->nv + 1));
	f->nv++;
	atomic_store_explicit(&f->vehicles, f->nv, memory_order_relaxed);
	return v;
}

static void fo_fleet_mark_ws(fo_fleet *f, fo_fleet_veh *v)
{
	if (!v->ws_dirty) {
		v->ws_dirty = 1;
		f->ws_list[f->nws++] = (uint32_t)(v - f->v);
	}
}

static void fo_fleet_mark_db(fo_fleet *f, fo_fleet_veh *v)
{
	if (!v->db_dirty) {
		v->db_dirty = 1;
		f->db_list[f->ndb++] = (uint32_t)(v - f->v);
	}
}

/* 1 if v's trail holds a sample of this frame and time. */
static int fo_fleet_ring_has(fo_fleet *f, const fo_fleet_veh *v, uint32_t frame, int64_t ns)
{
	const fo_fleet_sample *s = fo_fleet_ring(f, (size_t)(v - f->v));
	for (unsigned i = 0; i < v->n; i++)
		if (s[i].event_ns == ns && s[i].frame == frame)
			return 1;
	return 0;
}

typedef enum { FO_APPLY_OK, FO_APPLY_DUP, FO_APPLY_DROPPED } fo_fleet_apply_rc;

/* One parsed event into the map. */
static fo_fleet_apply_rc fo_fleet_apply_one(fo_fleet *f, const fo_telemetry_json *e)
{
	const fo_telemetry *t = &e->t;
	char id[FO_VEHICLE_ID_MAX];
	size_t n = (size_t)fo_vehicle_id_format(id, t->scene, t->track);
	fo_fleet_veh *v = fo_fleet_upsert(f, id, n, fo_fleet_hash(id, n));
	if (!v)
		return FO_APPLY_DROPPED;
	if (v->r.event_ns != FO_FLEET_NO_TIME && t->ts_ns <= v->r.event_ns) {
		if (fo_fleet_ring_has(f, v, t->frame, t->ts_ns))
			return FO_APPLY_DUP;
		if (t->ts_ns < v->r.event_ns) /* an older time: the scene replayed again */
			v->head = v->n = 0;
	}
	v->r.x = t->pos[0];
	v->r.y = t->pos[1];
	v->r.speed = t->vel_mag;
	v->r.acc = t->acc_mag;
	v->r.yaw = t->yaw;
	v->r.frame = t->frame;
	v->r.event_ns = t->ts_ns;
	fo_fleet_sample *s = fo_fleet_ring(f, (size_t)(v - f->v)) + v->head;
	*s = (fo_fleet_sample){t->ts_ns,          t->pos[0],         t->pos[1],    t->frame,
	                       (float)t->vel_mag, (float)t->acc_mag, (float)t->yaw};
	v->head = (uint16_t)((v->head + 1) % f->conf.samples);
	if (v->n < f->conf.samples)
		v->n++;
	fo_fleet_mark_ws(f, v);
	fo_fleet_mark_db(f, v);
	return FO_APPLY_OK;
}

/* ---- applying polled messages (fleet thread) ----------------------------- */

/* Parses n (<= FO_FLEET_BATCH) messages outside the lock, applies the good
 * ones under one lock, records their latency. Returns the number applied. */
static size_t fo_fleet_ingest(fo_fleet *f, const fo_consumer_msg *m, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char perr[256];
		if (fo_telemetry_json_parse(m[i].value, m[i].len, &f->evs[k], perr, sizeof(perr)) ==
		    0) {
			k++;
			continue;
		}
		uint64_t bad = atomic_fetch_add(&f->bad, 1) + 1;
		if (bad <= 10 || bad % 1000 == 0)
			fo_log(FO_LOG_WARN, "telemetry_rejected", perr,
			       FO_KS("topic", f->topic ? f->topic : "-"),
			       FO_KI("partition", m[i].partition), FO_KI("offset", m[i].offset),
			       FO_KU("rejected_so_far", bad));
	}
	atomic_fetch_add_explicit(&f->consumed, n, memory_order_relaxed);
	if (k == 0)
		return 0;
	size_t ok = 0, dup = 0, drop = 0;
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < k; i++) {
		fo_fleet_apply_rc rc = fo_fleet_apply_one(f, &f->evs[i]);
		ok += rc == FO_APPLY_OK;
		dup += rc == FO_APPLY_DUP;
		drop += rc == FO_APPLY_DROPPED;
	}
	pthread_mutex_unlock(&f->mu);
	int64_t now = fo_time_wall_ns();
	for (size_t i = 0; i < k; i++)
		if (f->evs[i].proc_ns > 0)
			fo_hist_record(f->lat, now - f->evs[i].proc_ns);
	atomic_fetch_add_explicit(&f->applied, ok, memory_order_relaxed);
	if (dup)
		atomic_fetch_add_explicit(&f->dups, dup, memory_order_relaxed);
	if (drop) {
		uint64_t d = atomic_fetch_add(&f->dropped, drop);
		if (d == 0)
			fo_log(FO_LOG_WARN, "fleet_full",
			       "vehicles beyond max_vehicles are not tracked",
			       FO_KU("max_vehicles", f->conf.max_vehicles));
	}
	return ok;
}

size_t fo_fleet_apply(fo_fleet *f, const char *const *msgs, const size_t *lens, size_t n)
{
	fo_consumer_msg m[64];
	size_t done = 0, applied = 0;
	while (done < n) {
		size_t k = n - done < 64 ? n - done : 64;
		for (size_t i = 0; i < k; i++)
			m[i] = (fo_consumer_msg){.value = msgs[done + i],
			                         .len = lens[done + i],
			                         .partition = -1,
			                         .offset = (int64_t)(done + i)};
		applied += fo_fleet_ingest(f, m, k);
		done += k;
	}
	return applied;
}

/* ---- emitting (fleet thread) --------------------------------------------- */

static void fo_fleet_emit(fo_fleet *f, const char *json, size_t len)
{
	if (f->conf.emit) {
		f->conf.emit(f->conf.emit_arg, json, len);
		atomic_fetch_add_explicit(&f->sent, 1, memory_order_relaxed);
	}
}

size_t fo_fleet_flush(fo_fleet *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->nws;
	if (n > f->outcap) {
		size_t cap = f->capv; /* the list never exceeds it */
		fo_fleet_rec *o = realloc(f->out, cap * sizeof(*o));
		if (!o) { /* keep the changes for the next flush */
			pthread_mutex_unlock(&f->mu);
			return 0;
		}
		f->out = o;
		f->outcap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		fo_fleet_veh *v = &f->v[f->ws_list[i]];
		f->out[i] = v->r;
		v->ws_dirty = 0;
	}
	f->nws = 0;
	pthread_mutex_unlock(&f->mu);
	if (!f->conf.emit)
		return n;

	size_t per = f->conf.max_per_msg;
	for (size_t i = 0; i < n; i += per) {
		size_t end = i + per < n ? i + per : n;
		fo_fleet_buf *b = &f->buf;
		b->len = 0;
		b->oom = 0;
		fo_fleet_buf_lit(b, "{\"type\":\"vehicle_updated\",\"vehicles\":[");
		for (size_t j = i; j < end; j++) {
			if (j > i)
				fo_fleet_buf_lit(b, ",");
			fo_fleet_buf_rec(b, &f->out[j]);
		}
		fo_fleet_buf_lit(b, "]}");
		if (b->oom) {
			fo_log(FO_LOG_ERROR, "fleet_emit_failed",
			       "out of memory building vehicle_updated",
			       FO_KU("vehicles", end - i));
			continue;
		}
		fo_fleet_emit(f, b->p, b->len);
	}
	return n;
}

/* Once a second: the interval's rate and latency, the stats message. */
static void fo_fleet_stats(fo_fleet *f, int64_t now)
{
	const fo_hist *src = f->lat;
	const fo_hist *h = fo_hist_ival_tick(f->iv, &src, 1);
	uint64_t applied = atomic_load_explicit(&f->applied, memory_order_relaxed);
	double secs = (double)(now - f->tick_ns) / 1e9;
	double eps = secs > 0 ? (double)(applied - f->applied_at_tick) / secs : 0;
	f->applied_at_tick = applied;
	f->tick_ns = now;
	int64_t p50 = fo_hist_value_at_percentile(h, 50), p99 = fo_hist_value_at_percentile(h, 99);
	atomic_store(&f->eps, (unsigned long long)(eps + 0.5));
	atomic_store(&f->p50_us, (unsigned long long)(p50 / 1000));
	atomic_store(&f->p99_us, (unsigned long long)(p99 / 1000));
	if (f->cons) {
		fo_consumer_lag lag[FO_CONSUMER_MAX_PARTITIONS];
		size_t n = fo_consumer_lag_get(f->cons, lag, FO_CONSUMER_MAX_PARTITIONS);
		int64_t total = n ? 0 : -1;
		for (size_t i = 0; i < n; i++)
			total += lag[i].lag > 0 ? lag[i].lag : 0;
		atomic_store(&f->lag, total);
	}
	if (!f->conf.emit)
		return;
	char msg[512];
	fo_jw jw;
	fo_jw_init(&jw, msg, sizeof(msg));
	fo_jw_lit(&jw, "{\"type\":\"stats\",\"events_per_s\":");
	fo_jw_u64(&jw, (uint64_t)(eps + 0.5));
	fo_jw_lit(&jw, ",\"latency_p99_ms\":");
	fo_jw_fixed(&jw, (double)p99 / 1e6, 3);
	uint64_t c[3];
	if (f->conf.open_alerts &&
	    f->conf.open_alerts(f->conf.open_alerts_arg, &c[0], &c[1], &c[2]) == 0) {
		fo_jw_lit(&jw, ",\"open_alerts\":{\"INFO\":");
		fo_jw_u64(&jw, c[0]);
		fo_jw_lit(&jw, ",\"WARNING\":");
		fo_jw_u64(&jw, c[1]);
		fo_jw_lit(&jw, ",\"CRITICAL\":");
		fo_jw_u64(&jw, c[2]);
		fo_jw_char(&jw, '}');
	}
	fo_jw_lit(&jw, ",\"vehicles\":");
	fo_jw_u64(&jw, atomic_load(&f->vehicles));
	fo_jw_char(&jw, '}');
	if (!jw.overflow)
		fo_fleet_emit(f, msg, jw.len);
}

/* ---- PostgreSQL (fleet thread) ------------------------------------------- */

/* clang-format off */
static const char fo_fleet_seed_sql[] =
	"SELECT v.vehicle_id, v.state, v.scene_id, v.last_x, v.last_y, v.last_speed,\n"
	"       v.last_acceleration, v.last_yaw, v.last_frame_index,\n"
	"       (extract(epoch FROM v.last_event_time) * 1000)::bigint,\n"
	"       (SELECT count(*) FROM alerts AS a\n"
	"         WHERE a.vehicle_id = v.vehicle_id\n"
	"           AND a.alert_status IN ('OPEN', 'ACKNOWLEDGED'))\n"
	"FROM vehicles AS v";

/* Rows are taken in vehicle_id order (the lifecycle locks vehicle rows in
 * that order too); state and updated_at belong to the lifecycle. */
static const char fo_fleet_upsert_sql[] =
	"INSERT INTO vehicles AS ve (vehicle_id, scene_id, last_x, last_y, last_speed,\n"
	"                            last_acceleration, last_yaw, last_frame_index,\n"
	"                            last_event_time, position_updated_at)\n"
	"SELECT r.vehicle_id, r.scene_id, r.x, r.y, r.speed, r.acceleration, r.yaw,\n"
	"       r.frame_index, r.event_time, now()\n"
	"FROM jsonb_to_recordset($1::jsonb) AS r (vehicle_id text, scene_id text,\n"
	"     x float8, y float8, speed float8, acceleration float8, yaw float8,\n"
	"     frame_index bigint, event_time timestamptz)\n"
	"ORDER BY r.vehicle_id\n"
	"ON CONFLICT (vehicle_id) DO UPDATE\n"
	"SET scene_id = EXCLUDED.scene_id,\n"
	"    last_x = EXCLUDED.last_x,\n"
	"    last_y = EXCLUDED.last_y,\n"
	"    last_speed = EXCLUDED.last_speed,\n"
	"    last_acceleration = EXCLUDED.last_acceleration,\n"
	"    last_yaw = EXCLUDED.last_yaw,\n"
	"    last_frame_index = EXCLUDED.last_frame_index,\n"
	"    last_event_time = EXCLUDED.last_event_time,\n"
	"    position_updated_at = EXCLUDED.position_updated_at";
/* clang-format on */

static void fo_fleet_chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void fo_fleet_notice(void *arg, const char *message)
{
	(void)arg, (void)message; /* server notices are not the fleet's business */
}

static void fo_fleet_db_ok(fo_fleet *f)
{
	atomic_store(&f->postgres_ok, 1);
	f->backoff = 0;
	if (!f->db_down)
		return;
	f->db_down = 0;
	fo_log(FO_LOG_INFO, "postgres_recovered", "fleet: PostgreSQL answers again",
	       FO_KF("outage_s", (double)(fo_time_mono_ns() - f->down_since) / 1e9));
}

/* A connection attempt or a query failed with msg: back off; a dead
 * connection is dropped. */
static void fo_fleet_db_fail(fo_fleet *f, const char *what, const char *msg)
{
	int64_t now = fo_time_mono_ns();
	char m[512];
	snprintf(m, sizeof(m), "%s: %s", what, msg && *msg ? msg : "unknown error");
	fo_fleet_chomp(m);
	f->backoff = f->backoff ? f->backoff * 2 : FO_FLEET_BACKOFF_MIN;
	if (f->backoff > FO_FLEET_BACKOFF_MAX)
		f->backoff = FO_FLEET_BACKOFF_MAX;
	if (!f->db_down) {
		f->db_down = 1;
		f->down_since = now;
		fo_log(FO_LOG_WARN, "postgres_unavailable", m, FO_KS("component", "fleet"),
		       FO_KS("effect", "positions kept in memory; retrying"));
	} else {
		fo_log(FO_LOG_DEBUG, "postgres_retry_failed", m,
		       FO_KF("next_retry_s", (double)f->backoff / 1e9));
	}
	atomic_store(&f->postgres_ok, 0);
	atomic_fetch_add(&f->db_failures, 1);
	f->retry_at = now + f->backoff;
	if (f->pg && PQstatus(f->pg) != CONNECTION_OK) {
		PQfinish(f->pg);
		f->pg = NULL;
	}
	f->dbp = f->pg ? FO_DBP_READY : FO_DBP_IDLE;
}

/* The upsert in flight did not commit: its vehicles are changed again
 * (their latest values go with the next one). */
static void fo_fleet_db_requeue(fo_fleet *f)
{
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->ndbrecs; i++) {
		const fo_fleet_rec *r = &f->dbrecs[i];
		fo_fleet_veh *v =
		    fo_fleet_find(f, r->id, r->id_len, fo_fleet_hash(r->id, r->id_len));
		if (v)
			fo_fleet_mark_db(f, v);
	}
	pthread_mutex_unlock(&f->mu);
	f->ndbrecs = 0;
}

static int fo_fleet_send(fo_fleet *f, const char *sql, int n, const char *const *params,
                         fo_fleet_dbp phase)
{
	if (!PQsendQueryParams(f->pg, sql, n, NULL, params, NULL, NULL, 0))
		return -1;
	f->dbp = phase;
	f->deadline = fo_time_mono_ns() + FO_FLEET_QUERY_NS;
	return 0;
}

static double fo_fleet_num(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NAN : strtod(PQgetvalue(res, row, col), NULL);
}

/* Seed rows into the map: state and open alerts where nothing newer set
 * them, the position where telemetry has not yet given one. */
static void fo_fleet_seed_apply(fo_fleet *f, PGresult *res)
{
	int rows = PQntuples(res);
	size_t seeded = 0;
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < rows; i++) {
		const char *id = PQgetvalue(res, i, 0);
		size_t n = strlen(id);
		if (n == 0 || n > FO_FLEET_ID_MAX)
			continue;
		fo_fleet_veh *v = fo_fleet_upsert(f, id, n, fo_fleet_hash(id, n));
		if (!v)
			break;
		fo_fleet_state st;
		if (!v->state_known && fo_fleet_state_parse(PQgetvalue(res, i, 1), &st) == 0) {
			v->r.state = (uint8_t)st;
			v->r.open_alerts = atoll(PQgetvalue(res, i, 10));
			v->state_known = 1;
		}
		if (!PQgetisnull(res, i, 2)) {
			const char *sc = PQgetvalue(res, i, 2);
			if (strlen(sc) <= FO_FLEET_SCENE_MAX)
				strcpy(v->r.scene, sc);
		}
		if (isnan(v->r.x) && !PQgetisnull(res, i, 3) && !PQgetisnull(res, i, 4)) {
			v->r.x = fo_fleet_num(res, i, 3);
			v->r.y = fo_fleet_num(res, i, 4);
			v->r.speed = fo_fleet_num(res, i, 5);
			v->r.acc = fo_fleet_num(res, i, 6);
			v->r.yaw = fo_fleet_num(res, i, 7);
			v->r.frame = PQgetisnull(res, i, 8) ? -1 : atoll(PQgetvalue(res, i, 8));
			v->r.event_ns = PQgetisnull(res, i, 9)
			                    ? FO_FLEET_NO_TIME
			                    : atoll(PQgetvalue(res, i, 9)) * 1000000LL;
		}
		fo_fleet_mark_ws(f, v);
		seeded++;
	}
	pthread_mutex_unlock(&f->mu);
	fo_log(FO_LOG_INFO, "fleet_seeded", "vehicles read from PostgreSQL",
	       FO_KU("vehicles", seeded));
}

/* Sends the upsert of every vehicle that moved since the last one. */
static void fo_fleet_db_upsert(fo_fleet *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->ndb;
	if (n > f->dbcap) {
		fo_fleet_rec *r = realloc(f->dbrecs, f->capv * sizeof(*r));
		if (!r) {
			pthread_mutex_unlock(&f->mu);
			return;
		}
		f->dbrecs = r;
		f->dbcap = f->capv;
	}
	for (size_t i = 0; i < n; i++) {
		fo_fleet_veh *v = &f->v[f->db_list[i]];
		f->dbrecs[i] = v->r;
		v->db_dirty = 0;
	}
	f->ndb = 0;
	f->ndbrecs = n;
	pthread_mutex_unlock(&f->mu);
	if (n == 0)
		return;
	qsort(f->dbrecs, n, sizeof(*f->dbrecs), fo_fleet_rec_cmp);
	fo_fleet_buf *b = &f->dbbuf;
	b->len = 0;
	b->oom = 0;
	fo_fleet_buf_lit(b, "[");
	for (size_t i = 0; i < n; i++) {
		const fo_fleet_rec *r = &f->dbrecs[i];
		fo_jw jw;
		if (fo_fleet_buf_jw(b, FO_FLEET_REC_JSON_MAX, &jw) < 0)
			break;
		if (i)
			fo_jw_char(&jw, ',');
		fo_jw_lit(&jw, "{\"vehicle_id\":");
		fo_jw_str(&jw, r->id, r->id_len);
		fo_jw_lit(&jw, ",\"scene_id\":");
		if (r->scene[0])
			fo_jw_str(&jw, r->scene, strlen(r->scene));
		else
			fo_jw_lit(&jw, "null");
		fo_jw_lit(&jw, ",\"x\":");
		fo_jw_fixed(&jw, r->x, 6);
		fo_jw_lit(&jw, ",\"y\":");
		fo_jw_fixed(&jw, r->y, 6);
		fo_jw_lit(&jw, ",\"speed\":");
		fo_jw_fixed(&jw, r->speed, 6);
		fo_jw_lit(&jw, ",\"acceleration\":");
		fo_jw_fixed(&jw, r->acc, 6);
		fo_jw_lit(&jw, ",\"yaw\":");
		fo_jw_fixed(&jw, r->yaw, 6);
		fo_jw_lit(&jw, ",\"frame_index\":");
		if (r->frame < 0)
			fo_jw_lit(&jw, "null");
		else
			fo_jw_i64(&jw, r->frame);
		fo_jw_lit(&jw, ",\"event_time\":");
		fo_fleet_jw_time(&jw, r->event_ns);
		fo_jw_char(&jw, '}');
		fo_fleet_buf_done(b, &jw);
	}
	fo_fleet_buf_lit(b, "]");
	if (b->oom) {
		fo_fleet_db_requeue(f);
		fo_log(FO_LOG_ERROR, "fleet_upsert_failed", "out of memory building the upsert",
		       FO_KU("vehicles", n));
		return;
	}
	const char *params[1] = {b->p};
	if (fo_fleet_send(f, fo_fleet_upsert_sql, 1, params, FO_DBP_UPSERT) < 0) {
		fo_fleet_db_requeue(f);
		fo_fleet_db_fail(f, "upsert vehicle positions", PQerrorMessage(f->pg));
	}
}

/* The query in flight finished: its results. */
static void fo_fleet_db_result(fo_fleet *f)
{
	fo_fleet_dbp phase = f->dbp;
	PGresult *res, *bad = NULL, *rows = NULL;
	while ((res = PQgetResult(f->pg))) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_TUPLES_OK && !rows && !bad)
			rows = res;
		else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !bad)
			bad = res;
		else
			PQclear(res);
	}
	f->dbp = FO_DBP_READY;
	const char *what = phase == FO_DBP_SEED ? "seed vehicles" : "upsert vehicle positions";
	if (bad) {
		const char *state = PQresultErrorField(bad, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(bad, PG_DIAG_MESSAGE_PRIMARY);
		char m[512];
		snprintf(m, sizeof(m), "SQLSTATE %s: %s", state ? state : "none",
		         msg ? msg : PQerrorMessage(f->pg));
		PQclear(bad);
		if (rows)
			PQclear(rows);
		if (phase == FO_DBP_UPSERT)
			fo_fleet_db_requeue(f);
		fo_fleet_db_fail(f, what, m);
		return;
	}
	if (phase == FO_DBP_SEED) {
		if (rows)
			fo_fleet_seed_apply(f, rows);
		f->seeded = 1;
	} else {
		atomic_fetch_add(&f->db_writes, 1);
		atomic_fetch_add(&f->db_rows, f->ndbrecs);
		f->ndbrecs = 0;
	}
	if (rows)
		PQclear(rows);
	fo_fleet_db_ok(f);
}

/* One step of the connection's state machine; never blocks for long. */
static void fo_fleet_db_step(fo_fleet *f, int64_t now)
{
	switch (f->dbp) {
	case FO_DBP_OFF: return;
	case FO_DBP_IDLE: {
		if (now < f->retry_at)
			return;
		const char *keys[] = {"dbname", "application_name", "options", NULL};
		const char *vals[] = {f->dsn, "fleetops-operator-fleet",
		                      "-c statement_timeout=10000 -c lock_timeout=2000", NULL};
		f->pg = PQconnectStartParams(keys, vals, 1);
		if (!f->pg || PQstatus(f->pg) == CONNECTION_BAD) {
			fo_fleet_db_fail(f, "connect to PostgreSQL",
			                 f->pg ? PQerrorMessage(f->pg) : "out of memory");
			return;
		}
		PQsetNoticeProcessor(f->pg, fo_fleet_notice, NULL);
		f->dbp = FO_DBP_CONNECTING;
		f->connpoll = PGRES_POLLING_WRITING;
		f->deadline = now + FO_FLEET_CONNECT_NS;
		return;
	}
	case FO_DBP_CONNECTING: {
		/* PQconnectPoll only once the socket is ready for what it last asked */
		struct pollfd pfd = {PQsocket(f->pg),
		                     f->connpoll == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
		PostgresPollingStatusType st = f->connpoll;
		if (pfd.fd < 0 || poll(&pfd, 1, 0) != 0)
			st = f->connpoll = PQconnectPoll(f->pg);
		if (st == PGRES_POLLING_OK) {
			f->dbp = FO_DBP_READY;
			fo_fleet_db_ok(f);
		} else if (st == PGRES_POLLING_FAILED) {
			fo_fleet_db_fail(f, "connect to PostgreSQL", PQerrorMessage(f->pg));
		} else if (now > f->deadline) {
			PQfinish(f->pg);
			f->pg = NULL;
			fo_fleet_db_fail(f, "connect to PostgreSQL", "no answer within 5 s");
		}
		return;
	}
	case FO_DBP_READY:
		if (now < f->retry_at)
			return;
		if (!f->seeded) {
			if (fo_fleet_send(f, fo_fleet_seed_sql, 0, NULL, FO_DBP_SEED) < 0)
				fo_fleet_db_fail(f, "seed vehicles", PQerrorMessage(f->pg));
		} else if (now >= f->next_db_flush) {
			f->next_db_flush = now + (int64_t)f->conf.db_flush_ms * 1000000;
			fo_fleet_db_upsert(f);
		}
		return;
	case FO_DBP_SEED:
	case FO_DBP_UPSERT:
		if (!PQconsumeInput(f->pg)) {
			if (f->dbp == FO_DBP_UPSERT)
				fo_fleet_db_requeue(f);
			f->dbp = FO_DBP_READY;
			fo_fleet_db_fail(f, "PostgreSQL connection", PQerrorMessage(f->pg));
			return;
		}
		if (!PQisBusy(f->pg)) {
			fo_fleet_db_result(f);
		} else if (now > f->deadline) {
			if (f->dbp == FO_DBP_UPSERT)
				fo_fleet_db_requeue(f);
			PQfinish(f->pg);
			f->pg = NULL;
			f->dbp = FO_DBP_IDLE;
			fo_fleet_db_fail(f, "PostgreSQL query", "no answer within 15 s");
		}
		return;
	}
}

/* At stop: the last positions, if PostgreSQL is there, within a few s. */
static void fo_fleet_db_final(fo_fleet *f)
{
	int64_t end = fo_time_mono_ns() + 3 * FO_FLEET_SEC;
	int sent = 0;
	while (f->dbp != FO_DBP_OFF && f->dbp != FO_DBP_IDLE && fo_time_mono_ns() < end) {
		if (f->dbp == FO_DBP_READY) {
			if (sent || f->db_down || !f->seeded)
				break;
			f->retry_at = 0;
			f->next_db_flush = 0;
			sent = 1;
		}
		fo_fleet_db_step(f, fo_time_mono_ns());
		if (f->dbp == FO_DBP_CONNECTING)
			break;
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
}

/* ---- the fleet thread ---------------------------------------------------- */

static void *fo_fleet_main(void *arg)
{
	fo_fleet *f = arg;
	int64_t flush_ns = (int64_t)f->conf.flush_ms * 1000000;
	int64_t now = fo_time_mono_ns(), next_flush = now + flush_ns,
	        next_stats = now + FO_FLEET_SEC;
	f->tick_ns = now;
	f->next_db_flush = now + (int64_t)f->conf.db_flush_ms * 1000000;
	char err[1024];
	while (!atomic_load(&f->stop)) {
		now = fo_time_mono_ns();
		fo_fleet_db_step(f, now);
		int64_t due = next_flush < next_stats ? next_flush : next_stats;
		int timeout = (int)((due - now) / 1000000);
		if (timeout < 0)
			timeout = 0;
		if (timeout > 100)
			timeout = 100;
		if (f->dbp == FO_DBP_CONNECTING || f->dbp == FO_DBP_SEED || f->dbp == FO_DBP_UPSERT)
			timeout = timeout < 5 ? timeout : 5;
		if (f->cons && !f->kafka_failed) {
			int n = fo_consumer_poll(f->cons, f->msgs, FO_FLEET_BATCH, timeout, err,
			                         sizeof(err));
			if (n < 0) {
				f->kafka_failed = 1;
				atomic_store(&f->kafka_ok, 0);
				fo_log(FO_LOG_ERROR, "fleet_consumer_failed", err,
				       FO_KS("effect", "vehicle positions no longer update"));
			} else if (n > 0) {
				fo_fleet_ingest(f, f->msgs, (size_t)n);
				fo_consumer_release(f->cons, f->msgs, (size_t)n);
			}
		} else {
			struct timespec ts = {0, (long)timeout * 1000000L};
			nanosleep(&ts, NULL);
		}
		now = fo_time_mono_ns();
		if (now >= next_flush) {
			fo_fleet_flush(f);
			next_flush += flush_ns;
			if (next_flush <= now)
				next_flush = now + flush_ns;
		}
		if (now >= next_stats) {
			fo_fleet_stats(f, now);
			next_stats += FO_FLEET_SEC;
			if (next_stats <= now)
				next_stats = now + FO_FLEET_SEC;
		}
	}
	fo_fleet_flush(f);
	fo_fleet_db_final(f);
	return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

static char *fo_fleet_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

fo_fleet *fo_fleet_new(const fo_fleet_conf *conf, char *err, size_t errsz)
{
	fo_fleet_conf c = *conf;
	if (!c.flush_ms)
		c.flush_ms = 100;
	if (!c.db_flush_ms)
		c.db_flush_ms = 1000;
	if (!c.samples)
		c.samples = 50;
	if (!c.max_per_msg)
		c.max_per_msg = 2000;
	if (!c.expected_vehicles)
		c.expected_vehicles = 4096;
	if (!c.max_vehicles)
		c.max_vehicles = 1000000;
	if (c.flush_ms < 0 || c.db_flush_ms < 0) {
		fo_errf(err, errsz, "fleet: flush_ms and db_flush_ms must be > 0");
		return NULL;
	}
	if (c.samples > FO_FLEET_SAMPLES_MAX) {
		fo_errf(err, errsz, "fleet: samples must be 1..%d, not %u", FO_FLEET_SAMPLES_MAX,
		        c.samples);
		return NULL;
	}
	if (c.max_vehicles > UINT32_MAX / 2)
		c.max_vehicles = UINT32_MAX / 2;
	fo_fleet *f = calloc(1, sizeof(*f));
	if (!f) {
		fo_errf(err, errsz, "fleet: out of memory");
		return NULL;
	}
	f->conf = c;
	pthread_mutex_init(&f->mu, NULL);
	f->capv = c.expected_vehicles < 16 ? 16 : c.expected_vehicles;
	f->nslots = 32;
	while (f->nslots < 2 * f->capv)
		f->nslots *= 2;
	f->v = malloc(f->capv * sizeof(*f->v));
	f->smp = malloc(f->capv * c.samples * sizeof(*f->smp));
	f->ws_list = malloc(f->capv * sizeof(*f->ws_list));
	f->db_list = malloc(f->capv * sizeof(*f->db_list));
	f->slots = calloc(f->nslots, sizeof(*f->slots));
	f->evs = malloc(FO_FLEET_BATCH * sizeof(*f->evs));
	f->lat = fo_hist_new();
	f->iv = fo_hist_ival_new();
	f->dbp = FO_DBP_OFF;
	atomic_store(&f->lag, -1);
	if (!f->v || !f->smp || !f->ws_list || !f->db_list || !f->slots || !f->evs || !f->lat ||
	    !f->iv) {
		fo_fleet_stop(f);
		fo_errf(err, errsz, "fleet: out of memory");
		return NULL;
	}
	return f;
}

fo_fleet *fo_fleet_start(const fo_fleet_conf *conf, char *err, size_t errsz)
{
	fo_fleet *f = fo_fleet_new(conf, err, errsz);
	if (!f)
		return NULL;
	f->brokers = fo_fleet_strdup(conf->brokers ? conf->brokers : "127.0.0.1:9092");
	f->group = fo_fleet_strdup(conf->group ? conf->group : FO_FLEET_GROUP_DEFAULT);
	f->topic = fo_fleet_strdup(conf->topic ? conf->topic : FO_FLEET_TOPIC_DEFAULT);
	f->dsn = conf->dsn && *conf->dsn ? strdup(conf->dsn) : NULL;
	f->msgs = calloc(FO_FLEET_BATCH, sizeof(*f->msgs));
	if (!f->brokers || !f->group || !f->topic || (conf->dsn && *conf->dsn && !f->dsn) ||
	    !f->msgs) {
		fo_fleet_stop(f);
		fo_errf(err, errsz, "fleet: out of memory");
		return NULL;
	}
	/* live view: commit what was polled, start a new group at the end */
	const char *props[FO_FLEET_MAX_PROPS + 6] = {
	    "enable.auto.commit=true", "enable.auto.offset.store=true",
	    "auto.commit.interval.ms=1000", "auto.offset.reset=latest", "fetch.wait.max.ms=10"};
	size_t np = 5;
	if (conf->nprops > FO_FLEET_MAX_PROPS) {
		fo_fleet_stop(f);
		fo_errf(err, errsz, "fleet: at most %d consumer settings", FO_FLEET_MAX_PROPS);
		return NULL;
	}
	for (size_t i = 0; i < conf->nprops; i++)
		props[np++] = conf->props[i];
	fo_consumer_conf cc = {
	    .brokers = f->brokers,
	    .group = f->group,
	    .topic = f->topic,
	    /* never written (bad messages are only counted here); naming the
	     * topic itself spares a DLQ topic this consumer does not use */
	    .dlq_topic = f->topic,
	    .client_id = "fleetops-operator-fleet",
	    .props = props,
	    .nprops = np,
	    .stats_interval_ms = 1000,
	};
	char e[1024];
	f->cons = fo_consumer_new(&cc, e, sizeof(e));
	if (!f->cons) {
		fo_fleet_stop(f);
		fo_errf(err, errsz, "fleet: %s", e);
		return NULL;
	}
	atomic_store(&f->kafka_ok, 1);
	if (f->dsn)
		f->dbp = FO_DBP_IDLE;
	if (pthread_create(&f->th, NULL, fo_fleet_main, f) != 0) {
		fo_fleet_stop(f);
		fo_errf(err, errsz, "fleet: cannot start the fleet thread");
		return NULL;
	}
	f->has_thread = 1;
	fo_log(FO_LOG_INFO, "fleet_start", "vehicle positions from telemetry",
	       FO_KS("topic", f->topic), FO_KS("group", f->group),
	       FO_KI("flush_ms", f->conf.flush_ms), FO_KI("db_flush_ms", f->conf.db_flush_ms),
	       FO_KU("samples", f->conf.samples), FO_KB("postgres", f->dsn != NULL));
	return f;
}

void fo_fleet_stop(fo_fleet *f)
{
	if (!f)
		return;
	if (f->has_thread) {
		atomic_store(&f->stop, 1);
		pthread_join(f->th, NULL);
	}
	if (f->cons) {
		char e[512];
		fo_consumer_stats cst;
		if (fo_consumer_close(f->cons, 5000, &cst, e, sizeof(e)) < 0)
			fo_log(FO_LOG_WARN, "fleet_consumer_close", e);
	}
	if (f->pg)
		PQfinish(f->pg);
	if (f->has_thread) {
		fo_fleet_status st;
		fo_fleet_status_get(f, &st);
		fo_log(FO_LOG_INFO, "fleet_done", NULL, FO_KU("consumed", st.consumed),
		       FO_KU("applied", st.applied), FO_KU("bad", st.bad),
		       FO_KU("vehicles", st.vehicles), FO_KU("db_rows", st.db_rows));
	}
	pthread_mutex_destroy(&f->mu);
	free(f->v);
	free(f->smp);
	free(f->ws_list);
	free(f->db_list);
	free(f->slots);
	free(f->evs);
	free(f->out);
	free(f->dbrecs);
	free(f->buf.p);
	free(f->dbbuf.p);
	fo_hist_destroy(f->lat);
	fo_hist_ival_destroy(f->iv);
	free(f->msgs);
	free(f->brokers);
	free(f->group);
	free(f->topic);
	free(f->dsn);
	free(f);
}

/* ---- readers (any thread) ------------------------------------------------ */

/* Copies the vehicles in state (-1: all) into a malloc'd array. */
static int fo_fleet_copy(fo_fleet *f, int state, fo_fleet_rec **out, size_t *n)
{
	pthread_mutex_lock(&f->mu);
	size_t nv = f->nv, k = 0;
	fo_fleet_rec *r = malloc((nv ? nv : 1) * sizeof(*r));
	if (r)
		for (size_t i = 0; i < nv; i++)
			if (state < 0 || f->v[i].r.state == state)
				r[k++] = f->v[i].r;
	pthread_mutex_unlock(&f->mu);
	if (!r)
		return FO_FLEET_ENOMEM;
	qsort(r, k, sizeof(*r), fo_fleet_rec_cmp);
	*out = r;
	*n = k;
	return FO_FLEET_OK;
}

static int fo_fleet_array(fo_fleet *f, int state, const char *pre, const char *post, char **json,
                          size_t *len)
{
	fo_fleet_rec *r;
	size_t n;
	if (fo_fleet_copy(f, state, &r, &n) != FO_FLEET_OK)
		return FO_FLEET_ENOMEM;
	fo_fleet_buf b = {0};
	fo_fleet_buf_room(&b, n * 300 + 64);
	fo_fleet_buf_add(&b, pre, strlen(pre));
	for (size_t i = 0; i < n; i++) {
		if (i)
			fo_fleet_buf_lit(&b, ",");
		fo_fleet_buf_rec(&b, &r[i]);
	}
	fo_fleet_buf_add(&b, post, strlen(post));
	free(r);
	return fo_fleet_buf_take(&b, json, len);
}

int fo_fleet_snapshot(fo_fleet *f, char **json, size_t *len)
{
	return fo_fleet_array(f, -1, "[", "]", json, len);
}

int fo_fleet_list(fo_fleet *f, const char *state, char **json, size_t *len)
{
	fo_fleet_state st = FO_FLEET_NORMAL;
	if (state && *state && fo_fleet_state_parse(state, &st) < 0)
		return FO_FLEET_EINVAL;
	return fo_fleet_array(f, state && *state ? (int)st : -1, "{\"vehicles\":[", "]}", json,
	                      len);
}

int fo_fleet_vehicle(fo_fleet *f, const char *vehicle_id, char **json, size_t *len)
{
	size_t n = vehicle_id ? strlen(vehicle_id) : 0;
	if (n == 0 || n > FO_FLEET_ID_MAX)
		return FO_FLEET_NOT_FOUND;
	fo_fleet_sample *s = malloc(f->conf.samples * sizeof(*s));
	if (!s)
		return FO_FLEET_ENOMEM;
	fo_fleet_rec r;
	unsigned ns = 0;
	pthread_mutex_lock(&f->mu);
	const fo_fleet_veh *v = fo_fleet_find(f, vehicle_id, n, fo_fleet_hash(vehicle_id, n));
	if (v) {
		r = v->r;
		const fo_fleet_sample *ring = fo_fleet_ring(f, (size_t)(v - f->v));
		unsigned cap = f->conf.samples, first = (v->head + cap - v->n) % cap;
		ns = v->n;
		for (unsigned i = 0; i < ns; i++)
			s[i] = ring[(first + i) % cap];
	}
	pthread_mutex_unlock(&f->mu);
	if (!v) {
		free(s);
		return FO_FLEET_NOT_FOUND;
	}
	fo_fleet_buf b = {0};
	fo_fleet_buf_lit(&b, "{\"vehicle\":");
	fo_fleet_buf_rec(&b, &r);
	fo_fleet_buf_lit(&b, ",\"telemetry\":[");
	for (unsigned i = 0; i < ns; i++) {
		fo_jw jw;
		if (fo_fleet_buf_jw(&b, FO_FLEET_SMP_JSON_MAX, &jw) < 0)
			break;
		if (i)
			fo_jw_char(&jw, ',');
		fo_jw_lit(&jw, "{\"frame_index\":");
		fo_jw_u64(&jw, s[i].frame);
		fo_jw_lit(&jw, ",\"event_time\":");
		fo_fleet_jw_time(&jw, s[i].event_ns);
		fo_jw_lit(&jw, ",\"x\":");
		fo_jw_fixed(&jw, s[i].x, 4);
		fo_jw_lit(&jw, ",\"y\":");
		fo_jw_fixed(&jw, s[i].y, 4);
		fo_jw_lit(&jw, ",\"speed\":");
		fo_jw_fixed(&jw, s[i].speed, 4);
		fo_jw_lit(&jw, ",\"acceleration\":");
		fo_jw_fixed(&jw, s[i].acc, 4);
		fo_jw_lit(&jw, ",\"yaw\":");
		fo_jw_fixed(&jw, s[i].yaw, 6);
		fo_jw_char(&jw, '}');
		fo_fleet_buf_done(&b, &jw);
	}
	fo_fleet_buf_lit(&b, "]}");
	free(s);
	return fo_fleet_buf_take(&b, json, len);
}

int fo_fleet_set_state(fo_fleet *f, const char *vehicle_id, fo_fleet_state state,
                       int64_t open_alerts)
{
	size_t n = vehicle_id ? strlen(vehicle_id) : 0;
	if (n == 0 || n > FO_FLEET_ID_MAX || (unsigned)state > FO_FLEET_UNDER_INTERVENTION)
		return FO_FLEET_EINVAL;
	pthread_mutex_lock(&f->mu);
	fo_fleet_veh *v = fo_fleet_upsert(f, vehicle_id, n, fo_fleet_hash(vehicle_id, n));
	if (v) {
		if (v->r.state != state || (open_alerts >= 0 && v->r.open_alerts != open_alerts))
			fo_fleet_mark_ws(f, v);
		v->r.state = (uint8_t)state;
		if (open_alerts >= 0)
			v->r.open_alerts = open_alerts;
		v->state_known = 1;
	}
	pthread_mutex_unlock(&f->mu);
	return v ? FO_FLEET_OK : FO_FLEET_ENOMEM;
}

void fo_fleet_status_get(const fo_fleet *f, fo_fleet_status *st)
{
	fo_fleet *m = (fo_fleet *)f; /* atomics only */
	*st = (fo_fleet_status){
	    .consumed = atomic_load(&m->consumed),
	    .applied = atomic_load(&m->applied),
	    .bad = atomic_load(&m->bad),
	    .duplicates = atomic_load(&m->dups),
	    .dropped = atomic_load(&m->dropped),
	    .events_per_s = (double)atomic_load(&m->eps),
	    .latency_p50_ms = (double)atomic_load(&m->p50_us) / 1000.0,
	    .latency_p99_ms = (double)atomic_load(&m->p99_us) / 1000.0,
	    .vehicles = atomic_load(&m->vehicles),
	    .consumer_lag = atomic_load(&m->lag),
	    .kafka_ok = atomic_load(&m->kafka_ok) && m->cons && fo_consumer_brokers_up(m->cons),
	    .postgres_ok = atomic_load(&m->postgres_ok),
	    .db_writes = atomic_load(&m->db_writes),
	    .db_rows = atomic_load(&m->db_rows),
	    .db_failures = atomic_load(&m->db_failures),
	    .messages_sent = atomic_load(&m->sent),
	};
}
