/* zerospice — the QEMU D-Bus display source: the console, the listener
 * registration, input proxies, lifecycle. Reaching QEMU (QMP, p2p, bus) is
 * in connect.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "qemu-private.h"

static const struct zs_source_impl qemu_impl;

static struct zs_qemu_source *to_qemu(struct zs_source *base)
{
	if (!base || base->impl != &qemu_impl)
		return NULL;
	return (struct zs_qemu_source *)base;
}

struct zs_qemu_source *zs_qemu_source_from(struct zs_source *base)
{
	return to_qemu(base);
}

bool zs_qemu_is_cancelled(const GError *error)
{
	return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ---- closing */

static gboolean closed_idle(gpointer data)
{
	struct zs_qemu_source *src = data;
	char *reason = g_object_get_data(G_OBJECT(src->cancel),
		"zs-close-reason");

	g_source_unref(src->start_source);
	src->start_source = NULL;
	if (src->base.events.closed)
		src->base.events.closed(src->base.events_data, reason);
	return G_SOURCE_REMOVE;
}

void zs_qemu_clear_timer(GSource **timer)
{
	if (*timer) {
		g_source_destroy(*timer);
		g_source_unref(*timer);
		*timer = NULL;
	}
}

static void drop_connections(struct zs_qemu_source *src)
{
	zs_qemu_qmp_free(src->qmp);
	src->qmp = NULL;
	zs_qemu_clear_timer(&src->retry_timer);
	zs_qemu_clear_timer(&src->blank_timer);
	if (src->name_watch) {
		g_bus_unwatch_name(src->name_watch);
		src->name_watch = 0;
	}
	if (src->console_proxy) {
		g_signal_handlers_disconnect_matched(src->console_proxy,
			G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, src);
		g_clear_object(&src->console_proxy);
	}
	g_clear_object(&src->kbd);
	g_clear_object(&src->mouse);
	zs_qemu_clipboard_stop(src);
	zs_qemu_chardev_stop(src);
	zs_qemu_audio_stop(src->audio);
	zs_qemu_listener_unexport(src);
	if (src->listener_conn) {
		g_signal_handlers_disconnect_matched(src->listener_conn,
			G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, src);
		g_dbus_connection_close(src->listener_conn, NULL, NULL, NULL);
		g_clear_object(&src->listener_conn);
	}
	if (src->qemu_conn) {
		g_signal_handlers_disconnect_matched(src->qemu_conn,
			G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, src);
		/* a secondary console's is the primary's */
		if (!src->bus_address && !src->secondary)
			g_dbus_connection_close(src->qemu_conn, NULL, NULL,
				NULL);
		g_clear_object(&src->qemu_conn);
	}
}

void zs_qemu_source_close(struct zs_qemu_source *src, const char *fmt, ...)
{
	va_list ap;
	char *reason;

	if (src->closed)
		return;
	src->closed = true;
	src->running = false;
	va_start(ap, fmt);
	reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("QEMU display: %s", reason);

	/* the other consoles go through this connection */
	for (GList *l = src->consoles; l; l = l->next)
		zs_qemu_source_close(l->data, "console %u: %s", src->console,
			reason);
	g_cancellable_cancel(src->cancel);
	drop_connections(src);
	/* Clients see the display stop rather than a picture that looks
	 * alive. */
	zs_qemu_display_blank(src);
	zs_qemu_display_finish(src);

	/* Report from an idle so that no caller sees the source destroyed
	 * under it by the closed callback. */
	g_object_set_data_full(G_OBJECT(src->cancel), "zs-close-reason",
		reason, g_free);
	if (src->start_source) {
		g_source_destroy(src->start_source);
		g_source_unref(src->start_source);
	}
	src->start_source = g_idle_source_new();
	g_source_set_callback(src->start_source, closed_idle, src, NULL);
	g_source_attach(src->start_source, src->ctx);
}

/* ---- connecting */

void zs_qemu_on_conn_closed(GDBusConnection *conn, gboolean remote_vanished,
	GError *error, gpointer data)
{
	struct zs_qemu_source *src = data;

	zs_qemu_source_close(src, "QEMU closed the %s connection%s%s",
		conn == src->listener_conn ? "display listener" : "D-Bus display",
		error ? ": " : "", error ? error->message : "");
}

static void on_console_proxy(GObject *obj, GAsyncResult *res, gpointer data);

/* A secondary console takes its primary's connection, once that reached
 * QEMU and passed the checks. */
static void open_secondary(struct zs_qemu_source *sec)
{
	struct zs_qemu_source *primary = sec->primary;

	if (sec->closed || sec->qemu_conn || !primary || !primary->conn_open ||
	    !primary->qemu_conn)
		return;
	sec->qemu_conn = g_object_ref(primary->qemu_conn);
	g_main_context_push_thread_default(sec->ctx);
	zs_qemu_open_console(sec);
	g_main_context_pop_thread_default(sec->ctx);
}

void zs_qemu_open_console(struct zs_qemu_source *src)
{
	src->conn_open = true;
	zs_qemu_display1_console_proxy_new(src->qemu_conn,
		G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
		src->bus_address ? "org.qemu" : NULL, src->console_path,
		src->cancel, on_console_proxy, src);
	for (GList *l = src->consoles; l; l = l->next)
		open_secondary(l->data);
}

static void set_running(struct zs_qemu_source *src)
{
	if (!src->listener_ready || !src->registered || src->closed)
		return;
	src->running = true;
	g_message("QEMU display: listener registered on console %u",
		src->console);
}

static void on_listener_conn(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	GDBusConnection *conn = g_dbus_connection_new_finish(res, &error);
	struct zs_qemu_source *src;

	(void)obj;
	if (!conn) {
		if (!zs_qemu_is_cancelled(error))
			zs_qemu_source_close(data, "display listener "
				"connection: %s", error->message);
		g_error_free(error);
		return;
	}
	src = data;
	if (src->closed) {
		g_object_unref(conn);
		return;
	}
	g_main_context_push_thread_default(src->ctx);
	src->listener_conn = conn;
	src->listener_closed_id = g_signal_connect(conn, "closed",
		G_CALLBACK(zs_qemu_on_conn_closed), src);
	if (!zs_qemu_listener_export(src, conn, &error)) {
		zs_qemu_source_close(src, "exporting the listener: %s",
			error->message);
		g_error_free(error);
		goto out;
	}
	/* QEMU reads the listener's properties synchronously as soon as it has
	 * authenticated us: serve them from now on. */
	g_dbus_connection_start_message_processing(conn);
	src->listener_ready = true;
	set_running(src);
out:
	g_main_context_pop_thread_default(src->ctx);
}

static void on_registered(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	struct zs_qemu_source *src;

	if (!zs_qemu_display1_console_call_register_listener_finish(
			ZS_QEMU_DISPLAY1_CONSOLE(obj), NULL, res, &error)) {
		if (!zs_qemu_is_cancelled(error))
			zs_qemu_source_close(data, "Console.RegisterListener: "
				"%s", error->message);
		g_error_free(error);
		return;
	}
	src = data;
	src->registered = true;
	set_running(src);
}

static void register_listener(struct zs_qemu_source *src)
{
	GError *error = NULL;
	GUnixFDList *fds;
	GIOStream *stream;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		zs_qemu_source_close(src, "socketpair: %s", strerror(errno));
		return;
	}
	stream = zs_qemu_stream_from_fd(sv[0], &error);
	if (!stream) {
		close(sv[1]);
		zs_qemu_source_close(src, "listener socket: %s",
			error->message);
		g_error_free(error);
		return;
	}
	/* QEMU is the D-Bus server on this socket and authenticates us inside
	 * RegisterListener: both run concurrently, neither waits here. */
	g_dbus_connection_new(stream, NULL,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
		NULL, src->cancel, on_listener_conn, src);
	g_object_unref(stream);

	fds = g_unix_fd_list_new_from_array(&sv[1], 1); /* takes sv[1] */
	zs_qemu_display1_console_call_register_listener(src->console_proxy,
		g_variant_new_handle(0), fds, src->cancel, on_registered, src);
	g_object_unref(fds);
}

static void on_console_props(GDBusProxy *proxy, GVariant *changed,
	GStrv invalidated, gpointer data)
{
	struct zs_qemu_source *src = data;
	ZsQemuDisplay1Console *console = ZS_QEMU_DISPLAY1_CONSOLE(proxy);
	uint32_t w, h;

	(void)invalidated;
	if (!g_variant_lookup(changed, "Width", "u", &w))
		w = zs_qemu_display1_console_get_width(console);
	if (!g_variant_lookup(changed, "Height", "u", &h))
		h = zs_qemu_display1_console_get_height(console);
	zs_qemu_display_console_resized(src, w, h);
}

static void on_input_proxy(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	GDBusProxy *proxy = G_DBUS_PROXY(
		g_async_initable_new_finish(G_ASYNC_INITABLE(obj), res, &error));
	struct zs_qemu_source *src;

	if (!proxy) {
		if (!zs_qemu_is_cancelled(error))
			g_warning("QEMU display: input proxy: %s",
				error->message);
		g_error_free(error);
		return;
	}
	src = data;
	if (src->closed) {
		g_object_unref(proxy);
		return;
	}
	if (ZS_QEMU_IS_DISPLAY1_KEYBOARD(proxy))
		src->kbd = ZS_QEMU_DISPLAY1_KEYBOARD(proxy);
	else
		src->mouse = ZS_QEMU_DISPLAY1_MOUSE(proxy);
}

static const char *peer_name(struct zs_qemu_source *src)
{
	return src->bus_address ? "org.qemu" : NULL;
}

static void on_console_proxy(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	ZsQemuDisplay1Console *console =
		zs_qemu_display1_console_proxy_new_finish(res, &error);
	struct zs_qemu_source *src;
	const char *type;

	(void)obj;
	if (!console) {
		if (!zs_qemu_is_cancelled(error))
			zs_qemu_source_close(data, "console proxy: %s",
				error->message);
		g_error_free(error);
		return;
	}
	src = data;
	if (src->closed) {
		g_object_unref(console);
		return;
	}
	g_main_context_push_thread_default(src->ctx);
	src->console_proxy = console;
	type = zs_qemu_display1_console_get_type_(console);
	if (!type) {
		zs_qemu_source_close(src, "QEMU has no console %u (%s)",
			src->console, src->console_path);
		goto out;
	}
	if (strcmp(type, "Graphic") != 0) {
		zs_qemu_source_close(src, "console %u is a %s console, not a "
			"graphic one", src->console, type);
		goto out;
	}
	g_message("QEMU display: console %u is %s head %u at %s", src->console,
		zs_qemu_display1_console_get_label(console) ?
		zs_qemu_display1_console_get_label(console) : "?",
		zs_qemu_display1_console_get_head(console),
		zs_qemu_display1_console_get_device_address(console) ?
		zs_qemu_display1_console_get_device_address(console) : "?");
	g_signal_connect(console, "g-properties-changed",
		G_CALLBACK(on_console_props), src);
	g_async_initable_new_async(ZS_QEMU_TYPE_DISPLAY1_KEYBOARD_PROXY,
		G_PRIORITY_DEFAULT, src->cancel, on_input_proxy, src,
		"g-flags", G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
		"g-name", peer_name(src), "g-connection", src->qemu_conn,
		"g-object-path", src->console_path,
		"g-interface-name", "org.qemu.Display1.Keyboard", NULL);
	g_async_initable_new_async(ZS_QEMU_TYPE_DISPLAY1_MOUSE_PROXY,
		G_PRIORITY_DEFAULT, src->cancel, on_input_proxy, src,
		"g-flags", G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
		"g-name", peer_name(src), "g-connection", src->qemu_conn,
		"g-object-path", src->console_path,
		"g-interface-name", "org.qemu.Display1.Mouse", NULL);
	if (!src->secondary) {
		zs_qemu_chardev_start(src);
		zs_qemu_clipboard_start(src);
	}
	register_listener(src);
	zs_qemu_audio_start(src->audio);
out:
	g_main_context_pop_thread_default(src->ctx);
}

static gboolean blank_tick(gpointer data)
{
	struct zs_qemu_source *src = data;

	if (src->disp.active) {
		/* QEMU's first picture is out: no more black. */
		g_source_unref(src->blank_timer);
		src->blank_timer = NULL;
		return G_SOURCE_REMOVE;
	}
	zs_qemu_display_blank(src);
	return G_SOURCE_CONTINUE;
}

static gboolean start(gpointer data)
{
	struct zs_qemu_source *src = data;

	g_source_unref(src->start_source);
	src->start_source = NULL;
	if (src->disp.width && src->disp.height) {
		zs_qemu_display_blank(src);
		src->blank_timer = g_timeout_source_new(ZS_QEMU_WAIT_RETRY_MS);
		g_source_set_callback(src->blank_timer, blank_tick, src, NULL);
		g_source_attach(src->blank_timer, src->ctx);
	}
	if (src->secondary)
		open_secondary(src); /* or when the primary connects */
	else
		zs_qemu_connect(src);
	return G_SOURCE_REMOVE;
}

/* ---- input (input.c) */

static void qemu_key(struct zs_source *base, uint32_t scancode, bool down)
{
	struct zs_qemu_source *src = to_qemu(base);

	if (src)
		zs_qemu_input_key(src, scancode, down);
}

static void qemu_pointer_abs(struct zs_source *base, int32_t x, int32_t y,
	uint32_t buttons)
{
	struct zs_qemu_source *src = to_qemu(base);

	if (src)
		zs_qemu_input_pointer_abs(src, x, y, buttons);
}

static void qemu_pointer_rel(struct zs_source *base, int32_t dx, int32_t dy,
	uint32_t buttons)
{
	struct zs_qemu_source *src = to_qemu(base);

	if (src)
		zs_qemu_input_pointer_rel(src, dx, dy, buttons);
}

void zs_qemu_source_release_keys(struct zs_source *base)
{
	struct zs_qemu_source *src = to_qemu(base);

	if (src)
		zs_qemu_input_release_all(src);
}

bool zs_qemu_source_set_ui_info(struct zs_source *base, uint32_t width,
	uint32_t height, uint16_t width_mm, uint16_t height_mm)
{
	struct zs_qemu_source *src = to_qemu(base);

	return src && zs_qemu_input_ui_info(src, width, height, width_mm,
		height_mm);
}

void zs_qemu_source_set_audio(struct zs_source *base,
	const struct zs_qemu_audio_events *events, void *data)
{
	struct zs_qemu_source *src = to_qemu(base);

	if (src && events && !src->audio)
		src->audio = zs_qemu_audio_create(src, events, data);
}

bool zs_qemu_source_device_info(struct zs_source *base, char *address,
	size_t address_len, uint32_t *head)
{
	struct zs_qemu_source *src = to_qemu(base);
	const char *addr;

	if (!src || !src->console_proxy || src->closed)
		return false;
	addr = zs_qemu_display1_console_get_device_address(src->console_proxy);
	if (!addr || !*addr)
		return false;
	g_strlcpy(address, addr, address_len);
	*head = zs_qemu_display1_console_get_head(src->console_proxy);
	return true;
}

bool zs_qemu_source_is_running(const struct zs_source *base)
{
	const struct zs_qemu_source *src =
		base && base->impl == &qemu_impl ?
		(const struct zs_qemu_source *)base : NULL;

	return src && src->running && !src->closed;
}

/* ---- create / destroy */

static void qemu_destroy(struct zs_source *base)
{
	struct zs_qemu_source *src = to_qemu(base);

	if (!src)
		return;
	g_cancellable_cancel(src->cancel);
	if (src->start_source) {
		g_source_destroy(src->start_source);
		g_source_unref(src->start_source);
	}
	if (src->primary)
		src->primary->consoles = g_list_remove(src->primary->consoles,
			src);
	for (GList *l = src->consoles; l; l = l->next)
		((struct zs_qemu_source *)l->data)->primary = NULL;
	g_list_free(src->consoles);
	src->consoles = NULL;
	drop_connections(src);
	zs_qemu_audio_destroy(src->audio);
	zs_qemu_display_finish(src);
	zs_qemu_frames_detach(src);
	if (src->dbus_fd >= 0)
		close(src->dbus_fd);
	g_object_unref(src->cancel);
	g_free(src->qmp_path);
	g_free(src->bus_address);
	g_main_context_unref(src->ctx);
	g_free(src);
}

/* A client joined while the guest's screen is still: QEMU sends nothing
 * new, so show the current picture again (a no-op before the first one). */
static void qemu_request_frame(struct zs_source *base)
{
	struct zs_qemu_source *src = to_qemu(base);
	if (src)
		zs_qemu_damage_add(src, NULL);
}

static const struct zs_source_impl qemu_impl = {
	.name = "qemu",
	.destroy = qemu_destroy,
	.key = qemu_key,
	.pointer_abs = qemu_pointer_abs,
	.pointer_rel = qemu_pointer_rel,
	.request_frame = qemu_request_frame,
};

static struct zs_qemu_source *source_new(uint32_t console,
	uint32_t blank_width, uint32_t blank_height,
	const struct zs_source_events *events, void *data)
{
	struct zs_qemu_source *src = g_new0(struct zs_qemu_source, 1);

	src->base.impl = &qemu_impl;
	if (events)
		src->base.events = *events;
	src->base.events_data = data;
	src->ctx = g_main_context_ref_thread_default();
	src->cancel = g_cancellable_new();
	src->dbus_fd = -1;
	src->console = console;
	if (blank_width && blank_height && blank_width <= ZS_QEMU_MAX_DIM &&
	    blank_height <= ZS_QEMU_MAX_DIM) {
		src->disp.width = blank_width;
		src->disp.height = blank_height;
	}
	snprintf(src->console_path, sizeof(src->console_path),
		"/org/qemu/Display1/Console_%u", console);
	src->disp.cur = -1;
	g_queue_init(&src->frames);
	return src;
}

static void source_start(struct zs_qemu_source *src)
{
	src->start_source = g_idle_source_new();
	g_source_set_priority(src->start_source, G_PRIORITY_DEFAULT);
	g_source_set_callback(src->start_source, start, src, NULL);
	g_source_attach(src->start_source, src->ctx);
}

struct zs_source *zs_qemu_source_create_console(struct zs_source *primary,
	uint32_t console, uint32_t blank_width, uint32_t blank_height,
	const struct zs_source_events *events, void *data, char *err,
	size_t err_len)
{
	struct zs_qemu_source *p = to_qemu(primary), *src;

	if (!p || p->secondary) {
		snprintf(err, err_len, "console %u: another console of the same "
			"QEMU source is needed", console);
		return NULL;
	}
	src = source_new(console, blank_width, blank_height, events, data);
	src->secondary = true;
	src->primary = p;
	src->bus_address = g_strdup(p->bus_address);
	src->allowed_uid = p->allowed_uid;
	src->connect_timeout_ms = p->connect_timeout_ms;
	p->consoles = g_list_append(p->consoles, src);
	source_start(src);
	return &src->base;
}

struct zs_source *zs_qemu_source_create(const struct zs_qemu_options *opts,
	const struct zs_source_events *events, void *data,
	char *err, size_t err_len)
{
	struct zs_qemu_source *src;
	int n_ways;

	if (!opts) {
		snprintf(err, err_len, "qemu source: no options");
		return NULL;
	}
	n_ways = (opts->qmp_path != NULL) + (opts->dbus_fd >= 0) +
		(opts->bus_address != NULL);
	if (n_ways != 1) {
		snprintf(err, err_len, "qemu source: give exactly one of qmp=, "
			"dbus-fd=, bus=");
		goto err_fd;
	}
	if (opts->qmp_path && !*opts->qmp_path) {
		snprintf(err, err_len, "qemu source: empty qmp path");
		goto err_fd;
	}
	if (opts->bus_address && !g_dbus_is_address(opts->bus_address)) {
		snprintf(err, err_len, "qemu source: invalid D-Bus address %s",
			opts->bus_address);
		goto err_fd;
	}

	src = source_new(opts->console, opts->blank_width, opts->blank_height,
		events, data);
	src->qmp_path = g_strdup(opts->qmp_path);
	src->bus_address = g_strdup(opts->bus_address);
	src->dbus_fd = opts->dbus_fd;
	src->connect_timeout_ms = opts->connect_timeout_ms ?
		opts->connect_timeout_ms : ZS_QEMU_CONNECT_TIMEOUT_MS;
	src->wait_for_qemu = opts->wait_for_qemu;
	src->allowed_uid = opts->allowed_uid > 0 ? opts->allowed_uid : -1;
	if (opts->session)
		src->session = *opts->session;
	src->session_data = opts->session_data;
	src->consoles_found = opts->consoles_found;
	src->consoles_data = opts->consoles_data;
	source_start(src);
	return &src->base;

err_fd:
	if (opts->dbus_fd >= 0)
		close(opts->dbus_fd);
	return NULL;
}
