/* zerospice tests — the session bridges of the QEMU source (chardev.c,
 * clipboard.c) against a fake QEMU: a GDBus peer with QEMU's object manager
 * at /org/qemu/Display1 serving a console, a Chardev and the Clipboard.
 * Covers what real QEMU makes hard to provoke: chardevs appearing and going,
 * hostile clipboard calls, the peer vanishing. The peer also has a text
 * console 1 and a graphic console 2, for the console list and a second
 * console over the first one's connection. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "helpers.h"
#include "qemu-private.h"

#define ROOT "/org/qemu/Display1"
#define TEXT "text/plain;charset=utf-8"

struct peer {
	GDBusConnection *conn, *lconn;
	GDBusObjectManagerServer *om;
	ZsQemuDisplay1Console *console, *console1, *console2;
	GDBusConnection *lconn2; /* console 2's listener */
	ZsQemuDisplay1Mouse *mouse2; /* console 2's mouse */
	int n_abs2;
	uint32_t abs2_x, abs2_y;
	int n_listeners2;
	uint32_t consoles[8];
	int n_consoles_found;
	size_t n_consoles;
	ZsQemuDisplay1Chardev *chardev;
	ZsQemuDisplay1Clipboard *clipboard;
	ZsQemuDisplay1Clipboard *our_clipboard; /* proxy to the source's side */
	int chardev_fd;      /* the stream the source registered */
	bool clip_registered;
	uint32_t grab_sel, grab_serial;
	int n_grabs, n_releases;
	char *request_reply;  /* what our Request handler answers, NULL: error */

	struct rec rec;
	struct zs_source *src;
	/* session events seen */
	char added[64], added_name[64], removed[64];
	int n_added, n_fe, n_removed;
	bool fe_opened, clip_ready;
	int n_vm_grab, n_vm_release, n_vm_request;
	uint32_t last_sel;
	/* zs_qemu_clipboard_request result */
	bool text_done;
	char text[256];
	bool text_null;
};

static struct peer P;

/* ---- session events */

static void ev_added(void *d, const char *id, const char *name, bool fe)
{
	g_strlcpy(P.added, id, sizeof(P.added));
	g_strlcpy(P.added_name, name, sizeof(P.added_name));
	P.fe_opened = fe;
	P.n_added++;
}

static void ev_fe(void *d, const char *id, bool opened)
{
	P.fe_opened = opened;
	P.n_fe++;
}

static void ev_removed(void *d, const char *id)
{
	g_strlcpy(P.removed, id, sizeof(P.removed));
	P.n_removed++;
}

static void ev_ready(void *d, bool ready)
{
	P.clip_ready = ready;
}

static void ev_grab(void *d, uint32_t sel)
{
	P.n_vm_grab++;
	P.last_sel = sel;
}

static void ev_release(void *d, uint32_t sel)
{
	P.n_vm_release++;
	P.last_sel = sel;
}

static void ev_request(void *d, uint32_t sel)
{
	P.n_vm_request++;
	P.last_sel = sel;
}

static void ev_consoles(void *d, const uint32_t *numbers, size_t n)
{
	P.n_consoles_found++;
	P.n_consoles = MIN(n, G_N_ELEMENTS(P.consoles));
	memcpy(P.consoles, numbers, P.n_consoles * sizeof(*numbers));
}

static const struct zs_qemu_session_events session_events = {
	.chardev_added = ev_added,
	.chardev_fe_opened = ev_fe,
	.chardev_removed = ev_removed,
	.clipboard_ready = ev_ready,
	.clipboard_grab = ev_grab,
	.clipboard_release = ev_release,
	.clipboard_request = ev_request,
};

/* ---- the fake QEMU */

static GIOStream *stream_for(int fd);

static void on_listener_conn(GObject *o, GAsyncResult *res, gpointer d)
{
	P.lconn = g_dbus_connection_new_finish(res, NULL);
}

/* No pictures here: the listener connection is only kept open. */
static gboolean on_register_listener(ZsQemuDisplay1Console *c,
	GDBusMethodInvocation *inv, GUnixFDList *fds, GVariant *handle,
	gpointer d)
{
	int fd = g_unix_fd_list_get(fds, g_variant_get_handle(handle), NULL);
	char *guid = g_dbus_generate_guid();

	cr_assert(fd >= 0);
	zs_qemu_display1_console_complete_register_listener(c, inv, NULL);
	GIOStream *s = stream_for(fd);
	g_dbus_connection_new(s, guid,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER, NULL, NULL,
		on_listener_conn, NULL);
	g_object_unref(s);
	g_free(guid);
	return TRUE;
}

static void on_listener2_conn(GObject *o, GAsyncResult *res, gpointer d)
{
	P.lconn2 = g_dbus_connection_new_finish(res, NULL);
}

static gboolean on_register_listener2(ZsQemuDisplay1Console *c,
	GDBusMethodInvocation *inv, GUnixFDList *fds, GVariant *handle,
	gpointer d)
{
	int fd = g_unix_fd_list_get(fds, g_variant_get_handle(handle), NULL);
	char *guid = g_dbus_generate_guid();

	cr_assert(fd >= 0);
	P.n_listeners2++;
	zs_qemu_display1_console_complete_register_listener(c, inv, NULL);
	GIOStream *s = stream_for(fd);
	g_dbus_connection_new(s, guid,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER, NULL, NULL,
		on_listener2_conn, NULL);
	g_object_unref(s);
	g_free(guid);
	return TRUE;
}

static gboolean on_abs2(ZsQemuDisplay1Mouse *m, GDBusMethodInvocation *inv,
	guint x, guint y, gpointer d)
{
	P.n_abs2++;
	P.abs2_x = x;
	P.abs2_y = y;
	zs_qemu_display1_mouse_complete_set_abs_position(m, inv);
	return TRUE;
}

static gboolean on_chardev_register(ZsQemuDisplay1Chardev *c,
	GDBusMethodInvocation *inv, GUnixFDList *fds, GVariant *handle,
	gpointer d)
{
	if (P.chardev_fd >= 0)
		close(P.chardev_fd);
	P.chardev_fd = g_unix_fd_list_get(fds, g_variant_get_handle(handle),
		NULL);
	zs_qemu_display1_chardev_complete_register(c, inv, NULL);
	return TRUE;
}

static void on_our_clipboard(GObject *o, GAsyncResult *res, gpointer d)
{
	P.our_clipboard = zs_qemu_display1_clipboard_proxy_new_finish(res,
		NULL);
}

static gboolean on_clip_register(ZsQemuDisplay1Clipboard *c,
	GDBusMethodInvocation *inv, gpointer d)
{
	P.clip_registered = true;
	zs_qemu_display1_clipboard_proxy_new(P.conn,
		G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START |
		G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES, NULL,
		ROOT "/Clipboard", NULL, on_our_clipboard, NULL);
	zs_qemu_display1_clipboard_complete_register(c, inv);
	return TRUE;
}

static gboolean on_clip_grab(ZsQemuDisplay1Clipboard *c,
	GDBusMethodInvocation *inv, guint sel, guint serial,
	const gchar *const *mimes, gpointer d)
{
	P.grab_sel = sel;
	P.grab_serial = serial;
	P.n_grabs++;
	cr_assert(g_strv_contains(mimes, TEXT));
	zs_qemu_display1_clipboard_complete_grab(c, inv);
	return TRUE;
}

static gboolean on_clip_release(ZsQemuDisplay1Clipboard *c,
	GDBusMethodInvocation *inv, guint sel, gpointer d)
{
	P.n_releases++;
	zs_qemu_display1_clipboard_complete_release(c, inv);
	return TRUE;
}

static gboolean on_clip_request(ZsQemuDisplay1Clipboard *c,
	GDBusMethodInvocation *inv, guint sel, const gchar *const *mimes,
	gpointer d)
{
	if (!P.request_reply) {
		g_dbus_method_invocation_return_dbus_error(inv,
			"org.qemu.Display1.Error.Failed", "Empty clipboard");
		return TRUE;
	}
	zs_qemu_display1_clipboard_complete_request(c, inv, TEXT,
		g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, P.request_reply,
			strlen(P.request_reply), 1));
	return TRUE;
}

static void export(const char *path, gpointer iface)
{
	GDBusObjectSkeleton *o = g_dbus_object_skeleton_new(path);
	g_dbus_object_skeleton_add_interface(o,
		G_DBUS_INTERFACE_SKELETON(iface));
	g_dbus_object_manager_server_export(P.om, o);
	g_object_unref(o);
}

static void add_chardev(void)
{
	P.chardev = zs_qemu_display1_chardev_skeleton_new();
	zs_qemu_display1_chardev_set_name(P.chardev,
		"org.spice-space.vdagent.0");
	zs_qemu_display1_chardev_set_feopened(P.chardev, FALSE);
	g_signal_connect(P.chardev, "handle-register",
		G_CALLBACK(on_chardev_register), NULL);
	export(ROOT "/Chardev_vdagent0", P.chardev);
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

static void on_peer_conn(GObject *o, GAsyncResult *res, gpointer d)
{
	P.conn = g_dbus_connection_new_finish(res, NULL);
	cr_assert_not_null(P.conn);
	P.om = g_dbus_object_manager_server_new(ROOT);
	P.console = zs_qemu_display1_console_skeleton_new();
	zs_qemu_display1_console_set_type_(P.console, "Graphic");
	zs_qemu_display1_console_set_width(P.console, 64);
	zs_qemu_display1_console_set_height(P.console, 48);
	g_signal_connect(P.console, "handle-register-listener",
		G_CALLBACK(on_register_listener), NULL);
	export(ROOT "/Console_0", P.console);
	P.console1 = zs_qemu_display1_console_skeleton_new();
	zs_qemu_display1_console_set_type_(P.console1, "Text");
	export(ROOT "/Console_1", P.console1);
	P.console2 = zs_qemu_display1_console_skeleton_new();
	zs_qemu_display1_console_set_type_(P.console2, "Graphic");
	zs_qemu_display1_console_set_width(P.console2, 32);
	zs_qemu_display1_console_set_height(P.console2, 24);
	g_signal_connect(P.console2, "handle-register-listener",
		G_CALLBACK(on_register_listener2), NULL);
	P.mouse2 = zs_qemu_display1_mouse_skeleton_new();
	zs_qemu_display1_mouse_set_is_absolute(P.mouse2, TRUE);
	g_signal_connect(P.mouse2, "handle-set-abs-position",
		G_CALLBACK(on_abs2), NULL);
	GDBusObjectSkeleton *o2 = g_dbus_object_skeleton_new(ROOT "/Console_2");
	g_dbus_object_skeleton_add_interface(o2,
		G_DBUS_INTERFACE_SKELETON(P.console2));
	g_dbus_object_skeleton_add_interface(o2,
		G_DBUS_INTERFACE_SKELETON(P.mouse2));
	g_dbus_object_manager_server_export(P.om, o2);
	g_object_unref(o2);
	add_chardev();
	P.clipboard = zs_qemu_display1_clipboard_skeleton_new();
	g_object_connect(P.clipboard,
		"signal::handle-register", on_clip_register, NULL,
		"signal::handle-grab", on_clip_grab, NULL,
		"signal::handle-release", on_clip_release, NULL,
		"signal::handle-request", on_clip_request, NULL, NULL);
	export(ROOT "/Clipboard", P.clipboard);
	g_dbus_object_manager_server_set_connection(P.om, P.conn);
	g_dbus_connection_start_message_processing(P.conn);
}

static bool ready(void *d)
{
	return P.rec.closed || (P.n_added > 0 && P.clip_ready &&
		P.n_consoles_found > 0 &&
		P.our_clipboard && zs_qemu_source_is_running(P.src));
}

static void setup(void)
{
	int sv[2];
	char err[256] = "";
	char *guid = g_dbus_generate_guid();

	memset(&P, 0, sizeof(P));
	P.chardev_fd = -1;
	rec_init(&P.rec, false);
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	GIOStream *s = stream_for(sv[1]);
	g_dbus_connection_new(s, guid,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
		G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING, NULL, NULL,
		on_peer_conn, NULL);
	g_object_unref(s);
	g_free(guid);

	struct zs_qemu_options opts = {
		.dbus_fd = sv[0],
		.session = &session_events,
		.consoles_found = ev_consoles,
	};
	P.src = zs_qemu_source_create(&opts, &rec_events, &P.rec, err,
		sizeof(err));
	cr_assert_not_null(P.src, "%s", err);
	cr_assert(loop_until(ready, NULL, 5000), "session not ready "
		"(closed: %s)", P.rec.reason);
}

static void teardown(void)
{
	zs_source_destroy(P.src);
	rec_finish(&P.rec);
	loop_for(20);
	if (P.chardev_fd >= 0)
		close(P.chardev_fd);
	g_clear_object(&P.our_clipboard);
	g_clear_object(&P.om);
	g_clear_object(&P.console);
	g_clear_object(&P.console1);
	g_clear_object(&P.console2);
	g_clear_object(&P.mouse2);
	if (P.lconn2)
		g_dbus_connection_close_sync(P.lconn2, NULL, NULL);
	g_clear_object(&P.lconn2);
	g_clear_object(&P.chardev);
	g_clear_object(&P.clipboard);
	if (P.lconn)
		g_dbus_connection_close_sync(P.lconn, NULL, NULL);
	g_clear_object(&P.lconn);
	if (P.conn)
		g_dbus_connection_close_sync(P.conn, NULL, NULL);
	g_clear_object(&P.conn);
	loop_for(10);
}

TestSuite(qemu_session, .init = setup, .fini = teardown, .timeout = 60);

/* ---- chardevs */

static bool fe_seen(void *d)
{
	return P.n_fe > 0;
}

static bool registered(void *d)
{
	return P.chardev_fd >= 0;
}

static bool removed(void *d)
{
	return P.n_removed > 0;
}

Test(qemu_session, chardev_is_found_followed_and_connected)
{
	char err[200];

	cr_assert_str_eq(P.added, "vdagent0");
	cr_assert_str_eq(P.added_name, ZS_QEMU_CHARDEV_VDAGENT);
	cr_assert_not(P.fe_opened);
	zs_qemu_display1_chardev_set_feopened(P.chardev, TRUE);
	cr_assert(loop_until(fe_seen, NULL, 3000));
	cr_assert(P.fe_opened);

	int fd = zs_qemu_chardev_connect(P.src, "vdagent0", err, sizeof(err));
	cr_assert_geq(fd, 0, "%s", err);
	cr_assert(loop_until(registered, NULL, 3000));
	/* bytes flow both ways between our end and what QEMU got */
	cr_assert_eq(write(fd, "ping", 4), 4);
	char buf[8] = "";
	cr_assert_eq(read(P.chardev_fd, buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "ping", 4), 0);
	cr_assert_eq(write(P.chardev_fd, "pong", 4), 4);
	loop_for(20);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "pong", 4), 0);
	/* QEMU going away shows as end-of-file */
	close(P.chardev_fd);
	P.chardev_fd = -1;
	cr_assert_eq(read(fd, buf, sizeof(buf)), 0);
	close(fd);

	cr_assert_eq(zs_qemu_chardev_connect(P.src, "nope", err, sizeof(err)),
		-1);
	cr_assert(strstr(err, "nope") != NULL, "%s", err);
}

Test(qemu_session, chardev_removed_by_qemu_is_reported)
{
	char err[200];

	g_dbus_object_manager_server_unexport(P.om, ROOT "/Chardev_vdagent0");
	cr_assert(loop_until(removed, NULL, 3000));
	cr_assert_str_eq(P.removed, "vdagent0");
	cr_assert_eq(zs_qemu_chardev_connect(P.src, "vdagent0", err,
		sizeof(err)), -1);
}

Test(qemu_session, peer_vanishing_reports_chardev_and_clipboard_gone)
{
	g_dbus_connection_close_sync(P.conn, NULL, NULL);
	cr_assert(loop_until(removed, NULL, 5000));
	cr_assert_not(P.clip_ready);
}

/* ---- clipboard */

static bool vm_grabbed(void *d)
{
	return P.n_vm_grab > 0;
}

static bool grabs_seen(void *d)
{
	return P.n_grabs > 0;
}

struct done {
	bool done, ok;
	char err[256];
	GVariant *data;
};

static void on_done(GObject *o, GAsyncResult *res, gpointer d)
{
	struct done *dn = d;
	GError *error = NULL;
	GVariant *ret = g_dbus_proxy_call_finish(G_DBUS_PROXY(o), res, &error);

	dn->done = true;
	dn->ok = ret != NULL;
	if (ret) {
		if (g_variant_n_children(ret) == 2)
			g_variant_get(ret, "(s@ay)", NULL, &dn->data);
		g_variant_unref(ret);
	} else {
		g_strlcpy(dn->err, error->message, sizeof(dn->err));
		g_error_free(error);
	}
}

static void on_text(void *d, uint32_t sel, const uint8_t *t, size_t n)
{
	P.text_done = true;
	P.text_null = t == NULL;
	if (t)
		memcpy(P.text, t, n < 255 ? n : 255);
}

static bool is_done(void *d)
{
	return ((struct done *)d)->done;
}

static void qemu_calls(const char *method, GVariant *args, struct done *dn)
{
	memset(dn, 0, sizeof(*dn));
	g_dbus_proxy_call(G_DBUS_PROXY(P.our_clipboard), method, args,
		G_DBUS_CALL_FLAGS_NONE, 10000, NULL, on_done, dn);
	cr_assert(loop_until(is_done, dn, 10000), "%s: no answer", method);
}

Test(qemu_session, guest_grab_reaches_the_session_and_text_comes_back)
{
	const char *mimes[] = { TEXT, NULL };
	struct done dn;

	qemu_calls("Grab", g_variant_new("(uu^as)", 1, 7, mimes), &dn);
	cr_assert(dn.ok, "%s", dn.err);
	cr_assert(loop_until(vm_grabbed, NULL, 1000));
	cr_assert_eq(P.last_sel, 1);

	P.request_reply = "guest text";
	zs_qemu_clipboard_request(P.src, 1, on_text, NULL);
	for (int i = 0; i < 100 && !P.text_done; i++)
		loop_for(10);
	cr_assert(P.text_done);
	cr_assert_not(P.text_null);
	cr_assert_str_eq(P.text, "guest text");

	qemu_calls("Release", g_variant_new("(u)", 1), &dn);
	cr_assert(dn.ok);
	cr_assert_eq(P.n_vm_release, 1);
}

Test(qemu_session, client_grab_goes_to_qemu_with_a_newer_serial)
{
	const char *mimes[] = { TEXT, NULL };
	struct done dn;

	/* QEMU's last grab had serial 41: ours must be newer */
	qemu_calls("Grab", g_variant_new("(uu^as)", 0, 41, mimes), &dn);
	zs_qemu_clipboard_grab(P.src, 0);
	cr_assert(loop_until(grabs_seen, NULL, 3000));
	cr_assert_eq(P.grab_sel, 0);
	cr_assert_gt(P.grab_serial, 41);

	/* QEMU asks for it: the session answers with the client's text */
	qemu_calls("Request", NULL, &dn); /* wrong signature: refused */
	cr_assert_not(dn.ok);
	memset(&dn, 0, sizeof(dn));
	g_dbus_proxy_call(G_DBUS_PROXY(P.our_clipboard), "Request",
		g_variant_new("(u^as)", 0, mimes), G_DBUS_CALL_FLAGS_NONE,
		10000, NULL, on_done, &dn);
	for (int i = 0; i < 100 && !P.n_vm_request; i++)
		loop_for(10);
	cr_assert_eq(P.n_vm_request, 1);
	zs_qemu_clipboard_reply(P.src, 0, (const uint8_t *)"client text", 11);
	cr_assert(loop_until(is_done, &dn, 3000));
	cr_assert(dn.ok, "%s", dn.err);
	gsize n;
	const char *t = g_variant_get_fixed_array(dn.data, &n, 1);
	cr_assert_eq(n, 11);
	cr_assert_eq(memcmp(t, "client text", 11), 0);
	g_variant_unref(dn.data);

	zs_qemu_clipboard_release(P.src, 0);
	for (int i = 0; i < 100 && !P.n_releases; i++)
		loop_for(10);
	cr_assert_eq(P.n_releases, 1);
}

Test(qemu_session, hostile_clipboard_calls_are_refused)
{
	const char *mimes[] = { TEXT, NULL };
	const char *png[] = { "image/png", NULL };
	struct done dn;

	qemu_calls("Grab", g_variant_new("(uu^as)", 9, 1, mimes), &dn);
	cr_assert_not(dn.ok);
	qemu_calls("Request", g_variant_new("(u^as)", 0, mimes), &dn);
	cr_assert_not(dn.ok, "a request for a selection we do not hold");
	zs_qemu_clipboard_grab(P.src, 2);
	qemu_calls("Request", g_variant_new("(u^as)", 2, png), &dn);
	cr_assert_not(dn.ok, "a request for images");
	cr_assert_eq(P.n_vm_request, 0);
	/* a grab without text: the session sees nothing to carry */
	qemu_calls("Grab", g_variant_new("(uu^as)", 0, 1, png), &dn);
	cr_assert(dn.ok);
	cr_assert_eq(P.n_vm_grab, 0);
	/* the client side sends no text: QEMU's request fails */
	zs_qemu_clipboard_grab(P.src, 0);
	memset(&dn, 0, sizeof(dn));
	g_dbus_proxy_call(G_DBUS_PROXY(P.our_clipboard), "Request",
		g_variant_new("(u^as)", 0, mimes), G_DBUS_CALL_FLAGS_NONE,
		10000, NULL, on_done, &dn);
	for (int i = 0; i < 100 && !P.n_vm_request; i++)
		loop_for(10);
	zs_qemu_clipboard_reply(P.src, 0, NULL, 0);
	cr_assert(loop_until(is_done, &dn, 3000));
	cr_assert_not(dn.ok);
	/* a request for text QEMU does not hold fails at once, with NULL */
	zs_qemu_clipboard_request(P.src, 0, on_text, NULL);
	cr_assert(P.text_done);
	cr_assert(P.text_null);
}

/* ---- several consoles */

Test(qemu_session, graphic_consoles_are_listed_once_text_ones_left_out)
{
	cr_assert_eq(P.n_consoles_found, 1);
	cr_assert_eq(P.n_consoles, 2);
	cr_expect_eq(P.consoles[0], 0);
	cr_expect_eq(P.consoles[1], 2);
}

struct second {
	struct rec rec;
	struct zs_source *src;
};

static bool second_running(void *d)
{
	struct second *sc = d;
	return sc->rec.closed || (zs_qemu_source_is_running(sc->src) &&
		P.n_listeners2 > 0);
}

static bool second_closed(void *d)
{
	return ((struct second *)d)->rec.closed;
}

static bool mouse_ready(void *d)
{
	return zs_qemu_source_from(d)->mouse != NULL;
}

static bool abs2_seen(void *d)
{
	return P.n_abs2 > 0;
}

/* QEMU's p2p display takes one client: console 2 registers its listener
 * over console 0's connection, and ends with it. */
Test(qemu_session, a_second_console_goes_through_the_first_connection)
{
	struct second sc;
	char err[256] = "";

	rec_init(&sc.rec, false);
	sc.src = zs_qemu_source_create_console(P.src, 2, 0, 0, &rec_events,
		&sc.rec, err, sizeof(err));
	cr_assert_not_null(sc.src, "%s", err);
	cr_assert(loop_until(second_running, &sc, 5000),
		"console 2 not running (closed: %s)", sc.rec.reason);
	cr_assert_not(sc.rec.closed, "%s", sc.rec.reason);
	cr_expect_eq(P.n_listeners2, 1);
	/* the primary stays the only one with chardevs and the clipboard */
	cr_expect_eq(P.n_added, 1);

	/* its pointer goes to console 2's Mouse */
	cr_assert(loop_until(mouse_ready, sc.src, 5000));
	zs_source_pointer_abs(sc.src, 5, 6, 0);
	cr_assert(loop_until(abs2_seen, NULL, 5000), "no SetAbsPosition on "
		"console 2");
	cr_expect_eq(P.abs2_x, 5);
	cr_expect_eq(P.abs2_y, 6);

	/* QEMU goes away: both consoles report it */
	g_dbus_connection_close_sync(P.conn, NULL, NULL);
	cr_assert(loop_until(second_closed, &sc, 5000));
	cr_expect(loop_until(second_closed, &P.rec, 5000) || P.rec.closed);
	cr_expect(strstr(sc.rec.reason, "console 0"), "%s", sc.rec.reason);
	zs_source_destroy(sc.src);
	rec_finish(&sc.rec);
}

Test(qemu_session, a_console_qemu_lacks_or_a_text_one_is_a_clear_error)
{
	static const struct {
		uint32_t console;
		const char *why;
	} cases[] = {
		{ 7, "no console 7" },
		{ 1, "not a graphic one" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct second sc;
		char err[256] = "";

		rec_init(&sc.rec, false);
		sc.src = zs_qemu_source_create_console(P.src, cases[i].console,
			0, 0, &rec_events, &sc.rec, err, sizeof(err));
		cr_assert_not_null(sc.src, "%s", err);
		cr_assert(loop_until(second_closed, &sc, 5000),
			"console %u did not close", cases[i].console);
		cr_expect(strstr(sc.rec.reason, cases[i].why), "%s",
			sc.rec.reason);
		cr_expect_not(P.rec.closed, "the primary closed: %s",
			P.rec.reason);
		zs_source_destroy(sc.src);
		rec_finish(&sc.rec);
	}
}

/* Only a QEMU source that is itself a first console can carry others. */
Test(qemu_session, a_second_console_needs_a_first_qemu_console)
{
	struct second sc;
	char err[256] = "";

	rec_init(&sc.rec, false);
	sc.src = zs_qemu_source_create_console(P.src, 2, 0, 0, &rec_events,
		&sc.rec, err, sizeof(err));
	cr_assert_not_null(sc.src, "%s", err);
	cr_expect_null(zs_qemu_source_create_console(sc.src, 3, 0, 0,
		&rec_events, &sc.rec, err, sizeof(err)));
	cr_expect(strstr(err, "another console"), "%s", err);
	cr_expect_null(zs_qemu_source_create_console(NULL, 3, 0, 0,
		&rec_events, &sc.rec, err, sizeof(err)));
	/* destroyed after its primary: it must not touch it */
	zs_source_destroy(P.src);
	P.src = NULL;
	zs_source_destroy(sc.src);
	rec_finish(&sc.rec);
}
