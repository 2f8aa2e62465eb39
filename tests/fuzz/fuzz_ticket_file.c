/* Fuzz target: the ticket file parser. Any bytes either give a ticket that
 * is a prefix of the input, 1..60 bytes, without NUL, CR or LF (and the
 * input holds no NUL), or an error with a reason and no ticket. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[ZS_TICKET_MAX_BYTES + 1];
	char err[128] = "";

	memset(out, 'x', sizeof(out));
	if (!zs_ticket_parse(data, size, out, err, sizeof(err))) {
		if (!err[0] || out[0] != '\0')
			abort();
		return 0;
	}
	size_t len = strlen(out);
	if (len == 0 || len > ZS_TICKET_MAX_BYTES || len > size ||
		memcmp(out, data, len) != 0 || memchr(data, '\0', size) ||
		strpbrk(out, "\r\n") || size > ZS_TICKET_FILE_MAX_BYTES)
		abort();
	/* the ticket is the whole first line */
	if (len < size && data[len] != '\n' && data[len] != '\r')
		abort();
	return 0;
}

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("s3cret\n"),
	ZS_FUZZ_SEED("s3cret\r\nsecond line\n"),
	ZS_FUZZ_SEED("abc\0def"),
	ZS_FUZZ_SEED("\n"),
	ZS_FUZZ_SEED("ab\rcd"),
	ZS_FUZZ_SEED("012345678901234567890123456789012345678901234567890123456789\n"),
	ZS_FUZZ_SEED("0123456789012345678901234567890123456789012345678901234567890\n"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
