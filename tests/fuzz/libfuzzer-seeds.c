/* Linked into every libFuzzer binary: with ZS_FUZZ_SEED_DIR set, writes the
 * target's built-in seeds there before fuzzing starts, so run-libfuzzer.sh
 * seeds any target, also one added without a corpus folder in the repo. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("ZS_FUZZ_SEED_DIR");
	if (!dir || !*dir)
		return 0;
	for (size_t i = 0; i < zs_fuzz_seed_count; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/builtin-%zu", dir, i);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(zs_fuzz_seeds[i].data, 1, zs_fuzz_seeds[i].size,
				f) != zs_fuzz_seeds[i].size) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			exit(1);
		}
		fclose(f);
	}
	return 0;
}
