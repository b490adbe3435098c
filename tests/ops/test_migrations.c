/*
 * Unit: the migrations embedded in fleetops-operator are the files of
 * ops/migrations, in version order 1, 2, 3..., each with the SHA-256 of
 * its file, and each file is valid enough to start with a comment and end
 * with a statement terminator.
 */
#include "fo_test.h"
#include "migrations.h"

#include <dirent.h>

int main(void)
{
	const char *src = getenv("FO_SOURCE_DIR");
	if (!src)
		FO_SKIP("FO_SOURCE_DIR not set (run through ctest)");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/ops/migrations", src);

	/* every .sql file is embedded, and nothing else */
	size_t files = 0;
	DIR *d = opendir(dir);
	FO_CHECK(d != NULL);
	for (struct dirent *e; d && (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0)
			files++;
	}
	if (d)
		closedir(d);
	FO_CHECK_MSG(files == fo_migrations_count, "%zu files, %zu embedded", files,
	             fo_migrations_count);
	FO_CHECK(fo_migrations_count >= 2);

	for (size_t i = 0; i < fo_migrations_count; i++) {
		const fo_migration *m = &fo_migrations[i];
		FO_CHECK_MSG(m->version == (int)i + 1, "entry %zu has version %d", i, m->version);
		FO_CHECK(strlen(m->checksum) == 64);
		char path[4400], cmd[4600], sum[80] = "";
		snprintf(path, sizeof(path), "%s/%04d_%s.sql", dir, m->version, m->name);
		/* the checksum is the file's SHA-256 */
		snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
		FILE *p = popen(cmd, "r");
		FO_CHECK(p && fscanf(p, "%64s", sum) == 1);
		if (p)
			pclose(p);
		FO_CHECK_MSG(strcmp(sum, m->checksum) == 0, "%s: sha256sum %s, embedded %s", path,
		             sum, m->checksum);
		/* the text is the file's */
		FILE *f = fopen(path, "rb");
		FO_CHECK_MSG(f != NULL, "%s missing", path);
		if (f) {
			static char text[1 << 20];
			size_t n = fread(text, 1, sizeof(text) - 1, f);
			text[n] = '\0';
			fclose(f);
			FO_CHECK_MSG(strcmp(text, m->sql) == 0, "%s differs from its embedded text",
			             path);
		}
		FO_CHECK_MSG(strncmp(m->sql, "-- ", 3) == 0, "%s should open with a comment", path);
		const char *end = m->sql + strlen(m->sql);
		while (end > m->sql && (end[-1] == '\n' || end[-1] == ' '))
			end--;
		FO_CHECK_MSG(end > m->sql && end[-1] == ';', "%s should end with ';'", path);
	}
	return fo_test_done("test_migrations");
}
