/* Fuzz target: .vv connection file values. Whatever bytes a value holds (a
 * title, a CA bundle, a proxy URL from a broker), the escaped form stays on
 * one line and reads back, under GKeyFile's escape rules, to the input. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "zs-client-proto.h"

/* GKeyFile's g_key_file_parse_value_as_string, for the escapes we write. */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 's': *o++ = ' '; break;
		case '\\': *o++ = '\\'; break;
		default: abort(); /* we never write another escape */
		}
	}
	*o = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = malloc(size + 1);
	if (!value)
		return 0;
	if (size)
		memcpy(value, data, size);
	value[size] = '\0'; /* a C string: stops at the first NUL */
	char *esc = zs_vv_escape(value);
	if (!esc)
		abort();
	if (strchr(esc, '\n') || strchr(esc, '\r') || esc[0] == ' ')
		abort();
	char *back = unescape(esc);
	if (!back || strcmp(back, value) != 0)
		abort();
	struct zs_vv vv = { .host = "h", .port = 1, .title = value,
		.ca_pem = value, .proxy = value, .password = value };
	char *file = zs_vv_format(&vv);
	if (!file)
		abort();
	/* exactly the group line and one line per key */
	size_t lines = 0;
	for (const char *p = file; *p; p++)
		lines += *p == '\n';
	if (lines != 1 + 3 + 4)
		abort();
	free(file);
	free(back);
	free(esc);
	free(value);
	return 0;
}

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
	ZS_FUZZ_SEED(" leading space\tand tab\\n literal\r\n"),
	ZS_FUZZ_SEED("http://proxy.example:3128"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) / sizeof(zs_fuzz_seeds[0]);
