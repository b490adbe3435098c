/*
 * uuid5: see uuid5.h. SHA-1 after FIPS 180-4; the name is hashed as
 * namespace bytes followed by the name, in one streaming pass without a copy.
 */
#include "uuid5.h"

#include <cpuid.h>
#include <stdlib.h>
#include <immintrin.h>
#include <string.h>

/* 6f1e7a3c-0f0b-5a4e-9d5c-f1ee70b5f1ee: fixed for the project's lifetime. */
const fo_uuid fo_uuid_ns_fleetops = {{0x6f, 0x1e, 0x7a, 0x3c, 0x0f, 0x0b, 0x5a, 0x4e, 0x9d, 0x5c,
                                      0xf1, 0xee, 0x70, 0xb5, 0xf1, 0xee}};

typedef struct fo_sha1_ctx {
	uint32_t h[5];
	uint64_t len;
	uint8_t blk[64];
	size_t n;
} fo_sha1_ctx;

static inline uint32_t fo_rol(uint32_t x, int s)
{
	return (x << s) | (x >> (32 - s));
}

static void fo_sha1_block_portable(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = fo_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t t = fo_rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = fo_rol(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

/* The same with the x86 SHA extensions (4 rounds per instruction): the
 * message schedule rotates through four registers; group g of four rounds
 * uses round function g / 5. Groups 0-2 only start the schedule. */
__attribute__((target("sha,sse4.1"))) static void fo_sha1_block_ni(uint32_t h[5], const uint8_t *p)
{
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
	__m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
	__m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0), e1;
	const __m128i abcd_save = abcd, e0_save = e0;
	__m128i m[4];
	for (int i = 0; i < 4; i++)
		m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);

	e0 = _mm_add_epi32(e0, m[0]);
	e1 = abcd;
	abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);

	e1 = _mm_sha1nexte_epu32(e1, m[1]);
	e0 = abcd;
	abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
	m[0] = _mm_sha1msg1_epu32(m[0], m[1]);

	e0 = _mm_sha1nexte_epu32(e0, m[2]);
	e1 = abcd;
	abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
	m[1] = _mm_sha1msg1_epu32(m[1], m[2]);
	m[0] = _mm_xor_si128(m[0], m[2]);

#define FO_SHA1_GROUP(g, ea, eb, f)                                                                \
	do {                                                                                       \
		ea = _mm_sha1nexte_epu32(ea, m[(g) % 4]);                                          \
		eb = abcd;                                                                         \
		m[((g) + 1) % 4] = _mm_sha1msg2_epu32(m[((g) + 1) % 4], m[(g) % 4]);               \
		abcd = _mm_sha1rnds4_epu32(abcd, ea, f);                                           \
		m[((g) + 3) % 4] = _mm_sha1msg1_epu32(m[((g) + 3) % 4], m[(g) % 4]);               \
		m[((g) + 2) % 4] = _mm_xor_si128(m[((g) + 2) % 4], m[(g) % 4]);                    \
	} while (0)
	FO_SHA1_GROUP(3, e1, e0, 0);
	FO_SHA1_GROUP(4, e0, e1, 0);
	FO_SHA1_GROUP(5, e1, e0, 1);
	FO_SHA1_GROUP(6, e0, e1, 1);
	FO_SHA1_GROUP(7, e1, e0, 1);
	FO_SHA1_GROUP(8, e0, e1, 1);
	FO_SHA1_GROUP(9, e1, e0, 1);
	FO_SHA1_GROUP(10, e0, e1, 2);
	FO_SHA1_GROUP(11, e1, e0, 2);
	FO_SHA1_GROUP(12, e0, e1, 2);
	FO_SHA1_GROUP(13, e1, e0, 2);
	FO_SHA1_GROUP(14, e0, e1, 2);
	FO_SHA1_GROUP(15, e1, e0, 3);
	FO_SHA1_GROUP(16, e0, e1, 3);
	FO_SHA1_GROUP(17, e1, e0, 3);
	FO_SHA1_GROUP(18, e0, e1, 3);
	FO_SHA1_GROUP(19, e1, e0, 3);
#undef FO_SHA1_GROUP

	e0 = _mm_sha1nexte_epu32(e0, e0_save);
	abcd = _mm_add_epi32(abcd, abcd_save);
	_mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
	h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

/* Chosen once, before main: the SHA extensions when the CPU has them
 * (CPUID leaf 7, EBX bit 29), else the portable rounds. */
static void (*fo_sha1_block)(uint32_t h[5], const uint8_t *p) = fo_sha1_block_portable;

static int fo_cpu_has_sha(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b >> 29) & 1;
}

__attribute__((constructor)) static void fo_sha1_pick(void)
{
	if (fo_cpu_has_sha() && !getenv("FO_NO_SHA_NI"))
		fo_sha1_block = fo_sha1_block_ni;
}

const char *fo_sha1_impl(void)
{
	return fo_sha1_block == fo_sha1_block_ni ? "sha_ni" : "portable";
}

static void fo_sha1_init(fo_sha1_ctx *c)
{
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->h[4] = 0xc3d2e1f0;
	c->len = 0;
	c->n = 0;
}

static void fo_sha1_update(fo_sha1_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	c->len += len;
	if (c->n) {
		size_t take = 64 - c->n < len ? 64 - c->n : len;
		memcpy(c->blk + c->n, p, take);
		c->n += take;
		p += take;
		len -= take;
		if (c->n < 64)
			return;
		fo_sha1_block(c->h, c->blk);
		c->n = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		fo_sha1_block(c->h, p);
	memcpy(c->blk, p, len);
	c->n = len;
}

static void fo_sha1_final(fo_sha1_ctx *c, uint8_t digest[20])
{
	uint64_t bits = c->len * 8;
	c->blk[c->n++] = 0x80;
	if (c->n > 56) {
		memset(c->blk + c->n, 0, 64 - c->n);
		fo_sha1_block(c->h, c->blk);
		c->n = 0;
	}
	memset(c->blk + c->n, 0, 56 - c->n);
	for (int i = 0; i < 8; i++)
		c->blk[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	fo_sha1_block(c->h, c->blk);
	for (int i = 0; i < 5; i++) {
		digest[4 * i] = (uint8_t)(c->h[i] >> 24);
		digest[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		digest[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		digest[4 * i + 3] = (uint8_t)c->h[i];
	}
}

void fo_sha1(const void *data, size_t len, uint8_t digest[20])
{
	fo_sha1_ctx c;
	fo_sha1_init(&c);
	fo_sha1_update(&c, data, len);
	fo_sha1_final(&c, digest);
}

void fo_uuid5(fo_uuid *out, const fo_uuid *ns, const void *name, size_t len)
{
	fo_sha1_ctx c;
	uint8_t d[20];
	fo_sha1_init(&c);
	fo_sha1_update(&c, ns->b, 16);
	fo_sha1_update(&c, name, len);
	fo_sha1_final(&c, d);
	memcpy(out->b, d, 16);
	out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x50);
	out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
}

void fo_uuid_format(const fo_uuid *u, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;
	for (int i = 0; i < 16; i++) {
		p[0] = hex[u->b[i] >> 4];
		p[1] = hex[u->b[i] & 15];
		p += 2;
		if (i == 3 || i == 5 || i == 7 || i == 9)
			*p++ = '-';
	}
	*p = '\0';
}

static int fo_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fo_uuid_parse(fo_uuid *out, const char *s)
{
	int bi = 0;
	for (int i = 0; i < FO_UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		int hi = fo_hexval(s[i]), lo = fo_hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out->b[bi++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return s[FO_UUID_STR_LEN] == '\0' ? 0 : -1;
}
