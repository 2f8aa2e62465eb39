/* Whole vdagent messages out of a VDIChunkHeader stream, and back: what the
 * agent bridge reads from spice-server and from the guest agent, and what it
 * writes to either. Also the small payloads of the messages it answers
 * itself (capabilities, clipboard). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice/vd_agent.h>

#include "zs-client-proto.h"

#define CHUNK_HEADER_BYTES 8
#define MSG_HEADER_BYTES 20

_Static_assert(VD_AGENT_MAX_DATA_SIZE == ZS_AGENT_CHUNK_MAX_BYTES,
	"chunk limit");

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
		((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void zs_agent_msg_reader_init(struct zs_agent_msg_reader *r,
	uint32_t max_msg_bytes)
{
	memset(r, 0, sizeof(*r));
	r->max_msg_bytes = max_msg_bytes;
}

void zs_agent_msg_reader_finish(struct zs_agent_msg_reader *r)
{
	if (!r)
		return;
	for (int i = 0; i < 2; i++)
		free(r->port[i].buf);
	memset(r, 0, sizeof(*r));
}

bool zs_agent_msg_reader_idle(const struct zs_agent_msg_reader *r)
{
	return r->chunk_header_len == 0 && r->port[0].header_len == 0 &&
		r->port[1].header_len == 0;
}

__attribute__((format(printf, 4, 5)))
static bool fail(struct zs_agent_msg_reader *r, char *err, size_t err_len,
	const char *fmt, ...)
{
	r->failed = true;
	if (err && err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return false;
}

static void deliver(struct zs_agent_msg_port *ps, uint32_t port,
	zs_agent_msg_fn cb, void *data)
{
	static const uint8_t empty[1];
	struct zs_agent_msg m = {
		.port = port,
		.type = get_le32(ps->header + 4),
		.opaque = (uint64_t)get_le32(ps->header + 8) |
			((uint64_t)get_le32(ps->header + 12) << 32),
		.size = ps->size,
		.data = ps->drop ? NULL : ps->buf ? ps->buf : empty,
	};

	if (cb)
		cb(&m, data);
	free(ps->buf);
	ps->buf = NULL;
	ps->header_len = 0;
	ps->size = ps->done = 0;
	ps->drop = false;
}

/* Takes message bytes of one port out of a chunk; returns how many, or -1
 * after fail(). */
static long port_take(struct zs_agent_msg_reader *r, uint32_t port,
	const uint8_t *buf, size_t len, zs_agent_msg_fn cb, void *data,
	char *err, size_t err_len)
{
	struct zs_agent_msg_port *ps = &r->port[port - 1];
	size_t used = 0;

	if (ps->header_len < MSG_HEADER_BYTES) {
		size_t n = MSG_HEADER_BYTES - ps->header_len;
		if (n > len)
			n = len;
		memcpy(ps->header + ps->header_len, buf, n);
		ps->header_len += n;
		used = n;
		if (ps->header_len < MSG_HEADER_BYTES)
			return (long)used;
		uint32_t protocol = get_le32(ps->header);
		ps->size = get_le32(ps->header + 16);
		ps->done = 0;
		if (protocol != VD_AGENT_PROTOCOL) {
			fail(r, err, err_len,
				"agent message protocol %u, expected %u",
				protocol, VD_AGENT_PROTOCOL);
			return -1;
		}
		ps->drop = ps->size > r->max_msg_bytes;
		if (!ps->drop && ps->size > 0) {
			ps->buf = malloc(ps->size);
			ps->drop = ps->buf == NULL;
		}
		if (ps->size == 0) {
			deliver(ps, port, cb, data);
			return (long)used;
		}
	}

	size_t n = len - used;
	if (n > ps->size - ps->done)
		n = ps->size - ps->done;
	if (!ps->drop)
		memcpy(ps->buf + ps->done, buf + used, n);
	ps->done += (uint32_t)n;
	used += n;
	if (ps->done == ps->size)
		deliver(ps, port, cb, data);
	return (long)used;
}

bool zs_agent_msg_reader_feed(struct zs_agent_msg_reader *r,
	const uint8_t *buf, size_t len, zs_agent_msg_fn cb, void *data,
	char *err, size_t err_len)
{
	if (r->failed)
		return fail(r, err, err_len, "agent reader already failed");
	if (!buf && len)
		return fail(r, err, err_len, "agent reader fed NULL");

	while (len > 0) {
		if (r->chunk_header_len < CHUNK_HEADER_BYTES) {
			size_t n = CHUNK_HEADER_BYTES - r->chunk_header_len;
			if (n > len)
				n = len;
			memcpy(r->chunk_header + r->chunk_header_len, buf, n);
			r->chunk_header_len += n;
			buf += n;
			len -= n;
			if (r->chunk_header_len < CHUNK_HEADER_BYTES)
				break;
			r->chunk_port = get_le32(r->chunk_header);
			r->chunk_left = get_le32(r->chunk_header + 4);
			if (r->chunk_port != VDP_CLIENT_PORT &&
			    r->chunk_port != VDP_SERVER_PORT)
				return fail(r, err, err_len,
					"agent chunk for unknown port %u "
					"(size %u)", r->chunk_port,
					r->chunk_left);
			if (r->chunk_left > ZS_AGENT_CHUNK_MAX_BYTES)
				return fail(r, err, err_len,
					"agent chunk of %u bytes over the "
					"%u-byte limit", r->chunk_left,
					ZS_AGENT_CHUNK_MAX_BYTES);
		}
		while (r->chunk_left > 0 && len > 0) {
			size_t n = r->chunk_left < len ? r->chunk_left : len;
			long used = port_take(r, r->chunk_port, buf, n, cb,
				data, err, err_len);
			if (used < 0)
				return false;
			buf += used;
			len -= (size_t)used;
			r->chunk_left -= (uint32_t)used;
		}
		if (r->chunk_left == 0)
			r->chunk_header_len = 0;
	}
	return true;
}

uint8_t *zs_agent_msg_build(uint32_t port, uint32_t type, const void *head,
	size_t head_len, const void *body, size_t body_len, size_t *out_len)
{
	size_t size = head_len + body_len;
	if (size > UINT32_MAX - MSG_HEADER_BYTES)
		return NULL;
	size_t payload = MSG_HEADER_BYTES + size;
	size_t chunks = (payload + ZS_AGENT_CHUNK_MAX_BYTES - 1) /
		ZS_AGENT_CHUNK_MAX_BYTES;
	size_t total = payload + chunks * CHUNK_HEADER_BYTES;
	uint8_t *msg = malloc(payload);
	uint8_t *out = malloc(total);
	if (!msg || !out) {
		free(msg);
		free(out);
		return NULL;
	}
	put_le32(msg, VD_AGENT_PROTOCOL);
	put_le32(msg + 4, type);
	memset(msg + 8, 0, 8); /* opaque */
	put_le32(msg + 16, (uint32_t)size);
	if (head_len)
		memcpy(msg + MSG_HEADER_BYTES, head, head_len);
	if (body_len)
		memcpy(msg + MSG_HEADER_BYTES + head_len, body, body_len);

	size_t pos = 0, o = 0;
	while (pos < payload) {
		size_t n = payload - pos;
		if (n > ZS_AGENT_CHUNK_MAX_BYTES)
			n = ZS_AGENT_CHUNK_MAX_BYTES;
		put_le32(out + o, port);
		put_le32(out + o + 4, (uint32_t)n);
		memcpy(out + o + CHUNK_HEADER_BYTES, msg + pos, n);
		o += CHUNK_HEADER_BYTES + n;
		pos += n;
	}
	free(msg);
	*out_len = total;
	return out;
}

/* ---- payloads */

bool zs_agent_parse_caps(const uint8_t *data, size_t len, bool *request,
	uint32_t *caps, size_t n_caps)
{
	if (len < 4)
		return false;
	*request = get_le32(data) != 0;
	memset(caps, 0, n_caps * sizeof(*caps));
	size_t have = (len - 4) / 4;
	for (size_t i = 0; i < have && i < n_caps; i++)
		caps[i] = get_le32(data + 4 + 4 * i);
	return true;
}

bool zs_agent_has_cap(const uint32_t *caps, size_t n_caps, uint32_t cap)
{
	return cap / 32 < n_caps && (caps[cap / 32] >> (cap % 32)) & 1;
}

bool zs_agent_parse_clipboard(uint32_t type, const uint8_t *data, size_t len,
	bool selection, struct zs_agent_clipboard *out)
{
	memset(out, 0, sizeof(*out));
	if (selection) {
		if (len < 4)
			return false;
		out->selection = data[0];
		data += 4;
		len -= 4;
	}
	switch (type) {
	case VD_AGENT_CLIPBOARD_GRAB:
		/* u32 types[] */
		for (size_t i = 0; i + 4 <= len; i += 4) {
			uint32_t t = get_le32(data + i);
			if (t == VD_AGENT_CLIPBOARD_UTF8_TEXT)
				out->has_text = true;
		}
		return true;
	case VD_AGENT_CLIPBOARD_REQUEST:
		if (len < 4)
			return false;
		out->data_type = get_le32(data);
		return true;
	case VD_AGENT_CLIPBOARD:
		if (len < 4)
			return false;
		out->data_type = get_le32(data);
		out->data = data + 4;
		out->data_len = len - 4;
		return true;
	case VD_AGENT_CLIPBOARD_RELEASE:
		return true;
	}
	return false;
}

size_t zs_agent_put_clipboard_head(uint8_t out[8], bool selection,
	uint8_t sel, bool with_type, uint32_t data_type)
{
	size_t n = 0;

	if (selection) {
		out[0] = sel;
		out[1] = out[2] = out[3] = 0;
		n = 4;
	}
	if (with_type) {
		put_le32(out + n, data_type);
		n += 4;
	}
	return n;
}
