/* Unit: UUIDv5 and SHA-1 (core/uuid5.c) against RFC vectors and libuuid. */
#include "fo_test.h"
#include "uuid5.h"

#include <uuid/uuid.h>

int main(void)
{
	uint8_t d[20];
	fo_sha1("abc", 3, d);
	static const uint8_t abc[20] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
	                                0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
	FO_CHECK(memcmp(d, abc, 20) == 0);
	/* two-block message from FIPS 180 */
	const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	fo_sha1(m2, strlen(m2), d);
	static const uint8_t m2d[20] = {0x84, 0x98, 0x3e, 0x44, 0x1c, 0x3b, 0xd2, 0x6e, 0xba, 0xae,
	                                0x4a, 0xa1, 0xf9, 0x51, 0x29, 0xe5, 0xe5, 0x46, 0x70, 0xf1};
	FO_CHECK(memcmp(d, m2d, 20) == 0);

	/* Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") */
	fo_uuid dns, u;
	FO_CHECK(fo_uuid_parse(&dns, "6ba7b810-9dad-11d1-80b4-00c04fd430c8") == 0);
	fo_uuid5(&u, &dns, "python.org", 10);
	char s[FO_UUID_STR_LEN + 1];
	fo_uuid_format(&u, s);
	FO_CHECK_STR(s, "886313e1-3b8a-5372-9b90-0c9aee199e5d");

	/* agrees with libuuid's uuid_generate_sha1 on names of every length
	 * around the SHA-1 block boundaries */
	char name[200];
	for (int n = 0; n < 200; n++) {
		name[n] = (char)('a' + n % 26);
		uuid_t ref;
		uuid_generate_sha1(ref, fo_uuid_ns_fleetops.b, name, (size_t)n);
		fo_uuid5(&u, &fo_uuid_ns_fleetops, name, (size_t)n);
		FO_CHECK_MSG(memcmp(ref, u.b, 16) == 0, "name length %d", n);
	}

	FO_CHECK(fo_uuid_parse(&u, "not-a-uuid") == -1);
	FO_CHECK(fo_uuid_parse(&u, "886313e1-3b8a-5372-9b90-0c9aee199e5dX") == -1);
	FO_CHECK(fo_uuid_parse(&u, "886313e1x3b8a-5372-9b90-0c9aee199e5d") == -1);
	printf("SHA-1 implementation: %s\n", fo_sha1_impl());
	return fo_test_done("test_uuid5");
}
