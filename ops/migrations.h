/*
 * migrations: the operator's SQL schema, versioned.
 *
 * The files ops/migrations/NNNN_name.sql are embedded into the program at
 * build time (ops/embed_migrations.cmake generates the table below), so a
 * fleetops-operator binary always carries exactly the schema its code was
 * written against: there is no directory to point at, to forget to ship, or
 * to get out of step with the binary. Each entry has the SHA-256 of its
 * file; the runner (db.h, fo_db_migrate) records it in schema_migrations
 * and refuses to start if a file that was already applied has changed
 * since. Entries are in version order, 1, 2, 3... (the build checks).
 *
 * Read-only constant data: any thread.
 */
#ifndef FO_MIGRATIONS_H
#define FO_MIGRATIONS_H

#include <stddef.h>

typedef struct fo_migration {
	int version;
	const char *name;     /* "init" for 0001_init.sql */
	const char *checksum; /* SHA-256 of the file, 64 lowercase hex digits */
	const char *sql;      /* the file's text, NUL-terminated */
} fo_migration;

extern const fo_migration fo_migrations[];
extern const size_t fo_migrations_count;

#endif
