/*
 * gen_world: ring-road traffic with scripted anomalies (see gen_world.h).
 *
 * Geometry. A lane is a rounded rectangle: straights of length lx (bottom,
 * top) and ly (right, left) joined by quarter circles of radius r. Lanes
 * are concentric (r = R + (k + 0.5) * 3.5 m), so every lane is the same
 * closed-form curve, parametrised by arc length s counter-clockwise from
 * the left end of the bottom straight. Lanes 0-2 (inner) carry clockwise
 * traffic, lanes 3-5 (outer) counter-clockwise: right-hand traffic. The
 * road is rotated to the real drive's heading and its bottom straight
 * passes through the real ego's first position; scene k sits on a grid
 * (10 per row) next to scene 0.
 *
 * Scripted anomalies are roles given to vehicles while planning a scene.
 * Braking vehicles run a speed profile of per-frame speed changes (exact
 * m/s per 0.1 s frame) and are placed so that the braking happens in the
 * middle of the bottom straight, where the acceleration vector is purely
 * longitudinal. The detector's hard-braking rule is
 *   |a| > 3.0 m/s^2 AND velocity delta over the last 5 frames < -5.0 m/s,
 *   CRITICAL if |a| >= 5.0 m/s^2, else WARNING,
 * with a = (v - v_prev) / dt per frame. A 5 m/s drop inside a 5-frame
 * window needs 10 m/s^2 on average (12.5 if the window is the last 5
 * observations, 4 intervals), so a WARNING can only fire on a gentler frame
 * that closes a window of harder ones. The WARNING profile is therefore
 * three frames at 16 m/s^2 (-4.8 m/s: just under the window threshold, so
 * nothing fires on them) followed by one frame at 4.5 m/s^2, at which the
 * window drop is 5.25 m/s under either reading of the window: WARNING there
 * and nowhere else. The CRITICAL profile brakes 15 -> 0 m/s in 1.0 s
 * (8, 14, then 16 m/s^2) and fires on every frame from the fourth on.
 */
#include "gen_world.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_PI              3.14159265358979323846
#define DT                  0.1
#define NLANES              6
#define LANE_W              3.5
#define RING_R              120.0 /* inner radius of the road */
#define RING_LY             160.0 /* short straights */
#define RING_LX             480.0 /* long straights, at least */
#define SPACING_PER_VEHICLE 45.0  /* metres of lane per vehicle, at least */
#define JUMP_M              3.5
#define MAX_EVENTS          4

/* ---- presets -------------------------------------------------------------- */

typedef struct plan_event {
	fo_gen_kind kind;
	double at; /* onset as a fraction of the scene's frames */
} plan_event;

typedef struct scene_plan {
	plan_event ev[MAX_EVENTS];
	size_t n;
} scene_plan;

struct fo_gen_preset {
	const char *name;
	unsigned scenes, vehicles, frames;
	const scene_plan *plans; /* scene k uses plans[k % nplans] */
	size_t nplans;
};

/* Small and fast: every kind within three scenes. Also cycled by bench. */
/* clang-format off */
static const scene_plan test_plans[] = {
	{{{FO_GEN_HARD_BRAKING_WARNING, 0.17},
	  {FO_GEN_POSITION_JUMP, 0.46},
	  {FO_GEN_HARD_BRAKING_CRITICAL, 0.67}}, 3},
	{{{FO_GEN_LABEL_COLLAPSE, 0.20},
	  {FO_GEN_YAW_FLIP, 0.46},
	  {FO_GEN_TRACK_DROPOUT, 0.70}}, 3},
	{{{FO_GEN_MASS_VANISH, 0.50}}, 1},
};

/* The demo story: scene 1 holds a WARNING braking, a perception glitch and
 * a CRITICAL braking, in that order; scenes 0 and 2 the other kinds;
 * scene 3 is calm, to show that ordinary driving raises nothing. */
static const scene_plan demo_plans[] = {
	{{{FO_GEN_LABEL_COLLAPSE, 0.30},
	  {FO_GEN_TRACK_DROPOUT, 0.63}}, 2},
	{{{FO_GEN_HARD_BRAKING_WARNING, 0.20},
	  {FO_GEN_POSITION_JUMP, 0.47},
	  {FO_GEN_HARD_BRAKING_CRITICAL, 0.73}}, 3},
	{{{FO_GEN_YAW_FLIP, 0.30},
	  {FO_GEN_MASS_VANISH, 0.63}}, 2},
	{{{0, 0}}, 0},
};

#define NPLANS(a) (sizeof(a) / sizeof((a)[0]))
static const fo_gen_preset presets[] = {
	{"demo",    4,  24, 300, demo_plans, NPLANS(demo_plans)},
	{"test",    3,  18, 120, test_plans, NPLANS(test_plans)},
	{"bench", 100, 200, 250, test_plans, NPLANS(test_plans)},
};
/* clang-format on */

const fo_gen_preset *fo_gen_preset_find(const char *name)
{
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

const char *fo_gen_preset_name(const fo_gen_preset *p)
{
	return p->name;
}

void fo_gen_preset_sizes(const fo_gen_preset *p, unsigned *scenes, unsigned *vehicles,
                         unsigned *frames)
{
	*scenes = p->scenes;
	*vehicles = p->vehicles;
	*frames = p->frames;
}

/* clang-format off */
static const struct {
	const char *name, *type, *severity;
	int pre, post; /* frames around the onset the event occupies */
} kinds[FO_GEN_NKINDS] = {
	[FO_GEN_HARD_BRAKING_WARNING] =
		{"hard_braking_warning", "sudden_deceleration", "WARNING", 6, 5},
	[FO_GEN_HARD_BRAKING_CRITICAL] =
		{"hard_braking_critical", "sudden_deceleration", "CRITICAL", 6, 10},
	[FO_GEN_POSITION_JUMP] =
		{"position_jump", "perception_instability", "WARNING", 1, 2},
	[FO_GEN_LABEL_COLLAPSE] =
		{"label_collapse", "perception_instability", "WARNING", 1, 5},
	[FO_GEN_YAW_FLIP] =
		{"yaw_flip", "perception_instability", "WARNING", 1, 4},
	[FO_GEN_TRACK_DROPOUT] =
		{"track_dropout", "dropout", "INFO", 1, 9},
	[FO_GEN_MASS_VANISH] =
		{"mass_vanish", "dropout", "WARNING", 1, 4},
};
/* clang-format on */

const char *fo_gen_kind_name(fo_gen_kind k)
{
	return kinds[k].name;
}
const char *fo_gen_kind_type(fo_gen_kind k)
{
	return kinds[k].type;
}
const char *fo_gen_kind_severity(fo_gen_kind k)
{
	return kinds[k].severity;
}

int64_t fo_gen_frame_time(const fo_gen_params *p, unsigned s, unsigned f)
{
	int64_t span = (int64_t)(p->frames - 1) * FO_GEN_DT_NS + INT64_C(1000000000);
	return FO_GEN_REAL_T0_NS + (int64_t)s * span + (int64_t)f * FO_GEN_DT_NS;
}

/* ---- randomness ------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x)
{
	return mix64(*x += UINT64_C(0x9e3779b97f4a7c15));
}

typedef struct rng {
	uint64_t s[4];
} rng;

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

static void rng_seed(rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static double rng_unit(rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_range(rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(r);
}

static size_t rng_below(rng *r, size_t n)
{
	return (size_t)(rng_next(r) % n);
}

/* Stateless noise in [-1, 1) for (key, track, frame, channel). */
static double noise(uint64_t key, uint64_t track, unsigned frame, unsigned ch)
{
	uint64_t h =
	    mix64(key ^ mix64(track * UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t)frame << 8) ^ ch));
	return (double)(h >> 11) * 0x1.0p-52 - 1.0;
}

static double wrap_pi(double a)
{
	a = fmod(a + GEN_PI, 2 * GEN_PI);
	if (a < 0)
		a += 2 * GEN_PI;
	return a - GEN_PI;
}

/* ---- vehicles ---------------------------------------------------------------- */

typedef enum role {
	ROLE_NONE,
	ROLE_BRAKE,     /* hard_braking_* (profile in `brake`) */
	ROLE_COMPANION, /* moderate braking next to a WARNING, raises nothing */
	ROLE_JUMP,
	ROLE_LABEL,
	ROLE_YAW,
	ROLE_DROPOUT,
	ROLE_VANISH,
} role;

/* Speed profile from the onset frame: hard[] per-frame changes (m/s per
 * frame), then `ease` for nease frames, hold for `hold` frames, then
 * `resume` per frame back up to the cruise speed. */
typedef struct brake_profile {
	const double *hard;
	int nhard;
	double ease;
	int nease;
	int hold;
	double resume;
} brake_profile;

static const double warn_hard[] = {-1.6, -1.6, -1.6, -0.45};
static const double crit_hard[] = {-0.8, -1.4, -1.6, -1.6, -1.6, -1.6, -1.6, -1.6, -1.6, -1.6};
#define WARN_CRUISE 14.0
#define CRIT_CRUISE 15.0
static const brake_profile warn_profile = {warn_hard, 4, -0.2, 10, 20, 0.1};
static const brake_profile crit_profile = {crit_hard, 10, 0.0, 0, 30, 0.15};
static const brake_profile companion_profile = {NULL, 0, -0.25, 12, 20, 0.1};

#define LABEL_FRAMES   4
#define YAW_FRAMES     3
#define DROPOUT_FRAMES 8
#define VANISH_FRAMES  3
#define DROPOUT_SPEED  1.2

typedef struct vehicle {
	uint64_t track_id;
	uint64_t repl_id; /* ROLE_VANISH: id after re-detection */
	role role;
	int f0; /* onset frame of the role */
	const brake_profile *brake;
	int lane, dir;
	double r, perim;
	double s, v; /* arc length, speed (previous frame's until stepped) */
	double cruise, amp, omega, phase;
	double px, py;          /* previous true position */
	double x, y, h, vx, vy; /* this frame */
	float extent[3];
	float pmax;
	double noise_v, noise_yaw;
} vehicle;

struct fo_gen_scene {
	fo_gen_params p;
	unsigned index;
	unsigned frame; /* next frame to produce */
	uint64_t noise_key;
	double lx, ly, hx, hy, cx, cy, theta, cth, sth;
	vehicle *veh;
	size_t nveh;
	vehicle ego;
	fo_gen_anomaly an[MAX_EVENTS];
	size_t nan;
	char notebuf[MAX_EVENTS][256];
	const char *notes[MAX_EVENTS + 1];
	size_t nnotes;
};

static double lane_radius(int lane)
{
	return RING_R + (lane + 0.5) * LANE_W;
}

static double lane_perimeter(const fo_gen_scene *sc, double r)
{
	return 2 * sc->lx + 2 * sc->ly + 2 * GEN_PI * r;
}

/* Position and counter-clockwise heading at arc length s on lane radius r. */
static void ring_eval(const fo_gen_scene *sc, double r, double s, double *x, double *y, double *h)
{
	double hx = sc->hx, hy = sc->hy, q = 0.5 * GEN_PI * r;
	double perim = lane_perimeter(sc, r), lx, ly, a;
	s = fmod(s, perim);
	if (s < 0)
		s += perim;
	if (s < sc->lx) {
		lx = -hx + s, ly = -hy - r, *h = 0;
	} else if ((s -= sc->lx) < q) {
		a = -0.5 * GEN_PI + s / r;
		lx = hx + r * cos(a), ly = -hy + r * sin(a), *h = a + 0.5 * GEN_PI;
	} else if ((s -= q) < sc->ly) {
		lx = hx + r, ly = -hy + s, *h = 0.5 * GEN_PI;
	} else if ((s -= sc->ly) < q) {
		a = s / r;
		lx = hx + r * cos(a), ly = hy + r * sin(a), *h = a + 0.5 * GEN_PI;
	} else if ((s -= q) < sc->lx) {
		lx = hx - s, ly = hy + r, *h = GEN_PI;
	} else if ((s -= sc->lx) < q) {
		a = 0.5 * GEN_PI + s / r;
		lx = -hx + r * cos(a), ly = hy + r * sin(a), *h = a + 0.5 * GEN_PI;
	} else if ((s -= q) < sc->ly) {
		lx = -hx - r, ly = hy - s, *h = 1.5 * GEN_PI;
	} else {
		s -= sc->ly;
		a = GEN_PI + s / r;
		lx = -hx + r * cos(a), ly = -hy + r * sin(a), *h = a + 0.5 * GEN_PI;
	}
	*x = sc->cx + sc->cth * lx - sc->sth * ly;
	*y = sc->cy + sc->sth * lx + sc->cth * ly;
	*h += sc->theta;
}

static double wrap_s(double s, double perim)
{
	s = fmod(s, perim);
	return s < 0 ? s + perim : s;
}

static void vehicle_set_lane(const fo_gen_scene *sc, vehicle *v, int lane)
{
	v->lane = lane;
	v->dir = lane < NLANES / 2 ? -1 : 1;
	v->r = lane_radius(lane);
	v->perim = lane_perimeter(sc, v->r);
}

/* Speed at frame f. Reads v->v, the speed at frame f - 1. */
static double vehicle_speed(const vehicle *v, unsigned f)
{
	double s;
	if (v->brake) {
		const brake_profile *b = v->brake;
		int k = (int)f - v->f0;
		s = v->v;
		if (k < 0)
			s = v->cruise;
		else if (k < b->nhard)
			s += b->hard[k];
		else if (k < b->nhard + b->nease)
			s += b->ease;
		else if (k >= b->nhard + b->nease + b->hold && s < v->cruise)
			s = fmin(v->cruise, s + b->resume);
	} else {
		s = v->cruise + v->amp * sin(v->omega * f * DT + v->phase);
	}
	return s < 0 ? 0 : s;
}

/* Move to frame f; fills x, y, h and the backward-difference velocity. */
static void vehicle_step(const fo_gen_scene *sc, vehicle *v, unsigned f)
{
	double spd = vehicle_speed(v, f);
	if (f > 0)
		v->s = wrap_s(v->s + v->dir * spd * DT, v->perim);
	v->v = spd;
	ring_eval(sc, v->r, v->s, &v->x, &v->y, &v->h);
	if (v->dir < 0)
		v->h += GEN_PI;
	v->vx = (v->x - v->px) / DT;
	v->vy = (v->y - v->py) / DT;
	v->px = v->x;
	v->py = v->y;
}

/* Set the position before frame 0 so frame 0 has a velocity too. */
static void vehicle_prime(const fo_gen_scene *sc, vehicle *v)
{
	double h;
	v->v = v->cruise;
	double spd = vehicle_speed(v, 0);
	ring_eval(sc, v->r, v->s - v->dir * spd * DT, &v->px, &v->py, &h);
}

/* Put a braking vehicle at arc length `at` on frame f0, cruising before. */
static void place_for_onset(vehicle *v, double at, int f0)
{
	v->s = wrap_s(at - v->dir * f0 * v->cruise * DT, v->perim);
}

/* ---- planning ------------------------------------------------------------------ */

static int note(fo_gen_scene *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int note(fo_gen_scene *sc, const char *fmt, ...)
{
	if (sc->nnotes < MAX_EVENTS) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(sc->notebuf[sc->nnotes], sizeof sc->notebuf[0], fmt, ap);
		va_end(ap);
		sc->notes[sc->nnotes] = sc->notebuf[sc->nnotes];
		sc->nnotes++;
		sc->notes[sc->nnotes] = NULL;
	}
	return 0;
}

/* Indices of vehicles without a role, in track order. Returns the count. */
static size_t free_vehicles(const fo_gen_scene *sc, size_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < sc->nveh; i++)
		if (sc->veh[i].role == ROLE_NONE)
			out[n++] = i;
	return n;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

static void scene_id(char *buf, size_t len, unsigned scene)
{
	snprintf(buf, len, "scene_%03u", scene);
}

/* Give one event of the plan to vehicles. `pool` has room for nveh. */
static void plan_one(fo_gen_scene *sc, rng *r, const plan_event *pe, size_t *pool)
{
	unsigned F = sc->p.frames;
	int f0 = (int)lround(pe->at * F);
	fo_gen_kind k = pe->kind;
	char sid[32];
	scene_id(sid, sizeof sid, sc->index);

	int lo = f0 - kinds[k].pre, hi = f0 + kinds[k].post;
	if (lo < 0 || hi > (int)F - 1) {
		note(sc, "%s: %s at frame %d needs frames %d..%d, scene has %u", sid, kinds[k].name,
		     f0, lo, hi, F);
		return;
	}
	for (size_t i = 0; i < sc->nan; i++) {
		const fo_gen_anomaly *o = &sc->an[i];
		int olo = (int)o->onset_frame - kinds[o->kind].pre;
		int ohi = (int)o->onset_frame + kinds[o->kind].post;
		if (lo <= ohi && olo <= hi) {
			note(sc, "%s: %s at frame %d overlaps %s at frame %u; skipped", sid,
			     kinds[k].name, f0, kinds[o->kind].name, o->onset_frame);
			return;
		}
	}
	size_t nfree = free_vehicles(sc, pool);
	size_t need = k == FO_GEN_MASS_VANISH ? 6 : 1;
	if (nfree < need) {
		note(sc, "%s: %s needs %zu free vehicles, %zu left; skipped", sid, kinds[k].name,
		     need, nfree);
		return;
	}

	fo_gen_anomaly *an = &sc->an[sc->nan];
	memset(an, 0, sizeof *an);
	an->kind = k;
	an->scene = sc->index;
	an->onset_frame = (unsigned)f0;
	an->frame_index = an->frame_end = an->detect_frame = (unsigned)f0;

	if (k == FO_GEN_MASS_VANISH) {
		size_t want = (size_t)sc->p.vehicles * 2 / 3;
		if (want < 6)
			want = 6;
		if (want > FO_GEN_MAX_VANISH)
			want = FO_GEN_MAX_VANISH;
		if (want > nfree)
			want = nfree;
		for (size_t i = 0; i < want; i++) { /* partial Fisher-Yates */
			size_t j = i + rng_below(r, nfree - i), t = pool[i];
			pool[i] = pool[j];
			pool[j] = t;
		}
		qsort(pool, want, sizeof *pool, cmp_size);
		uint64_t next_id = sc->nveh + 1;
		for (size_t i = 0; i < sc->nveh; i++)
			if (sc->veh[i].repl_id >= next_id)
				next_id = sc->veh[i].repl_id + 1;
		an->nvanished = (unsigned)want;
		for (size_t i = 0; i < want; i++) {
			vehicle *v = &sc->veh[pool[i]];
			v->role = ROLE_VANISH;
			v->f0 = f0;
			v->repl_id = next_id++;
			an->vanished[i] = v->track_id;
			an->replacement[i] = v->repl_id;
		}
		an->track_id = 0;
		an->frame_end = (unsigned)f0 + VANISH_FRAMES - 1;
		snprintf(an->description, sizeof an->description,
		         "%s_ego: %u tracks (ids %llu..%llu of the vanished set) "
		         "disappear from frame %d to frame %d at once, so the agent "
		         "count drops by %u from frame %d to frame %d; from frame %d "
		         "the same vehicles are re-detected under new track ids "
		         "(replacement_track_ids), as a tracker does after losing "
		         "objects, so no track comes back after a gap",
		         sid, an->nvanished, (unsigned long long)an->vanished[0],
		         (unsigned long long)an->vanished[want - 1], f0, f0 + VANISH_FRAMES - 1,
		         an->nvanished, f0 - 1, f0, f0 + VANISH_FRAMES);
		sc->nan++;
		return;
	}

	vehicle *v = &sc->veh[pool[rng_below(r, nfree)]];
	v->f0 = f0;
	v->noise_v = v->noise_yaw = 0; /* exact arithmetic for the rules */
	an->track_id = v->track_id;
	unsigned long long tid = (unsigned long long)v->track_id;

	switch (k) {
	case FO_GEN_HARD_BRAKING_WARNING: {
		v->role = ROLE_BRAKE;
		v->brake = &warn_profile;
		v->cruise = WARN_CRUISE;
		v->amp = 0;
		place_for_onset(v, sc->lx / 2, f0);
		an->frame_index = an->frame_end = an->detect_frame = (unsigned)f0 + 3;
		/* two vehicles in the next lane, same direction, slow down gently */
		int lane = v->lane % 3 == 2 ? v->lane - 1 : v->lane + 1;
		unsigned long long comp[2] = {0, 0};
		static const double at_off[2] = {-15.0, 20.0}, cruise[2] = {13.5, 14.5};
		static const int delay[2] = {2, 4};
		for (int c = 0; c < 2; c++) {
			size_t nf = free_vehicles(sc, pool);
			if (nf == 0)
				break;
			vehicle *cv = &sc->veh[pool[rng_below(r, nf)]];
			vehicle_set_lane(sc, cv, lane);
			cv->role = ROLE_COMPANION;
			cv->brake = &companion_profile;
			cv->cruise = cruise[c];
			cv->amp = 0;
			cv->noise_v = cv->noise_yaw = 0;
			cv->f0 = f0 + delay[c];
			place_for_onset(cv, sc->lx / 2 + cv->dir * at_off[c], cv->f0);
			comp[c] = (unsigned long long)cv->track_id;
		}
		char comp_txt[160] = "";
		if (comp[1])
			snprintf(comp_txt, sizeof comp_txt,
			         ". Tracks %llu and %llu in the next lane slow down at "
			         "2.5 m/s^2 and raise nothing",
			         comp[0], comp[1]);
		else if (comp[0])
			snprintf(comp_txt, sizeof comp_txt,
			         ". Track %llu in the next lane slows down at 2.5 m/s^2 "
			         "and raises nothing",
			         comp[0]);
		snprintf(an->description, sizeof an->description,
		         "%s_track_%llu brakes from 14.0 m/s: 16 m/s^2 for frames %d-%d "
		         "(-4.8 m/s, below the 5.0 m/s window threshold, so no CRITICAL), "
		         "then 4.5 m/s^2 at frame %d, where the speed has dropped 5.25 m/s "
		         "over the last 5 frames (also over the last 5 observations, 4 "
		         "intervals); 3.0 < |a| = 4.5 < 5.0 there, so the rule fires "
		         "WARNING at frame %d only, then the vehicle eases off at 2 m/s^2 "
		         "to 6.75 m/s. A 5 m/s drop in 5 frames needs >= 10 m/s^2 on "
		         "average, so a WARNING can only close a window of harder "
		         "frames%s",
		         sid, tid, f0, f0 + 2, f0 + 3, f0 + 3, comp_txt);
		break;
	}
	case FO_GEN_HARD_BRAKING_CRITICAL:
		v->role = ROLE_BRAKE;
		v->brake = &crit_profile;
		v->cruise = CRIT_CRUISE;
		v->amp = 0;
		place_for_onset(v, sc->lx / 2, f0);
		an->frame_index = an->detect_frame = (unsigned)f0 + 3;
		an->frame_end = (unsigned)f0 + 9;
		snprintf(an->description, sizeof an->description,
		         "%s_track_%llu brakes from 15.0 m/s to a stop in 1.0 s "
		         "(frames %d-%d: 8, 14, then 16 m/s^2); from frame %d to "
		         "frame %d |a| = 16 m/s^2 >= 5.0 and the 5-frame speed drop "
		         "exceeds 5.0 m/s (5.4 m/s at frame %d), so the rule fires "
		         "CRITICAL; it stands still for 3 s, then drives off at "
		         "1.5 m/s^2",
		         sid, tid, f0, f0 + 9, f0 + 3, f0 + 9, f0 + 3);
		break;
	case FO_GEN_POSITION_JUMP:
		v->role = ROLE_JUMP;
		an->frame_end = (unsigned)f0 + 1;
		snprintf(an->description, sizeof an->description,
		         "%s_track_%llu: the centroid jumps %.1f m sideways at frame "
		         "%d and back at frame %d (a perception glitch); the velocity "
		         "field stays smooth, so position and velocity disagree by "
		         "%.1f m on both frames",
		         sid, tid, JUMP_M, f0, f0 + 1, JUMP_M);
		break;
	case FO_GEN_LABEL_COLLAPSE:
		v->role = ROLE_LABEL;
		v->pmax = 0.97f;
		an->frame_end = (unsigned)f0 + LABEL_FRAMES - 1;
		snprintf(an->description, sizeof an->description,
		         "%s_track_%llu: the max label probability drops from 0.97 "
		         "(CAR) to 0.45 (CAR 0.45, VAN 0.30, UNKNOWN 0.25) for frames "
		         "%d-%d, a drop of 0.52, and recovers at frame %d",
		         sid, tid, f0, f0 + LABEL_FRAMES - 1, f0 + LABEL_FRAMES);
		break;
	case FO_GEN_YAW_FLIP:
		v->role = ROLE_YAW;
		an->frame_end = (unsigned)f0 + YAW_FRAMES - 1;
		snprintf(an->description, sizeof an->description,
		         "%s_track_%llu: yaw turns by pi (heading reported backwards) "
		         "for frames %d-%d and flips back at frame %d; each flip is a "
		         "yaw change of about 3.14 rad in one frame",
		         sid, tid, f0, f0 + YAW_FRAMES - 1, f0 + YAW_FRAMES);
		break;
	case FO_GEN_TRACK_DROPOUT:
		v->role = ROLE_DROPOUT;
		v->cruise = DROPOUT_SPEED;
		v->amp = 0;
		an->frame_end = (unsigned)f0 + DROPOUT_FRAMES - 1;
		an->detect_frame = (unsigned)f0 + DROPOUT_FRAMES;
		snprintf(an->description, sizeof an->description,
		         "%s_track_%llu, a slow vehicle (%.1f m/s), is missing from "
		         "frames %d-%d (%d frames) and comes back at frame %d, "
		         "%.2f m further on, consistent with its velocity and the "
		         "elapsed %.1f s",
		         sid, tid, DROPOUT_SPEED, f0, f0 + DROPOUT_FRAMES - 1, DROPOUT_FRAMES,
		         f0 + DROPOUT_FRAMES, DROPOUT_SPEED * (DROPOUT_FRAMES + 1) * DT,
		         (DROPOUT_FRAMES + 1) * DT);
		break;
	default: break;
	}
	sc->nan++;
}

int fo_gen_scene_new(fo_gen_scene **out, const fo_gen_params *p, unsigned index, char *errbuf,
                     size_t errlen)
{
	*out = NULL;
	if (p->vehicles == 0 || p->frames < 2) {
		snprintf(errbuf, errlen, "need at least 1 vehicle and 2 frames per scene");
		return -EINVAL;
	}
	fo_gen_scene *sc = calloc(1, sizeof *sc);
	size_t *pool = calloc(p->vehicles, sizeof *pool);
	if (sc)
		sc->veh = calloc(p->vehicles, sizeof *sc->veh);
	if (!sc || !pool || !sc->veh) {
		free(pool);
		fo_gen_scene_destroy(sc);
		snprintf(errbuf, errlen, "out of memory for %u vehicles", p->vehicles);
		return -ENOMEM;
	}
	sc->p = *p;
	sc->index = index;
	sc->nveh = p->vehicles;
	sc->notes[0] = NULL;

	rng r;
	rng_seed(&r, p->seed ^ mix64(UINT64_C(0x5ce4e) + index));
	sc->noise_key = rng_next(&r);

	/* Road: long enough for SPACING_PER_VEHICLE metres per vehicle. */
	unsigned per_lane = (p->vehicles + NLANES - 1) / NLANES;
	sc->ly = RING_LY;
	sc->lx = (SPACING_PER_VEHICLE * per_lane - 2 * sc->ly - 2 * GEN_PI * lane_radius(0)) / 2;
	if (sc->lx < RING_LX)
		sc->lx = RING_LX;
	sc->hx = sc->lx / 2;
	sc->hy = sc->ly / 2;
	sc->theta = FO_GEN_REAL_EGO_YAW;
	sc->cth = cos(sc->theta);
	sc->sth = sin(sc->theta);
	double edge = RING_R + NLANES * LANE_W;
	double gx = 2 * (sc->hx + edge) + 300, gy = 2 * (sc->hy + edge) + 300;
	double ox = gx * (index % 10), oy = -gy * (index / 10);
	double mid = -(sc->hy + RING_R + NLANES / 2 * LANE_W); /* road middle */
	/* scene 0: the middle of the bottom straight is the real ego start */
	sc->cx = FO_GEN_REAL_EGO_X - (-sc->sth * mid) + sc->cth * ox - sc->sth * oy;
	sc->cy = FO_GEN_REAL_EGO_Y - (sc->cth * mid) + sc->sth * ox + sc->cth * oy;

	for (size_t i = 0; i < sc->nveh; i++) {
		vehicle *v = &sc->veh[i];
		v->track_id = i + 1;
		vehicle_set_lane(sc, v, (int)(i % NLANES));
		unsigned nl = (unsigned)((sc->nveh - (i % NLANES) + NLANES - 1) / NLANES);
		double slot = (double)(i / NLANES) + 0.5 + rng_range(&r, -0.3, 0.3);
		v->s = slot * v->perim / nl;
		if (rng_unit(&r) < 0.1) { /* slow traffic */
			v->cruise = rng_range(&r, 2.0, 5.0);
			v->amp = rng_range(&r, 0.2, 0.8);
		} else {
			v->cruise = rng_range(&r, 8.0, 14.5);
			v->amp = rng_range(&r, 0.3, 1.2);
		}
		v->omega = 2 * GEN_PI / rng_range(&r, 12.0, 30.0);
		v->phase = rng_range(&r, 0, 2 * GEN_PI);
		v->extent[0] = (float)(4.5 + rng_range(&r, -0.35, 0.35));
		v->extent[1] = (float)(1.9 + rng_range(&r, -0.1, 0.1));
		v->extent[2] = (float)(1.6 + rng_range(&r, -0.15, 0.15));
		v->pmax = rng_unit(&r) < 0.9 ? 1.0f : (float)rng_range(&r, 0.90, 0.99);
		v->noise_v = 0.01;
		v->noise_yaw = 0.003;
	}
	vehicle *e = &sc->ego;
	vehicle_set_lane(sc, e, 4);
	e->cruise = 10.0;
	e->amp = 1.0;
	e->omega = 2 * GEN_PI / 25.0;
	e->phase = rng_range(&r, 0, 2 * GEN_PI);
	e->s = rng_range(&r, 0, e->perim);

	if (p->anomalies && p->preset && p->preset->nplans) {
		const scene_plan *sp = &p->preset->plans[index % p->preset->nplans];
		for (size_t i = 0; i < sp->n; i++)
			plan_one(sc, &r, &sp->ev[i], pool);
	}
	free(pool);

	for (size_t i = 0; i < sc->nveh; i++)
		vehicle_prime(sc, &sc->veh[i]);
	vehicle_prime(sc, e);
	*out = sc;
	return 0;
}

size_t fo_gen_scene_anomalies(const fo_gen_scene *sc, const fo_gen_anomaly **out)
{
	*out = sc->an;
	return sc->nan;
}

const char *const *fo_gen_scene_notes(const fo_gen_scene *sc)
{
	return sc->notes;
}

size_t fo_gen_scene_max_agents(const fo_gen_scene *sc)
{
	return sc->nveh;
}

static int in_window(const vehicle *v, unsigned f, int len)
{
	return (int)f >= v->f0 && (int)f < v->f0 + len;
}

static void emit(const fo_gen_scene *sc, const vehicle *v, unsigned f, uint64_t id, fo_gen_agent *a)
{
	double x = v->x, y = v->y, yaw = v->h;
	if (v->role == ROLE_JUMP && (int)f == v->f0) {
		x += -sin(v->h) * JUMP_M;
		y += cos(v->h) * JUMP_M;
	}
	if (v->role == ROLE_YAW && in_window(v, f, YAW_FRAMES))
		yaw += GEN_PI;
	double vx = v->vx, vy = v->vy;
	if (v->noise_v > 0) {
		vx += v->noise_v * noise(sc->noise_key, id, f, 0);
		vy += v->noise_v * noise(sc->noise_key, id, f, 1);
		yaw += v->noise_yaw * noise(sc->noise_key, id, f, 2);
	}
	a->centroid[0] = x;
	a->centroid[1] = y;
	memcpy(a->extent, v->extent, sizeof a->extent);
	a->yaw = (float)wrap_pi(yaw);
	a->velocity[0] = (float)vx;
	a->velocity[1] = (float)vy;
	a->track_id = id;
	float lp[FO_GEN_NLABELS] = {0};
	if (v->role == ROLE_LABEL && in_window(v, f, LABEL_FRAMES)) {
		lp[FO_GEN_LABEL_CAR] = 0.45f;
		lp[FO_GEN_LABEL_VAN] = 0.30f;
		lp[FO_GEN_LABEL_UNKNOWN] = 0.25f;
	} else {
		lp[FO_GEN_LABEL_CAR] = v->pmax;
		lp[FO_GEN_LABEL_VAN] = 1.0f - v->pmax;
	}
	memcpy(a->label_probabilities, lp, sizeof lp);
}

size_t fo_gen_scene_step(fo_gen_scene *sc, fo_gen_agent *agents, fo_gen_frame *fr)
{
	unsigned f = sc->frame++;
	size_t n = 0;
	for (size_t i = 0; i < sc->nveh; i++)
		vehicle_step(sc, &sc->veh[i], f);
	/* original track ids first, then re-detected ones (ids above M) */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sc->nveh; i++) {
			const vehicle *v = &sc->veh[i];
			int replaced = 0;
			if (v->role == ROLE_DROPOUT && in_window(v, f, DROPOUT_FRAMES))
				continue;
			if (v->role == ROLE_VANISH) {
				if (in_window(v, f, VANISH_FRAMES))
					continue;
				replaced = (int)f >= v->f0 + VANISH_FRAMES;
			}
			if (replaced != pass)
				continue;
			emit(sc, v, f, replaced ? v->repl_id : v->track_id, &agents[n++]);
		}
	}

	vehicle *e = &sc->ego;
	vehicle_step(sc, e, f);
	double c = cos(e->h), s = sin(e->h);
	memset(fr, 0, sizeof *fr);
	fr->timestamp = fo_gen_frame_time(&sc->p, sc->index, f);
	fr->ego_translation[0] = e->x;
	fr->ego_translation[1] = e->y;
	fr->ego_translation[2] = FO_GEN_REAL_EGO_Z;
	fr->ego_rotation[0][0] = c;
	fr->ego_rotation[0][1] = -s;
	fr->ego_rotation[1][0] = s;
	fr->ego_rotation[1][1] = c;
	fr->ego_rotation[2][2] = 1.0;
	return n;
}

void fo_gen_scene_destroy(fo_gen_scene *sc)
{
	if (!sc)
		return;
	free(sc->veh);
	free(sc);
}
