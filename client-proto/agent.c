/* The client's VD_AGENT_MONITORS_CONFIG (its window sizes), parsed for
 * the desktop-follows-the-window path; and the button masks of both mouse
 * modes (agent and SPICE inputs channel) mapped to ZS_BUTTON_*. Whole agent
 * messages are reassembled by agent-msg.c. */
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
