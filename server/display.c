/* The SpiceServer instance and what we register with it, in the order that
 * gives N display channels (the streams, ids 0..N-1) and the absolute
 * "client" mouse mode (shared/DESIGN.md §3, "a recipe that gives one
 * display + absolute mouse"): keyboard, the stream-device ports (output.c),
 * a stub QXL whose primary surface exists only for a moment, then the
 * vdagent char device (agent-bridge.c). The stub takes the last display id
 * (ZS_MAX_OUTPUTS), so that outputs added later (QEMU's consoles found on
 * connecting) still get 0..N-1: spice-server gives each the first free. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/qxl_dev.h>
#include <spice/stream-device.h>

#include "internal.h"
#include "zs-client-proto.h"

struct zs_display {
	SpiceServer *server;
	const struct zs_display_events *events;
	void *events_data;
	uint32_t width, height;

	struct zs_output *outputs[ZS_MAX_OUTPUTS];
	unsigned n_outputs;

	QXLInstance qxl;

	struct zs_agent_bridge *agent;
	const struct zs_agent_bridge_ops *session_ops;
	void *session_data;
	struct zs_agent_bridge_ops bridge_ops;

	SpiceKbdInstance kbd;
	struct zs_scancode_decoder scancodes;

	SpiceMouseInstance mouse;
	uint32_t rel_buttons;
};

#define DISPLAY_OF(ptr, member) \
	((struct zs_display *)((char *)(ptr) - offsetof(struct zs_display, member)))

/* ---- vdagent device (agent-bridge.c): mouse here, the rest to the
 * session ---- */

static void bridge_pointer_abs(void *data, uint32_t display_id, int32_t x,
	int32_t y, uint32_t buttons)
{
	struct zs_display *d = data;
	d->events->pointer_abs(d->events_data, display_id, x, y, buttons);
}

static void bridge_monitors_config(void *data, const uint8_t *config,
	size_t len)
{
	struct zs_display *d = data;
	d->session_ops->monitors_config(d->session_data, config, len);
}

static void bridge_clipboard_grab(void *data, uint32_t sel)
{
	struct zs_display *d = data;
	d->session_ops->clipboard_grab(d->session_data, sel);
}

static void bridge_clipboard_release(void *data, uint32_t sel)
{
	struct zs_display *d = data;
	d->session_ops->clipboard_release(d->session_data, sel);
}

static void bridge_clipboard_request(void *data, uint32_t sel)
{
	struct zs_display *d = data;
	d->session_ops->clipboard_request(d->session_data, sel);
}

static void bridge_clipboard_reply(void *data, uint32_t sel,
	const uint8_t *text, size_t len)
{
	struct zs_display *d = data;
	d->session_ops->clipboard_reply(d->session_data, sel, text, len);
}

static void noop_clipboard(void *data, uint32_t sel)
{
}

static void noop_clipboard_reply(void *data, uint32_t sel,
	const uint8_t *text, size_t len)
{
}

/* The bridge's hooks: the mouse to our events, the rest to the session's
 * (config->agent_ops), left NULL where the session has none so that the
 * bridge does not announce it. */
static void bridge_ops_init(struct zs_display *d)
{
	const struct zs_agent_bridge_ops *s = d->session_ops;
	bool clip = s && s->clipboard_grab && s->clipboard_release &&
		s->clipboard_request && s->clipboard_reply;

	d->bridge_ops = (struct zs_agent_bridge_ops) {
		.pointer_abs = bridge_pointer_abs,
		.monitors_config = s && s->monitors_config ?
			bridge_monitors_config : NULL,
		.clipboard_grab = clip ? bridge_clipboard_grab : noop_clipboard,
		.clipboard_release = clip ? bridge_clipboard_release :
			noop_clipboard,
		.clipboard_request = clip ? bridge_clipboard_request :
			noop_clipboard,
		.clipboard_reply = clip ? bridge_clipboard_reply :
			noop_clipboard_reply,
	};
}

uint32_t zs_display_client_count(const struct zs_display *d)
{
	/* deprecated in the header, but the only count spice-server gives */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	int n = spice_server_get_num_clients(d->server);
#pragma GCC diagnostic pop
	return n > 0 ? (uint32_t)n : 0;
}

struct zs_output *zs_display_add_output(struct zs_display *d, char *err,
	size_t err_len)
{
	if (d->n_outputs == ZS_MAX_OUTPUTS) {
		snprintf(err, err_len, "no more than %u displays",
			ZS_MAX_OUTPUTS);
		return NULL;
	}
	struct zs_output *o = zs_output_create(d->server, d->n_outputs,
		d->events, d->events_data, err, err_len);
	if (o)
		d->outputs[d->n_outputs++] = o;
	return o;
}

unsigned zs_display_n_outputs(const struct zs_display *d)
{
	return d->n_outputs;
}

struct zs_output *zs_display_output(struct zs_display *d, unsigned index)
{
	return index < d->n_outputs ? d->outputs[index] : NULL;
}

uint8_t zs_display_stub_channel_id(const struct zs_display *d)
{
	return (uint8_t)d->qxl.id;
}

struct zs_agent_bridge *zs_display_agent(struct zs_display *d)
{
	return d->agent;
}

SpiceServer *zs_display_spice_server(struct zs_display *d)
{
	return d->server;
}

/* ---- keyboard and relative mouse ---- */

static void kbd_push_scan(SpiceKbdInstance *sin, uint8_t frag)
{
	struct zs_display *d = DISPLAY_OF(sin, kbd);
	uint32_t code;
	bool down;
	if (zs_scancode_feed(&d->scancodes, frag, &code, &down))
		d->events->key(d->events_data, code, down);
}

static uint8_t kbd_get_leds(SpiceKbdInstance *sin)
{
	return 0;
}

static SpiceKbdInterface kbd_sif = {
	.base = {
		.type = SPICE_INTERFACE_KEYBOARD,
		.description = "zerospice keyboard",
		.major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
		.minor_version = SPICE_INTERFACE_KEYBOARD_MINOR,
	},
	.push_scan_freg = kbd_push_scan,
	.get_leds = kbd_get_leds,
};

/* dz -1 is a wheel step up. */
static void mouse_motion(SpiceMouseInstance *sin, int dx, int dy, int dz,
	uint32_t buttons_state)
{
	struct zs_display *d = DISPLAY_OF(sin, mouse);
	uint32_t buttons = zs_spice_buttons_to_zs(buttons_state);
	d->rel_buttons = buttons;
	if (dz) {
		uint32_t wheel = dz < 0 ? ZS_BUTTON_WHEEL_UP : ZS_BUTTON_WHEEL_DOWN;
		d->events->pointer_rel(d->events_data, dx, dy, buttons | wheel);
		d->events->pointer_rel(d->events_data, 0, 0, buttons);
		return;
	}
	d->events->pointer_rel(d->events_data, dx, dy, buttons);
}

static void mouse_buttons(SpiceMouseInstance *sin, uint32_t buttons_state)
{
	struct zs_display *d = DISPLAY_OF(sin, mouse);
	d->rel_buttons = zs_spice_buttons_to_zs(buttons_state);
	d->events->pointer_rel(d->events_data, 0, 0, d->rel_buttons);
}

static SpiceMouseInterface mouse_sif = {
	.base = {
		.type = SPICE_INTERFACE_MOUSE,
		.description = "zerospice mouse",
		.major_version = SPICE_INTERFACE_MOUSE_MAJOR,
		.minor_version = SPICE_INTERFACE_MOUSE_MINOR,
	},
	.motion = mouse_motion,
	.buttons = mouse_buttons,
};

/* ---- stub QXL: only there so spice-server allows the client mouse ---- */

#define QXL_SLOT_ID_BITS 8
#define QXL_SLOT_GEN_BITS 8

static void qxl_attached_worker(QXLInstance *qin)
{
	QXLDevMemSlot slot = {
		.slot_group_id = 0,
		.slot_id = 0,
		.generation = 0,
		.virt_start = 0,
		.virt_end = ~(uintptr_t)0,
		.addr_delta = 0,
		.qxl_ram_size = ~0u,
	};
	spice_qxl_add_memslot(qin, &slot);
}

static void qxl_set_compression_level(QXLInstance *qin, int level)
{
}

static void qxl_get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
	memset(info, 0, sizeof(*info));
	info->num_memslots_groups = 1;
	info->num_memslots = 1;
	info->memslot_gen_bits = QXL_SLOT_GEN_BITS;
	info->memslot_id_bits = QXL_SLOT_ID_BITS;
	info->qxl_ram_size = ~0u;
	info->internal_groupslot_id = 0;
	info->n_surfaces = 1;
}

static int qxl_get_command(QXLInstance *qin, struct QXLCommandExt *cmd)
{
	return 0;
}

static int qxl_req_notification(QXLInstance *qin)
{
	return 1;
}

static void qxl_release_resource(QXLInstance *qin,
	struct QXLReleaseInfoExt release_info)
{
}

static void qxl_notify_update(QXLInstance *qin, uint32_t update_id)
{
}

static int qxl_flush_resources(QXLInstance *qin)
{
	return 0;
}

static void qxl_async_complete(QXLInstance *qin, uint64_t cookie)
{
}

static void qxl_update_area_complete(QXLInstance *qin, uint32_t surface_id,
	struct QXLRect *updated_rects, uint32_t num_updated_rects)
{
}

static void qxl_set_client_capabilities(QXLInstance *qin,
	uint8_t client_present, uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
}

static int qxl_client_monitors_config(QXLInstance *qin,
	VDAgentMonitorsConfig *monitors_config)
{
	return 0;
}

static QXLInterface qxl_sif = {
	.base = {
		.type = SPICE_INTERFACE_QXL,
		.description = "zerospice mouse-mode stub",
		.major_version = SPICE_INTERFACE_QXL_MAJOR,
		.minor_version = SPICE_INTERFACE_QXL_MINOR,
	},
	.attached_worker = qxl_attached_worker,
	.set_compression_level = qxl_set_compression_level,
	.get_init_info = qxl_get_init_info,
	.get_command = qxl_get_command,
	.req_cmd_notification = qxl_req_notification,
	.release_resource = qxl_release_resource,
	.get_cursor_command = qxl_get_command,
	.req_cursor_notification = qxl_req_notification,
	.notify_update = qxl_notify_update,
	.flush_resources = qxl_flush_resources,
	.async_complete = qxl_async_complete,
	.update_area_complete = qxl_update_area_complete,
	.set_client_capabilities = qxl_set_client_capabilities,
	.client_monitors_config = qxl_client_monitors_config,
};

/* A primary surface that exists for a moment makes spice-server re-check
 * and allow the client mouse mode; a lasting one would open a second
 * window in clients. */
static bool qxl_flash_primary(struct zs_display *d)
{
	uint32_t width = d->width, height = d->height;
	size_t size = (size_t)width * height * 4;
	void *mem = g_try_malloc0(size);
	if (!mem)
		return false;
	QXLDevSurfaceCreate surface = {
		.width = width,
		.height = height,
		.stride = (int32_t)(width * 4),
		.format = SPICE_SURFACE_FMT_32_xRGB,
		.position = 0,
		.mouse_mode = 1,
		.flags = 0,
		.type = 0,
		.mem = (uint64_t)(uintptr_t)mem,
		.group_id = 0,
	};
	spice_qxl_create_primary_surface(&d->qxl, 0, &surface);
	spice_qxl_destroy_primary_surface(&d->qxl, 0);
	g_free(mem);
	return true;
}

/* ---- lifecycle ---- */

static bool add_interface(struct zs_display *d, SpiceBaseInstance *sin,
	const char *what, char *err, size_t err_len)
{
	if (spice_server_add_interface(d->server, sin) != 0) {
		snprintf(err, err_len, "spice-server refused the %s interface",
			what);
		return false;
	}
	return true;
}

struct zs_display *zs_display_create(const struct zs_display_config *config,
	const struct zs_display_events *events, void *data, char *err,
	size_t err_len)
{
	struct zs_display *d = g_new0(struct zs_display, 1);
	d->events = events;
	d->events_data = data;
	d->width = config->width;
	d->height = config->height;
	d->session_ops = config->agent_ops;
	d->session_data = config->agent_data;

	d->server = spice_server_new();
	if (!d->server) {
		snprintf(err, err_len, "spice_server_new failed");
		goto err;
	}
	/* zerospice owns the listening sockets: spice-server keeps its default
	 * of none (port -1). */
	/* until zs_display_set_ticket: no client reaches spice-server before
	 * main binds the ticket (server/ticket.c) */
	spice_server_set_noauth(d->server);
	spice_server_set_agent_mouse(d->server, 1);
	spice_server_set_name(d->server, "zerospice");
	if (spice_server_init(d->server, zs_spice_core_get(
		    g_main_context_get_thread_default(), NULL, NULL)) != 0) {
		snprintf(err, err_len, "spice_server_init failed");
		goto err;
	}
	/* Without vm_start the char devices never start and spice-server never
	 * reads the stream device. */
	spice_server_vm_start(d->server);

	d->kbd.base.sif = &kbd_sif.base;
	if (!add_interface(d, &d->kbd.base, "keyboard", err, err_len))
		goto err;
	d->mouse.base.sif = &mouse_sif.base;
	if (!add_interface(d, &d->mouse.base, "mouse", err, err_len))
		goto err;

	/* The stream ports first: display channel 0 must be a stream
	 * (spicy-screenshot waits for display 0). */
	unsigned n = config->n_outputs ? config->n_outputs : 1;
	if (n > ZS_MAX_OUTPUTS) {
		snprintf(err, err_len, "%u displays asked, at most %u", n,
			ZS_MAX_OUTPUTS);
		goto err;
	}
	for (unsigned i = 0; i < n; i++)
		if (!zs_display_add_output(d, err, err_len))
			goto err;

	d->qxl.base.sif = &qxl_sif.base;
	d->qxl.id = ZS_MAX_OUTPUTS;
	if (!add_interface(d, &d->qxl.base, "QXL", err, err_len))
		goto err;
	if (!qxl_flash_primary(d)) {
		snprintf(err, err_len, "out of memory");
		goto err;
	}

	bridge_ops_init(d);
	d->agent = zs_agent_bridge_create(d->server, &d->bridge_ops, d, err,
		err_len);
	if (!d->agent)
		goto err;
	return d;

err:
	zs_display_destroy(d);
	return NULL;
}

void zs_display_destroy(struct zs_display *d)
{
	if (!d)
		return;
	zs_agent_bridge_destroy(d->agent);
	for (unsigned i = 0; i < d->n_outputs; i++)
		zs_output_remove(d->outputs[i]);
	/* spice-server cannot remove keyboard, mouse or QXL interfaces;
	 * spice_server_destroy() takes them down. */
	if (d->server)
		spice_server_destroy(d->server);
	for (unsigned i = 0; i < d->n_outputs; i++)
		zs_output_destroy(d->outputs[i]);
	g_free(d);
}

void zs_display_set_ticket(struct zs_display *d, const char *text,
	uint32_t lifetime_s)
{
	if (!text) {
		spice_server_set_noauth(d->server);
		return;
	}
	/* clients already connected stay (fail_if_connected and
	 * disconnect_if_connected off) */
	if (spice_server_set_ticket(d->server, text,
		    lifetime_s > INT32_MAX ? INT32_MAX : (int)lifetime_s, 0, 0) != 0)
		g_warning("spice-server refused the new ticket");
}

bool zs_display_add_client(struct zs_display *d, int fd)
{
	return zs_display_add_client_auth(d, fd, false);
}

bool zs_display_add_client_auth(struct zs_display *d, int fd, bool skip_auth)
{
	if (spice_server_add_client(d->server, fd, skip_auth) != 0) {
		/* it fails only before taking the fd over */
		g_warning("spice-server refused a connection");
		close(fd);
		return false;
	}
	return true;
}
