/* The request head of an HTTP/1.x request, as the --metrics endpoint reads
 * it: the request line is parsed, header lines are only bounded and
 * skipped. Pure (no I/O): the fuzz target drives it. Private to server/. */
#pragma once

#include <stddef.h>

/* A head (request line and headers up to the empty line) longer than this
 * is refused. */
#define ZS_HTTP_HEAD_MAX 4096
#define ZS_HTTP_METHOD_MAX 15
#define ZS_HTTP_PATH_MAX 255

enum zs_http_parse {
	ZS_HTTP_MORE, /* no complete head yet: read more */
	ZS_HTTP_BAD,  /* not a request we read: answer 400 and close */
	ZS_HTTP_OK,   /* a complete head; req is filled */
};

struct zs_http_request {
	char method[ZS_HTTP_METHOD_MAX + 1]; /* "GET": upper-case letters */
	char path[ZS_HTTP_PATH_MAX + 1];     /* "/metrics": the target up to
	                                      * '?', starts with '/' */
	size_t head_len; /* bytes up to and including the empty line */
};

/* Parses buf[0..len): the request line is METHOD SP TARGET SP HTTP/1.0|1
 * CRLF (a bare LF is accepted too), TARGET in origin form; header lines
 * follow until an empty line. NUL and other control bytes (but tab in
 * headers) are refused. req is written only on ZS_HTTP_OK. */
enum zs_http_parse zs_http_request_parse(const char *buf, size_t len,
	struct zs_http_request *req);
