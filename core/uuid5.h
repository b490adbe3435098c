/*
 * uuid5: name-based UUIDs (RFC 4122 version 5, SHA-1) for deterministic
 * event and anomaly ids. A redelivered or replayed event hashes to the same
 * id, which is what lets every consumer deduplicate down to PostgreSQL.
 * Pure functions with a private SHA-1, safe from any thread, no allocation.
 */
#ifndef FO_UUID5_H
#define FO_UUID5_H

#include <stddef.h>
#include <stdint.h>

#define FO_UUID_STR_LEN 36

typedef struct fo_uuid {
	uint8_t b[16];
} fo_uuid;

/* The FleetOps namespace from which session ids are derived. */
extern const fo_uuid fo_uuid_ns_fleetops;

/* out = UUIDv5(ns, name[0..len)). */
void fo_uuid5(fo_uuid *out, const fo_uuid *ns, const void *name, size_t len);

/* Writes the 36-character lowercase form plus a NUL into out[37]. */
void fo_uuid_format(const fo_uuid *u, char *out);

/* Parses the 36-character form; returns 0, or -1 if s is not a UUID. */
int fo_uuid_parse(fo_uuid *out, const char *s);

/* Which SHA-1 block function runs: "sha_ni" (x86 SHA extensions) or
 * "portable" (also forced with FO_NO_SHA_NI in the environment). */
const char *fo_sha1_impl(void);

/* SHA-1 of data into digest[20]; exposed for tests. */
void fo_sha1(const void *data, size_t len, uint8_t digest[20]);

#endif
