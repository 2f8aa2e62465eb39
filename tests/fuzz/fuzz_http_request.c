/* Fuzz target: the --metrics endpoint's HTTP request head reader. For any
 * bytes: ZS_HTTP_OK only with an upper-case method, a path that starts with
 * '/' and holds no space or control byte, and a head that ends with an
 * empty line within the input and ZS_HTTP_HEAD_MAX; ZS_HTTP_MORE only
 * below ZS_HTTP_HEAD_MAX bytes. More bytes never change an answer that was
 * already OK (the same request) or BAD. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http-request.h"

static void check_ok(const char *buf, size_t len,
	const struct zs_http_request *r)
{
	size_t m = strlen(r->method), p = strlen(r->path);
	if (m == 0 || m > ZS_HTTP_METHOD_MAX || p == 0 || p > ZS_HTTP_PATH_MAX ||
		r->path[0] != '/')
		abort();
	for (size_t i = 0; i < m; i++) {
		if (r->method[i] < 'A' || r->method[i] > 'Z')
			abort();
	}
	for (size_t i = 0; i < p; i++) {
		unsigned char c = (unsigned char)r->path[i];
		if (c <= 0x20 || c >= 0x7f || c == '?')
			abort();
	}
	if (r->head_len < 2 || r->head_len > len || r->head_len > ZS_HTTP_HEAD_MAX ||
		buf[r->head_len - 1] != '\n' || memchr(buf, '\0', r->head_len) ||
		memcmp(buf, r->method, m) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct zs_http_request whole, part;

	memset(&whole, 0x55, sizeof(whole));
	enum zs_http_parse w = zs_http_request_parse(buf, size, &whole);
	if (w == ZS_HTTP_OK)
		check_ok(buf, size, &whole);
	else if (w == ZS_HTTP_MORE && size >= ZS_HTTP_HEAD_MAX)
		abort();
	else if (w != ZS_HTTP_MORE && w != ZS_HTTP_BAD)
		abort();
	/* prefixes: an answer once given stays */
	size_t step = size > 256 ? size / 64 : 1;
	for (size_t n = 0; n < size; n += step) {
		enum zs_http_parse a = zs_http_request_parse(buf, n, &part);
		if (a == ZS_HTTP_BAD && w != ZS_HTTP_BAD)
			abort();
		if (a == ZS_HTTP_OK && (w != ZS_HTTP_OK ||
			memcmp(&part, &whole, sizeof(part)) != 0))
			abort();
	}
	return 0;
}

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n"
		"User-Agent: Prometheus/2.45.0\r\nAccept: text/plain\r\n\r\n"),
	ZS_FUZZ_SEED("HEAD /metrics?x=1 HTTP/1.0\n\n"),
	ZS_FUZZ_SEED("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
	ZS_FUZZ_SEED("GET / HTTP/1.1\r\nX: a\tb\r\n\r\n"),
	ZS_FUZZ_SEED("GET /metrics HTTP/1.1\r\nHost: x"),
	ZS_FUZZ_SEED("GET http://host/metrics HTTP/1.1\r\n\r\n"),
	ZS_FUZZ_SEED("get /metrics HTTP/2.0\r\n\r\n"),
	ZS_FUZZ_SEED("GET /met\0rics HTTP/1.1\r\n\r\n"),
	ZS_FUZZ_SEED("GET /metrics HTTP/1.1\r\nBad\rheader\r\n\r\n"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
