/* Fuzz target: the set-1 scancode decoder. Codes stay in their ranges and
 * three plain bytes always bring the decoder back to plain keys. */
#include <stdlib.h>

#include "fuzz.h"
#include "zs-client-proto.h"

static bool code_in_range(uint32_t c)
{
	return c < 0x80 || (c >= 0xe000 && c < 0xe080) ||
		(c >= 0xe100 && c < 0xe180);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_scancode_decoder d = { 0 };
	uint32_t code;
	bool down;

	for (size_t i = 0; i < size; i++) {
		if (zs_scancode_feed(&d, data[i], &code, &down) &&
				!code_in_range(code))
			abort();
	}
	/* NULL outputs are allowed. */
	zs_scancode_feed(&d, 0x1e, NULL, NULL);

	bool last = false;
	for (int i = 0; i < 3; i++)
		last = zs_scancode_feed(&d, 0x9e, &code, &down);
	if (!last || code != 0x1e || down)
		abort();
	return 0;
}

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("\x1e\x9e\xe0\x1d\xe0\x9d"),
	ZS_FUZZ_SEED("\xe1\x1d\x45\xe1\x9d\xc5"),
	ZS_FUZZ_SEED("\xe0\x2a\xe0\x37\xe0\xb7\xe0\xaa"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
