/* The session bridges wired together: QEMU's character devices and
 * clipboard (qemu/chardev.c, qemu/clipboard.c) on one side, the agent bridge
 * and the usbredir char devices (agent-bridge.c, usbredir.c) on the other. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "zs-qemu.h"

struct zs_session {
	struct zs_display *display;
	struct zs_source **source;  /* the app's current source */
	char *vdagent_id;           /* QEMU's guest agent chardev, if any */
	GHashTable *usbredir;       /* chardev id → struct zs_usbredir */
	struct zs_session_hooks hooks;
	void *hooks_data;
};

/* ---- the agent bridge's hooks: QEMU's clipboard */

static void clip_grab(void *data, uint32_t sel)
{
	struct zs_session *s = data;
	zs_qemu_clipboard_grab(*s->source, sel);
}

static void clip_release(void *data, uint32_t sel)
{
	struct zs_session *s = data;
	zs_qemu_clipboard_release(*s->source, sel);
}

static void on_vm_text(void *data, uint32_t sel, const uint8_t *text,
	size_t len)
{
	struct zs_session *s = data;
	if (s->display)
		zs_agent_bridge_vm_clipboard_text(zs_display_agent(s->display),
			sel, text, len);
}

static void clip_request(void *data, uint32_t sel)
{
	struct zs_session *s = data;
	zs_qemu_clipboard_request(*s->source, sel, on_vm_text, s);
}

static void clip_reply(void *data, uint32_t sel, const uint8_t *text,
	size_t len)
{
	struct zs_session *s = data;
	zs_qemu_clipboard_reply(*s->source, sel, text, len);
}

static void monitors_config(void *data, const uint8_t *config, size_t len)
{
	struct zs_session *s = data;
	s->hooks.monitors_config(s->hooks_data, config, len);
}

static const struct zs_agent_bridge_ops agent_ops_clip = {
	.clipboard_grab = clip_grab,
	.clipboard_release = clip_release,
	.clipboard_request = clip_request,
	.clipboard_reply = clip_reply,
};

static const struct zs_agent_bridge_ops agent_ops_clip_monitors = {
	.monitors_config = monitors_config,
	.clipboard_grab = clip_grab,
	.clipboard_release = clip_release,
	.clipboard_request = clip_request,
	.clipboard_reply = clip_reply,
};

const struct zs_agent_bridge_ops *zs_session_agent_ops(
	const struct zs_session *s)
{
	return s->hooks.monitors_config ? &agent_ops_clip_monitors :
		&agent_ops_clip;
}

/* ---- QEMU's side */

static struct zs_agent_bridge *bridge(struct zs_session *s)
{
	return s->display ? zs_display_agent(s->display) : NULL;
}

static void vdagent_connect(struct zs_session *s)
{
	char err[200];
	int fd = zs_qemu_chardev_connect(*s->source, s->vdagent_id, err,
		sizeof(err));

	if (fd < 0) {
		g_warning("agent: cannot reach the guest agent: %s", err);
		return;
	}
	zs_agent_bridge_set_guest(bridge(s), fd);
}

static int usbredir_connect(void *data, const char *id)
{
	struct zs_session *s = data;
	char err[200];
	int fd = zs_qemu_chardev_connect(*s->source, id, err, sizeof(err));

	if (fd < 0)
		g_warning("usbredir %s: %s", id, err);
	return fd;
}

static void on_chardev_added(void *data, const char *id, const char *name,
	bool fe_opened)
{
	struct zs_session *s = data;
	char err[200];

	if (!s->display)
		return;
	if (strcmp(name, ZS_QEMU_CHARDEV_VDAGENT) == 0) {
		if (s->vdagent_id) {
			g_warning("agent: a second guest agent chardev %s "
				"ignored (using %s)", id, s->vdagent_id);
			return;
		}
		s->vdagent_id = g_strdup(id);
		if (fe_opened)
			vdagent_connect(s);
	} else if (strcmp(name, ZS_QEMU_CHARDEV_USBREDIR) == 0) {
		struct zs_usbredir *u = zs_usbredir_create(
			zs_display_spice_server(s->display), id,
			usbredir_connect, s, err, sizeof(err));
		if (!u) {
			g_warning("usbredir: %s", err);
			return;
		}
		g_hash_table_insert(s->usbredir, g_strdup(id), u);
		g_message("usbredir %s: offered to SPICE clients", id);
	} else {
		g_message("QEMU chardev %s (%s): not a stream zerospice "
			"bridges", id, name);
	}
}

static void on_chardev_fe_opened(void *data, const char *id, bool opened)
{
	struct zs_session *s = data;

	if (!s->display || g_strcmp0(id, s->vdagent_id) != 0)
		return;
	if (opened)
		vdagent_connect(s);
	else
		zs_agent_bridge_set_guest(bridge(s), -1);
}

static void on_chardev_removed(void *data, const char *id)
{
	struct zs_session *s = data;

	if (!s->display)
		return;
	if (g_strcmp0(id, s->vdagent_id) == 0) {
		zs_agent_bridge_set_guest(bridge(s), -1);
		g_clear_pointer(&s->vdagent_id, g_free);
	}
	g_hash_table_remove(s->usbredir, id);
}

static void on_clipboard_ready(void *data, bool ready)
{
	struct zs_session *s = data;
	if (s->display)
		zs_agent_bridge_vm_clipboard_ready(bridge(s), ready);
}

static void on_clipboard_grab(void *data, uint32_t sel)
{
	struct zs_session *s = data;
	if (s->display)
		zs_agent_bridge_vm_clipboard_grab(bridge(s), sel);
}

static void on_clipboard_release(void *data, uint32_t sel)
{
	struct zs_session *s = data;
	if (s->display)
		zs_agent_bridge_vm_clipboard_release(bridge(s), sel);
}

static void on_clipboard_request(void *data, uint32_t sel)
{
	struct zs_session *s = data;
	if (s->display)
		zs_agent_bridge_vm_clipboard_request(bridge(s), sel);
	else
		zs_qemu_clipboard_reply(*s->source, sel, NULL, 0);
}

static const struct zs_qemu_session_events qemu_events = {
	.chardev_added = on_chardev_added,
	.chardev_fe_opened = on_chardev_fe_opened,
	.chardev_removed = on_chardev_removed,
	.clipboard_ready = on_clipboard_ready,
	.clipboard_grab = on_clipboard_grab,
	.clipboard_release = on_clipboard_release,
	.clipboard_request = on_clipboard_request,
};

const struct zs_qemu_session_events *zs_session_qemu_events(void)
{
	return &qemu_events;
}

/* ---- lifecycle */

static void usbredir_free(gpointer p)
{
	zs_usbredir_destroy(p);
}

struct zs_session *zs_session_create(struct zs_source **source,
	const struct zs_session_hooks *hooks, void *hooks_data)
{
	struct zs_session *s = g_new0(struct zs_session, 1);

	s->source = source;
	if (hooks)
		s->hooks = *hooks;
	s->hooks_data = hooks_data;
	s->usbredir = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
		usbredir_free);
	return s;
}

void zs_session_set_display(struct zs_session *s, struct zs_display *d)
{
	s->display = d;
}

void zs_session_destroy(struct zs_session *s)
{
	if (!s)
		return;
	g_hash_table_destroy(s->usbredir);
	g_free(s->vdagent_id);
	g_free(s);
}
