/* The agent bridge without a guest agent: zerospice answers the client as
 * an agent would, with what it does itself — the mouse (agent-bridge.c),
 * QEMU's clipboard (UTF-8 text, all selections), monitors config through
 * the session hook — and announces exactly that. */
#include <string.h>

#include <spice/vd_agent.h>

#include "agent-bridge-private.h"

/* ---- capabilities */

bool zs_agent_both_have(const struct zs_agent_bridge *b, const uint32_t *ours,
	uint32_t cap)
{
	return zs_agent_has_cap(ours, N_CAPS, cap) &&
		zs_agent_has_cap(b->client_caps, N_CAPS, cap);
}

static void set_cap(uint32_t *caps, uint32_t cap)
{
	caps[cap / 32] |= 1u << (cap % 32);
}

/* What we do ourselves, without a guest agent. */
void zs_agent_own_caps(const struct zs_agent_bridge *b, uint32_t *caps)
{
	memset(caps, 0, N_CAPS * sizeof(*caps));
	set_cap(caps, VD_AGENT_CAP_MOUSE_STATE);
	set_cap(caps, VD_AGENT_CAP_FILE_XFER_DISABLED);
	if (b->ops->monitors_config) {
		set_cap(caps, VD_AGENT_CAP_MONITORS_CONFIG);
		/* monitor i is then display channel i, also when display 0
		 * is closed: the client's window of display i resizes
		 * console i */
		set_cap(caps, VD_AGENT_CAP_SPARSE_MONITORS_CONFIG);
	}
	if (b->vm_clipboard) {
		set_cap(caps, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
		set_cap(caps, VD_AGENT_CAP_CLIPBOARD_SELECTION);
		set_cap(caps, VD_AGENT_CAP_MAX_CLIPBOARD);
		set_cap(caps, VD_AGENT_CAP_GUEST_LINEEND_LF);
	}
}

void zs_agent_announce(struct zs_agent_bridge *b, bool request)
{
	uint32_t caps[N_CAPS];
	uint8_t msg[4 + 4 * N_CAPS];

	zs_agent_own_caps(b, caps);
	uint32_t r = request;
	memcpy(msg, &r, 4);
	for (int i = 0; i < N_CAPS; i++)
		memcpy(msg + 4 + 4 * i, &caps[i], 4);
	zs_agent_to_client(b, VD_AGENT_ANNOUNCE_CAPABILITIES, msg, sizeof(msg), NULL,
		0);
}

/* ---- our own clipboard, between the client and QEMU */

static bool own_selection(const struct zs_agent_bridge *b)
{
	uint32_t caps[N_CAPS];

	zs_agent_own_caps(b, caps);
	return zs_agent_both_have(b, caps, VD_AGENT_CAP_CLIPBOARD_SELECTION);
}

bool zs_agent_clipboard_usable(const struct zs_agent_bridge *b, uint32_t sel)
{
	uint32_t caps[N_CAPS];

	if (b->guest_fd >= 0 || !b->vm_clipboard || !b->client_announced ||
	    sel >= N_SEL)
		return false;
	zs_agent_own_caps(b, caps);
	if (!zs_agent_both_have(b, caps, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND))
		return false;
	return sel == VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ||
		own_selection(b);
}

static void clip_to_client(struct zs_agent_bridge *b, uint32_t type,
	uint32_t sel, bool with_type, uint32_t data_type, const void *body,
	size_t body_len)
{
	uint8_t head[8];
	size_t n = zs_agent_put_clipboard_head(head, own_selection(b),
		(uint8_t)sel, with_type, data_type);

	zs_agent_to_client(b, type, head, n, body, body_len);
}

static void client_clipboard(struct zs_agent_bridge *b,
	const struct zs_agent_msg *m)
{
	struct zs_agent_clipboard c;

	if (!zs_agent_parse_clipboard(m->type, m->data, m->size,
			own_selection(b), &c)) {
		g_warning("agent: malformed clipboard message %u from the "
			"client (%u bytes) ignored", m->type, m->size);
		return;
	}
	uint32_t sel = c.selection;
	if (!zs_agent_clipboard_usable(b, sel))
		return;
	switch (m->type) {
	case VD_AGENT_CLIPBOARD_GRAB:
		b->vm_owns[sel] = false;
		if (c.has_text) {
			b->client_owns[sel] = true;
			b->ops->clipboard_grab(b->data, sel);
		} else if (b->client_owns[sel]) {
			b->client_owns[sel] = false;
			b->ops->clipboard_release(b->data, sel);
		}
		break;
	case VD_AGENT_CLIPBOARD_RELEASE:
		if (b->client_owns[sel]) {
			b->client_owns[sel] = false;
			b->ops->clipboard_release(b->data, sel);
		}
		break;
	case VD_AGENT_CLIPBOARD_REQUEST:
		if (c.data_type == VD_AGENT_CLIPBOARD_UTF8_TEXT &&
		    b->vm_owns[sel]) {
			b->ops->clipboard_request(b->data, sel);
		} else {
			clip_to_client(b, VD_AGENT_CLIPBOARD, sel, true,
				VD_AGENT_CLIPBOARD_NONE, NULL, 0);
		}
		break;
	case VD_AGENT_CLIPBOARD:
		if (!b->vm_asked[sel])
			break;
		b->vm_asked[sel] = false;
		if (c.data_type == VD_AGENT_CLIPBOARD_UTF8_TEXT)
			b->ops->clipboard_reply(b->data, sel, c.data,
				c.data_len);
		else
			b->ops->clipboard_reply(b->data, sel, NULL, 0);
		break;
	}
}

/* The client's clipboard is no longer ours to hold (a guest agent took
 * over, the client left): QEMU's side forgets it. */
void zs_agent_drop_own_clipboard(struct zs_agent_bridge *b, bool tell_client)
{
	for (uint32_t sel = 0; sel < N_SEL; sel++) {
		if (b->client_owns[sel]) {
			b->client_owns[sel] = false;
			b->ops->clipboard_release(b->data, sel);
		}
		if (b->vm_asked[sel]) {
			b->vm_asked[sel] = false;
			b->ops->clipboard_reply(b->data, sel, NULL, 0);
		}
		if (b->vm_owns[sel] && tell_client && zs_agent_clipboard_usable(b, sel))
			clip_to_client(b, VD_AGENT_CLIPBOARD_RELEASE, sel,
				false, 0, NULL, 0);
	}
}

void zs_agent_bridge_vm_clipboard_ready(struct zs_agent_bridge *b,
	bool ready)
{
	if (b->vm_clipboard == ready)
		return;
	if (!ready) {
		zs_agent_drop_own_clipboard(b, true);
		memset(b->vm_owns, 0, sizeof(b->vm_owns));
	}
	b->vm_clipboard = ready;
	if (b->guest_fd < 0 && b->client_announced)
		zs_agent_announce(b, false);
}

void zs_agent_bridge_vm_clipboard_grab(struct zs_agent_bridge *b,
	uint32_t sel)
{
	if (sel >= N_SEL)
		return;
	b->vm_owns[sel] = true;
	b->client_owns[sel] = false;
	if (zs_agent_clipboard_usable(b, sel)) {
		uint32_t type = VD_AGENT_CLIPBOARD_UTF8_TEXT;
		clip_to_client(b, VD_AGENT_CLIPBOARD_GRAB, sel, false, 0,
			&type, sizeof(type));
	}
}

void zs_agent_bridge_vm_clipboard_release(struct zs_agent_bridge *b,
	uint32_t sel)
{
	if (sel >= N_SEL || !b->vm_owns[sel])
		return;
	b->vm_owns[sel] = false;
	if (zs_agent_clipboard_usable(b, sel))
		clip_to_client(b, VD_AGENT_CLIPBOARD_RELEASE, sel, false, 0,
			NULL, 0);
}

void zs_agent_bridge_vm_clipboard_request(struct zs_agent_bridge *b,
	uint32_t sel)
{
	if (sel >= N_SEL || !b->client_owns[sel] ||
	    !zs_agent_clipboard_usable(b, sel)) {
		b->ops->clipboard_reply(b->data, sel, NULL, 0);
		return;
	}
	b->vm_asked[sel] = true;
	clip_to_client(b, VD_AGENT_CLIPBOARD_REQUEST, sel, true,
		VD_AGENT_CLIPBOARD_UTF8_TEXT, NULL, 0);
}

void zs_agent_bridge_vm_clipboard_text(struct zs_agent_bridge *b,
	uint32_t sel, const uint8_t *text, size_t len)
{
	if (!zs_agent_clipboard_usable(b, sel))
		return;
	if (text && b->max_clipboard >= 0 &&
	    len > (size_t)b->max_clipboard) {
		g_warning("agent: %zu bytes of clipboard text over the "
			"client's %d-byte limit: sent none", len,
			b->max_clipboard);
		text = NULL;
	}
	if (text)
		clip_to_client(b, VD_AGENT_CLIPBOARD, sel, true,
			VD_AGENT_CLIPBOARD_UTF8_TEXT, text, len);
	else
		clip_to_client(b, VD_AGENT_CLIPBOARD, sel, true,
			VD_AGENT_CLIPBOARD_NONE, NULL, 0);
}


void zs_agent_client_msg_own(struct zs_agent_bridge *b,
	const struct zs_agent_msg *m)
{
	switch (m->type) {
	case VD_AGENT_CLIPBOARD_GRAB:
	case VD_AGENT_CLIPBOARD_REQUEST:
	case VD_AGENT_CLIPBOARD:
	case VD_AGENT_CLIPBOARD_RELEASE:
		client_clipboard(b, m);
		break;
	case VD_AGENT_MONITORS_CONFIG:
		if (b->ops->monitors_config)
			b->ops->monitors_config(b->data, m->data, m->size);
		break;
	case VD_AGENT_FILE_XFER_START: {
		/* {u32 id; u8 data[]}: refuse, as our caps said */
		if (m->size < 4)
			break;
		uint32_t status[2];
		memcpy(&status[0], m->data, 4);
		status[1] = VD_AGENT_FILE_XFER_STATUS_DISABLED;
		zs_agent_to_client(b, VD_AGENT_FILE_XFER_STATUS, status,
			sizeof(status), NULL, 0);
		break;
	}
	default: /* DISPLAY_CONFIG, FILE_XFER_DATA…: nothing to do */
		break;
	}
}
