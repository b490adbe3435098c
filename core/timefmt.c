/*
 * timefmt: see timefmt.h. Civil-from-days after H. Hinnant's public-domain
 * algorithm ("chrono-compatible low-level date algorithms").
 */
#include "timefmt.h"

static void fo_put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

int fo_time_iso8601(int64_t ns, char *out)
{
	int64_t ms = ns / 1000000;
	if (ns % 1000000 < 0)
		ms -= 1;
	int64_t secs = ms / 1000;
	int64_t msr = ms % 1000;
	if (msr < 0) {
		msr += 1000;
		secs -= 1;
	}
	int64_t days = secs / 86400;
	int64_t sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days -= 1;
	}
	/* civil_from_days */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += (m <= 2);
	if (y < 0)
		y = 0;
	if (y > 9999)
		y = 9999;

	fo_put2(out, (unsigned)(y / 100));
	fo_put2(out + 2, (unsigned)(y % 100));
	out[4] = '-';
	fo_put2(out + 5, m);
	out[7] = '-';
	fo_put2(out + 8, d);
	out[10] = 'T';
	fo_put2(out + 11, (unsigned)(sod / 3600));
	out[13] = ':';
	fo_put2(out + 14, (unsigned)(sod / 60 % 60));
	out[16] = ':';
	fo_put2(out + 17, (unsigned)(sod % 60));
	out[19] = '.';
	out[20] = (char)('0' + msr / 100);
	fo_put2(out + 21, (unsigned)(msr % 100));
	out[23] = 'Z';
	out[24] = '\0';
	return FO_ISO8601_LEN;
}
