/* A main() for the fuzz targets without libFuzzer: runs the files named on
 * the command line, then a bounded, deterministic batch of inputs (random
 * bytes and mutations of the target's seeds, from a fixed seed), so a plain
 * `meson test` exercises every parser with any compiler.
 *
 *   standalone [--iterations N] [--write-seeds DIR] [FILE...]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define DEFAULT_ITERATIONS 20000
#define MAX_INPUT_BYTES 4096

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	/* xorshift64*: fixed sequence on every run and platform. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static size_t append_seed(uint8_t *buf, size_t len)
{
	if (zs_fuzz_seed_count == 0)
		return len;
	const struct zs_fuzz_seed *s = &zs_fuzz_seeds[rng() % zs_fuzz_seed_count];
	size_t n = s->size;
	if (n > MAX_INPUT_BYTES - len)
		n = MAX_INPUT_BYTES - len;
	memcpy(buf + len, s->data, n);
	return len + n;
}

static const uint8_t interesting[] = {
	0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x0d, 0x10, 0x7f, 0x80, 0x9d,
	0xe0, 0xe1, 0xfe, 0xff,
};

static size_t mutate(uint8_t *buf, size_t len)
{
	unsigned rounds = 1 + rng() % 8;

	for (unsigned i = 0; i < rounds; i++) {
		size_t pos = len ? rng() % len : 0;
		switch (rng() % 7) {
		case 0: /* flip a bit */
			if (len)
				buf[pos] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1: /* an interesting byte */
			if (len)
				buf[pos] = interesting[rng() %
					sizeof(interesting)];
			break;
		case 2: /* a random byte */
			if (len)
				buf[pos] = (uint8_t)rng();
			break;
		case 3: /* insert a byte */
			if (len < MAX_INPUT_BYTES) {
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = (uint8_t)rng();
				len++;
			}
			break;
		case 4: /* delete a range */
			if (len) {
				size_t n = 1 + rng() % (len - pos);
				memmove(buf + pos, buf + pos + n, len - pos - n);
				len -= n;
			}
			break;
		case 5: /* truncate */
			len = pos;
			break;
		case 6: /* splice another seed at the end */
			len = append_seed(buf, len);
			break;
		}
	}
	return len;
}

static int run_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

static int write_seeds(const char *dir)
{
	for (size_t i = 0; i < zs_fuzz_seed_count; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/seed-%zu", dir, i);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(zs_fuzz_seeds[i].data, 1,
				zs_fuzz_seeds[i].size, f) !=
				zs_fuzz_seeds[i].size) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			if (f)
				fclose(f);
			return -1;
		}
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t buf[MAX_INPUT_BYTES];
	long iterations = DEFAULT_ITERATIONS;
	int files = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
			iterations = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc) {
			return write_seeds(argv[++i]) == 0 ? 0 : 1;
		} else {
			if (run_file(argv[i]) < 0)
				return 1;
			files++;
		}
	}

	for (size_t i = 0; i < zs_fuzz_seed_count; i++)
		LLVMFuzzerTestOneInput(zs_fuzz_seeds[i].data,
			zs_fuzz_seeds[i].size);
	LLVMFuzzerTestOneInput(NULL, 0);

	for (long it = 0; it < iterations; it++) {
		size_t len;
		if (rng() % 4 == 0) {
			len = rng() % 512;
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rng();
		} else {
			len = mutate(buf, append_seed(buf, 0));
		}
		LLVMFuzzerTestOneInput(len ? buf : NULL, len);
	}
	printf("%d file(s), %zu seed(s), %ld generated input(s): no crash\n",
		files, zs_fuzz_seed_count, iterations);
	return 0;
}
