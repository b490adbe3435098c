/*
 * pipeline: see pipeline.h.
 *
 * Threads and what they own:
 *   reader   the input rings' producer side; the scene it is on
 *   worker i in[i]'s consumer side, out[i]'s producer side, its vehicle map,
 *            its histograms and counters (written only by it, relaxed)
 *   sink     every out ring's consumer side and the sink (and through it
 *            the Kafka producer and its delivery reports)
 * A stage that fails records why once (first failure wins) and keeps
 * draining its input so no other stage blocks forever; the reader sees the
 * flag at the next frame and stops.
 */
#include "pipeline.h"

#include "anomaly.h"
#include "dedup.h"
#include "detector.h"
#include "hist.h"
#include "json.h"
#include "log.h"
#include "reorder.h"
#include "ring.h"
#include "timefmt.h"
#include "vmap.h"

#include <errno.h>
#include <stddef.h>
#include <mimalloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FO_IN_OBS = 0, FO_IN_SCENE_END, FO_IN_TELEMETRY, FO_IN_FLUSH };

/* reader -> worker: an observation to derive (replay), a telemetry event
 * consumed from Kafka (detect), a scene's end, or a flush request */
typedef struct fo_in {
	int64_t emit_ns;       /* wall clock: replay emit time of the event */
	int64_t wall_ns;       /* processing_time of the frame (replay) */
	uint32_t frame_agents; /* ego: agents in its frame; else FO_AGENTS_UNKNOWN */
	uint32_t kind;
	uint64_t tag;     /* detect: the message's origin, acknowledged when done */
	fo_uuid event_id; /* detect: the event's id */
	union {
		fo_obs obs;     /* FO_IN_OBS, FO_IN_SCENE_END (obs.scene) */
		fo_telemetry t; /* FO_IN_TELEMETRY */
	};
} fo_in;

#define FO_OUT_SIZE  2048
#define FO_OUT_VALUE (FO_OUT_SIZE - 16 - FO_VEHICLE_ID_MAX)

#define FO_IN_OBS_SIZE (offsetof(fo_in, obs) + sizeof(fo_obs))
_Static_assert(FO_IN_OBS_SIZE % 8 == 0, "observation slots keep 8-byte alignment");

/* worker -> sink: one encoded event, or (topic FO_OUT_ACK) the tag of an
 * input message whose results are all in the ring before it */
#define FO_OUT_ACK 0xfe
typedef struct fo_out {
	int64_t emit_ns; /* the event's replay emit time (wall clock); the tag for an ack */
	uint32_t len;
	uint16_t key_len;
	uint8_t topic;
	uint8_t pad_;
	char key[FO_VEHICLE_ID_MAX];
	char value[FO_OUT_VALUE];
} fo_out;

_Static_assert(sizeof(fo_out) == FO_OUT_SIZE, "fo_out is one 2 KiB slot");

typedef struct fo_wveh {
	fo_track tr;
	fo_vdet det;
	fo_reorder ro;      /* detect: frame order within the tolerance */
	int64_t held_since; /* detect: wall time events started waiting in ro */
	int64_t last_seen;  /* detect: wall time of its last event */
} fo_wveh;

/* detect: a vehicle unseen this long is forgotten; events held this long
 * in a reorder buffer are released (the frames they wait for are gone) */
#define FO_VEHICLE_IDLE_NS (60 * 1000000000LL)
#define FO_HOLD_MAX_NS     (1000000000LL)

typedef struct fo_worker {
	fo_pipeline *p;
	unsigned id;
	int cpu;
	pthread_t th;
	int started;
	fo_ring *in, *out;
	fo_vmap *veh;
	fo_hist *h_queue; /* reader emit -> worker picks it up */
	fo_hist *h_proc;  /* worker processing, per observation */
	fo_dedup *dedup;  /* detect: event ids seen in the last minute */
	int64_t next_sweep;
	/* written by this worker only (relaxed), read by the reporter */
	_Alignas(64) _Atomic uint64_t processed;
	_Atomic uint64_t raw, anomalies;
	_Atomic uint64_t by_rule[FO_RULE_COUNT];
	_Atomic uint64_t duplicates, late, reordered, evicted;
} fo_worker;

struct fo_pipeline {
	fo_pipeline_conf conf;
	fo_worker *w;
	unsigned nw;
	pthread_t sink_th;
	int sink_started;
	fo_hist *h_deliver[FO_TOPIC_COUNT]; /* sink thread: emit -> delivered/written */
	fo_ring *acks;                      /* detect: sink -> reader, done tags */
	uint64_t *leftover;                 /* detect: acks the ring could not take at the end */
	size_t nleftover;
	fo_hist_ival *iv_queue, *iv_deliver;
	atomic_int failed;
	char fail_msg[1024];
	pthread_mutex_t fail_mu; /* taken once, on the first failure only */
	uint32_t scene;
	int have_scene;
	int64_t t_start, t_end;
	/* reporter's previous figures, for rates */
	uint64_t last_processed;
	int64_t last_report;
};

/* Records the first failure of any stage (what: stage and cause). */
static void fo_pipeline_fail(fo_pipeline *p, const char *what, const char *detail)
{
	pthread_mutex_lock(&p->fail_mu);
	if (!atomic_load_explicit(&p->failed, memory_order_relaxed)) {
		snprintf(p->fail_msg, sizeof(p->fail_msg), "%s%s", what, detail ? detail : "");
		atomic_store_explicit(&p->failed, 1, memory_order_release);
	}
	pthread_mutex_unlock(&p->fail_mu);
}

static void fo_pin(pthread_t th, int cpu, const char *stage)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int r = pthread_setaffinity_np(th, sizeof(set), &set);
	if (r != 0)
		fo_log(FO_LOG_WARN, "pin_failed", "cannot pin thread", FO_KS("stage", stage),
		       FO_KI("cpu", cpu), FO_KS("error", strerror(r)));
}

static inline void fo_relaxed_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

/* Worker: encodes t's anomalies (detect) into the output ring. */
static void fo_worker_detect(fo_worker *w, fo_wveh *v, const fo_telemetry *t,
                             const fo_uuid *event_id, int64_t emit_ns, const char *proc)
{
	fo_pipeline *p = w->p;
	fo_anomaly an[FO_RULE_COUNT];
	int na = fo_detect(p->conf.th, &v->det, t, t->frame_agents, an);
	for (int k = 0; k < na; k++) {
		fo_out *a = fo_ring_claim(w->out);
		size_t klen;
		size_t alen = fo_anomaly_encode(&an[k], event_id, proc, a->value, sizeof(a->value),
		                                a->key, &klen);
		if (alen == 0) {
			fo_pipeline_fail(p, "worker: an anomaly does not fit its slot: ", a->key);
			a->topic = FO_TOPIC_COUNT;
			a->len = 0;
			continue;
		}
		a->emit_ns = emit_ns;
		a->len = (uint32_t)alen;
		a->key_len = (uint16_t)klen;
		a->topic = FO_TOPIC_ANOMALIES;
		fo_relaxed_add(&w->by_rule[an[k].rule], 1);
	}
	if (na)
		fo_relaxed_add(&w->anomalies, (uint64_t)na);
}

/* Worker: queues the acknowledgement of an input message (detect). */
static void fo_worker_ack(fo_worker *w, uint64_t tag)
{
	fo_out *o = fo_ring_claim(w->out);
	o->topic = FO_OUT_ACK;
	o->emit_ns = (int64_t)tag;
	o->len = 0;
}

/* Worker: runs the rules on reorder-released events and acknowledges them. */
static void fo_worker_released(fo_worker *w, fo_wveh *v, const fo_reorder_ev *rel, unsigned n,
                               int64_t emit_ns, const char *proc)
{
	for (unsigned k = 0; k < n; k++) {
		fo_worker_detect(w, v, &rel[k].t, &rel[k].event_id, emit_ns, proc);
		fo_worker_ack(w, rel[k].tag);
	}
	v->held_since = fo_reorder_waiting(&v->ro) ? v->held_since : 0;
}

/* Worker (detect): one consumed RawTelemetryEvent. */
static void fo_worker_telemetry(fo_worker *w, const fo_in *m, int64_t now, const char *proc)
{
	if (fo_dedup_check(w->dedup, &m->event_id, now)) { /* redelivered: done already */
		fo_relaxed_add(&w->duplicates, 1);
		fo_worker_ack(w, m->tag);
		return;
	}
	fo_wveh *v = fo_vmap_upsert(w->veh, (fo_vkey){m->t.scene, m->t.track}, NULL);
	if (!v) {
		fo_pipeline_fail(w->p, "worker: out of memory for vehicle state", NULL);
		return;
	}
	v->last_seen = now;
	fo_reorder_ev ev = {.t = m->t, .event_id = m->event_id, .tag = m->tag},
	              rel[FO_REORDER_OUT_MAX];
	unsigned n = 0;
	unsigned fl = fo_reorder_push(&v->ro, &ev, rel, &n);
	if (fl & (FO_REORDER_LATE | FO_REORDER_DUPLICATE)) { /* counted, never silent */
		fo_relaxed_add(&w->late, 1);
		fo_worker_ack(w, m->tag);
	}
	if (fl & FO_REORDER_HELD) {
		fo_relaxed_add(&w->reordered, 1);
		if (!v->held_since)
			v->held_since = now;
	}
	fo_worker_released(w, v, rel, n, m->emit_ns, proc);
}

/* Worker (detect): releases events held too long (or all, when flushing),
 * and forgets vehicles idle for a minute. Runs every second or so. */
static void fo_worker_sweep(fo_worker *w, int64_t now, int flush_all, const char *proc)
{
	fo_vkey idle[64];
	size_t nidle = 0;
	size_t it = 0;
	fo_vkey key;
	fo_wveh *v;
	while ((v = fo_vmap_next(w->veh, &it, &key))) {
		if (fo_reorder_waiting(&v->ro) &&
		    (flush_all || now - v->held_since >= FO_HOLD_MAX_NS)) {
			fo_reorder_ev rel[FO_REORDER_OUT_MAX];
			unsigned n = 0;
			fo_reorder_flush(&v->ro, rel, &n);
			fo_worker_released(w, v, rel, n, now, proc);
		}
		if (!fo_reorder_waiting(&v->ro) && now - v->last_seen >= FO_VEHICLE_IDLE_NS &&
		    nidle < 64)
			idle[nidle++] = key;
	}
	for (size_t i = 0; i < nidle; i++)
		fo_vmap_remove(w->veh, idle[i]);
	if (nidle)
		fo_relaxed_add(&w->evicted, nidle);
	fo_ring_publish(w->out);
}

static void *fo_worker_main(void *arg)
{
	fo_worker *w = arg;
	fo_pipeline *p = w->p;
	const fo_pipeline_conf *c = &p->conf;
	int64_t last_wall = INT64_MIN;
	char proc[FO_ISO8601_LEN + 1];
	size_t n;
	for (;;) {
		n = fo_ring_peek(w->in, 64);
		if (n == 0) {
			/* idle: detect mode keeps its held events and state in check */
			if (w->dedup) {
				int64_t now = fo_time_wall_ns();
				if (now >= w->next_sweep) {
					fo_time_iso8601(now, proc);
					last_wall = INT64_MIN;
					fo_worker_sweep(w, now, 0, proc);
					w->next_sweep = now + 1000000000LL;
				}
			}
			n = fo_ring_wait(w->in, 64);
			if (n == 0)
				break;
		}
		/* wall clock, like emit_ns: latencies may span processes */
		const int64_t t0 = fo_time_wall_ns();
		const int failed = atomic_load_explicit(&p->failed, memory_order_relaxed);
		size_t nobs = 0;
		for (size_t i = 0; i < n; i++) {
			const fo_in *m = fo_ring_at(w->in, i);
			if (m->kind == FO_IN_SCENE_END) {
				fo_vmap_remove_scene(w->veh, m->obs.scene);
				continue;
			}
			if (m->kind == FO_IN_FLUSH) {
				fo_time_iso8601(t0, proc);
				last_wall = INT64_MIN;
				fo_worker_sweep(w, t0, 1, proc);
				continue;
			}
			nobs++;
			fo_hist_record(w->h_queue, t0 - m->emit_ns);
			if (failed)
				continue; /* drain only: the reader is stopping */
			if (m->kind == FO_IN_TELEMETRY) {
				if (t0 / 1000000 != last_wall) { /* anomalies' processing_time */
					fo_time_iso8601(t0, proc);
					last_wall = t0 / 1000000;
				}
				fo_worker_telemetry(w, m, t0, proc);
				continue;
			}
			fo_wveh *v =
			    fo_vmap_upsert(w->veh, (fo_vkey){m->obs.scene, m->obs.track}, NULL);
			if (!v) {
				fo_pipeline_fail(p, "worker: out of memory for vehicle state",
				                 NULL);
				continue;
			}
			fo_telemetry t;
			fo_telemetry_derive(&v->tr, &m->obs, &t);
			t.frame_agents = m->frame_agents;
			if (m->wall_ns != last_wall) {
				fo_time_iso8601(m->wall_ns, proc);
				last_wall = m->wall_ns;
			}
			fo_out *o = fo_ring_claim(w->out);
			fo_event_out eo;
			size_t len = fo_event_encode_telemetry(&t, c->meta, proc, o->value,
			                                       sizeof(o->value), &eo);
			if (c->emit_raw) {
				o->emit_ns = m->emit_ns;
				o->len = (uint32_t)len;
				o->key_len = (uint16_t)eo.key_len;
				o->topic = FO_TOPIC_RAW_TELEMETRY;
				memcpy(o->key, eo.key, eo.key_len);
				fo_relaxed_add(&w->raw, 1);
			} else {
				/* the id is still needed for anomalies: give the slot back */
				o->len = 0;
				o->topic = FO_TOPIC_COUNT;
			}
			if (c->detect)
				fo_worker_detect(w, v, &t, &eo.event_id, m->emit_ns, proc);
		}
		fo_ring_publish(w->out);
		fo_ring_release(w->in, n);
		fo_relaxed_add(&w->processed, nobs);
		if (nobs)
			fo_hist_record_n(w->h_proc, (fo_time_wall_ns() - t0) / (int64_t)nobs, nobs);
	}
	if (w->dedup) { /* end of input: nothing may stay held */
		int64_t now = fo_time_wall_ns();
		fo_time_iso8601(now, proc);
		fo_worker_sweep(w, now, 1, proc);
	}
	fo_ring_close(w->out);
	return NULL;
}

/* Sink thread (detect): acknowledgements wait here until every event
 * emitted before them has settled (delivered, or failed and counted). */
typedef struct fo_pending {
	uint64_t *tag, *seq;
	size_t head, n, cap; /* a ring that doubles when full (rare) */
} fo_pending;

static int fo_pending_push(fo_pending *q, uint64_t tag, uint64_t seq)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 4096;
		uint64_t *t = mi_malloc(cap * sizeof(*t)), *s = mi_malloc(cap * sizeof(*s));
		if (!t || !s) {
			mi_free(t);
			mi_free(s);
			return -1;
		}
		for (size_t i = 0; i < q->n; i++) {
			t[i] = q->tag[(q->head + i) % q->cap];
			s[i] = q->seq[(q->head + i) % q->cap];
		}
		mi_free(q->tag);
		mi_free(q->seq);
		q->tag = t;
		q->seq = s;
		q->head = 0;
		q->cap = cap;
	}
	size_t i = (q->head + q->n++) % q->cap;
	q->tag[i] = tag;
	q->seq[i] = seq;
	return 0;
}

/* Moves settled acknowledgements to the reader's ring (as many as fit). */
static void fo_pending_forward(fo_pipeline *p, fo_pending *q)
{
	uint64_t settled = fo_sink_settled(p->conf.sink);
	while (q->n && q->seq[q->head] <= settled) {
		uint64_t *slot = fo_ring_try_claim(p->acks);
		if (!slot)
			break; /* the reader drains it; try again next round */
		*slot = q->tag[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
	fo_ring_publish(p->acks);
}

static void *fo_sink_main(void *arg)
{
	fo_pipeline *p = arg;
	fo_sink *s = p->conf.sink;
	unsigned live = p->nw, round = 0;
	uint8_t *done = mi_zalloc(p->nw);
	fo_pending pend = {0};
	char err[1024];
	unsigned batches = 0;
	while (live) {
		int progress = 0;
		for (unsigned i = 0; i < p->nw; i++) {
			if (done[i])
				continue;
			fo_ring *r = p->w[i].out;
			size_t n = fo_ring_peek(r, 256);
			if (n == 0) {
				if (fo_ring_done(r)) {
					done[i] = 1;
					live--;
				}
				continue;
			}
			const int failed = atomic_load_explicit(&p->failed, memory_order_relaxed);
			for (size_t k = 0; k < n && !failed; k++) {
				const fo_out *o = fo_ring_at(r, k);
				if (o->topic == FO_OUT_ACK) {
					/* done once everything emitted so far has settled */
					if (fo_pending_push(&pend, (uint64_t)o->emit_ns,
					                    fo_sink_next_seq(s)) < 0) {
						fo_pipeline_fail(
						    p, "sink: out of memory for acknowledgements",
						    NULL);
						break;
					}
					continue;
				}
				if (o->topic >= FO_TOPIC_COUNT)
					continue;
				if (fo_sink_emit(s, (fo_topic)o->topic, o->key, o->key_len,
				                 o->value, o->len, o->emit_ns, err,
				                 sizeof(err)) < 0) {
					fo_pipeline_fail(p, "sink: ", err);
					break;
				}
			}
			fo_ring_release(r, n);
			progress = 1;
			if ((++batches & 63) == 0)
				fo_sink_poll(s);
		}
		if (p->acks) {
			fo_sink_stats st;
			fo_sink_stats_get(s, &st);
			if (st.failed[FO_TOPIC_ANOMALIES] + st.failed[FO_TOPIC_RAW_TELEMETRY])
				/* never acknowledge past an event that was not delivered */
				fo_pipeline_fail(
				    p, "sink: events failed delivery; offsets stay uncommitted",
				    NULL);
			else if (pend.n)
				fo_pending_forward(p, &pend);
		}
		if (progress) {
			round = 0;
		} else {
			fo_sink_poll(s);
			fo_ring_pause(&round);
		}
	}
	if (p->acks && !atomic_load(&p->failed)) {
		/* the end: wait for the last deliveries, hand every ack over */
		if (fo_sink_flush(s, 30000) == 0) {
			fo_pending_forward(p, &pend);
			p->leftover = mi_malloc((pend.n ? pend.n : 1) * sizeof(uint64_t));
			for (; p->leftover && pend.n; pend.n--) {
				p->leftover[p->nleftover++] = pend.tag[pend.head];
				pend.head = (pend.head + 1) % pend.cap;
			}
		} else {
			fo_pipeline_fail(p, "sink: deliveries still pending at the end", NULL);
		}
	}
	if (p->acks)
		fo_ring_close(p->acks);
	mi_free(pend.tag);
	mi_free(pend.seq);
	mi_free(done);
	return NULL;
}

fo_pipeline *fo_pipeline_start(const fo_pipeline_conf *conf, char *err, size_t errsz)
{
	if (conf->workers < 1 || conf->workers > FO_MAX_WORKERS) {
		snprintf(err, errsz, "--workers %u: expected 1..%d", conf->workers, FO_MAX_WORKERS);
		return NULL;
	}
	fo_pipeline *p = mi_zalloc(sizeof(*p));
	if (!p) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	p->conf = *conf;
	p->nw = conf->workers;
	pthread_mutex_init(&p->fail_mu, NULL);
	p->w = mi_zalloc_aligned(p->nw * sizeof(*p->w), 64);
	p->iv_queue = fo_hist_ival_new();
	p->iv_deliver = fo_hist_ival_new();
	if (!p->w || !p->iv_queue || !p->iv_deliver)
		goto oom;
	for (int t = 0; t < FO_TOPIC_COUNT; t++)
		if (!(p->h_deliver[t] = fo_hist_new()))
			goto oom;
	size_t cap = conf->ring_capacity ? conf->ring_capacity : 4096;
	for (unsigned i = 0; i < p->nw; i++) {
		fo_worker *w = &p->w[i];
		w->p = p;
		w->id = i;
		w->cpu = conf->cpu_workers[i];
		/* replay's slots stop after the observation: two cache lines */
		w->in = fo_ring_new(conf->consume ? sizeof(fo_in) : FO_IN_OBS_SIZE, cap);
		w->out = fo_ring_new(sizeof(fo_out), cap);
		w->veh = fo_vmap_new(sizeof(fo_wveh), 4096 / p->nw + 64);
		w->h_queue = fo_hist_new();
		w->h_proc = fo_hist_new();
		if (!w->in || !w->out || !w->veh || !w->h_queue || !w->h_proc)
			goto oom;
		if (conf->consume && !(w->dedup = fo_dedup_new(
		                           conf->dedup_capacity ? conf->dedup_capacity : 1u << 20,
		                           60 * 1000000000LL)))
			goto oom;
	}
	if (conf->consume && !(p->acks = fo_ring_new(sizeof(uint64_t), 1u << 16)))
		goto oom;
	fo_sink_set_latency(conf->sink, p->h_deliver);
	fo_pin(pthread_self(), conf->cpu_reader, "reader");
	for (unsigned i = 0; i < p->nw; i++) {
		fo_worker *w = &p->w[i];
		if (pthread_create(&w->th, NULL, fo_worker_main, w) != 0) {
			snprintf(err, errsz, "cannot start worker %u: %s", i, strerror(errno));
			goto fail;
		}
		w->started = 1;
		char name[16];
		snprintf(name, sizeof(name), "fo-worker-%u", i);
		pthread_setname_np(w->th, name);
		fo_pin(w->th, w->cpu, name);
	}
	if (pthread_create(&p->sink_th, NULL, fo_sink_main, p) != 0) {
		snprintf(err, errsz, "cannot start the sink thread: %s", strerror(errno));
		goto fail;
	}
	p->sink_started = 1;
	pthread_setname_np(p->sink_th, "fo-sink");
	fo_pin(p->sink_th, conf->cpu_sink, "sink");
	p->t_start = p->last_report = fo_time_mono_ns();
	return p;
oom:
	snprintf(err, errsz, "out of memory creating the pipeline");
fail:
	atomic_store(&p->failed, 1);
	char e2[8];
	fo_pipeline_finish(p, e2, sizeof(e2));
	fo_pipeline_destroy(p);
	return NULL;
}

static void fo_push_scene_end(fo_pipeline *p, uint32_t scene)
{
	for (unsigned i = 0; i < p->nw; i++) {
		fo_in *m = fo_ring_claim(p->w[i].in);
		m->kind = FO_IN_SCENE_END;
		m->obs.scene = scene;
		fo_ring_publish(p->w[i].in);
	}
}

int fo_pipeline_frame(fo_pipeline *p, const fo_l5kit_frame *fr, char *err, size_t errsz)
{
	if (atomic_load_explicit(&p->failed, memory_order_acquire)) {
		snprintf(err, errsz, "%s", p->fail_msg);
		return -1;
	}
	if (p->have_scene && fr->scene != p->scene)
		fo_push_scene_end(p, p->scene);
	p->scene = fr->scene;
	p->have_scene = 1;
	const int64_t now = fo_time_wall_ns(), wall = now;
	for (size_t i = 0; i < fr->n; i++) {
		const fo_obs *o = &fr->obs[i];
		fo_worker *w = &p->w[fo_vkey_hash((fo_vkey){o->scene, o->track}) % p->nw];
		fo_in *m = fo_ring_claim(w->in);
		m->emit_ns = now;
		m->wall_ns = wall;
		m->frame_agents = i == 0 ? (uint32_t)(fr->n - 1) : FO_AGENTS_UNKNOWN;
		m->kind = FO_IN_OBS;
		m->obs = *o;
	}
	for (unsigned i = 0; i < p->nw; i++)
		fo_ring_publish(p->w[i].in);
	return 0;
}

int fo_pipeline_telemetry(fo_pipeline *p, const fo_telemetry *t, const fo_uuid *event_id,
                          int64_t emit_ns, uint64_t tag, char *err, size_t errsz)
{
	if (atomic_load_explicit(&p->failed, memory_order_acquire)) {
		snprintf(err, errsz, "%s", p->fail_msg);
		return -1;
	}
	fo_worker *w = &p->w[fo_vkey_hash((fo_vkey){t->scene, t->track}) % p->nw];
	fo_in *m = fo_ring_claim(w->in);
	m->kind = FO_IN_TELEMETRY;
	m->emit_ns = emit_ns;
	m->wall_ns = 0;
	m->frame_agents = t->frame_agents;
	m->tag = tag;
	m->event_id = *event_id;
	m->t = *t;
	return 0;
}

void fo_pipeline_publish(fo_pipeline *p)
{
	for (unsigned i = 0; i < p->nw; i++)
		fo_ring_publish(p->w[i].in);
}

void fo_pipeline_flush(fo_pipeline *p)
{
	for (unsigned i = 0; i < p->nw; i++) {
		fo_in *m = fo_ring_claim(p->w[i].in);
		m->kind = FO_IN_FLUSH;
		fo_ring_publish(p->w[i].in);
	}
}

size_t fo_pipeline_acks(fo_pipeline *p, uint64_t *tags, size_t max)
{
	size_t got = 0;
	if (p->acks) {
		size_t n = fo_ring_peek(p->acks, max);
		for (size_t i = 0; i < n; i++)
			tags[got++] = *(const uint64_t *)fo_ring_at(p->acks, i);
		fo_ring_release(p->acks, n);
	}
	/* after finish: what the ring could not take */
	while (got < max && p->nleftover && !p->sink_started)
		tags[got++] = p->leftover[--p->nleftover];
	return got;
}

static uint64_t fo_load(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void fo_pipeline_log_stats(fo_pipeline *p)
{
	uint64_t processed = 0;
	size_t in_fill = 0, out_fill = 0, cap = 0;
	const fo_hist *qs[FO_MAX_WORKERS];
	for (unsigned i = 0; i < p->nw; i++) {
		processed += fo_load(&p->w[i].processed);
		in_fill += fo_ring_count(p->w[i].in);
		out_fill += fo_ring_count(p->w[i].out);
		cap += fo_ring_capacity(p->w[i].in);
		qs[i] = p->w[i].h_queue;
	}
	const fo_hist *q = fo_hist_ival_tick(p->iv_queue, qs, p->nw);
	const fo_hist *const ds[2] = {p->h_deliver[FO_TOPIC_RAW_TELEMETRY],
	                              p->h_deliver[FO_TOPIC_ANOMALIES]};
	const fo_hist *d = fo_hist_ival_tick(p->iv_deliver, ds, 2);
	int64_t now = fo_time_mono_ns();
	double dt = (double)(now - p->last_report) * 1e-9;
	fo_log(FO_LOG_INFO, "pipeline_stats", NULL, FO_KU("events", processed),
	       FO_KF("events_per_s", dt > 0 ? (double)(processed - p->last_processed) / dt : 0),
	       FO_KF("in_ring_fill", cap ? (double)in_fill / (double)cap : 0),
	       FO_KF("out_ring_fill", cap ? (double)out_fill / (double)cap : 0),
	       FO_KF("queue_p99_us", (double)fo_hist_value_at_percentile(q, 99) / 1e3),
	       FO_KF("deliver_p99_us", (double)fo_hist_value_at_percentile(d, 99) / 1e3));
	p->last_processed = processed;
	p->last_report = now;
}

int fo_pipeline_finish(fo_pipeline *p, char *err, size_t errsz)
{
	for (unsigned i = 0; i < p->nw; i++)
		if (p->w && p->w[i].in)
			fo_ring_close(p->w[i].in);
	for (unsigned i = 0; i < p->nw; i++)
		if (p->w && p->w[i].started) {
			pthread_join(p->w[i].th, NULL);
			p->w[i].started = 0;
		}
	if (p->sink_started) {
		pthread_join(p->sink_th, NULL);
		p->sink_started = 0;
	}
	p->t_end = fo_time_mono_ns();
	if (atomic_load(&p->failed)) {
		snprintf(err, errsz, "%s", p->fail_msg);
		return -1;
	}
	return 0;
}

void fo_pipeline_totals_get(const fo_pipeline *p, fo_pipeline_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < p->nw; i++) {
		t->observations += fo_load(&p->w[i].processed);
		t->raw_events += fo_load(&p->w[i].raw);
		t->anomalies += fo_load(&p->w[i].anomalies);
		for (int r = 0; r < FO_RULE_COUNT && r < 8; r++)
			t->by_rule[r] += fo_load(&p->w[i].by_rule[r]);
		t->duplicates += fo_load(&p->w[i].duplicates);
		t->late += fo_load(&p->w[i].late);
		t->reordered += fo_load(&p->w[i].reordered);
		t->evicted += fo_load(&p->w[i].evicted);
	}
	t->seconds = (double)(p->t_end - p->t_start) * 1e-9;
}

int fo_pipeline_report(fo_pipeline *p, FILE *out, const char *path, const char *extra)
{
	fo_hist *q = fo_hist_new(), *pr = fo_hist_new();
	if (!q || !pr) {
		fo_hist_destroy(q);
		fo_hist_destroy(pr);
		return -1;
	}
	for (unsigned i = 0; i < p->nw; i++) {
		fo_hist_merge(q, p->w[i].h_queue);
		fo_hist_merge(pr, p->w[i].h_proc);
	}
	fo_pipeline_totals t;
	fo_pipeline_totals_get(p, &t);
	struct {
		const char *name;
		const fo_hist *h;
	} rows[] = {
	    {"reader emit -> worker", q},
	    {"worker processing", pr},
	    {"emit -> raw_telemetry delivered", p->h_deliver[FO_TOPIC_RAW_TELEMETRY]},
	    {"emit -> anomaly delivered", p->h_deliver[FO_TOPIC_ANOMALIES]},
	};
	const size_t nrows = sizeof(rows) / sizeof(rows[0]);
	if (out) {
		fprintf(out, "%-34s %10s %9s %9s %9s %9s %9s\n", "stage (latency, us)", "count",
		        "p50", "p90", "p99", "p99.9", "max");
		for (size_t i = 0; i < nrows; i++) {
			const fo_hist *h = rows[i].h;
			fprintf(out, "%-34s %10llu %9.1f %9.1f %9.1f %9.1f %9.1f\n", rows[i].name,
			        (unsigned long long)fo_hist_count(h),
			        (double)fo_hist_value_at_percentile(h, 50) / 1e3,
			        (double)fo_hist_value_at_percentile(h, 90) / 1e3,
			        (double)fo_hist_value_at_percentile(h, 99) / 1e3,
			        (double)fo_hist_value_at_percentile(h, 99.9) / 1e3,
			        (double)fo_hist_max(h) / 1e3);
		}
		fprintf(out, "%llu events in %.3f s: %.0f events/s, %llu anomalies, %u workers\n",
		        (unsigned long long)t.observations, t.seconds,
		        t.seconds > 0 ? (double)t.observations / t.seconds : 0,
		        (unsigned long long)t.anomalies, p->nw);
	}
	int rc = 0;
	if (path) {
		static char buf[1 << 16];
		fo_jw jw;
		fo_jw_init(&jw, buf, sizeof(buf) - 1);
		fo_jw_lit(&jw, "{\"events\":");
		fo_jw_u64(&jw, t.observations);
		fo_jw_lit(&jw, ",\"anomalies\":");
		fo_jw_u64(&jw, t.anomalies);
		fo_jw_lit(&jw, ",\"seconds\":");
		fo_jw_fixed(&jw, t.seconds, 4);
		fo_jw_lit(&jw, ",\"events_per_s\":");
		fo_jw_fixed(&jw, t.seconds > 0 ? (double)t.observations / t.seconds : 0, 0);
		fo_jw_lit(&jw, ",\"workers\":");
		fo_jw_u64(&jw, p->nw);
		fo_jw_lit(&jw, ",\"latency\":{");
		static const char *const keys[] = {"reader_to_worker", "worker_processing",
		                                   "emit_to_raw_delivered",
		                                   "emit_to_anomaly_delivered"};
		for (size_t i = 0; i < nrows; i++) {
			if (i)
				fo_jw_char(&jw, ',');
			fo_jw_str(&jw, keys[i], strlen(keys[i]));
			fo_jw_char(&jw, ':');
			fo_hist_json(rows[i].h, &jw);
		}
		fo_jw_char(&jw, '}');
		if (extra && *extra) {
			fo_jw_char(&jw, ',');
			fo_jw_cstr(&jw, extra);
		}
		fo_jw_lit(&jw, "}\n");
		FILE *f = fopen(path, "w");
		if (!f || jw.overflow || fwrite(buf, 1, jw.len, f) != jw.len)
			rc = -1;
		if (f && fclose(f) != 0)
			rc = -1;
		if (rc < 0)
			fo_log(FO_LOG_ERROR, "report_error", "cannot write the report",
			       FO_KS("file", path), FO_KS("error", strerror(errno)));
	}
	fo_hist_destroy(q);
	fo_hist_destroy(pr);
	return rc;
}

void fo_pipeline_destroy(fo_pipeline *p)
{
	if (!p)
		return;
	for (unsigned i = 0; p->w && i < p->nw; i++) {
		fo_worker *w = &p->w[i];
		fo_ring_destroy(w->in);
		fo_ring_destroy(w->out);
		fo_vmap_destroy(w->veh);
		fo_hist_destroy(w->h_queue);
		fo_hist_destroy(w->h_proc);
		fo_dedup_destroy(w->dedup);
	}
	fo_ring_destroy(p->acks);
	mi_free(p->leftover);
	if (p->conf.sink)
		fo_sink_set_latency(p->conf.sink, NULL);
	for (int t = 0; t < FO_TOPIC_COUNT; t++)
		fo_hist_destroy(p->h_deliver[t]);
	fo_hist_ival_destroy(p->iv_queue);
	fo_hist_ival_destroy(p->iv_deliver);
	pthread_mutex_destroy(&p->fail_mu);
	mi_free(p->w);
	mi_free(p);
}

int fo_parse_cpus(const char *s, int *cpus, int max)
{
	int n = 0;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v < 0 || v >= CPU_SETSIZE || n == max)
			return -1;
		cpus[n++] = (int)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return n ? n : -1;
}
