/* zerospice tests — audio and UI size of the QEMU source against a
 * fake QEMU: a GDBus peer that serves Console and Audio. Audio: it takes
 * the listeners zerospice registers the way QEMU does (server side of the
 * handshake on the fd it gets) and calls them with good and hostile values:
 * absurd formats are refused without losing the connection, calls for
 * unknown voices are ignored, Read is bounded. UI size: SetUIInfo reaches
 * the console, and after a refusal is not asked again. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "helpers.h"
#include "qemu-private.h"

struct peer {
	GDBusConnection *conn;
	ZsQemuDisplay1Console *console;
	ZsQemuDisplay1Audio *audio;
	GDBusConnection *out_conn, *in_conn, *display_conn;
	GDBusProxy *out, *in;
	struct rec rec;
	struct zs_source *src;
	/* what the audio events saw */
	GString *log;
	size_t written;
	uint8_t read_fill;
	bool refuse_ui_info;
	int ui_info_calls;
	guint ui_w, ui_h, ui_w_mm, ui_h_mm;
};

static struct peer P;

/* ---- the consumer's side: audio events */

static void ev_out_init(void *d, uint64_t id, const struct zs_pcm_format *f)
{
	g_string_append_printf(P.log, "out_init %" G_GUINT64_FORMAT " %u/%u/%u;",
		id, f->rate_hz, f->channels, f->bits);
}

static void ev_out_fini(void *d, uint64_t id)
{
	g_string_append_printf(P.log, "out_fini %" G_GUINT64_FORMAT ";", id);
}

static void ev_out_enable(void *d, uint64_t id, bool on)
{
	g_string_append_printf(P.log, "out_enable %" G_GUINT64_FORMAT " %d;",
		id, on);
}

static void ev_out_volume(void *d, uint64_t id, bool mute, const uint8_t *v,
	size_t n)
{
	g_string_append_printf(P.log, "out_volume %" G_GUINT64_FORMAT " %d %zu;",
		id, mute, n);
}

static void ev_out_write(void *d, uint64_t id, const uint8_t *pcm, size_t len)
{
	P.written += len;
	g_string_append_printf(P.log, "out_write %" G_GUINT64_FORMAT " %zu;",
		id, len);
}

static void ev_in_init(void *d, uint64_t id, const struct zs_pcm_format *f)
{
	g_string_append_printf(P.log, "in_init %" G_GUINT64_FORMAT ";", id);
}

static size_t ev_in_read(void *d, uint64_t id, uint8_t *pcm, size_t len)
{
	memset(pcm, P.read_fill, len);
	return len;
}

static const struct zs_qemu_audio_events audio_events = {
	.out_init = ev_out_init,
	.out_fini = ev_out_fini,
	.out_enable = ev_out_enable,
	.out_volume = ev_out_volume,
	.out_write = ev_out_write,
	.in_init = ev_in_init,
	.in_read = ev_in_read,
};

/* ---- the fake QEMU */

static GIOStream *stream_for(int fd)
{
	GSocket *sock = g_socket_new_from_fd(fd, NULL);
	GIOStream *s;

	cr_assert_not_null(sock);
	s = G_IO_STREAM(g_socket_connection_factory_create_connection(sock));
	g_object_unref(sock);
	return s;
}

/* Like QEMU: answers, then runs the server side of the handshake. */
static void serve_fd(GUnixFDList *fds, GVariant *handle,
	GAsyncReadyCallback done, gpointer data)
{
	int fd = g_unix_fd_list_get(fds, g_variant_get_handle(handle), NULL);
	char *guid = g_dbus_generate_guid();
	GIOStream *s;

	cr_assert(fd >= 0);
	s = stream_for(fd);
	g_dbus_connection_new(s, guid,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER, NULL, NULL,
		done, data);
	g_object_unref(s);
	g_free(guid);
}

static void on_display_conn(GObject *o, GAsyncResult *res, gpointer d)
{
	P.display_conn = g_dbus_connection_new_finish(res, NULL);
}

static gboolean on_register_listener(ZsQemuDisplay1Console *c,
	GDBusMethodInvocation *inv, GUnixFDList *fds, GVariant *handle,
	gpointer d)
{
	zs_qemu_display1_console_complete_register_listener(c, inv, NULL);
	serve_fd(fds, handle, on_display_conn, NULL);
	return TRUE;
}

static gboolean on_set_ui_info(ZsQemuDisplay1Console *c,
	GDBusMethodInvocation *inv, guint16 w_mm, guint16 h_mm, gint xoff,
	gint yoff, guint w, guint h, gpointer d)
{
	P.ui_info_calls++;
	if (P.refuse_ui_info) {
		g_dbus_method_invocation_return_dbus_error(inv,
			"org.qemu.Display1.Error.Unsupported",
			"SetUIInfo is not supported");
		return TRUE;
	}
	P.ui_w = w;
	P.ui_h = h;
	P.ui_w_mm = w_mm;
	P.ui_h_mm = h_mm;
	zs_qemu_display1_console_complete_set_uiinfo(c, inv);
	return TRUE;
}

static void on_audio_proxy(GObject *o, GAsyncResult *res, gpointer out)
{
	GError *error = NULL;
	GDBusProxy *proxy = g_dbus_proxy_new_finish(res, &error);

	cr_assert_not_null(proxy, "%s", error ? error->message : "");
	*(out ? &P.out : &P.in) = proxy;
}

static void on_audio_conn(GObject *o, GAsyncResult *res, gpointer out)
{
	GError *error = NULL;
	GDBusConnection *conn = g_dbus_connection_new_finish(res, &error);

	cr_assert_not_null(conn, "%s", error ? error->message : "");
	*(out ? &P.out_conn : &P.in_conn) = conn;
	/* QEMU makes its proxy (loading properties) at once; here it must be
	 * asynchronous: the listener answers on this same thread. */
	g_dbus_proxy_new(conn, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, NULL,
		NULL, out ? "/org/qemu/Display1/AudioOutListener" :
		"/org/qemu/Display1/AudioInListener",
		out ? "org.qemu.Display1.AudioOutListener" :
		"org.qemu.Display1.AudioInListener", NULL, on_audio_proxy, out);
}

static gboolean on_register_out(ZsQemuDisplay1Audio *a,
	GDBusMethodInvocation *inv, GUnixFDList *fds, GVariant *handle,
	gpointer d)
{
	zs_qemu_display1_audio_complete_register_out_listener(a, inv, NULL);
	serve_fd(fds, handle, on_audio_conn, GINT_TO_POINTER(1));
	return TRUE;
}

static gboolean on_register_in(ZsQemuDisplay1Audio *a,
	GDBusMethodInvocation *inv, GUnixFDList *fds, GVariant *handle,
	gpointer d)
{
	zs_qemu_display1_audio_complete_register_in_listener(a, inv, NULL);
	serve_fd(fds, handle, on_audio_conn, NULL);
	return TRUE;
}

static void on_peer_conn(GObject *o, GAsyncResult *res, gpointer d)
{
	static const char *const ifaces[] = { NULL };
	GError *error = NULL;

	P.conn = g_dbus_connection_new_finish(res, &error);
	cr_assert_not_null(P.conn, "%s", error ? error->message : "");
	P.console = zs_qemu_display1_console_skeleton_new();
	zs_qemu_display1_console_set_type_(P.console, "Graphic");
	zs_qemu_display1_console_set_width(P.console, 640);
	zs_qemu_display1_console_set_height(P.console, 480);
	/* present (QEMU >= 8.1): the audio gate lets us through */
	zs_qemu_display1_console_set_interfaces(P.console, ifaces);
	g_signal_connect(P.console, "handle-register-listener",
		G_CALLBACK(on_register_listener), NULL);
	g_signal_connect(P.console, "handle-set-uiinfo",
		G_CALLBACK(on_set_ui_info), NULL);
	P.audio = zs_qemu_display1_audio_skeleton_new();
	g_signal_connect(P.audio, "handle-register-out-listener",
		G_CALLBACK(on_register_out), NULL);
	g_signal_connect(P.audio, "handle-register-in-listener",
		G_CALLBACK(on_register_in), NULL);
	cr_assert(g_dbus_interface_skeleton_export(
		G_DBUS_INTERFACE_SKELETON(P.console), P.conn,
		"/org/qemu/Display1/Console_0", NULL));
	cr_assert(g_dbus_interface_skeleton_export(
		G_DBUS_INTERFACE_SKELETON(P.audio), P.conn,
		"/org/qemu/Display1/Audio", NULL));
	g_dbus_connection_start_message_processing(P.conn);
}

static bool peer_ready(void *d)
{
	return P.rec.closed || (P.out && P.in);
}

static void peer_setup(void)
{
	int sv[2];
	char err[256] = "";
	char *guid = g_dbus_generate_guid();

	memset(&P, 0, sizeof(P));
	P.log = g_string_new("");
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
	zs_qemu_source_set_audio(P.src, &audio_events, NULL);
	cr_assert(loop_until(peer_ready, NULL, 5000), "audio listeners not "
		"registered (closed: %s)", P.rec.reason);
	cr_assert(!P.rec.closed, "%s", P.rec.reason);
}

static void peer_teardown(void)
{
	zs_source_destroy(P.src);
	rec_finish(&P.rec);
	loop_for(20);
	g_clear_object(&P.out);
	g_clear_object(&P.in);
	GDBusConnection **conns[] = { &P.out_conn, &P.in_conn,
		&P.display_conn, &P.conn };
	for (size_t i = 0; i < G_N_ELEMENTS(conns); i++) {
		if (*conns[i])
			g_dbus_connection_close_sync(*conns[i], NULL, NULL);
		g_clear_object(conns[i]);
	}
	g_clear_object(&P.console);
	g_clear_object(&P.audio);
	g_string_free(P.log, TRUE);
	loop_for(10);
}

/* ---- calling the listeners */

struct call {
	bool done;
	GVariant *ret;
	char err[256];
};

static void call_done(GObject *o, GAsyncResult *res, gpointer data)
{
	struct call *c = data;
	GError *error = NULL;

	c->ret = g_dbus_proxy_call_finish(G_DBUS_PROXY(o), res, &error);
	c->done = true;
	if (error) {
		g_strlcpy(c->err, error->message, sizeof(c->err));
		g_error_free(error);
	}
}

static bool call_is_done(void *data)
{
	return ((struct call *)data)->done;
}

/* Calls and waits; the reply (NULL on error, c->err says why). */
static GVariant *call(GDBusProxy *p, const char *method, GVariant *args,
	struct call *c)
{
	memset(c, 0, sizeof(*c));
	g_dbus_proxy_call(p, method, args, G_DBUS_CALL_FLAGS_NONE, 5000, NULL,
		call_done, c);
	cr_assert(loop_until(call_is_done, c, 5000), "%s: no reply", method);
	return c->ret;
}

static void call_ok(GDBusProxy *p, const char *method, GVariant *args)
{
	struct call c;
	GVariant *ret = call(p, method, args, &c);

	cr_assert_not_null(ret, "%s: %s", method, c.err);
	g_variant_unref(ret);
}

static GVariant *init_args(uint64_t id, uint8_t bits, bool is_signed,
	bool is_float, uint32_t freq, uint8_t channels, uint32_t bpf)
{
	return g_variant_new("(tybbuyuub)", (guint64)id, bits, is_signed,
		is_float, freq, channels, bpf, freq * bpf, FALSE);
}

static GVariant *bytes_v(size_t len, uint8_t fill)
{
	uint8_t *buf = g_malloc(len ? len : 1);

	memset(buf, fill, len);
	return g_variant_new_from_data(G_VARIANT_TYPE("ay"), buf, len, TRUE,
		g_free, buf);
}

TestSuite(qemu_audio, .init = peer_setup, .fini = peer_teardown,
	.timeout = 60);

Test(qemu_audio, playback_voice_reaches_the_consumer)
{
	guint8 vol[2] = { 255, 128 };

	call_ok(P.out, "Init", init_args(7, 16, true, false, 44100, 2, 4));
	call_ok(P.out, "SetEnabled", g_variant_new("(tb)", (guint64)7, TRUE));
	call_ok(P.out, "SetVolume", g_variant_new("(tb@ay)", (guint64)7, FALSE,
		g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, vol, 2, 1)));
	/* 1921 bytes: the partial frame is not passed on */
	call_ok(P.out, "Write", g_variant_new("(t@ay)", (guint64)7,
		bytes_v(1921, 0x11)));
	call_ok(P.out, "Fini", g_variant_new("(t)", (guint64)7));
	cr_assert_str_eq(P.log->str, "out_init 7 44100/2/16;out_enable 7 1;"
		"out_volume 7 0 2;out_write 7 1920;out_fini 7;");
}

/* Absurd formats are refused; the voice's later calls are ignored; the
 * connection and good voices go on. */
Test(qemu_audio, absurd_formats_are_refused_without_losing_the_session)
{
	static const struct { uint8_t bits, ch; bool sig, flt; uint32_t freq, bpf; }
	bad[] = {
		{ 16, 0, true, false, 44100, 0 },     /* no channel */
		{ 16, 255, true, false, 44100, 510 }, /* 255 channels */
		{ 16, 2, true, false, 0, 4 },         /* 0 Hz */
		{ 16, 2, true, false, 1000000000, 4 },/* 10^9 Hz */
		{ 7, 2, true, false, 44100, 2 },      /* 7-bit samples */
		{ 16, 2, true, true, 44100, 4 },      /* float16 */
		{ 16, 2, true, false, 44100, 3 },     /* frame size wrong */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		uint64_t id = 100 + i;
		call_ok(P.out, "Init", init_args(id, bad[i].bits, bad[i].sig,
			bad[i].flt, bad[i].freq, bad[i].ch, bad[i].bpf));
		call_ok(P.out, "SetEnabled", g_variant_new("(tb)", id, TRUE));
		call_ok(P.out, "Write", g_variant_new("(t@ay)", id,
			bytes_v(4096, 0x22)));
		call_ok(P.out, "Fini", g_variant_new("(t)", id));
	}
	/* calls for voices never initialised */
	call_ok(P.out, "Write", g_variant_new("(t@ay)", (guint64)999,
		bytes_v(64, 1)));
	call_ok(P.out, "SetVolume", g_variant_new("(tb@ay)", (guint64)999, TRUE,
		bytes_v(300, 9)));
	cr_assert_str_eq(P.log->str, "", "events for refused voices: %s",
		P.log->str);
	cr_assert_eq(P.written, 0);

	/* the session goes on */
	call_ok(P.out, "Init", init_args(1, 8, false, false, 8000, 1, 1));
	call_ok(P.out, "Write", g_variant_new("(t@ay)", (guint64)1,
		bytes_v(80, 0x80)));
	cr_assert_str_eq(P.log->str, "out_init 1 8000/1/8;out_write 1 80;");
	cr_assert(!P.rec.closed, "%s", P.rec.reason);
	cr_assert(zs_qemu_source_is_running(P.src));
}

Test(qemu_audio, record_read_is_bounded_and_whole_frames)
{
	struct call c;
	gsize n = 0;

	call_ok(P.in, "Init", init_args(3, 16, true, false, 48000, 2, 4));
	P.read_fill = 0x5a;
	GVariant *ret = call(P.in, "Read", g_variant_new("(tt)", (guint64)3,
		(guint64)1922), &c);
	cr_assert_not_null(ret, "%s", c.err);
	GVariant *data = g_variant_get_child_value(ret, 0);
	const uint8_t *bytes = g_variant_get_fixed_array(data, &n, 1);
	cr_assert_eq(n, 1920, "read %zu bytes", n);
	cr_assert_eq(bytes[0], 0x5a);
	g_variant_unref(data);
	g_variant_unref(ret);

	/* an absurd size is capped; an unknown voice reads nothing */
	ret = call(P.in, "Read", g_variant_new("(tt)", (guint64)3,
		G_MAXUINT64), &c);
	cr_assert_not_null(ret, "%s", c.err);
	data = g_variant_get_child_value(ret, 0);
	g_variant_get_fixed_array(data, &n, 1);
	cr_assert_leq(n, 1u << 20);
	g_variant_unref(data);
	g_variant_unref(ret);
	ret = call(P.in, "Read", g_variant_new("(tt)", (guint64)4,
		(guint64)4096), &c);
	cr_assert_not_null(ret, "%s", c.err);
	data = g_variant_get_child_value(ret, 0);
	g_variant_get_fixed_array(data, &n, 1);
	cr_assert_eq(n, 0);
	g_variant_unref(data);
	g_variant_unref(ret);
}

static bool ui_info_called(void *n)
{
	return P.ui_info_calls >= GPOINTER_TO_INT(n);
}

Test(qemu_audio, ui_info_reaches_the_console)
{
	cr_assert(zs_qemu_source_set_ui_info(P.src, 641, 479, 170, 127));
	cr_assert(loop_until(ui_info_called, GINT_TO_POINTER(1), 5000));
	cr_expect_eq(P.ui_w, 641);
	cr_expect_eq(P.ui_h, 479);
	cr_expect_eq(P.ui_w_mm, 170);
	cr_expect_eq(P.ui_h_mm, 127);
	/* sizes QEMU could not take are not sent */
	cr_expect_not(zs_qemu_source_set_ui_info(P.src, 0, 479, 0, 0));
	cr_expect_not(zs_qemu_source_set_ui_info(P.src, 641, 100000, 0, 0));
	loop_for(50);
	cr_expect_eq(P.ui_info_calls, 1);
	/* other sources: nothing */
	cr_expect_not(zs_qemu_source_set_ui_info(NULL, 800, 600, 0, 0));
}

Test(qemu_audio, ui_info_is_not_asked_again_after_a_refusal)
{
	P.refuse_ui_info = true;
	cr_assert(zs_qemu_source_set_ui_info(P.src, 800, 600, 0, 0));
	cr_assert(loop_until(ui_info_called, GINT_TO_POINTER(1), 5000));
	loop_for(50);
	cr_expect_not(zs_qemu_source_set_ui_info(P.src, 900, 600, 0, 0));
	loop_for(50);
	cr_expect_eq(P.ui_info_calls, 1);
	cr_expect(!P.rec.closed, "%s", P.rec.reason);
}
