/* Fuzz target: the VD_AGENT_MONITORS_CONFIG parser (the client's window
 * sizes, read by the agent bridge from untrusted client bytes). Checks
 * the verdict's contract: a reason of one line when refused, 1 to
 * ZS_AGENT_MAX_MONITORS monitors when accepted, physical sizes only when
 * the body holds them, and the same answer from a copy of the body. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "zs-client-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_agent_monitors a, b;
	char why[160] = "", why2[160] = "";
	bool ok = zs_agent_parse_monitors_config(data, size, &a, why,
		sizeof(why));

	if (!ok) {
		if (why[0] == '\0' || strchr(why, '\n'))
			abort();
	} else {
		if (a.n == 0 || a.n > ZS_AGENT_MAX_MONITORS || size < 8 + 20)
			abort();
	}
	/* the parser reads only the body: a copy gives the same answer */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	bool ok2 = zs_agent_parse_monitors_config(copy, size, &b, why2,
		sizeof(why2));
	free(copy);
	if (ok != ok2 || (ok && memcmp(&a, &b, sizeof(a)) != 0) ||
	    (!ok && strcmp(why, why2) != 0))
		abort();
	return 0;
}

/* VDAgentMonitorsConfig bodies as spice-gtk sends them */
const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	/* one 640x480 monitor */
	ZS_FUZZ_SEED("\x01\x00\x00\x00\x00\x00\x00\x00"
		"\xe0\x01\x00\x00\x80\x02\x00\x00\x20\x00\x00\x00"
		"\x00\x00\x00\x00\x00\x00\x00\x00"),
	/* two monitors with physical sizes (VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE) */
	ZS_FUZZ_SEED("\x02\x00\x00\x00\x02\x00\x00\x00"
		"\x38\x04\x00\x00\x80\x07\x00\x00\x20\x00\x00\x00"
		"\x00\x00\x00\x00\x00\x00\x00\x00"
		"\x38\x04\x00\x00\x80\x07\x00\x00\x20\x00\x00\x00"
		"\x80\x07\x00\x00\x00\x00\x00\x00"
		"\x10\x02\x28\x01\x10\x02\x28\x01"),
	/* says three monitors, holds one */
	ZS_FUZZ_SEED("\x03\x00\x00\x00\x00\x00\x00\x00"
		"\xe0\x01\x00\x00\x80\x02\x00\x00\x20\x00\x00\x00"
		"\x00\x00\x00\x00\x00\x00\x00\x00"),
	ZS_FUZZ_SEED("\x00\x00\x00\x00\x00\x00\x00\x00"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
