/* Reading an HTTP/1.x request head for the --metrics endpoint: see
 * http-request.h. Every byte is checked before it is used; nothing is
 * allocated. */
#include "http-request.h"

#include <stdbool.h>
#include <string.h>

/* Returns the length of the line starting at buf[off] including its "\n",
 * 0 when no "\n" is within buf[off..len). */
static size_t line_len(const char *buf, size_t len, size_t off)
{
	const char *nl = memchr(buf + off, '\n', len - off);
	return nl ? (size_t)(nl - (buf + off)) + 1 : 0;
}

/* The line's content without its "\n" or "\r\n". */
static size_t content_len(const char *line, size_t n)
{
	n--; /* the '\n' */
	if (n > 0 && line[n - 1] == '\r')
		n--;
	return n;
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static enum zs_http_parse request_line(const char *l, size_t n,
	struct zs_http_request *req)
{
	size_t i = 0, m = 0;
	while (i < n && l[i] >= 'A' && l[i] <= 'Z') {
		if (m == ZS_HTTP_METHOD_MAX)
			return ZS_HTTP_BAD;
		req->method[m++] = l[i++];
	}
	req->method[m] = '\0';
	if (m == 0 || i >= n || l[i] != ' ')
		return ZS_HTTP_BAD;
	i++;
	if (i >= n || l[i] != '/')
		return ZS_HTTP_BAD;
	size_t p = 0;
	bool query = false;
	while (i < n && l[i] != ' ') {
		unsigned char c = (unsigned char)l[i++];
		if (is_ctl(c) || c >= 0x80)
			return ZS_HTTP_BAD;
		if (c == '?')
			query = true;
		if (query)
			continue;
		if (p == ZS_HTTP_PATH_MAX)
			return ZS_HTTP_BAD;
		req->path[p++] = (char)c;
	}
	req->path[p] = '\0';
	static const char version[] = " HTTP/1.";
	if (n - i != sizeof(version) || memcmp(l + i, version,
		    sizeof(version) - 1) != 0)
		return ZS_HTTP_BAD;
	char minor = l[n - 1];
	return minor == '0' || minor == '1' ? ZS_HTTP_OK : ZS_HTTP_BAD;
}

enum zs_http_parse zs_http_request_parse(const char *buf, size_t len,
	struct zs_http_request *req)
{
	struct zs_http_request r;
	if (!buf || !req)
		return ZS_HTTP_BAD;
	if (len > ZS_HTTP_HEAD_MAX)
		len = ZS_HTTP_HEAD_MAX; /* what lies beyond cannot be the head */
	/* NUL and other control bytes are refused line by line, so that
	 * bytes after the head (a body) do not matter */

	size_t n = line_len(buf, len, 0);
	if (n == 0)
		return len == ZS_HTTP_HEAD_MAX ? ZS_HTTP_BAD : ZS_HTTP_MORE;
	if (request_line(buf, content_len(buf, n), &r) != ZS_HTTP_OK)
		return ZS_HTTP_BAD;
	for (size_t off = n;;) {
		n = line_len(buf, len, off);
		if (n == 0)
			return len == ZS_HTTP_HEAD_MAX ? ZS_HTTP_BAD : ZS_HTTP_MORE;
		size_t c = content_len(buf + off, n);
		for (size_t i = 0; i < c; i++) {
			unsigned char ch = (unsigned char)buf[off + i];
			if (is_ctl(ch) && ch != '\t')
				return ZS_HTTP_BAD;
		}
		off += n;
		if (c == 0) {
			r.head_len = off;
			*req = r;
			return ZS_HTTP_OK;
		}
	}
}
