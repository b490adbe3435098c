/*
 * telemetry_json: see telemetry_json.h.
 *
 * First fo_tj_fast tries the encoder's own layout (core/event.c), keys
 * matched as literals in their order, which is what nearly every message
 * is; at the first difference of any kind the general parser starts over
 * and, if the message is wrong, words the error.
 *
 * The general parser makes one pass with a cursor (fo_tj). Each known
 * object has its own small loop that matches keys by length and memcmp;
 * each field has a bit in `seen`, which catches duplicates on the way and
 * missing fields at the end. Strings are used in place unless they hold
 * escapes, in which case the fields that need their text decode them into
 * fixed buffers in the cursor. Numbers take an exact path (a mantissa below
 * 2^53 and a power of ten up to 1e22: one correctly rounded multiplication
 * or division, which covers every number the encoder writes) and fall back
 * to strtod on a bounded copy otherwise (the C locale: nothing in FleetOps
 * calls setlocale). Error text is formatted only when parsing fails.
 *
 * perf/bench_telemetry_parse: ~0.38 us per 630-byte event, ~8x cJSON.
 */
#include "telemetry_json.h"

#include <math.h>
#include <stdarg.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fo_tj_string's eight-byte scan assumes a little-endian machine"
#endif

/* Every field the parser knows, one bit each in fo_tj.seen. Parents come
 * before their children, so the first missing one is the one to report. */
enum {
	F_EVENT_VERSION,
	F_EVENT_ID,
	F_VEHICLE_ID,
	F_SCENE_ID,
	F_TRACK_ID,
	F_EVENT_TIME,
	F_PROCESSING_TIME,
	F_FRAME_INDEX,
	F_TELEMETRY,
	F_METADATA,
	F_POSITION,
	F_POS_X,
	F_POS_Y,
	F_POS_Z,
	F_VELOCITY,
	F_VEL_X,
	F_VEL_Y,
	F_VEL_Z,
	F_VEL_MAG,
	F_ACCELERATION,
	F_ACC_X,
	F_ACC_Y,
	F_ACC_Z,
	F_ACC_MAG,
	F_YAW,
	F_YAW_RATE,
	F_LABEL_PROBABILITY,
	F_TRACK_LENGTH,
	F_REPLAY_SESSION_ID,
	F_REPLAY_RATE,
	F_FRAME_AGENTS,
	F_COUNT
};

static const char *const fo_tj_name[F_COUNT] = {
    "event_version",
    "event_id",
    "vehicle_id",
    "scene_id",
    "track_id",
    "event_time",
    "processing_time",
    "frame_index",
    "telemetry",
    "metadata",
    "telemetry.position",
    "telemetry.position.x",
    "telemetry.position.y",
    "telemetry.position.z",
    "telemetry.velocity",
    "telemetry.velocity.x",
    "telemetry.velocity.y",
    "telemetry.velocity.z",
    "telemetry.velocity.magnitude",
    "telemetry.acceleration",
    "telemetry.acceleration.x",
    "telemetry.acceleration.y",
    "telemetry.acceleration.z",
    "telemetry.acceleration.magnitude",
    "telemetry.yaw",
    "telemetry.yaw_rate",
    "telemetry.label_probability",
    "telemetry.track_length",
    "metadata.replay_session_id",
    "metadata.replay_rate",
    "metadata.frame_agents",
};

#define FO_BIT(f)      (1ull << (f))
#define FO_TJ_OPTIONAL (FO_BIT(F_PROCESSING_TIME) | FO_BIT(F_REPLAY_RATE) | FO_BIT(F_FRAME_AGENTS))
#define FO_TJ_REQUIRED ((FO_BIT(F_COUNT) - 1) & ~FO_TJ_OPTIONAL)

#define FO_TJ_KEY_MAX 64
#define FO_TJ_STR_MAX 64

typedef struct fo_tj {
	const char *p; /* cursor */
	const char *end;
	const char *start; /* for byte offsets in errors */
	uint64_t seen;
	fo_telemetry_json *out;
	char *err;
	size_t errsz;
	/* the unknown member being skipped, to name it in an error */
	const char *uparent;
	const char *ukey;
	size_t ukn;
	/* what the vehicle_id check needs once every field is in */
	const char *vid, *sid;
	size_t vid_len, sid_len;
	int track_null;
	char vid_buf[FO_VEHICLE_ID_MAX];
	char sid_buf[FO_TJ_STR_MAX];
	char key[FO_TJ_KEY_MAX];
} fo_tj;

__attribute__((cold, noinline, format(printf, 3, 4))) static int
fo_tj_fail(fo_tj *j, const char *field, const char *fmt, ...)
{
	if (!j->errsz)
		return -1;
	int n = 0;
	if (field)
		n = snprintf(j->err, j->errsz, "%s: ", field);
	else if (j->ukey)
		n = snprintf(j->err, j->errsz, "%s%s%.*s: ", j->uparent ? j->uparent : "",
		             j->uparent ? "." : "", (int)j->ukn, j->ukey);
	if (n < 0)
		n = 0;
	if ((size_t)n < j->errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(j->err + n, j->errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

__attribute__((cold, noinline)) static int fo_tj_syntax(fo_tj *j, const char *field,
                                                        const char *what)
{
	if (j->p >= j->end)
		return fo_tj_fail(j, field, "invalid JSON: the message ends at byte %zu, %s",
		                  (size_t)(j->end - j->start), what);
	return fo_tj_fail(j, field, "invalid JSON at byte %zu: %s", (size_t)(j->p - j->start),
	                  what);
}

static inline void fo_tj_ws(fo_tj *j)
{
	const char *p = j->p;
	while (p < j->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	j->p = p;
}

static inline int fo_tj_digit(char c)
{
	return (unsigned)(c - '0') <= 9;
}

static int fo_tj_hex4(const char *p, unsigned *v)
{
	unsigned x = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		x = x << 4 | d;
	}
	*v = x;
	return 0;
}

/* Appends c to buf[*n] if it fits; counts it either way. */
static inline void fo_tj_put(char *buf, size_t cap, size_t *n, char c)
{
	if (buf && *n < cap)
		buf[*n] = c;
	(*n)++;
}

/* Decodes the string whose opening quote j->p is at, leaving j->p after the
 * closing quote. *s, *n: the contents, in place when there is no escape,
 * else decoded into buf[cap]; with buf NULL the string is only checked.
 * Returns 0, 1 if the decoded text does not fit buf (the string is still
 * consumed; *s is then unusable), or -1 with the error (field names it). */
static int fo_tj_string_slow(fo_tj *j, const char *field, const char **s, size_t *n, char *buf,
                             size_t cap, const char *p);

static inline int fo_tj_string(fo_tj *j, const char *field, const char **s, size_t *n, char *buf,
                               size_t cap)
{
	const char *p = j->p + 1, *end = j->end;
	/* eight bytes at a time to the first quote, backslash or control
	 * character (the lowest flagged byte is exact; borrows can only flag
	 * bytes after it) */
	while (end - p >= 8) {
		const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
		uint64_t x;
		memcpy(&x, p, 8);
		const uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
		const uint64_t hit =
		    (((q - ones) & ~q) | ((bs - ones) & ~bs) | ((x - ones * 0x20) & ~x)) & high;
		if (hit) {
			p += __builtin_ctzll(hit) >> 3;
			break;
		}
		p += 8;
	}
	if (p < end && *p == '"') {
		*s = j->p + 1;
		*n = (size_t)(p - *s);
		j->p = p + 1;
		return 0;
	}
	return fo_tj_string_slow(j, field, s, n, buf, cap, p);
}

/* The rest of fo_tj_string from p: escapes, control characters, the end. */
static int fo_tj_string_slow(fo_tj *j, const char *field, const char **s, size_t *n, char *buf,
                             size_t cap, const char *p)
{
	const char *end = j->end, *b = j->p + 1;
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c == '"') {
			*s = b;
			*n = (size_t)(p - b);
			j->p = p + 1;
			return 0;
		}
		if (c == '\\')
			break;
		if (c < 0x20) {
			j->p = p;
			return fo_tj_syntax(j, field, "control character in a string");
		}
		p++;
	}
	/* escapes: decode into buf */
	size_t len = 0;
	for (const char *q = b; q < p; q++)
		fo_tj_put(buf, cap, &len, *q);
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c == '"') {
			*s = buf;
			*n = len;
			j->p = p + 1;
			return buf && len <= cap ? 0 : 1;
		}
		if (c < 0x20) {
			j->p = p;
			return fo_tj_syntax(j, field, "control character in a string");
		}
		if (c != '\\') {
			fo_tj_put(buf, cap, &len, (char)c);
			p++;
			continue;
		}
		if (end - p < 2)
			break;
		char e = p[1], out;
		switch (e) {
		case '"': out = '"'; break;
		case '\\': out = '\\'; break;
		case '/': out = '/'; break;
		case 'b': out = '\b'; break;
		case 'f': out = '\f'; break;
		case 'n': out = '\n'; break;
		case 'r': out = '\r'; break;
		case 't': out = '\t'; break;
		case 'u': out = 0; break;
		default: j->p = p; return fo_tj_syntax(j, field, "invalid escape in a string");
		}
		if (e != 'u') {
			fo_tj_put(buf, cap, &len, out);
			p += 2;
			continue;
		}
		unsigned cp, lo;
		if (end - p < 6 || fo_tj_hex4(p + 2, &cp) < 0) {
			j->p = p;
			return fo_tj_syntax(j, field, "invalid \\u escape in a string");
		}
		p += 6;
		if (cp >= 0xdc00 && cp <= 0xdfff) {
			j->p = p - 6;
			return fo_tj_syntax(j, field, "unpaired surrogate in a string");
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    fo_tj_hex4(p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
				j->p = p - 6;
				return fo_tj_syntax(j, field, "unpaired surrogate in a string");
			}
			p += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (cp < 0x80) {
			fo_tj_put(buf, cap, &len, (char)cp);
		} else if (cp < 0x800) {
			fo_tj_put(buf, cap, &len, (char)(0xc0 | cp >> 6));
			fo_tj_put(buf, cap, &len, (char)(0x80 | (cp & 0x3f)));
		} else if (cp < 0x10000) {
			fo_tj_put(buf, cap, &len, (char)(0xe0 | cp >> 12));
			fo_tj_put(buf, cap, &len, (char)(0x80 | (cp >> 6 & 0x3f)));
			fo_tj_put(buf, cap, &len, (char)(0x80 | (cp & 0x3f)));
		} else {
			fo_tj_put(buf, cap, &len, (char)(0xf0 | cp >> 18));
			fo_tj_put(buf, cap, &len, (char)(0x80 | (cp >> 12 & 0x3f)));
			fo_tj_put(buf, cap, &len, (char)(0x80 | (cp >> 6 & 0x3f)));
			fo_tj_put(buf, cap, &len, (char)(0x80 | (cp & 0x3f)));
		}
	}
	j->p = end;
	return fo_tj_syntax(j, field, "unterminated string");
}

/* A string field whose text is needed: decoded into buf[cap] if escaped.
 * Returns 0 or -1 (not a string, too long, bad syntax). */
static int fo_tj_text(fo_tj *j, const char *field, const char **s, size_t *n, char *buf, size_t cap)
{
	if (j->p >= j->end || *j->p != '"')
		return fo_tj_fail(j, field, "expected a string");
	int r = fo_tj_string(j, field, s, n, buf, cap);
	if (r > 0 || (r == 0 && *n > cap))
		return fo_tj_fail(j, field, "too long (%zu characters, at most %zu)", *n, cap);
	return r;
}

/* Scans a number by the JSON grammar from j->p; returns its end or NULL. */
static const char *fo_tj_num_end(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p >= end || !fo_tj_digit(*p))
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < end && fo_tj_digit(*p))
			p++;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !fo_tj_digit(*p))
			return NULL;
		while (p < end && fo_tj_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !fo_tj_digit(*p))
			return NULL;
		while (p < end && fo_tj_digit(*p))
			p++;
	}
	return p;
}

/* What may follow a value: a delimiter, whitespace or the end. */
static inline int fo_tj_value_end(const fo_tj *j, const char *p)
{
	if (p >= j->end)
		return 1;
	char c = *p;
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static const double fo_tj_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Eight bytes from p, the first in the lowest byte. */
static inline uint64_t fo_tj_load8(const char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}

/* Bit i set when p[i] (0 <= i < 16) is not an ASCII digit. */
static inline unsigned fo_tj_nondigits16(const char *p)
{
#ifdef __SSE2__
	const __m128i c = _mm_loadu_si128((const __m128i *)(const void *)p);
	/* signed compares: bytes >= 0x80 are below '0' */
	const __m128i d = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)),
	                                _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
	return ~(unsigned)_mm_movemask_epi8(d) & 0xffff;
#else
	unsigned m = 0;
	for (int i = 0; i < 16; i++)
		m |= (unsigned)!fo_tj_digit(p[i]) << i;
	return m;
#endif
}

/* The value of the first n (1..8) digits of x, branch-free: the digits
 * are moved to the top so that they read as an eight-digit number with
 * leading zeros, then combined pairwise (the classic SWAR conversion). */
static inline uint64_t fo_tj_digits8(uint64_t x, unsigned n)
{
	x = (x - 0x3030303030303030ULL) << (8 * (8 - n));
	x = x * 10 + (x >> 8);
	return (((x & 0x000000ff000000ffULL) * 0x000f424000000064ULL) +
	        (((x >> 16) & 0x000000ff000000ffULL) * 0x0000271000000001ULL)) >>
	       32;
}

static const uint64_t fo_tj_pow10u[9] = {1,      10,      100,      1000,     10000,
                                         100000, 1000000, 10000000, 100000000};

/* Any finite JSON number, one digit at a time. */
static int fo_tj_number_slow(fo_tj *j, const char *field, double *v)
{
	const char *p = j->p, *end = j->end, *b = p;
	int neg = 0;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	const char *d0 = p;
	uint64_t m = 0;
	while (p < end && fo_tj_digit(*p))
		m = m * 10 + (uint64_t)(*p++ - '0');
	size_t nint = (size_t)(p - d0), ndig = nint;
	if (nint == 0 || (nint > 1 && *d0 == '0'))
		return fo_tj_fail(j, field, "expected a number");
	int64_t exp10 = 0;
	if (p < end && *p == '.') {
		const char *f0 = ++p;
		while (p < end && fo_tj_digit(*p))
			m = m * 10 + (uint64_t)(*p++ - '0');
		if (p == f0)
			return fo_tj_fail(j, field, "expected a number");
		exp10 = -(int64_t)(p - f0);
		ndig += (size_t)(p - f0);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		int eneg = 0;
		int64_t e = 0;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end || !fo_tj_digit(*p))
			return fo_tj_fail(j, field, "expected a number");
		for (; p < end && fo_tj_digit(*p); p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		exp10 += eneg ? -e : e;
	}
	if (!fo_tj_value_end(j, p))
		return fo_tj_fail(j, field, "expected a number");
	double d;
	/* at most 19 digits cannot wrap m; exact when m < 2^53 and the power
	 * of ten is exact too */
	if (ndig <= 19 && m <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
		d = exp10 < 0 ? (double)m / fo_tj_pow10[-exp10] : (double)m * fo_tj_pow10[exp10];
		if (neg)
			d = -d;
	} else {
		char tmp[128];
		size_t n = (size_t)(p - b);
		if (n >= sizeof(tmp))
			return fo_tj_fail(j, field, "number too long (%zu characters)", n);
		memcpy(tmp, b, n);
		tmp[n] = '\0';
		d = strtod(tmp, NULL);
	}
	if (!isfinite(d))
		return fo_tj_fail(j, field, "number out of range");
	*v = d;
	j->p = p;
	return 0;
}

/* A finite JSON number. The common shape, [-]D{1,7}[.D{1,7}] with room to
 * read 16 bytes, is parsed without a loop: one mask of the non-digit bytes
 * gives both parts' lengths, so the cursor (which the next field waits for)
 * moves after a few instructions, and the digits convert off that path.
 * Anything else goes to fo_tj_number_slow. */
static inline int fo_tj_number(fo_tj *j, const char *field, double *v)
{
	const char *p = j->p;
	if (j->end - p < 24)
		return fo_tj_number_slow(j, field, v);
	const int neg = *p == '-';
	p += neg;
	const unsigned nd = fo_tj_nondigits16(p);
	const unsigned ni = (unsigned)__builtin_ctz(nd | 1u << 16);
	if (ni == 0 || ni >= 8 || (ni > 1 && *p == '0'))
		return fo_tj_number_slow(j, field, v);
	uint64_t m = fo_tj_digits8(fo_tj_load8(p), ni);
	unsigned nf = 0;
	if (p[ni] == '.') {
		nf = (unsigned)__builtin_ctz(nd >> (ni + 1) | 1u << 15);
		if (nf == 0 || nf >= 8)
			return fo_tj_number_slow(j, field, v);
		m = m * fo_tj_pow10u[nf] + fo_tj_digits8(fo_tj_load8(p + ni + 1), nf);
		p += ni + 1 + nf;
	} else {
		p += ni;
	}
	if (*p == 'e' || *p == 'E' || !fo_tj_value_end(j, p))
		return fo_tj_number_slow(j, field, v);
	/* m < 10^14 < 2^53 and 10^nf are exact: one correctly rounded division */
	const double d = (double)m / fo_tj_pow10[nf];
	*v = neg ? -d : d;
	j->p = p;
	return 0;
}

/* A non-negative integer up to max. */
static int fo_tj_uint(fo_tj *j, const char *field, uint64_t max, uint64_t *v)
{
	const char *p = j->p, *end = j->end;
	if (p >= end || !fo_tj_digit(*p))
		return fo_tj_fail(j, field, "expected a non-negative integer");
	uint64_t x = 0;
	int over = 0;
	if (*p == '0') {
		p++;
	} else {
		for (; p < end && fo_tj_digit(*p); p++) {
			uint64_t d = (uint64_t)(*p - '0');
			if (x > (UINT64_MAX - d) / 10)
				over = 1;
			x = x * 10 + d;
		}
	}
	if (!fo_tj_value_end(j, p))
		return fo_tj_fail(j, field, "expected a non-negative integer");
	if (over || x > max)
		return fo_tj_fail(j, field, "out of range (at most %llu)", (unsigned long long)max);
	*v = x;
	j->p = p;
	return 0;
}

static int fo_tj_null(fo_tj *j)
{
	if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0 && fo_tj_value_end(j, j->p + 4)) {
		j->p += 4;
		return 1;
	}
	return 0;
}

/* Hex digit value + 1; 0 for anything else. */
static const uint8_t fo_tj_hex1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The 36-character form, any case (fo_uuid_parse's rules without a NUL). */
static int fo_tj_uuid_text(const char *s, size_t n, fo_uuid *u)
{
	static const uint8_t at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
	if (n != FO_UUID_STR_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
		return -1;
	unsigned bad = 0;
	for (int i = 0; i < 16; i++) {
		const unsigned h = fo_tj_hex1[(unsigned char)s[at[i]]];
		const unsigned l = fo_tj_hex1[(unsigned char)s[at[i] + 1]];
		bad |= !h | !l;
		u->b[i] = (uint8_t)((h - 1) << 4 | (l - 1));
	}
	return bad ? -1 : 0;
}

static int fo_tj_uuid(fo_tj *j, const char *field, fo_uuid *u)
{
	const char *s;
	size_t n;
	char buf[FO_UUID_STR_LEN + 1];
	if (fo_tj_text(j, field, &s, &n, buf, sizeof(buf)) < 0)
		return -1;
	if (fo_tj_uuid_text(s, n, u) == 0)
		return 0;
	return fo_tj_fail(j, field, "not a UUID: \"%.*s\"", (int)(n < 40 ? n : 40), s);
}

static int fo_tj_time_field(fo_tj *j, const char *field, int64_t *ns)
{
	const char *s;
	size_t n;
	char buf[40];
	if (fo_tj_text(j, field, &s, &n, buf, sizeof(buf)) < 0)
		return -1;
	if (fo_telemetry_json_time(s, n, ns) < 0)
		return fo_tj_fail(j, field, "not ISO-8601 UTC (YYYY-MM-DDTHH:MM:SS.mmmZ): \"%.*s\"",
		                  (int)n, s);
	return 0;
}

/* Skips any value (an unknown member), checking its syntax. */
static int fo_tj_skip(fo_tj *j, int depth)
{
	fo_tj_ws(j);
	if (j->p >= j->end)
		return fo_tj_syntax(j, NULL, "expected a value");
	const char *s;
	size_t n;
	switch (*j->p) {
	case '"': return fo_tj_string(j, NULL, &s, &n, NULL, 0) < 0 ? -1 : 0;
	case '{':
	case '[': {
		const char close = *j->p == '{' ? '}' : ']';
		if (depth >= FO_TELEMETRY_JSON_DEPTH)
			return fo_tj_syntax(j, NULL, "nested too deeply");
		j->p++;
		fo_tj_ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				fo_tj_ws(j);
				if (j->p >= j->end || *j->p != '"')
					return fo_tj_syntax(j, NULL, "expected a member name");
				if (fo_tj_string(j, NULL, &s, &n, NULL, 0) < 0)
					return -1;
				fo_tj_ws(j);
				if (j->p >= j->end || *j->p != ':')
					return fo_tj_syntax(j, NULL, "expected ':'");
				j->p++;
			}
			if (fo_tj_skip(j, depth + 1) < 0)
				return -1;
			fo_tj_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == close) {
				j->p++;
				return 0;
			}
			return fo_tj_syntax(
			    j, NULL, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
		}
	}
	case 't':
	case 'f':
	case 'n': {
		const char *w = *j->p == 't' ? "true" : *j->p == 'f' ? "false" : "null";
		size_t wl = strlen(w);
		if ((size_t)(j->end - j->p) >= wl && memcmp(j->p, w, wl) == 0 &&
		    fo_tj_value_end(j, j->p + wl)) {
			j->p += wl;
			return 0;
		}
		return fo_tj_syntax(j, NULL, "expected a value");
	}
	default: {
		const char *e = fo_tj_num_end(j->p, j->end);
		if (!e || !fo_tj_value_end(j, e))
			return fo_tj_syntax(j, NULL, "expected a value");
		j->p = e;
		return 0;
	}
	}
}

/* Expects '{' for the object field. */
static int fo_tj_open(fo_tj *j, const char *field)
{
	if (j->p >= j->end || *j->p != '{')
		return fo_tj_fail(j, field, "expected an object");
	j->p++;
	return 0;
}

/* The next member of the object field: returns 1 with its decoded name in
 * *k (a name too long for the buffer comes back as "", matching nothing)
 * and j->p at its value, 0 after the closing brace, -1 on error. */
static int fo_tj_member(fo_tj *j, const char *field, int *first, const char **k, size_t *kn)
{
	fo_tj_ws(j);
	if (j->p < j->end && *j->p == '}' && *first) {
		j->p++;
		return 0;
	}
	if (!*first) {
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return 0;
		}
		if (j->p >= j->end || *j->p != ',')
			return fo_tj_syntax(j, field, "expected ',' or '}'");
		j->p++;
		fo_tj_ws(j);
	}
	*first = 0;
	if (j->p >= j->end || *j->p != '"')
		return fo_tj_syntax(j, field, "expected a member name");
	int r = fo_tj_string(j, field, k, kn, j->key, sizeof(j->key));
	if (r < 0)
		return -1;
	if (r > 0) {
		*k = "";
		*kn = 0;
	}
	fo_tj_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return fo_tj_syntax(j, field, "expected ':'");
	j->p++;
	fo_tj_ws(j);
	return 1;
}

/* Marks field f seen; a second occurrence is an error. */
static inline int fo_tj_once(fo_tj *j, int f)
{
	if (j->seen & FO_BIT(f))
		return fo_tj_fail(j, fo_tj_name[f], "duplicate field");
	j->seen |= FO_BIT(f);
	return 0;
}

static int fo_tj_unknown(fo_tj *j, const char *parent, const char *k, size_t kn)
{
	j->uparent = parent;
	j->ukey = k;
	j->ukn = kn;
	int r = fo_tj_skip(j, 2);
	j->ukey = NULL;
	return r;
}

#define FO_KEY(lit) (kn == sizeof(lit) - 1 && memcmp(k, lit, sizeof(lit) - 1) == 0)

/* A number field f into *v. */
static inline int fo_tj_num_field(fo_tj *j, int f, double *v)
{
	if (fo_tj_once(j, f) < 0)
		return -1;
	return fo_tj_number(j, fo_tj_name[f], v);
}

/* position / velocity / acceleration: x, y, z and, with mag, magnitude.
 * f is the object's field; its children follow it in the enum. */
static int fo_tj_vec(fo_tj *j, int f, double v[3], double *mag)
{
	const char *field = fo_tj_name[f];
	if (fo_tj_once(j, f) < 0 || fo_tj_open(j, field) < 0)
		return -1;
	int first = 1, r;
	const char *k;
	size_t kn;
	while ((r = fo_tj_member(j, field, &first, &k, &kn)) > 0) {
		if (kn == 1 && (k[0] == 'x' || k[0] == 'y' || k[0] == 'z')) {
			int i = k[0] - 'x';
			r = fo_tj_num_field(j, f + 1 + i, &v[i]);
		} else if (mag && FO_KEY("magnitude")) {
			r = fo_tj_num_field(j, f + 4, mag);
		} else {
			r = fo_tj_unknown(j, field, k, kn);
		}
		if (r < 0)
			return -1;
	}
	return r;
}

static int fo_tj_telemetry(fo_tj *j)
{
	fo_telemetry *t = &j->out->t;
	if (fo_tj_once(j, F_TELEMETRY) < 0 || fo_tj_open(j, "telemetry") < 0)
		return -1;
	int first = 1, r;
	const char *k;
	size_t kn;
	while ((r = fo_tj_member(j, "telemetry", &first, &k, &kn)) > 0) {
		if (FO_KEY("position")) {
			r = fo_tj_vec(j, F_POSITION, t->pos, NULL);
		} else if (FO_KEY("velocity")) {
			r = fo_tj_vec(j, F_VELOCITY, t->vel, &t->vel_mag);
		} else if (FO_KEY("acceleration")) {
			r = fo_tj_vec(j, F_ACCELERATION, t->acc, &t->acc_mag);
		} else if (FO_KEY("yaw")) {
			r = fo_tj_num_field(j, F_YAW, &t->yaw);
		} else if (FO_KEY("yaw_rate")) {
			r = fo_tj_num_field(j, F_YAW_RATE, &t->yaw_rate);
		} else if (FO_KEY("label_probability")) {
			r = fo_tj_num_field(j, F_LABEL_PROBABILITY, &t->label_probability);
		} else if (FO_KEY("track_length")) {
			uint64_t v;
			r = fo_tj_once(j, F_TRACK_LENGTH);
			if (r == 0 &&
			    (r = fo_tj_uint(j, fo_tj_name[F_TRACK_LENGTH], UINT32_MAX, &v)) == 0)
				t->track_length = (uint32_t)v;
		} else {
			r = fo_tj_unknown(j, "telemetry", k, kn);
		}
		if (r < 0)
			return -1;
	}
	return r;
}

static int fo_tj_metadata(fo_tj *j)
{
	fo_telemetry_json *o = j->out;
	if (fo_tj_once(j, F_METADATA) < 0 || fo_tj_open(j, "metadata") < 0)
		return -1;
	int first = 1, r;
	const char *k;
	size_t kn;
	while ((r = fo_tj_member(j, "metadata", &first, &k, &kn)) > 0) {
		if (FO_KEY("replay_session_id")) {
			r = fo_tj_once(j, F_REPLAY_SESSION_ID);
			if (r == 0)
				r = fo_tj_uuid(j, fo_tj_name[F_REPLAY_SESSION_ID], &o->session);
		} else if (FO_KEY("replay_rate")) {
			r = fo_tj_num_field(j, F_REPLAY_RATE, &o->replay_rate);
		} else if (FO_KEY("frame_agents")) {
			uint64_t v;
			r = fo_tj_once(j, F_FRAME_AGENTS);
			if (r == 0 && !fo_tj_null(j)) {
				r = fo_tj_uint(j, fo_tj_name[F_FRAME_AGENTS], UINT32_MAX - 1, &v);
				if (r == 0)
					o->t.frame_agents = (uint32_t)v;
			}
		} else {
			r = fo_tj_unknown(j, "metadata", k, kn);
		}
		if (r < 0)
			return -1;
	}
	return r;
}

/* "scene_NNN", canonical: at least three digits, no zero padding beyond
 * three (what fo_scene_id_format writes), at most UINT32_MAX. */
static int fo_tj_scene(const char *s, size_t n, uint32_t *scene)
{
	if (n < 9 || n > 16 || memcmp(s, "scene_", 6) != 0)
		return -1;
	size_t nd = n - 6;
	if (nd > 3 && s[6] == '0')
		return -1;
	uint64_t x = 0;
	for (size_t i = 6; i < n; i++) {
		if (!fo_tj_digit(s[i]))
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > UINT32_MAX)
		return -1;
	*scene = (uint32_t)x;
	return 0;
}

static int fo_tj_top(fo_tj *j)
{
	fo_telemetry_json *o = j->out;
	fo_tj_ws(j);
	if (j->p >= j->end)
		return fo_tj_fail(j, NULL, "empty message (expected a JSON object)");
	if (*j->p != '{')
		return fo_tj_syntax(j, NULL, "expected '{' (a JSON object)");
	j->p++;
	int first = 1, r;
	const char *k;
	size_t kn;
	while ((r = fo_tj_member(j, NULL, &first, &k, &kn)) > 0) {
		const char *s;
		size_t n;
		uint64_t v;
		if (FO_KEY("event_version")) {
			char buf[32];
			r = fo_tj_once(j, F_EVENT_VERSION);
			if (r == 0)
				r = fo_tj_text(j, "event_version", &s, &n, buf, sizeof(buf));
			if (r == 0 && !(n >= 2 && s[0] == '1' && s[1] == '.') &&
			    !(n == 1 && s[0] == '1'))
				r = fo_tj_fail(j, NULL,
				               "event_version \"%.*s\" is not supported (this "
				               "reader knows 1.x)",
				               (int)n, s);
		} else if (FO_KEY("event_id")) {
			r = fo_tj_once(j, F_EVENT_ID);
			if (r == 0)
				r = fo_tj_uuid(j, "event_id", &o->event_id);
		} else if (FO_KEY("vehicle_id")) {
			r = fo_tj_once(j, F_VEHICLE_ID);
			if (r == 0)
				r = fo_tj_text(j, "vehicle_id", &j->vid, &j->vid_len, j->vid_buf,
				               sizeof(j->vid_buf) - 1);
		} else if (FO_KEY("scene_id")) {
			r = fo_tj_once(j, F_SCENE_ID);
			if (r == 0)
				r = fo_tj_text(j, "scene_id", &j->sid, &j->sid_len, j->sid_buf,
				               sizeof(j->sid_buf));
			if (r == 0 && fo_tj_scene(j->sid, j->sid_len, &o->t.scene) < 0)
				r = fo_tj_fail(j, NULL,
				               "scene_id \"%.*s\": expected scene_NNN (the scene "
				               "index, at least 3 digits)",
				               (int)j->sid_len, j->sid);
		} else if (FO_KEY("track_id")) {
			r = fo_tj_once(j, F_TRACK_ID);
			if (r == 0) {
				j->track_null = fo_tj_null(j);
				if (!j->track_null)
					r = fo_tj_uint(j, "track_id", FO_TRACK_EGO - 1,
					               &o->t.track);
			}
		} else if (FO_KEY("event_time")) {
			r = fo_tj_once(j, F_EVENT_TIME);
			if (r == 0)
				r = fo_tj_time_field(j, "event_time", &o->t.ts_ns);
		} else if (FO_KEY("processing_time")) {
			r = fo_tj_once(j, F_PROCESSING_TIME);
			if (r == 0)
				r = fo_tj_time_field(j, "processing_time", &o->proc_ns);
		} else if (FO_KEY("frame_index")) {
			r = fo_tj_once(j, F_FRAME_INDEX);
			if (r == 0 && (r = fo_tj_uint(j, "frame_index", UINT32_MAX, &v)) == 0)
				o->t.frame = (uint32_t)v;
		} else if (FO_KEY("telemetry")) {
			r = fo_tj_telemetry(j);
		} else if (FO_KEY("metadata")) {
			r = fo_tj_metadata(j);
		} else {
			r = fo_tj_unknown(j, NULL, k, kn);
		}
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	fo_tj_ws(j);
	if (j->p != j->end)
		return fo_tj_syntax(j, NULL, "unexpected data after the event");
	return 0;
}

/* vehicle_id against scene_id and track_id. */
static int fo_tj_vehicle(fo_tj *j)
{
	fo_telemetry *t = &j->out->t;
	const char *v = j->vid;
	size_t vn = j->vid_len, sn = j->sid_len;
	const int vp = vn < 64 ? (int)vn : 64, sp = (int)sn;
	if (vn < sn || memcmp(v, j->sid, sn) != 0)
		return fo_tj_fail(j, NULL, "vehicle_id %.*s does not match scene_id %.*s", vp, v,
		                  sp, j->sid);
	const char *r = v + sn;
	size_t rn = vn - sn;
	if (rn == 4 && memcmp(r, "_ego", 4) == 0) {
		if (!j->track_null)
			return fo_tj_fail(
			    j, NULL,
			    "vehicle_id %.*s is an ego but track_id is %llu (expected null)", vp, v,
			    (unsigned long long)t->track);
		t->track = FO_TRACK_EGO;
		return 0;
	}
	uint64_t tid = 0;
	int ok = rn > 7 && rn <= 27 && memcmp(r, "_track_", 7) == 0 && !(rn > 8 && r[7] == '0');
	for (size_t i = 7; ok && i < rn; i++) {
		ok = fo_tj_digit(r[i]) && tid <= (UINT64_MAX - 9) / 10;
		tid = tid * 10 + (uint64_t)(r[i] - '0');
	}
	if (!ok)
		return fo_tj_fail(j, NULL, "vehicle_id %.*s: expected %.*s_ego or %.*s_track_N", vp,
		                  v, sp, j->sid, sp, j->sid);
	if (j->track_null)
		return fo_tj_fail(
		    j, NULL,
		    "track_id is null but vehicle_id %.*s is not an ego (expected %.*s_ego)", vp, v,
		    sp, j->sid);
	if (tid != t->track)
		return fo_tj_fail(j, NULL, "vehicle_id %.*s does not match track_id %llu", vp, v,
		                  (unsigned long long)t->track);
	return 0;
}

/* ---- the encoder's own layout ------------------------------------------ */

/* Consumes the literal lit[0..n) at the cursor; 0 if it is not there. */
static inline int fo_tj_lit(fo_tj *j, const char *lit, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

/* An escape-free string at the cursor; 0 if there is none. */
static inline int fo_tj_plain(fo_tj *j, const char **s, size_t *n)
{
	return j->p < j->end && *j->p == '"' && fo_tj_string(j, NULL, s, n, NULL, 0) == 0;
}

static inline int fo_tj_plain_time(fo_tj *j, int64_t *ns)
{
	const char *s;
	size_t n;
	return fo_tj_plain(j, &s, &n) && fo_telemetry_json_time(s, n, ns) == 0;
}

#define FO_TJ_FAST_SEEN ((FO_BIT(F_TRACK_LENGTH + 1) - 1) & ~FO_BIT(F_METADATA))

/* Reads an event laid out exactly as fo_event_encode_telemetry writes it
 * (core/event.c), matching the keys as literals in their order instead of
 * tokenizing them; metadata goes through the general code, so fields added
 * there keep the fast path. Returns 1 when the whole event was read and
 * checked like the general parser does, 0 at the first difference of any
 * kind: the caller then starts over with the general parser, which also
 * words any error. */
static int fo_tj_fast(fo_tj *j)
{
	fo_telemetry_json *o = j->out;
	fo_telemetry *t = &o->t;
	uint64_t v;
#define FO_LIT(lit)                                                                                \
	do {                                                                                       \
		if (!fo_tj_lit(j, lit, sizeof(lit) - 1))                                           \
			return 0;                                                                  \
	} while (0)
#define FO_NUM(dst)                                                                                \
	do {                                                                                       \
		if (fo_tj_number(j, NULL, (dst)) < 0)                                              \
			return 0;                                                                  \
	} while (0)
	FO_LIT("{\"event_version\":\"1.0.0\",\"event_id\":\"");
	if (j->end - j->p < FO_UUID_STR_LEN + 1 || j->p[FO_UUID_STR_LEN] != '"' ||
	    fo_tj_uuid_text(j->p, FO_UUID_STR_LEN, &o->event_id) < 0)
		return 0;
	j->p += FO_UUID_STR_LEN + 1;
	FO_LIT(",\"vehicle_id\":");
	if (!fo_tj_plain(j, &j->vid, &j->vid_len) || j->vid_len >= FO_VEHICLE_ID_MAX)
		return 0;
	FO_LIT(",\"scene_id\":");
	if (!fo_tj_plain(j, &j->sid, &j->sid_len) || fo_tj_scene(j->sid, j->sid_len, &t->scene) < 0)
		return 0;
	FO_LIT(",\"track_id\":");
	j->track_null = fo_tj_null(j);
	if (!j->track_null && fo_tj_uint(j, NULL, FO_TRACK_EGO - 1, &t->track) < 0)
		return 0;
	FO_LIT(",\"event_time\":");
	if (!fo_tj_plain_time(j, &t->ts_ns))
		return 0;
	FO_LIT(",\"processing_time\":");
	if (!fo_tj_plain_time(j, &o->proc_ns))
		return 0;
	FO_LIT(",\"frame_index\":");
	if (fo_tj_uint(j, NULL, UINT32_MAX, &v) < 0)
		return 0;
	t->frame = (uint32_t)v;
	FO_LIT(",\"telemetry\":{\"position\":{\"x\":");
	FO_NUM(&t->pos[0]);
	FO_LIT(",\"y\":");
	FO_NUM(&t->pos[1]);
	FO_LIT(",\"z\":");
	FO_NUM(&t->pos[2]);
	FO_LIT("},\"velocity\":{\"x\":");
	FO_NUM(&t->vel[0]);
	FO_LIT(",\"y\":");
	FO_NUM(&t->vel[1]);
	FO_LIT(",\"z\":");
	FO_NUM(&t->vel[2]);
	FO_LIT(",\"magnitude\":");
	FO_NUM(&t->vel_mag);
	FO_LIT("},\"acceleration\":{\"x\":");
	FO_NUM(&t->acc[0]);
	FO_LIT(",\"y\":");
	FO_NUM(&t->acc[1]);
	FO_LIT(",\"z\":");
	FO_NUM(&t->acc[2]);
	FO_LIT(",\"magnitude\":");
	FO_NUM(&t->acc_mag);
	FO_LIT("},\"yaw\":");
	FO_NUM(&t->yaw);
	FO_LIT(",\"yaw_rate\":");
	FO_NUM(&t->yaw_rate);
	FO_LIT(",\"label_probability\":");
	FO_NUM(&t->label_probability);
	FO_LIT(",\"track_length\":");
	if (fo_tj_uint(j, NULL, UINT32_MAX, &v) < 0)
		return 0;
	t->track_length = (uint32_t)v;
	FO_LIT("},\"metadata\":");
	j->seen = FO_TJ_FAST_SEEN;
	if (fo_tj_metadata(j) < 0)
		return 0;
	fo_tj_ws(j);
	FO_LIT("}");
	fo_tj_ws(j);
	return j->p == j->end;
#undef FO_LIT
#undef FO_NUM
}

int fo_telemetry_json_parse(const char *buf, size_t len, fo_telemetry_json *out, char *err,
                            size_t errsz)
{
	fo_tj j;
	j.p = j.start = buf;
	j.end = buf + len;
	j.seen = 0;
	j.out = out;
	j.err = err;
	j.errsz = errsz;
	j.uparent = j.ukey = NULL;
	j.ukn = 0;
	j.vid = j.sid = NULL;
	j.vid_len = j.sid_len = 0;
	j.track_null = 0;
	out->proc_ns = 0;
	out->replay_rate = 0.0;
	out->t.frame_agents = FO_AGENTS_UNKNOWN;
	if (!fo_tj_fast(&j)) {
		/* any other layout, or something wrong: the general parser */
		j.p = buf;
		j.seen = 0;
		j.track_null = 0;
		out->proc_ns = 0;
		out->replay_rate = 0.0;
		out->t.frame_agents = FO_AGENTS_UNKNOWN;
		if (fo_tj_top(&j) < 0)
			return -1;
	}
	if (errsz)
		err[0] = '\0';
	uint64_t missing = FO_TJ_REQUIRED & ~j.seen;
	if (missing)
		return fo_tj_fail(&j, NULL, "missing field %s",
		                  fo_tj_name[__builtin_ctzll(missing)]);
	return fo_tj_vehicle(&j);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil, public domain). */
static int64_t fo_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int fo_num2(const char *s, unsigned *v)
{
	if (!fo_tj_digit(s[0]) || !fo_tj_digit(s[1]))
		return -1;
	*v = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	return 0;
}

int fo_telemetry_json_time(const char *s, size_t len, int64_t *ns)
{
	static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned yh, yl, mo, d, h, mi, se;
	if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[len - 1] != 'Z')
		return -1;
	if (fo_num2(s, &yh) || fo_num2(s + 2, &yl) || fo_num2(s + 5, &mo) || fo_num2(s + 8, &d) ||
	    fo_num2(s + 11, &h) || fo_num2(s + 14, &mi) || fo_num2(s + 17, &se))
		return -1;
	int64_t frac = 0;
	if (len > 20) {
		size_t nd = len - 21; /* digits between '.' and 'Z' */
		if (s[19] != '.' || nd < 1 || nd > 9)
			return -1;
		for (size_t i = 0; i < 9; i++) {
			int dg = 0;
			if (i < nd) {
				if (!fo_tj_digit(s[20 + i]))
					return -1;
				dg = s[20 + i] - '0';
			}
			frac = frac * 10 + dg;
		}
	}
	const unsigned y = yh * 100 + yl;
	const int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
	    h > 23 || mi > 59 || se > 59)
		return -1;
	const int64_t secs = fo_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	/* int64 nanoseconds span 1677-09-21 .. 2262-04-11 */
	if (secs > INT64_MAX / 1000000000 - 1 || secs < INT64_MIN / 1000000000 + 1)
		return -1;
	*ns = secs * 1000000000 + frac;
	return 0;
}
