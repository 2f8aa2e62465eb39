/* Shared by the fuzz targets and standalone.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Example inputs each target provides, for standalone.c to mutate (and to
 * start a libFuzzer corpus with `standalone --write-seeds DIR`). */
struct zs_fuzz_seed {
	const uint8_t *data;
	size_t size;
};
#define ZS_FUZZ_SEED(literal) \
	{ (const uint8_t *)(literal), sizeof(literal) - 1 }
extern const struct zs_fuzz_seed zs_fuzz_seeds[];
extern const size_t zs_fuzz_seed_count;

/* Input layout shared by the reader targets: the first ZS_FUZZ_SCHEDULE
 * bytes are piece lengths, used in turn (0 = all the rest), and the rest is
 * the byte stream, fed once whole and once in those pieces. */
#define ZS_FUZZ_SCHEDULE 4

struct zs_fuzz_input {
	uint8_t schedule[ZS_FUZZ_SCHEDULE];
	const uint8_t *stream;
	size_t stream_len;
};

static inline struct zs_fuzz_input zs_fuzz_input_split(const uint8_t *data,
	size_t size)
{
	struct zs_fuzz_input in = { { 0 }, data, size };

	if (size >= ZS_FUZZ_SCHEDULE) {
		for (size_t i = 0; i < ZS_FUZZ_SCHEDULE; i++)
			in.schedule[i] = data[i];
		in.stream = data + ZS_FUZZ_SCHEDULE;
		in.stream_len = size - ZS_FUZZ_SCHEDULE;
	}
	return in;
}

/* Length of piece number `i` with `left` bytes to go. */
static inline size_t zs_fuzz_piece_len(const struct zs_fuzz_input *in,
	size_t i, size_t left)
{
	size_t n = in->schedule[i % ZS_FUZZ_SCHEDULE];
	return n == 0 || n > left ? left : n;
}

/* FNV-1a, to compare what two runs delivered. */
static inline uint64_t zs_fuzz_hash(uint64_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#define ZS_FUZZ_HASH_INIT 0xcbf29ce484222325ull
