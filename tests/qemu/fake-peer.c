/* zerospice tests — a fake QEMU: a GDBus peer in the test that serves
 * Console/Keyboard/Mouse on a p2p socket, and drives the source's listener
 * the way QEMU would. Shared by test_qemu_peer.c and test_qemu_abuse.c. */
#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "fake-peer.h"

struct peer P;

/* ---- the fake QEMU */

void record(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_ptr_array_add(P.calls, g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

static gboolean on_kbd_press(ZsQemuDisplay1Keyboard *k,
	GDBusMethodInvocation *inv, guint code, gpointer d)
{
	record("Press %u", code);
	if (P.held) {
		g_ptr_array_add(P.held, inv);
		return TRUE;
	}
	zs_qemu_display1_keyboard_complete_press(k, inv);
	return TRUE;
}

static gboolean on_kbd_release(ZsQemuDisplay1Keyboard *k,
	GDBusMethodInvocation *inv, guint code, gpointer d)
{
	record("Release %u", code);
	zs_qemu_display1_keyboard_complete_release(k, inv);
	return TRUE;
}

static gboolean on_mouse_press(ZsQemuDisplay1Mouse *m,
	GDBusMethodInvocation *inv, guint b, gpointer d)
{
	record("ButtonPress %u", b);
	zs_qemu_display1_mouse_complete_press(m, inv);
	return TRUE;
}

static gboolean on_mouse_release(ZsQemuDisplay1Mouse *m,
	GDBusMethodInvocation *inv, guint b, gpointer d)
{
	record("ButtonRelease %u", b);
	zs_qemu_display1_mouse_complete_release(m, inv);
	return TRUE;
}

static gboolean on_mouse_abs(ZsQemuDisplay1Mouse *m,
	GDBusMethodInvocation *inv, guint x, guint y, gpointer d)
{
	record("SetAbsPosition %u %u", x, y);
	if (P.held) {
		/* a QEMU that stalls: no answer until released */
		g_ptr_array_add(P.held, inv);
		return TRUE;
	}
	zs_qemu_display1_mouse_complete_set_abs_position(m, inv);
	return TRUE;
}

static gboolean on_mouse_rel(ZsQemuDisplay1Mouse *m,
	GDBusMethodInvocation *inv, gint dx, gint dy, gpointer d)
{
	record("RelMotion %d %d", dx, dy);
	zs_qemu_display1_mouse_complete_rel_motion(m, inv);
	return TRUE;
}

static void on_listener_proxy(GObject *o, GAsyncResult *res, gpointer slot)
{
	GError *error = NULL;
	GObject *proxy = g_async_initable_new_finish(G_ASYNC_INITABLE(o), res,
		&error);

	if (!proxy) {
		fprintf(stderr, "listener proxy: %s\n", error->message);
		g_error_free(error);
		return;
	}
	*(GDBusProxy **)slot = G_DBUS_PROXY(proxy);
}

static void new_listener_proxy(GType type, const char *iface, GDBusProxy **slot)
{
	g_async_initable_new_async(type, G_PRIORITY_DEFAULT, NULL,
		on_listener_proxy, slot,
		"g-flags", G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
		"g-connection", P.lconn,
		"g-object-path", "/org/qemu/Display1/Listener",
		"g-interface-name", iface, NULL);
}

static void on_listener_conn(GObject *o, GAsyncResult *res, gpointer d)
{
	GError *error = NULL;

	P.lconn = g_dbus_connection_new_finish(res, &error);
	cr_assert_not_null(P.lconn, "listener connection: %s",
		error ? error->message : "");
	new_listener_proxy(ZS_QEMU_TYPE_DISPLAY1_LISTENER_PROXY,
		"org.qemu.Display1.Listener", &P.listener);
	new_listener_proxy(ZS_QEMU_TYPE_DISPLAY1_LISTENER_UNIX_MAP_PROXY,
		"org.qemu.Display1.Listener.Unix.Map", &P.map);
	new_listener_proxy(
		ZS_QEMU_TYPE_DISPLAY1_LISTENER_UNIX_SCANOUT_DMABUF2_PROXY,
		"org.qemu.Display1.Listener.Unix.ScanoutDMABUF2", &P.dmabuf2);
}

static GIOStream *stream_for(int fd)
{
	GSocket *sock = g_socket_new_from_fd(fd, NULL);
	GIOStream *s;

	cr_assert_not_null(sock);
	s = G_IO_STREAM(g_socket_connection_factory_create_connection(sock));
	g_object_unref(sock);
	return s;
}

static gboolean on_register_listener(ZsQemuDisplay1Console *c,
	GDBusMethodInvocation *inv, GUnixFDList *fds, GVariant *handle,
	gpointer d)
{
	int fd = g_unix_fd_list_get(fds, g_variant_get_handle(handle), NULL);
	char *guid = g_dbus_generate_guid();
	GIOStream *s;

	cr_assert(fd >= 0);
	zs_qemu_display1_console_complete_register_listener(c, inv, NULL);
	/* Like QEMU: server side of the handshake. */
	s = stream_for(fd);
	g_dbus_connection_new(s, guid,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER, NULL, NULL,
		on_listener_conn, NULL);
	g_object_unref(s);
	g_free(guid);
	return TRUE;
}

static void on_peer_conn(GObject *o, GAsyncResult *res, gpointer d)
{
	GError *error = NULL;
	const char *path = "/org/qemu/Display1/Console_0";

	P.conn = g_dbus_connection_new_finish(res, &error);
	cr_assert_not_null(P.conn, "peer connection: %s",
		error ? error->message : "");
	P.console = zs_qemu_display1_console_skeleton_new();
	zs_qemu_display1_console_set_type_(P.console, "Graphic");
	zs_qemu_display1_console_set_label(P.console, "VGA");
	zs_qemu_display1_console_set_width(P.console, 640);
	zs_qemu_display1_console_set_height(P.console, 480);
	g_signal_connect(P.console, "handle-register-listener",
		G_CALLBACK(on_register_listener), NULL);
	P.kbd = zs_qemu_display1_keyboard_skeleton_new();
	g_signal_connect(P.kbd, "handle-press", G_CALLBACK(on_kbd_press), NULL);
	g_signal_connect(P.kbd, "handle-release", G_CALLBACK(on_kbd_release),
		NULL);
	P.mouse = zs_qemu_display1_mouse_skeleton_new();
	g_object_connect(P.mouse,
		"signal::handle-press", on_mouse_press, NULL,
		"signal::handle-release", on_mouse_release, NULL,
		"signal::handle-set-abs-position", on_mouse_abs, NULL,
		"signal::handle-rel-motion", on_mouse_rel, NULL, NULL);
	cr_assert(g_dbus_interface_skeleton_export(
		G_DBUS_INTERFACE_SKELETON(P.console), P.conn, path, NULL));
	cr_assert(g_dbus_interface_skeleton_export(
		G_DBUS_INTERFACE_SKELETON(P.kbd), P.conn, path, NULL));
	cr_assert(g_dbus_interface_skeleton_export(
		G_DBUS_INTERFACE_SKELETON(P.mouse), P.conn, path, NULL));
	g_dbus_connection_start_message_processing(P.conn);
}

static bool peer_ready(void *d)
{
	return P.rec.closed || (P.listener && P.map && P.dmabuf2 &&
		zs_qemu_source_is_running(P.src));
}

void peer_setup(void)
{
	int sv[2];
	char err[256] = "";
	char *guid = g_dbus_generate_guid();

	memset(&P, 0, sizeof(P));
	P.calls = g_ptr_array_new_with_free_func(g_free);
	rec_init(&P.rec, false);
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	GIOStream *s = stream_for(sv[1]);
	g_dbus_connection_new(s, guid,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
		G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING, NULL, NULL,
		on_peer_conn, NULL);
	g_object_unref(s);
	g_free(guid);

	struct zs_qemu_options opts = { .dbus_fd = sv[0] };
	P.src = zs_qemu_source_create(&opts, &rec_events, &P.rec, err,
		sizeof(err));
	cr_assert_not_null(P.src, "%s", err);
	cr_assert(loop_until(peer_ready, NULL, 5000), "listener not registered "
		"(closed: %s)", P.rec.reason);
	cr_assert(!P.rec.closed, "%s", P.rec.reason);
	loop_for(20); /* input proxies */
}

void peer_release_held(void)
{
	GPtrArray *held = P.held;

	P.held = NULL;
	for (guint i = 0; held && i < held->len; i++)
		g_dbus_method_invocation_return_value(
			g_ptr_array_index(held, i), NULL);
	if (held)
		g_ptr_array_free(held, TRUE);
}

void peer_teardown(void)
{
	peer_release_held();
	zs_source_destroy(P.src);
	rec_finish(&P.rec);
	loop_for(20);
	g_clear_object(&P.listener);
	g_clear_object(&P.map);
	g_clear_object(&P.dmabuf2);
	if (P.lconn)
		g_dbus_connection_close_sync(P.lconn, NULL, NULL);
	g_clear_object(&P.lconn);
	g_clear_object(&P.console);
	g_clear_object(&P.kbd);
	g_clear_object(&P.mouse);
	if (P.conn)
		g_dbus_connection_close_sync(P.conn, NULL, NULL);
	g_clear_object(&P.conn);
	g_ptr_array_free(P.calls, TRUE);
	loop_for(10);
}

/* ---- calling the listener */

static void call_done(GObject *o, GAsyncResult *res, gpointer data)
{
	struct call *c = data;
	GError *error = NULL;
	GVariant *ret = g_dbus_proxy_call_with_unix_fd_list_finish(
		G_DBUS_PROXY(o), NULL, res, &error);

	c->done = true;
	c->done_us = g_get_monotonic_time();
	c->ok = ret != NULL;
	if (ret)
		g_variant_unref(ret);
	if (error) {
		g_strlcpy(c->err, error->message, sizeof(c->err));
		g_error_free(error);
	}
}

void call_async(GDBusProxy *p, const char *method, GVariant *args,
	GUnixFDList *fds, struct call *c)
{
	memset(c, 0, sizeof(*c));
	g_dbus_proxy_call_with_unix_fd_list(p, method, args,
		G_DBUS_CALL_FLAGS_NONE, 5000, fds, NULL, call_done, c);
}

bool call_is_done(void *data)
{
	return ((struct call *)data)->done;
}

/* Calls and waits; returns true on success, false with c->err. */
bool call(GDBusProxy *p, const char *method, GVariant *args,
	GUnixFDList *fds, struct call *c)
{
	call_async(p, method, args, fds, c);
	cr_assert(loop_until(call_is_done, c, 5000), "%s: no reply", method);
	return c->ok;
}

GVariant *bytes_v(const void *data, size_t len)
{
	return g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, data, len, 1);
}

struct want_frames {
	int n;
};

static bool has_n_frames(void *data)
{
	return P.rec.n_frames >= ((struct want_frames *)data)->n;
}

struct zs_frame *wait_frame(int n)
{
	struct want_frames w = { n };

	cr_assert(loop_until(has_n_frames, &w, 3000), "frame %d not emitted "
		"(%d so far)", n, P.rec.n_frames);
	return rec_newest(&P.rec);
}

static int memfd_flags(size_t size, uint8_t fill, unsigned flags)
{
	int fd = memfd_create("zs-test", MFD_CLOEXEC | flags);
	void *p;

	cr_assert(fd >= 0);
	cr_assert(ftruncate(fd, (off_t)size) == 0);
	if (size == 0)
		return fd;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert(p != MAP_FAILED);
	memset(p, fill, size);
	munmap(p, size);
	return fd;
}

int memfd_with(size_t size, uint8_t fill)
{
	return memfd_flags(size, fill, MFD_ALLOW_SEALING);
}

int memfd_unsealable(size_t size, uint8_t fill)
{
	return memfd_flags(size, fill, 0);
}

GUnixFDList *fds_of(int n, const int *fds)
{
	GUnixFDList *l = g_unix_fd_list_new();

	for (int i = 0; i < n; i++)
		cr_assert(g_unix_fd_list_append(l, fds[i], NULL) == i);
	return l;
}

uint32_t *xrgb_pattern(uint32_t w, uint32_t h, uint32_t seed)
{
	uint32_t *px = g_new(uint32_t, (size_t)w * h);

	for (uint32_t i = 0; i < w * h; i++)
		px[i] = 0xff000000u | ((i * 2654435761u + seed) & 0xffffff);
	return px;
}

uint32_t frame_pixel(const struct zs_frame *f, uint32_t x, uint32_t y)
{
	size_t len = f->planes[0].offset + (size_t)f->planes[0].stride *
		f->height;
	uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED, f->planes[0].fd,
		0);
	uint32_t px;

	cr_assert(map != MAP_FAILED);
	memcpy(&px, map + f->planes[0].offset + (size_t)y * f->planes[0].stride +
		(size_t)x * 4, 4);
	munmap(map, len);
	return px;
}

bool scanout_xrgb(uint32_t w, uint32_t h, const uint32_t *px,
	struct call *c)
{
	return call(P.listener, "Scanout", g_variant_new("(uuuu@ay)", w, h,
		w * 4, ZS_PIXMAN_x8r8g8b8, bytes_v(px, (size_t)w * h * 4)),
		NULL, c);
}

bool update_xrgb(int32_t x, int32_t y, int32_t w, int32_t h,
	const uint32_t *px, struct call *c)
{
	return call(P.listener, "Update", g_variant_new("(iiiiuu@ay)", x, y,
		w, h, (uint32_t)w * 4, ZS_PIXMAN_x8r8g8b8,
		bytes_v(px, (size_t)w * h * 4)), NULL, c);
}
