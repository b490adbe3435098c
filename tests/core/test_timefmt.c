/* Unit: ISO-8601 formatting (core/timefmt.c) against gmtime_r. */
#include "fo_test.h"
#include "timefmt.h"

#include <stdint.h>
#include <time.h>

int main(void)
{
	char buf[32];
	fo_time_iso8601(1571846881502692276LL, buf); /* the real scene's first frame */
	FO_CHECK_STR(buf, "2019-10-23T16:08:01.502Z");
	fo_time_iso8601(0, buf);
	FO_CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
	fo_time_iso8601(-1, buf); /* floors toward minus infinity */
	FO_CHECK_STR(buf, "1969-12-31T23:59:59.999Z");
	fo_time_iso8601(951782400000000000LL, buf); /* leap day 2000 */
	FO_CHECK_STR(buf, "2000-02-29T00:00:00.000Z");

	/* every ~3.1 days over 1970..2100 agrees with gmtime_r */
	for (int64_t s = 0; s < 4102444800LL; s += 270061) {
		struct tm tm;
		time_t t = (time_t)s;
		gmtime_r(&t, &tm);
		char ref[32];
		strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%S", &tm);
		fo_time_iso8601(s * 1000000000LL + 123456789, buf);
		FO_CHECK_MSG(strncmp(buf, ref, 19) == 0 && strcmp(buf + 19, ".123Z") == 0,
		             "%s vs %s", buf, ref);
	}
	return fo_test_done("test_timefmt");
}
