/* Unit: the allocation-free JSON writer (core/json.c). */
#include "fo_test.h"
#include "json.h"

static const char *fixed(double v, int dec)
{
	static char buf[64];
	fo_jw jw;
	fo_jw_init(&jw, buf, sizeof(buf) - 1);
	fo_jw_fixed(&jw, v, dec);
	buf[jw.len] = '\0';
	return buf;
}

int main(void)
{
	FO_CHECK_STR(fixed(0.0, 4), "0.0000");
	FO_CHECK_STR(fixed(-0.0, 2), "0.00");
	FO_CHECK_STR(fixed(-0.00001, 4), "0.0000"); /* no "-0.0000" */
	FO_CHECK_STR(fixed(1.5, 0), "2");
	FO_CHECK_STR(fixed(-655.03265381, 4), "-655.0327");
	FO_CHECK_STR(fixed(0.05, 1), "0.1");
	FO_CHECK_STR(fixed(0.001234, 6), "0.001234");
	FO_CHECK_STR(fixed(123456789.123, 3), "123456789.123");
	FO_CHECK_STR(fixed(NAN, 3), "null");
	FO_CHECK_STR(fixed(INFINITY, 3), "null");
	FO_CHECK(strtod(fixed(1e300, 3), NULL) == 1e300); /* falls back, still exact */

	/* fixed decimals round-trip within half an ulp of the last digit */
	for (int i = -100000; i <= 100000; i += 37) {
		double v = i * 0.0123456;
		double back = strtod(fixed(v, 4), NULL);
		FO_CHECK_NEAR(back, v, 0.00005 + 1e-12);
	}

	char buf[64];
	fo_jw jw;
	fo_jw_init(&jw, buf, sizeof(buf));
	fo_jw_str(&jw, "a\"b\\c\n\x01", 7);
	FO_CHECK(jw.len == strlen("\"a\\\"b\\\\c\\n\\u0001\""));
	FO_CHECK(memcmp(buf, "\"a\\\"b\\\\c\\n\\u0001\"", jw.len) == 0);

	fo_jw_init(&jw, buf, sizeof(buf));
	fo_jw_i64(&jw, INT64_MIN);
	FO_CHECK(jw.len == 20 && memcmp(buf, "-9223372036854775808", 20) == 0);

	/* overflow is flagged, never written past the end */
	char small[8] = "xxxxxxx";
	fo_jw_init(&jw, small, 4);
	fo_jw_lit(&jw, "123456");
	FO_CHECK(jw.overflow && jw.len == 0 && small[0] == 'x');

	char q[16];
	FO_CHECK(fo_json_quote(q, sizeof(q), "ab") == 4 && strcmp(q, "\"ab\"") == 0);
	FO_CHECK(fo_json_quote(q, 3, "abc") == -1);
	return fo_test_done("test_json");
}
