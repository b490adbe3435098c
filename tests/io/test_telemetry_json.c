/*
 * Unit: the RawTelemetryEvent parser (io/telemetry_json.c).
 *
 *   round trip   events encoded by fo_event_encode_telemetry (agents and
 *                egos, random values) parse back to the encoded values, every
 *                number bit-identical to strtod of its text (cJSON as the
 *                reference), ids and session intact
 *   reordered    the same events rewritten with shuffled members, random
 *                whitespace, escaped strings, other number spellings and
 *                unknown fields holding nested junk parse to the same result
 *   numbers      the number fast path against strtod on many spellings
 *   errors       every error path, each message naming the field
 *   robustness   every truncation and many random mutations of valid events
 *                (each in an exactly sized heap buffer, so the address
 *                sanitizer sees any read past the end) never crash and
 *                either parse or explain why not
 *
 * FO_TJ_FUZZ_ROUNDS overrides the number of mutation rounds (default 200000).
 */
#include "event.h"
#include "fo_test.h"
#include "telemetry_json.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <stdint.h>

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double urand(double lo, double hi)
{
	return lo + (hi - lo) * (double)(rnd() >> 11) / 9007199254740992.0;
}

static fo_replay_meta meta;
static const char *proc_time = "2026-11-23T10:45:48.749Z";

static void random_telemetry(fo_telemetry *t, int ego)
{
	memset(t, 0, sizeof(*t));
	t->scene = rnd() % 4 ? (uint32_t)(rnd() % 1000) : (uint32_t)rnd();
	t->frame = rnd() % 4 ? (uint32_t)(rnd() % 300) : (uint32_t)rnd();
	t->track = ego ? FO_TRACK_EGO : rnd() % 3 ? rnd() % 5000 : rnd() >> 1;
	t->ts_ns = 1500000000000000000LL + (int64_t)(rnd() % 200000000000000000ULL);
	if (rnd() % 16 == 0)
		t->ts_ns = -(int64_t)(rnd() % 1000000000000000000ULL); /* before 1970 */
	for (int i = 0; i < 3; i++) {
		t->pos[i] = urand(-20000, 20000);
		t->vel[i] = urand(-40, 40);
		t->acc[i] = rnd() % 8 ? urand(-10, 10) : urand(-900, 900);
	}
	if (!ego)
		t->pos[2] = t->vel[2] = t->acc[2] = 0;
	t->vel_mag = sqrt(t->vel[0] * t->vel[0] + t->vel[1] * t->vel[1] + t->vel[2] * t->vel[2]);
	t->acc_mag = sqrt(t->acc[0] * t->acc[0] + t->acc[1] * t->acc[1] + t->acc[2] * t->acc[2]);
	t->yaw = urand(-M_PI, M_PI);
	t->yaw_rate = urand(-30, 30);
	t->label_probability = ego ? 1.0 : urand(0, 1);
	t->track_length = (uint32_t)(rnd() % 100000) + 1;
	/* the ego's frame agent count goes into metadata when known */
	t->frame_agents = ego && rnd() % 2 ? (uint32_t)(rnd() % 500) : FO_AGENTS_UNKNOWN;
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return x ? x->valuedouble : NAN;
}

/* Compares a parsed event with cJSON's reading of the same text. */
static void check_against_cjson(const fo_telemetry_json *p, const char *text)
{
	cJSON *j = cJSON_Parse(text);
	FO_CHECK(j != NULL);
	if (!j)
		return;
	const cJSON *tel = cJSON_GetObjectItemCaseSensitive(j, "telemetry");
	const char *ax[3] = {"x", "y", "z"};
	for (int i = 0; i < 3; i++) {
		const cJSON *pos = cJSON_GetObjectItemCaseSensitive(tel, "position");
		const cJSON *vel = cJSON_GetObjectItemCaseSensitive(tel, "velocity");
		const cJSON *acc = cJSON_GetObjectItemCaseSensitive(tel, "acceleration");
		FO_CHECK(p->t.pos[i] == jnum(pos, ax[i], NULL));
		FO_CHECK(p->t.vel[i] == jnum(vel, ax[i], NULL));
		FO_CHECK(p->t.acc[i] == jnum(acc, ax[i], NULL));
	}
	FO_CHECK(p->t.vel_mag == jnum(tel, "velocity", "magnitude"));
	FO_CHECK(p->t.acc_mag == jnum(tel, "acceleration", "magnitude"));
	FO_CHECK(p->t.yaw == jnum(tel, "yaw", NULL));
	FO_CHECK(p->t.yaw_rate == jnum(tel, "yaw_rate", NULL));
	FO_CHECK(p->t.label_probability == jnum(tel, "label_probability", NULL));
	FO_CHECK(p->t.track_length == (uint32_t)jnum(tel, "track_length", NULL));
	FO_CHECK(p->replay_rate == jnum(j, "metadata", "replay_rate"));
	cJSON_Delete(j);
}

static int same_parse(const fo_telemetry_json *a, const fo_telemetry_json *b)
{
	const fo_telemetry *x = &a->t, *y = &b->t;
	int same = x->scene == y->scene && x->frame == y->frame && x->track == y->track &&
	           x->ts_ns == y->ts_ns && x->vel_mag == y->vel_mag && x->acc_mag == y->acc_mag &&
	           x->yaw == y->yaw && x->yaw_rate == y->yaw_rate &&
	           x->label_probability == y->label_probability &&
	           x->track_length == y->track_length;
	for (int i = 0; i < 3; i++)
		same = same && x->pos[i] == y->pos[i] && x->vel[i] == y->vel[i] &&
		       x->acc[i] == y->acc[i];
	return same && memcmp(&a->event_id, &b->event_id, 16) == 0 &&
	       memcmp(&a->session, &b->session, 16) == 0 && a->proc_ns == b->proc_ns &&
	       a->replay_rate == b->replay_rate && x->frame_agents == y->frame_agents;
}

/* Parses text from an exactly sized heap copy (no NUL after it). */
static int parse_exact(const char *text, size_t len, fo_telemetry_json *out, char *err,
                       size_t errsz)
{
	char *b = malloc(len ? len : 1);
	memcpy(b, text, len);
	int r = fo_telemetry_json_parse(b, len, out, err, errsz);
	free(b);
	return r;
}

static size_t encode(const fo_telemetry *t, char *buf, fo_event_out *eo)
{
	return fo_event_encode_telemetry(t, &meta, proc_time, buf, FO_EVENT_MAX, eo);
}

static void test_round_trip(void)
{
	char buf[FO_EVENT_MAX], err[256];
	int64_t proc_ns;
	FO_CHECK(fo_telemetry_json_time(proc_time, strlen(proc_time), &proc_ns) == 0);
	for (int n = 0; n < 20000; n++) {
		fo_telemetry t;
		random_telemetry(&t, n % 5 == 0);
		fo_event_out eo;
		size_t len = encode(&t, buf, &eo);
		FO_CHECK(len > 0);
		fo_telemetry_json p;
		int r = parse_exact(buf, len, &p, err, sizeof(err));
		FO_CHECK_MSG(r == 0, "%s: %.*s", err, (int)len, buf);
		if (r)
			continue;
		FO_CHECK(p.t.scene == t.scene && p.t.frame == t.frame && p.t.track == t.track);
		int64_t ms = t.ts_ns / 1000000 - (t.ts_ns % 1000000 < 0);
		FO_CHECK_MSG(p.t.ts_ns == ms * 1000000, "%lld vs %lld", (long long)p.t.ts_ns,
		             (long long)t.ts_ns);
		for (int i = 0; i < 3; i++) {
			FO_CHECK_NEAR(p.t.pos[i], t.pos[i], 0.5e-4 + 1e-9);
			FO_CHECK_NEAR(p.t.vel[i], t.vel[i], 0.5e-4 + 1e-9);
			FO_CHECK_NEAR(p.t.acc[i], t.acc[i], 0.5e-4 + 1e-9);
		}
		FO_CHECK_NEAR(p.t.yaw, t.yaw, 0.5e-6 + 1e-12);
		FO_CHECK_NEAR(p.t.label_probability, t.label_probability, 0.5e-6 + 1e-12);
		FO_CHECK(p.t.track_length == t.track_length);
		FO_CHECK(memcmp(&p.event_id, &eo.event_id, 16) == 0);
		FO_CHECK(memcmp(&p.session, &meta.session, 16) == 0);
		FO_CHECK(p.proc_ns == proc_ns);
		FO_CHECK(p.t.frame_agents == t.frame_agents);
		buf[len] = '\0';
		check_against_cjson(&p, buf);
	}
}

/* ---- rewriting an event: shuffled members, whitespace, escapes ---------- */

typedef struct wbuf {
	char *b;
	size_t n, cap;
} wbuf;

static void wput(wbuf *w, const char *s, size_t n)
{
	if (w->n + n + 1 > w->cap) {
		w->cap = (w->n + n + 1) * 2;
		w->b = realloc(w->b, w->cap);
	}
	memcpy(w->b + w->n, s, n);
	w->n += n;
	w->b[w->n] = '\0';
}

static void wstr(wbuf *w, const char *s)
{
	wput(w, s, strlen(s));
}

static void wws(wbuf *w)
{
	static const char *ws[] = {"", "", "", " ", "\n", "\t", "\r\n  ", "   "};
	wstr(w, ws[rnd() % 8]);
}

static void wquoted(wbuf *w, const char *s)
{
	wstr(w, "\"");
	for (; *s; s++) {
		char tmp[8];
		unsigned c = (unsigned char)*s;
		if (rnd() % 4 == 0) {
			snprintf(tmp, sizeof(tmp), rnd() % 2 ? "\\u%04x" : "\\u%04X", c);
			wstr(w, tmp);
		} else if (c == '/' && rnd() % 2) {
			wstr(w, "\\/");
		} else {
			wput(w, s, 1);
		}
	}
	wstr(w, "\"");
}

static void wjunk(wbuf *w, int depth)
{
	switch (depth > 3 ? rnd() % 5 : rnd() % 7) {
	case 0: wstr(w, "true"); break;
	case 1: wstr(w, "null"); break;
	case 2: wstr(w, "-1.25e-7"); break;
	case 3: wstr(w, "\"x\\\"y\\\\z\\n\\ud83d\\ude00\""); break;
	case 4: wstr(w, "false"); break;
	case 5:
		wstr(w, "[");
		for (int i = 0, n = (int)(rnd() % 4); i < n; i++) {
			if (i)
				wstr(w, ",");
			wws(w);
			wjunk(w, depth + 1);
			wws(w);
		}
		wstr(w, "]");
		break;
	default:
		wstr(w, "{");
		for (int i = 0, n = (int)(rnd() % 4); i < n; i++) {
			if (i)
				wstr(w, ",");
			wws(w);
			wstr(w, "\"k\":");
			wws(w);
			wjunk(w, depth + 1);
		}
		wstr(w, "}");
	}
}

static void wvalue(wbuf *w, const cJSON *v);

static void wobject(wbuf *w, const cJSON *o)
{
	const cJSON *items[32];
	int n = 0;
	for (const cJSON *c = o->child; c && n < 30; c = c->next)
		items[n++] = c;
	const cJSON *extra = (const cJSON *)1; /* marks an unknown member */
	if (rnd() % 2)
		items[n++] = extra;
	for (int i = n - 1; i > 0; i--) {
		int k = (int)(rnd() % (uint64_t)(i + 1));
		const cJSON *t = items[i];
		items[i] = items[k];
		items[k] = t;
	}
	wstr(w, "{");
	wws(w);
	for (int i = 0; i < n; i++) {
		if (i) {
			wstr(w, ",");
			wws(w);
		}
		if (items[i] == extra) {
			wquoted(w, rnd() % 2 ? "future_field" : "x_");
			wws(w);
			wstr(w, ":");
			wws(w);
			wjunk(w, 0);
		} else {
			wquoted(w, items[i]->string);
			wws(w);
			wstr(w, ":");
			wws(w);
			wvalue(w, items[i]);
		}
		wws(w);
	}
	wstr(w, "}");
}

static void wvalue(wbuf *w, const cJSON *v)
{
	char tmp[64];
	if (cJSON_IsObject(v)) {
		wobject(w, v);
	} else if (cJSON_IsString(v)) {
		wquoted(w, v->valuestring);
	} else if (cJSON_IsNull(v)) {
		wstr(w, "null");
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		int integral = d == floor(d) && fabs(d) < 9e15;
		/* integer fields stay integers; others get another spelling of
		 * the same double */
		if (integral && (rnd() % 2 || strcmp(v->string, "track_id") == 0 ||
		                 strcmp(v->string, "frame_index") == 0 ||
		                 strcmp(v->string, "track_length") == 0 ||
		                 strcmp(v->string, "frame_agents") == 0))
			snprintf(tmp, sizeof(tmp), "%.0f", d);
		else if (rnd() % 2)
			snprintf(tmp, sizeof(tmp), "%.17g", d);
		else
			snprintf(tmp, sizeof(tmp), "%.17E", d);
		wstr(w, tmp);
	} else {
		wstr(w, "null");
	}
}

static void test_reordered(void)
{
	char buf[FO_EVENT_MAX], err[256];
	wbuf w = {0};
	for (int n = 0; n < 5000; n++) {
		fo_telemetry t;
		random_telemetry(&t, n % 4 == 0);
		if (t.track != FO_TRACK_EGO)
			t.track &= (1ull << 50) - 1; /* cJSON holds integers as doubles */
		fo_event_out eo;
		size_t len = encode(&t, buf, &eo);
		fo_telemetry_json a, b;
		FO_CHECK(fo_telemetry_json_parse(buf, len, &a, err, sizeof(err)) == 0);
		buf[len] = '\0';
		cJSON *j = cJSON_Parse(buf);
		if (n % 3 == 0 && a.t.frame_agents == FO_AGENTS_UNKNOWN) { /* an agent with one */
			a.t.frame_agents = (uint32_t)(rnd() % 300);
			cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(j, "metadata"),
			                        "frame_agents", a.t.frame_agents);
		}
		w.n = 0;
		wws(&w);
		wobject(&w, j);
		wws(&w);
		cJSON_Delete(j);
		int r = parse_exact(w.b, w.n, &b, err, sizeof(err));
		FO_CHECK_MSG(r == 0 && same_parse(&a, &b), "r=%d %s\n%s", r, err, w.b);
	}
	free(w.b);
}

static void test_numbers(void)
{
	/* every spelling must give strtod's double exactly */
	const char *fixed[] = {"0",
	                       "-0",
	                       "0.0",
	                       "1",
	                       "-1",
	                       "0.1",
	                       "1e22",
	                       "1e23",
	                       "1E-5",
	                       "2.5e+3",
	                       "123456789012345678901234567890",
	                       "0.000000000000000000000000001",
	                       "9007199254740993",
	                       "1.7976931348623157e308",
	                       "4.9e-324",
	                       "-655.0327",
	                       "1059.1473"};
	char ev[FO_EVENT_MAX + 256], err[256];
	fo_telemetry t;
	random_telemetry(&t, 0);
	fo_event_out eo;
	char base[FO_EVENT_MAX];
	size_t blen = encode(&t, base, &eo);
	base[blen] = '\0';
	const char *yaw = strstr(base, "\"yaw\":");
	const char *yend = strchr(yaw, ',');
	for (int i = 0; i < 200000; i++) {
		char num[64];
		if (i < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
			snprintf(num, sizeof(num), "%s", fixed[i]);
		} else {
			double d = urand(-1, 1) * pow(10, (double)(rnd() % 40) - 20);
			switch (rnd() % 4) {
			case 0: snprintf(num, sizeof(num), "%.17g", d); break;
			case 1: snprintf(num, sizeof(num), "%.4f", d); break;
			case 2: snprintf(num, sizeof(num), "%.6e", d); break;
			default: snprintf(num, sizeof(num), "%.*f", (int)(rnd() % 12), d);
			}
		}
		int n = snprintf(ev, sizeof(ev), "%.*s\"yaw\":%s%s", (int)(yaw - base), base, num,
		                 yend);
		fo_telemetry_json p;
		int r = fo_telemetry_json_parse(ev, (size_t)n, &p, err, sizeof(err));
		FO_CHECK_MSG(r == 0, "%s: %s", num, err);
		FO_CHECK_MSG(r || p.t.yaw == strtod(num, NULL), "%s -> %.17g", num, p.t.yaw);
	}
}

/* ---- errors ------------------------------------------------------------- */

static char base_ev[FO_EVENT_MAX];

/* base_ev with the first occurrence of from replaced by to. */
static const char *edit(const char *from, const char *to)
{
	static char out[4096];
	const char *at = strstr(base_ev, from);
	if (!at) {
		fprintf(stderr, "edit: \"%s\" not in the base event\n", from);
		fo_test_failures++;
		return base_ev;
	}
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - base_ev), base_ev, to, at + strlen(from));
	return out;
}

static void expect_error(const char *text, const char *want)
{
	fo_telemetry_json p;
	char err[512];
	int r = parse_exact(text, strlen(text), &p, err, sizeof(err));
	FO_CHECK_MSG(r == -1 && strstr(err, want) != NULL, "want \"%s\", got r=%d \"%s\"\n  in %s",
	             want, r, err, text);
}

static void test_errors(void)
{
	fo_telemetry t;
	random_telemetry(&t, 0);
	t.scene = 1;
	t.track = 7;
	t.frame = 42;
	fo_event_out eo;
	size_t len = encode(&t, base_ev, &eo);
	base_ev[len] = '\0';
	fo_telemetry_json p;
	char err[512];
	FO_CHECK(fo_telemetry_json_parse(base_ev, len, &p, err, sizeof(err)) == 0);

	expect_error("", "empty message");
	expect_error("  \n", "empty message");
	expect_error("[1]", "invalid JSON at byte 0: expected '{'");
	expect_error("{", "invalid JSON: the message ends at byte 1");
	expect_error(edit("}}", "}}x"), "unexpected data after the event");
	expect_error(edit("}}", "}},{}"), "unexpected data after the event");
	expect_error(edit("\"velocity\":{\"x\":", "\"velocity\":{\"x\":\"a\",\"q\":"),
	             "telemetry.velocity.x: expected a number");
	expect_error(edit("\"label_probability\":", "\"label_probability\":null,\"q\":"),
	             "telemetry.label_probability: expected a number");
	expect_error(edit("\"yaw\":", "\"yaw\":1e999,\"q\":"),
	             "telemetry.yaw: number out of range");
	expect_error(edit("\"yaw\":", "\"yaw\":01,\"q\":"), "telemetry.yaw: expected a number");
	expect_error(edit("\"yaw\":", "\"yaw\":1.,\"q\":"), "telemetry.yaw: expected a number");
	expect_error(edit("\"yaw\":", "\"yaw\":-,\"q\":"), "telemetry.yaw: expected a number");
	expect_error(edit("\"yaw\":", "\"yaw\":.5,\"q\":"), "telemetry.yaw: expected a number");
	expect_error(edit("\"yaw\":", "\"yaw\":1e,\"q\":"), "telemetry.yaw: expected a number");
	expect_error(edit("\"yaw\":", "\"yaw\":0x10,\"q\":"), "telemetry.yaw: expected a number");
	expect_error(edit("\"vehicle_id\":\"scene_001_track_7\",", ""), "missing field vehicle_id");
	expect_error(edit("\"event_version\":\"1.0.0\",", ""), "missing field event_version");
	expect_error(edit(",\"magnitude\":", ",\"magnitud\":"),
	             "missing field telemetry.velocity.magnitude");
	expect_error(edit(",\"metadata\":", ",\"metadat\":"), "missing field metadata");
	expect_error(edit("\"replay_session_id\"", "\"session_id\""),
	             "missing field metadata.replay_session_id");
	expect_error(edit("\"scene_id\":\"scene_001\"", "\"scene_id\":\"scene_002\""),
	             "vehicle_id scene_001_track_7 does not match scene_id scene_002");
	expect_error(edit("\"track_id\":7", "\"track_id\":8"),
	             "vehicle_id scene_001_track_7 does not match track_id 8");
	expect_error(edit("\"track_id\":7", "\"track_id\":null"),
	             "track_id is null but vehicle_id scene_001_track_7 is not an ego (expected "
	             "scene_001_ego)");
	expect_error(edit("scene_001_track_7", "scene_001_ego"),
	             "vehicle_id scene_001_ego is an ego but track_id is 7 (expected null)");
	expect_error(edit("scene_001_track_7", "scene_001_track_07"),
	             "vehicle_id scene_001_track_07: expected scene_001_ego or scene_001_track_N");
	expect_error(edit("scene_001_track_7", "scene_001_trak_7"),
	             "vehicle_id scene_001_trak_7: expected scene_001_ego or scene_001_track_N");
	expect_error(
	    edit("\"vehicle_id\":\"scene_001_track_7\"",
	         "\"vehicle_id\":\"scene_001_track_7777777777777777777777777777777777777777\""),
	    "vehicle_id: too long");
	expect_error(edit("\"vehicle_id\":\"scene_001_track_7\"", "\"vehicle_id\":7"),
	             "vehicle_id: expected a string");
	expect_error(edit("\"scene_id\":\"scene_001\"", "\"scene_id\":\"scene_01\""),
	             "scene_id \"scene_01\": expected scene_NNN");
	expect_error(edit("\"scene_id\":\"scene_001\"", "\"scene_id\":\"scene_0001\""),
	             "scene_id \"scene_0001\": expected scene_NNN");
	expect_error(edit("\"scene_id\":\"scene_001\"", "\"scene_id\":\"scene_99999999999\""),
	             "scene_id \"scene_99999999999\": expected scene_NNN");
	expect_error(edit("\"track_id\":7", "\"track_id\":-7"),
	             "track_id: expected a non-negative integer");
	expect_error(edit("\"track_id\":7", "\"track_id\":18446744073709551615"),
	             "track_id: out of range");
	expect_error(edit("\"track_id\":7", "\"track_id\":99999999999999999999999"),
	             "track_id: out of range");
	expect_error(edit("\"frame_index\":42", "\"frame_index\":4294967296"),
	             "frame_index: out of range (at most 4294967295)");
	expect_error(edit("\"frame_index\":42", "\"frame_index\":42.0"),
	             "frame_index: expected a non-negative integer");
	expect_error(edit("\"frame_index\":42", "\"frame_index\":\"42\""),
	             "frame_index: expected a non-negative integer");
	expect_error(edit("\"track_length\":", "\"track_length\":-"),
	             "telemetry.track_length: expected a non-negative integer");
	expect_error(edit("\"event_time\":\"", "\"event_time\":\"x"), "event_time: not ISO-8601");
	expect_error(edit("\"event_time\":\"", "\"event_time\":7,\"q\":\""),
	             "event_time: expected a string");
	expect_error(edit("T10:45:48.749Z", "T24:45:48.749Z"), "processing_time: not ISO-8601");
	expect_error(edit("T10:45:48.749Z", "T10:45:48.Z"), "processing_time: not ISO-8601");
	expect_error(edit("T10:45:48.749Z", "T10:45:48.749+00:00"),
	             "processing_time: not ISO-8601");
	expect_error(edit("2026-11-23", "2026-02-29"), "processing_time: not ISO-8601");
	expect_error(edit("2026-11-23", "2024-02-30"), "processing_time: not ISO-8601");
	expect_error(edit("2026-11-23", "2300-01-01"), "processing_time: not ISO-8601");
	expect_error(edit("\"event_id\":\"", "\"event_id\":\"x"), "event_id: not a UUID");
	expect_error(edit("\"replay_session_id\":\"", "\"replay_session_id\":\"-"),
	             "metadata.replay_session_id: not a UUID");
	expect_error(edit("\"event_version\":\"1.0.0\"", "\"event_version\":\"2.0.0\""),
	             "event_version \"2.0.0\" is not supported");
	expect_error(edit("\"frame_index\":42", "\"frame_index\":42,\"frame_index\":43"),
	             "frame_index: duplicate field");
	expect_error(edit("\"yaw\":", "\"yaw\":1,\"yaw\":"), "telemetry.yaw: duplicate field");
	expect_error(edit("\"telemetry\":{", "\"telemetry\":[],\"t\":{"),
	             "telemetry: expected an object");
	expect_error(edit("\"position\":{", "\"position\":7,\"p\":{"),
	             "telemetry.position: expected an object");
	expect_error(edit("\"replay_rate\":", "\"frame_agents\":\"84\",\"replay_rate\":"),
	             "metadata.frame_agents: expected a non-negative integer");
	expect_error(edit("\"replay_rate\":", "\"frame_agents\":4294967295,\"replay_rate\":"),
	             "metadata.frame_agents: out of range");
	expect_error(edit("\"frame_index\"", "\"extra\":{\"a\":tru},\"frame_index\""),
	             "extra: invalid JSON at byte");
	expect_error(edit("\"yaw\"", "\"extra\":[1,2,],\"yaw\""),
	             "telemetry.extra: invalid JSON at byte");
	expect_error(edit("\"replay_rate\"", "\"x\":\"\\q\",\"replay_rate\""),
	             "metadata.x: invalid JSON at byte");
	expect_error(edit("\"frame_index\"", "\"s\":\"\\ud800\",\"frame_index\""),
	             "s: invalid JSON at byte");
	expect_error(edit("\"frame_index\"", "\"s\":\"a\tb\",\"frame_index\""),
	             "control character in a string");
	expect_error(
	    edit("\"vehicle_id\":\"scene_001_track_7\"", "\"vehicle_id\":\"scene_001_\\ud83d_7\""),
	    "vehicle_id: invalid JSON at byte 99: unpaired surrogate in a string");
	expect_error(edit("\"frame_index\"", "\"frame_index\"  7"), "expected ':'");
	expect_error(edit(",\"frame_index\"", " \"frame_index\""), "expected ',' or '}'");
	expect_error(edit("\"frame_index\"", "frame_index"), "expected a member name");
	expect_error(edit("}}", "},}"), "expected a member name");
	{
		char deep[512];
		int n = 0;
		for (int i = 0; i < 40; i++)
			deep[n++] = '[';
		for (int i = 0; i < 40; i++)
			deep[n++] = ']';
		deep[n] = '\0';
		char to[600];
		snprintf(to, sizeof(to), "\"deep\":%s,\"frame_index\"", deep);
		expect_error(edit("\"frame_index\"", to), "deep: invalid JSON at byte");
		expect_error(edit("\"frame_index\"", to), "nested too deeply");
		/* within the limit it is skipped */
		snprintf(to, sizeof(to), "\"deep\":%.*s%.*s,\"frame_index\"", 30, deep, 30,
		         deep + 40);
		const char *ok = edit("\"frame_index\"", to);
		FO_CHECK(fo_telemetry_json_parse(ok, strlen(ok), &p, err, sizeof(err)) == 0);
	}

	/* escapes in the fields whose text matters decode before checking */
	const char *esc = edit("\"vehicle_id\":\"scene_001_track_7\"",
	                       "\"vehicle_id\":\"scene\\u005f001_track\\u005F7\"");
	FO_CHECK_MSG(fo_telemetry_json_parse(esc, strlen(esc), &p, err, sizeof(err)) == 0, "%s",
	             err);
	FO_CHECK(p.t.track == 7 && p.t.scene == 1 && p.t.frame == 42);

	/* an ego: null track id; frame_agents optional, null = unknown */
	fo_telemetry e = t;
	e.track = FO_TRACK_EGO;
	char ego[FO_EVENT_MAX + 64];
	len = encode(&e, ego, &eo);
	FO_CHECK(fo_telemetry_json_parse(ego, len, &p, err, sizeof(err)) == 0);
	FO_CHECK(p.t.track == FO_TRACK_EGO && p.t.frame_agents == FO_AGENTS_UNKNOWN);
	ego[len] = '\0';
	memcpy(base_ev, ego, len + 1);
	const char *fa = edit("\"replay_rate\"", "\"frame_agents\":84,\"replay_rate\"");
	FO_CHECK(fo_telemetry_json_parse(fa, strlen(fa), &p, err, sizeof(err)) == 0);
	FO_CHECK(p.t.frame_agents == 84);
	fa = edit("\"replay_rate\"", "\"frame_agents\":null,\"replay_rate\"");
	FO_CHECK(fo_telemetry_json_parse(fa, strlen(fa), &p, err, sizeof(err)) == 0);
	FO_CHECK(p.t.frame_agents == FO_AGENTS_UNKNOWN);
	expect_error(edit("scene_001_ego", "scene_001_track_7"),
	             "track_id is null but vehicle_id scene_001_track_7 is not an ego");

	/* tiny error buffers are truncated, never overrun */
	char small[8];
	FO_CHECK(fo_telemetry_json_parse("{}", 2, &p, small, sizeof(small)) == -1);
	FO_CHECK(strlen(small) == 7 && memcmp(small, "missing", 7) == 0);
	FO_CHECK(fo_telemetry_json_parse("{}", 2, &p, small, 1) == -1 && small[0] == '\0');
	FO_CHECK(fo_telemetry_json_parse("{}", 2, &p, NULL, 0) == -1);

	/* the time parser on its own */
	int64_t ns;
	FO_CHECK(fo_telemetry_json_time("1970-01-01T00:00:00Z", 20, &ns) == 0 && ns == 0);
	FO_CHECK(fo_telemetry_json_time("1969-12-31T23:59:59.999Z", 24, &ns) == 0 &&
	         ns == -1000000);
	FO_CHECK(fo_telemetry_json_time("2000-02-29T12:00:00.123456789Z", 30, &ns) == 0 &&
	         ns == 951825600123456789LL);
	FO_CHECK(fo_telemetry_json_time("2019-10-23T16:08:01.5020000000Z", 31, &ns) == -1);
	for (int i = 0; i < 100000; i++) {
		int64_t v = (int64_t)(rnd() % 8000000000000000000ULL) - 1000000000000000000LL;
		v -= v % 1000000 + (v % 1000000 < 0 ? 1000000 : 0);
		char s[32];
		fo_time_iso8601(v, s);
		FO_CHECK_MSG(fo_telemetry_json_time(s, FO_ISO8601_LEN, &ns) == 0 && ns == v, "%s",
		             s);
	}
}

/* ---- robustness ----------------------------------------------------------- */

static void test_robustness(void)
{
	const char *env = getenv("FO_TJ_FUZZ_ROUNDS");
	long rounds = env ? atol(env) : 200000;
	char buf[FO_EVENT_MAX], err[256];
	fo_telemetry_json p;
	uint64_t accepted = 0, rejected = 0;

	/* every proper prefix of an event is incomplete */
	for (int n = 0; n < 50; n++) {
		fo_telemetry t;
		random_telemetry(&t, n % 2);
		fo_event_out eo;
		size_t len = encode(&t, buf, &eo);
		for (size_t k = 0; k < len; k++) {
			int r = parse_exact(buf, k, &p, err, sizeof(err));
			FO_CHECK_MSG(r == -1 && err[0], "prefix %zu of %zu accepted", k, len);
		}
	}

	static const char interesting[] = "\"\\{}[],:0-e.+ \n\x01\x7f\xff"
	                                  "9nulltrue";
	for (long i = 0; i < rounds; i++) {
		fo_telemetry t;
		random_telemetry(&t, i % 3 == 0);
		fo_event_out eo;
		size_t len = encode(&t, buf, &eo);
		char m[FO_EVENT_MAX + 16];
		memcpy(m, buf, len);
		int edits = 1 + (int)(rnd() % 4);
		for (int k = 0; k < edits; k++) {
			size_t at = rnd() % len;
			char c = rnd() % 2 ? interesting[rnd() % (sizeof(interesting) - 1)]
			                   : (char)rnd();
			switch (rnd() % 3) {
			case 0: m[at] = c; break;
			case 1: /* delete */
				memmove(m + at, m + at + 1, len - at - 1);
				len--;
				break;
			default: /* insert */
				if (len < sizeof(m)) {
					memmove(m + at + 1, m + at, len - at);
					m[at] = c;
					len++;
				}
			}
		}
		if (rnd() % 8 == 0)
			len = rnd() % (len + 1); /* and truncated */
		int r = parse_exact(m, len, &p, err, sizeof(err));
		if (r == 0) {
			accepted++;
		} else {
			rejected++;
			FO_CHECK(r == -1 && err[0] != '\0');
		}
	}
	printf("robustness: %ld mutated events, %llu accepted, %llu rejected\n", rounds,
	       (unsigned long long)accepted, (unsigned long long)rejected);
}

int main(void)
{
	fo_uuid s;
	fo_uuid5(&s, &fo_uuid_ns_fleetops, "test_telemetry_json", 19);
	fo_replay_meta_init(&meta, &s, 10.0);
	test_round_trip();
	test_reordered();
	test_numbers();
	test_errors();
	test_robustness();
	return fo_test_done("test_telemetry_json");
}
