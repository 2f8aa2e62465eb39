/* The vdagent char device toward spice-server and what stands behind it.
 *
 * It stays registered for the whole run (client mouse mode needs it,
 * shared/DESIGN.md §3). Behind it, one of:
 *  - the guest agent (spice-vdagent in the VM, through QEMU's
 *    -chardev dbus,name=org.spice-space.vdagent.0): every client message is
 *    carried to it and every agent message back, as whole messages;
 *  - nobody: we answer as an agent would, with what we can do ourselves
 *    (mouse, QEMU's clipboard, monitors config through the display hook) and
 *    announce exactly that.
 * Mouse states from spice-server go to a guest agent that announced
 * VD_AGENT_CAP_MOUSE_STATE (as with QEMU's own SPICE), otherwise our own
 * path to QEMU's mouse.
 *
 * What zerospice answers itself is in agent-own.c.
 *
 * Streams are reassembled into whole messages both ways, so a guest agent
 * that vanishes mid-message costs only that message: the client's stream
 * stays in step, and grabs the agent held are released toward the client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <spice/vd_agent.h>

#include "agent-bridge-private.h"

#define BRIDGE_OF(ptr) \
	((struct zs_agent_bridge *)((char *)(ptr) - \
		offsetof(struct zs_agent_bridge, sin)))

static void out_free(gpointer p)
{
	struct out_buf *o = p;

	free(o->data); /* zs_agent_msg_build() mallocs */
	g_free(o);
}

static void queue_clear(GQueue *q, size_t *bytes)
{
	struct out_buf *o;

	while ((o = g_queue_pop_head(q)))
		out_free(o);
	*bytes = 0;
}

static void guest_watch_update(struct zs_agent_bridge *b);

/* ---- toward spice-server (the client) */

static gboolean wakeup_cb(gpointer data)
{
	struct zs_agent_bridge *b = data;

	g_source_unref(b->wakeup_idle);
	b->wakeup_idle = NULL;
	if (b->added)
		spice_server_char_device_wakeup(&b->sin);
	return G_SOURCE_REMOVE;
}

/* spice-server is told from an idle: never from inside its own write. */
static void wakeup_later(struct zs_agent_bridge *b)
{
	if (b->wakeup_idle)
		return;
	b->wakeup_idle = g_idle_source_new();
	g_source_set_callback(b->wakeup_idle, wakeup_cb, b, NULL);
	g_source_attach(b->wakeup_idle, NULL);
}

static void to_spice_raw(struct zs_agent_bridge *b, uint8_t *bytes,
	size_t len)
{
	struct out_buf *o = g_new0(struct out_buf, 1);

	o->data = bytes;
	o->len = len;
	g_queue_push_tail(&b->to_spice, o);
	b->to_spice_bytes += len;
	wakeup_later(b);
}

/* One message to the client: head then body. */
void zs_agent_to_client(struct zs_agent_bridge *b, uint32_t type,
	const void *head, size_t head_len, const void *body, size_t body_len)
{
	size_t len;
	uint8_t *msg;

	if (b->to_spice_bytes > TO_SPICE_MAX_BYTES) {
		if (!b->warned_full)
			g_warning("agent: the client reads nothing and %zu bytes "
				"wait for it: dropping messages to it",
				b->to_spice_bytes);
		b->warned_full = true;
		return;
	}
	b->warned_full = false;
	msg = zs_agent_msg_build(VDP_CLIENT_PORT, type, head, head_len, body,
		body_len, &len);
	if (!msg) {
		g_warning("agent: no memory for a %zu-byte message to the "
			"client (type %u): dropped", head_len + body_len, type);
		return;
	}
	to_spice_raw(b, msg, len);
}

static int sif_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
	struct zs_agent_bridge *b = BRIDGE_OF(sin);
	size_t done = 0;

	while (done < (size_t)len && !g_queue_is_empty(&b->to_spice)) {
		struct out_buf *o = g_queue_peek_head(&b->to_spice);
		size_t n = MIN(o->len - o->pos, (size_t)len - done);
		memcpy(buf + done, o->data + o->pos, n);
		o->pos += n;
		done += n;
		b->to_spice_bytes -= n;
		if (o->pos == o->len)
			out_free(g_queue_pop_head(&b->to_spice));
	}
	if (done)
		guest_watch_update(b); /* may read the guest again */
	return (int)done;
}

/* ---- the guest agent */

static void to_guest(struct zs_agent_bridge *b, const struct zs_agent_msg *m)
{
	size_t len;
	uint8_t *bytes;

	if (b->to_guest_bytes > TO_GUEST_MAX_BYTES) {
		g_warning("agent: the guest agent reads nothing: message type "
			"%u (%u bytes) dropped", m->type, m->size);
		return;
	}
	bytes = zs_agent_msg_build(m->port, m->type, m->data, m->size, NULL,
		0, &len);
	if (!bytes) {
		g_warning("agent: no memory for a %u-byte message to the "
			"guest: dropped", m->size);
		return;
	}
	struct out_buf *o = g_new0(struct out_buf, 1);
	o->data = bytes;
	o->len = len;
	g_queue_push_tail(&b->to_guest, o);
	b->to_guest_bytes += len;
	guest_watch_update(b);
}

static void track_guest_msg(struct zs_agent_bridge *b,
	const struct zs_agent_msg *m)
{
	struct zs_agent_clipboard c;
	bool request;

	switch (m->type) {
	case VD_AGENT_ANNOUNCE_CAPABILITIES:
		if (zs_agent_parse_caps(m->data, m->size, &request,
				b->guest_caps, N_CAPS))
			b->guest_announced = true;
		break;
	case VD_AGENT_CLIPBOARD_GRAB:
	case VD_AGENT_CLIPBOARD_RELEASE:
		if (!zs_agent_parse_clipboard(m->type, m->data, m->size,
				zs_agent_both_have(b, b->guest_caps,
					VD_AGENT_CAP_CLIPBOARD_SELECTION), &c) ||
		    c.selection >= N_SEL)
			break;
		b->guest_grabs[c.selection] =
			m->type == VD_AGENT_CLIPBOARD_GRAB;
		break;
	}
}

static void on_guest_msg(const struct zs_agent_msg *m, void *data)
{
	struct zs_agent_bridge *b = data;

	if (!m->data) {
		g_warning("agent: guest message type %u of %u bytes over the "
			"%u-byte limit: dropped", m->type, m->size,
			ZS_AGENT_BRIDGE_MAX_MSG_BYTES);
		return;
	}
	/* spice-server discards what the agent sends to VDP_SERVER_PORT */
	if (m->port != VDP_CLIENT_PORT)
		return;
	track_guest_msg(b, m);
	zs_agent_to_client(b, m->type, m->data, m->size, NULL, 0);
}

static void guest_detach(struct zs_agent_bridge *b, const char *why)
{
	if (b->guest_fd < 0)
		return;
	g_message("agent: guest agent detached (%s); zerospice answers for "
		"it%s", why, b->vm_clipboard ? ", with QEMU's clipboard" : "");
	if (b->guest_watch) {
		g_source_destroy(b->guest_watch);
		g_source_unref(b->guest_watch);
		b->guest_watch = NULL;
	}
	close(b->guest_fd);
	b->guest_fd = -1;
	zs_agent_msg_reader_finish(&b->from_guest);
	queue_clear(&b->to_guest, &b->to_guest_bytes);
	bool sel_prefix = zs_agent_both_have(b, b->guest_caps,
		VD_AGENT_CAP_CLIPBOARD_SELECTION);
	memset(b->guest_caps, 0, sizeof(b->guest_caps));
	b->guest_announced = false;
	b->said_agent_mouse = false;
	if (!b->client_announced) {
		memset(b->guest_grabs, 0, sizeof(b->guest_grabs));
		return;
	}
	/* The client must not offer the guest's clipboard any more. */
	for (uint32_t sel = 0; sel < N_SEL; sel++) {
		if (!b->guest_grabs[sel])
			continue;
		b->guest_grabs[sel] = false;
		uint8_t head[8];
		size_t n = zs_agent_put_clipboard_head(head, sel_prefix,
			(uint8_t)sel, false, 0);
		zs_agent_to_client(b, VD_AGENT_CLIPBOARD_RELEASE, head, n, NULL, 0);
	}
	zs_agent_announce(b, false);
	for (uint32_t sel = 0; sel < N_SEL; sel++)
		if (b->vm_owns[sel])
			zs_agent_bridge_vm_clipboard_grab(b, sel);
}

static void guest_read(struct zs_agent_bridge *b)
{
	uint8_t buf[GUEST_READ_BYTES];
	char err[160];

	while (b->guest_fd >= 0 && b->to_spice_bytes < TO_SPICE_HIGH_BYTES) {
		ssize_t n = read(b->guest_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			guest_detach(b, n == 0 ? "QEMU closed the stream" :
				strerror(errno));
			return;
		}
		if (!zs_agent_msg_reader_feed(&b->from_guest, buf, (size_t)n,
				on_guest_msg, b, err, sizeof(err))) {
			g_warning("agent: guest agent sent bad data: %s", err);
			guest_detach(b, "protocol error");
			return;
		}
	}
}

static void guest_write(struct zs_agent_bridge *b)
{
	while (b->guest_fd >= 0 && !g_queue_is_empty(&b->to_guest)) {
		struct out_buf *o = g_queue_peek_head(&b->to_guest);
		ssize_t n = write(b->guest_fd, o->data + o->pos,
			o->len - o->pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			guest_detach(b, strerror(errno));
			return;
		}
		o->pos += (size_t)n;
		b->to_guest_bytes -= (size_t)n;
		if (o->pos == o->len)
			out_free(g_queue_pop_head(&b->to_guest));
	}
}

static gboolean on_guest_io(gint fd, GIOCondition cond, gpointer data)
{
	struct zs_agent_bridge *b = data;

	(void)fd;
	if (cond & G_IO_OUT)
		guest_write(b);
	if (b->guest_fd >= 0 && (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
		guest_read(b);
	guest_watch_update(b);
	return G_SOURCE_CONTINUE;
}

static void guest_watch_update(struct zs_agent_bridge *b)
{
	GIOCondition cond = 0;

	if (b->guest_fd < 0)
		return;
	if (b->to_spice_bytes < TO_SPICE_HIGH_BYTES)
		cond |= G_IO_IN;
	if (!g_queue_is_empty(&b->to_guest))
		cond |= G_IO_OUT;
	if (b->guest_watch && cond == b->guest_cond)
		return;
	if (b->guest_watch) {
		g_source_destroy(b->guest_watch);
		g_source_unref(b->guest_watch);
		b->guest_watch = NULL;
	}
	b->guest_cond = cond;
	if (!cond)
		return;
	b->guest_watch = g_unix_fd_source_new(b->guest_fd, cond);
	g_source_set_callback(b->guest_watch, G_SOURCE_FUNC(on_guest_io), b,
		NULL);
	g_source_attach(b->guest_watch, NULL);
}

void zs_agent_bridge_set_guest(struct zs_agent_bridge *b, int fd)
{
	guest_detach(b, fd < 0 ? "the guest closed its port" : "replaced");
	if (fd < 0)
		return;
	/* What we held for the client and QEMU is the guest agent's now. */
	zs_agent_drop_own_clipboard(b, true);
	b->guest_fd = fd;
	zs_agent_msg_reader_init(&b->from_guest, ZS_AGENT_BRIDGE_MAX_MSG_BYTES);
	g_message("agent: guest agent attached; client agent messages go to "
		"it");
	if (b->client_announced) {
		/* A guest agent that was already running does not announce
		 * itself again: ask it, as the client would. */
		uint8_t msg[4 + 4 * N_CAPS];
		uint32_t r = 1;
		memcpy(msg, &r, 4);
		memcpy(msg + 4, b->client_caps, sizeof(b->client_caps));
		struct zs_agent_msg m = {
			.port = VDP_CLIENT_PORT,
			.type = VD_AGENT_ANNOUNCE_CAPABILITIES,
			.size = sizeof(msg),
			.data = msg,
		};
		to_guest(b, &m);
		if (b->max_clipboard != -1) {
			int32_t max = b->max_clipboard;
			struct zs_agent_msg mc = {
				.port = VDP_CLIENT_PORT,
				.type = VD_AGENT_MAX_CLIPBOARD,
				.size = sizeof(max),
				.data = (const uint8_t *)&max,
			};
			to_guest(b, &mc);
		}
	}
	guest_watch_update(b);
}

bool zs_agent_bridge_has_guest(const struct zs_agent_bridge *b)
{
	return b->guest_fd >= 0;
}

/* ---- messages from spice-server (the client, and spice-server itself) */

static void on_spice_msg(const struct zs_agent_msg *m, void *data)
{
	struct zs_agent_bridge *b = data;

	if (m->port == VDP_SERVER_PORT && m->type == VD_AGENT_MOUSE_STATE) {
		if (!m->data || m->size < sizeof(VDAgentMouseState))
			return;
		/* A guest agent that says it takes the mouse gets it, as under
		 * QEMU's own SPICE (spice-vdagent moves the pointer itself,
		 * knowing the guest's monitors); otherwise QEMU's mouse. */
		if (b->guest_fd >= 0 && b->guest_announced &&
		    zs_agent_has_cap(b->guest_caps, N_CAPS,
			    VD_AGENT_CAP_MOUSE_STATE)) {
			if (!b->said_agent_mouse)
				g_message("agent: the guest agent takes the "
					"mouse (it announced MOUSE_STATE)");
			b->said_agent_mouse = true;
			to_guest(b, m);
			return;
		}
		VDAgentMouseState s;
		memcpy(&s, m->data, sizeof(s));
		b->ops->pointer_abs(b->data, (int32_t)MIN(s.x, INT32_MAX),
			(int32_t)MIN(s.y, INT32_MAX),
			zs_agent_buttons_to_zs(s.buttons));
		return;
	}
	if (!m->data) {
		g_warning("agent: client message type %u of %u bytes over the "
			"%u-byte limit: dropped", m->type, m->size,
			ZS_AGENT_BRIDGE_MAX_MSG_BYTES);
		if (m->type == VD_AGENT_CLIPBOARD)
			for (uint32_t sel = 0; sel < N_SEL; sel++)
				if (b->vm_asked[sel]) {
					b->vm_asked[sel] = false;
					b->ops->clipboard_reply(b->data, sel,
						NULL, 0);
				}
		return;
	}
	bool request;
	switch (m->type) {
	case VD_AGENT_ANNOUNCE_CAPABILITIES:
		if (m->port != VDP_CLIENT_PORT ||
		    !zs_agent_parse_caps(m->data, m->size, &request,
			    b->client_caps, N_CAPS))
			break;
		b->client_announced = true;
		if (b->guest_fd < 0) {
			if (request)
				zs_agent_announce(b, false);
			/* a client that joins after QEMU's grab learns of it */
			for (uint32_t sel = 0; sel < N_SEL; sel++)
				if (b->vm_owns[sel])
					zs_agent_bridge_vm_clipboard_grab(b,
						sel);
			return;
		}
		break;
	case VD_AGENT_MAX_CLIPBOARD:
		if (m->size >= 4) {
			int32_t max;
			memcpy(&max, m->data, 4);
			b->max_clipboard = max <= 0 ? -1 : max;
		}
		break;
	case VD_AGENT_CLIENT_DISCONNECTED:
		/* The client's capabilities stay: spice-server may report the
		 * old client gone after the next one announced itself (the
		 * next announce replaces them anyway). */
		b->max_clipboard = -1;
		if (b->guest_fd < 0) {
			zs_agent_drop_own_clipboard(b, false);
			return;
		}
		memset(b->guest_grabs, 0, sizeof(b->guest_grabs));
		break;
	}
	if (b->guest_fd >= 0)
		to_guest(b, m);
	else if (m->port == VDP_CLIENT_PORT)
		zs_agent_client_msg_own(b, m);
}

static int sif_write(SpiceCharDeviceInstance *sin, const uint8_t *buf,
	int len)
{
	struct zs_agent_bridge *b = BRIDGE_OF(sin);
	char err[160];

	if (len <= 0)
		return 0;
	if (!zs_agent_msg_reader_feed(&b->from_spice, buf, (size_t)len,
			on_spice_msg, b, err, sizeof(err))) {
		/* spice-server frames its chunks itself: this is a bug, not
		 * input to tolerate silently */
		g_warning("agent channel: %s; resynchronising", err);
		zs_agent_msg_reader_finish(&b->from_spice);
		zs_agent_msg_reader_init(&b->from_spice,
			ZS_AGENT_BRIDGE_MAX_MSG_BYTES);
	}
	return len;
}

static void sif_state(SpiceCharDeviceInstance *sin, int connected)
{
	(void)sin;
	(void)connected;
}

static SpiceCharDeviceInterface agent_sif = {
	.base = {
		.type = SPICE_INTERFACE_CHAR_DEVICE,
		.description = "zerospice agent",
		.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
		.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR,
	},
	.state = sif_state,
	.write = sif_write,
	.read = sif_read,
};

/* ---- lifecycle */

struct zs_agent_bridge *zs_agent_bridge_create(SpiceServer *server,
	const struct zs_agent_bridge_ops *ops, void *data, char *err,
	size_t err_len)
{
	struct zs_agent_bridge *b = g_new0(struct zs_agent_bridge, 1);

	b->server = server;
	b->ops = ops;
	b->data = data;
	b->guest_fd = -1;
	b->max_clipboard = -1;
	g_queue_init(&b->to_spice);
	g_queue_init(&b->to_guest);
	zs_agent_msg_reader_init(&b->from_spice,
		ZS_AGENT_BRIDGE_MAX_MSG_BYTES);
	b->sin.base.sif = &agent_sif.base;
	b->sin.subtype = "vdagent";
	if (spice_server_add_interface(server, &b->sin.base) != 0) {
		snprintf(err, err_len, "spice-server refused the agent "
			"interface");
		zs_agent_bridge_destroy(b);
		return NULL;
	}
	b->added = true;
	return b;
}

void zs_agent_bridge_destroy(struct zs_agent_bridge *b)
{
	if (!b)
		return;
	if (b->added)
		spice_server_remove_interface(&b->sin.base);
	b->added = false;
	if (b->guest_fd >= 0) {
		if (b->guest_watch) {
			g_source_destroy(b->guest_watch);
			g_source_unref(b->guest_watch);
		}
		close(b->guest_fd);
	}
	if (b->wakeup_idle) {
		g_source_destroy(b->wakeup_idle);
		g_source_unref(b->wakeup_idle);
	}
	zs_agent_msg_reader_finish(&b->from_guest);
	zs_agent_msg_reader_finish(&b->from_spice);
	queue_clear(&b->to_spice, &b->to_spice_bytes);
	queue_clear(&b->to_guest, &b->to_guest_bytes);
	g_free(b);
}
