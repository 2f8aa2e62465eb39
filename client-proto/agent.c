/* The in-process vdagent device: what spice-server writes to it, reduced to
 * the mouse states the client sends in client (absolute) mouse mode; and the
 * button masks of both mouse modes mapped to ZS_BUTTON_*. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/vd_agent.h>

#include "zs-client-proto.h"
#include "zs-dmabuf.h"

#define CHUNK_HEADER_BYTES 8
#define MSG_HEADER_BYTES 20
#define MOUSE_STATE_BYTES 13

_Static_assert(sizeof(VDIChunkHeader) == CHUNK_HEADER_BYTES, "chunk header");
_Static_assert(sizeof(VDAgentMessage) == MSG_HEADER_BYTES, "message header");
_Static_assert(sizeof(VDAgentMouseState) == MOUSE_STATE_BYTES, "mouse state");
_Static_assert(VDP_CLIENT_PORT == 1 && VDP_SERVER_PORT == 2, "VDI ports");

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
		((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

void zs_agent_reader_init(struct zs_agent_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void zs_agent_reader_finish(struct zs_agent_reader *r)
{
	if (!r)
		return;
	memset(r, 0, sizeof(*r));
}

__attribute__((format(printf, 4, 5)))
static bool reader_fail(struct zs_agent_reader *r, char *err, size_t err_len,
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

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

#define MON_CONFIG_BYTES 20 /* VDAgentMonConfig */
#define MON_MM_BYTES 4      /* VDAgentMonitorMM */
_Static_assert(sizeof(VDAgentMonConfig) == MON_CONFIG_BYTES, "monitor");
_Static_assert(sizeof(VDAgentMonitorMM) == MON_MM_BYTES, "monitor mm");

bool zs_agent_parse_monitors_config(const uint8_t *body, size_t len,
	struct zs_agent_monitors *out, char *why, size_t why_len)
{
	uint32_t n, flags, kept;
	bool mm;

	memset(out, 0, sizeof(*out));
	if (!body || len < 8) {
		snprintf(why, why_len, "monitors config of %zu bytes, shorter "
			"than its header", len);
		return false;
	}
	n = get_le32(body);
	flags = get_le32(body + 4);
	if (n == 0) {
		snprintf(why, why_len, "monitors config without a monitor");
		return false;
	}
	if (n > (len - 8) / MON_CONFIG_BYTES) {
		snprintf(why, why_len, "monitors config of %u monitors in %zu "
			"bytes", n, len);
		return false;
	}
	mm = (flags & VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE) &&
		(len - 8) / (MON_CONFIG_BYTES + MON_MM_BYTES) >= n;
	kept = n < ZS_AGENT_MAX_MONITORS ? n : ZS_AGENT_MAX_MONITORS;
	for (uint32_t i = 0; i < kept; i++) {
		const uint8_t *m = body + 8 + (size_t)i * MON_CONFIG_BYTES;
		out->mon[i].height = get_le32(m);
		out->mon[i].width = get_le32(m + 4);
		out->mon[i].x = (int32_t)get_le32(m + 12);
		out->mon[i].y = (int32_t)get_le32(m + 16);
		if (mm) {
			const uint8_t *p = body + 8 +
				(size_t)n * MON_CONFIG_BYTES +
				(size_t)i * MON_MM_BYTES;
			out->mon[i].height_mm = get_le16(p);
			out->mon[i].width_mm = get_le16(p + 2);
		}
	}
	out->n = kept;
	return true;
}

static void report_monitors(struct zs_agent_reader *r,
	const struct zs_agent_port_state *ps, uint32_t size)
{
	struct zs_agent_monitors m;
	char why[128];

	if (!r->monitors_cb)
		return;
	if (size > ZS_AGENT_MONITORS_MAX_BYTES)
		size = ZS_AGENT_MONITORS_MAX_BYTES;
	if (!zs_agent_parse_monitors_config(ps->monitors, size, &m, why,
			sizeof(why))) {
		r->monitors_cb(NULL, why, r->monitors_data);
		return;
	}
	r->monitors_cb(&m, NULL, r->monitors_data);
}

static void report_mouse(const struct zs_agent_port_state *ps,
	zs_agent_mouse_fn cb, void *data)
{
	struct zs_agent_mouse m = {
		.x = get_le32(ps->mouse),
		.y = get_le32(ps->mouse + 4),
		.buttons = get_le32(ps->mouse + 8),
		.display_id = ps->mouse[12],
	};

	if (cb)
		cb(&m, data);
}

/* Consumes message bytes of one port from a chunk. Returns the number of
 * bytes used, or -1 after reader_fail(). */
static long port_consume(struct zs_agent_reader *r,
	struct zs_agent_port_state *ps, const uint8_t *buf, size_t len,
	zs_agent_mouse_fn cb, void *data, char *err, size_t err_len)
{
	size_t used = 0;

	if (ps->msg_header_len < MSG_HEADER_BYTES) {
		size_t n = MSG_HEADER_BYTES - ps->msg_header_len;
		if (n > len)
			n = len;
		memcpy(ps->msg_header + ps->msg_header_len, buf, n);
		ps->msg_header_len += n;
		used = n;
		if (ps->msg_header_len < MSG_HEADER_BYTES)
			return (long)used;

		uint32_t protocol = get_le32(ps->msg_header);
		uint32_t type = get_le32(ps->msg_header + 4);
		uint32_t size = get_le32(ps->msg_header + 16);
		if (protocol != VD_AGENT_PROTOCOL) {
			reader_fail(r, err, err_len,
				"agent message protocol %u, expected %u",
				protocol, VD_AGENT_PROTOCOL);
			return -1;
		}
		if (size > ZS_AGENT_MAX_MSG_BYTES) {
			reader_fail(r, err, err_len,
				"agent message type %u of %u bytes over the %u-byte limit",
				type, size, ZS_AGENT_MAX_MSG_BYTES);
			return -1;
		}
		if (type == VD_AGENT_MOUSE_STATE && size < MOUSE_STATE_BYTES) {
			reader_fail(r, err, err_len,
				"agent mouse state of %u bytes, expected at least %u",
				size, MOUSE_STATE_BYTES);
			return -1;
		}
		ps->msg_left = size;
		ps->msg_done = 0;
	}

	size_t n = len - used;
	if (n > ps->msg_left)
		n = ps->msg_left;
	if (get_le32(ps->msg_header + 4) == VD_AGENT_MOUSE_STATE &&
			ps->msg_done < MOUSE_STATE_BYTES) {
		size_t keep = MOUSE_STATE_BYTES - ps->msg_done;
		if (keep > n)
			keep = n;
		memcpy(ps->mouse + ps->msg_done, buf + used, keep);
	}
	if (get_le32(ps->msg_header + 4) == VD_AGENT_MONITORS_CONFIG &&
			ps->msg_done < ZS_AGENT_MONITORS_MAX_BYTES) {
		size_t keep = ZS_AGENT_MONITORS_MAX_BYTES - ps->msg_done;
		if (keep > n)
			keep = n;
		memcpy(ps->monitors + ps->msg_done, buf + used, keep);
	}
	ps->msg_done += (uint32_t)n;
	ps->msg_left -= (uint32_t)n;
	used += n;

	if (ps->msg_left == 0) {
		/* Whole message seen: header complete and all data consumed. */
		if (get_le32(ps->msg_header + 4) == VD_AGENT_MOUSE_STATE)
			report_mouse(ps, cb, data);
		else if (get_le32(ps->msg_header + 4) ==
				VD_AGENT_MONITORS_CONFIG)
			report_monitors(r, ps, get_le32(ps->msg_header + 16));
		ps->msg_header_len = 0;
		ps->msg_done = 0;
	}
	return (long)used;
}

bool zs_agent_reader_feed(struct zs_agent_reader *r, const uint8_t *buf,
	size_t len, zs_agent_mouse_fn cb, void *data, char *err, size_t err_len)
{
	if (r->failed)
		return reader_fail(r, err, err_len, "agent reader already failed");
	if (!buf && len)
		return reader_fail(r, err, err_len, "agent reader fed NULL");

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
				return reader_fail(r, err, err_len,
					"agent chunk for unknown port %u (size %u)",
					r->chunk_port, r->chunk_left);
		}

		size_t n = r->chunk_left < len ? r->chunk_left : len;
		struct zs_agent_port_state *ps = &r->port[r->chunk_port - 1];
		while (n > 0) {
			long used = port_consume(r, ps, buf, n, cb, data, err,
				err_len);
			if (used < 0)
				return false;
			buf += used;
			len -= (size_t)used;
			n -= (size_t)used;
			r->chunk_left -= (uint32_t)used;
		}
		if (r->chunk_left == 0)
			r->chunk_header_len = 0;
	}
	return true;
}

uint32_t zs_agent_buttons_to_zs(uint32_t agent_buttons)
{
	uint32_t out = 0;

	if (agent_buttons & VD_AGENT_LBUTTON_MASK)
		out |= ZS_BUTTON_LEFT;
	if (agent_buttons & VD_AGENT_MBUTTON_MASK)
		out |= ZS_BUTTON_MIDDLE;
	if (agent_buttons & VD_AGENT_RBUTTON_MASK)
		out |= ZS_BUTTON_RIGHT;
	if (agent_buttons & VD_AGENT_UBUTTON_MASK)
		out |= ZS_BUTTON_WHEEL_UP;
	if (agent_buttons & VD_AGENT_DBUTTON_MASK)
		out |= ZS_BUTTON_WHEEL_DOWN;
	return out;
}

/* spice-server's RED_MOUSE_STATE_TO_LOCAL: left stays, middle moves up one
 * bit, right moves down one (PS/2 order). */
#define LOCAL_BUTTON_LEFT SPICE_MOUSE_BUTTON_MASK_LEFT
#define LOCAL_BUTTON_RIGHT (SPICE_MOUSE_BUTTON_MASK_RIGHT >> 1)
#define LOCAL_BUTTON_MIDDLE (SPICE_MOUSE_BUTTON_MASK_MIDDLE << 1)

uint32_t zs_spice_buttons_to_zs(uint32_t spice_buttons)
{
	uint32_t out = 0;

	if (spice_buttons & LOCAL_BUTTON_LEFT)
		out |= ZS_BUTTON_LEFT;
	if (spice_buttons & LOCAL_BUTTON_MIDDLE)
		out |= ZS_BUTTON_MIDDLE;
	if (spice_buttons & LOCAL_BUTTON_RIGHT)
		out |= ZS_BUTTON_RIGHT;
	return out;
}
