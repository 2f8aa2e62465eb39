/* zerospice — QEMU's D-Bus audio (org.qemu.Display1.Audio): the playback
 * and record listeners QEMU calls with PCM, turned into zs_qemu_audio_events.
 *
 * QEMU (audio/dbusaudio.c) takes one end of a socketpair in
 * RegisterOutListener/RegisterInListener, runs the server side of the D-Bus
 * handshake on it synchronously and reads the listener's properties at
 * once: like the display listener, we serve the object before the
 * connection processes messages and never wait for QEMU while it connects
 * back. Everything QEMU sends is checked: a voice with a format we cannot
 * convert is refused (logged) and its calls ignored; the session goes on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "qemu-private.h"

#define AUDIO_PATH "/org/qemu/Display1/Audio"
#define OUT_LISTENER_PATH "/org/qemu/Display1/AudioOutListener"
#define IN_LISTENER_PATH "/org/qemu/Display1/AudioInListener"
/* Bound on one Read: QEMU asks for its voice buffer (480 frames by
 * default, a few KiB). */
#define MAX_READ_BYTES (1u << 20)

struct audio_dir {
	struct zs_qemu_audio *a;
	bool out;
	GDBusConnection *conn;
	GDBusInterfaceSkeleton *skel;
	GHashTable *voices; /* gint64 id → struct zs_pcm_format */
};

struct zs_qemu_audio {
	struct zs_qemu_source *src;
	struct zs_qemu_audio_events ev;
	void *data;
	GCancellable *cancel;
	ZsQemuDisplay1Audio *proxy;
	struct audio_dir out, in;
	bool said_missing;
};

static const char *dir_name(const struct audio_dir *d)
{
	return d->out ? "playback" : "record";
}

static const struct zs_pcm_format *voice(struct audio_dir *d, uint64_t id)
{
	gint64 key = (gint64)id;
	return g_hash_table_lookup(d->voices, &key);
}

static void voices_clear(struct audio_dir *d)
{
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, d->voices);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		uint64_t id = (uint64_t)*(gint64 *)key;
		if (d->out && d->a->ev.out_fini)
			d->a->ev.out_fini(d->a->data, id);
		else if (!d->out && d->a->ev.in_fini)
			d->a->ev.in_fini(d->a->data, id);
		g_hash_table_iter_remove(&iter);
	}
}

/* ---- the listener methods (both directions share Init/Fini/SetEnabled/
 * SetVolume signatures) ---- */

static gboolean on_init(GDBusInterfaceSkeleton *skel,
	GDBusMethodInvocation *inv, guint64 id, guchar bits, gboolean is_signed,
	gboolean is_float, guint freq, guchar nchannels, guint bytes_per_frame,
	guint bytes_per_second, gboolean be, gpointer data)
{
	struct audio_dir *d = data;
	struct zs_pcm_format f = {
		.rate_hz = freq, .channels = nchannels, .bits = bits,
		.is_signed = is_signed, .is_float = is_float, .big_endian = be,
		.bytes_per_frame = bytes_per_frame,
	};
	char why[128];
	gint64 key = (gint64)id;

	(void)bytes_per_second;
	g_dbus_method_invocation_return_value(inv, NULL);
	if (g_hash_table_contains(d->voices, &key)) {
		/* a re-Init replaces the voice */
		if (d->out && d->a->ev.out_fini)
			d->a->ev.out_fini(d->a->data, id);
		else if (!d->out && d->a->ev.in_fini)
			d->a->ev.in_fini(d->a->data, id);
		g_hash_table_remove(d->voices, &key);
	}
	if (!zs_pcm_format_check(&f, why, sizeof(why))) {
		g_warning("QEMU audio: %s voice %" G_GUINT64_FORMAT " refused: "
			"%s", dir_name(d), id, why);
		return TRUE;
	}
	g_message("QEMU audio: %s voice %" G_GUINT64_FORMAT ": %u Hz, %u "
		"channel(s), %u-bit %s%s", dir_name(d), id, f.rate_hz,
		f.channels, f.bits, f.is_float ? "float" : f.is_signed ?
		"signed" : "unsigned", f.bits > 8 ? (f.big_endian ? " BE" :
		" LE") : "");
	g_hash_table_insert(d->voices, g_memdup2(&key, sizeof(key)),
		g_memdup2(&f, sizeof(f)));
	if (d->out && d->a->ev.out_init)
		d->a->ev.out_init(d->a->data, id, &f);
	else if (!d->out && d->a->ev.in_init)
		d->a->ev.in_init(d->a->data, id, &f);
	return TRUE;
}

static gboolean on_fini(GDBusInterfaceSkeleton *skel,
	GDBusMethodInvocation *inv, guint64 id, gpointer data)
{
	struct audio_dir *d = data;
	gint64 key = (gint64)id;

	g_dbus_method_invocation_return_value(inv, NULL);
	if (!g_hash_table_contains(d->voices, &key))
		return TRUE;
	if (d->out && d->a->ev.out_fini)
		d->a->ev.out_fini(d->a->data, id);
	else if (!d->out && d->a->ev.in_fini)
		d->a->ev.in_fini(d->a->data, id);
	g_hash_table_remove(d->voices, &key);
	return TRUE;
}

static gboolean on_set_enabled(GDBusInterfaceSkeleton *skel,
	GDBusMethodInvocation *inv, guint64 id, gboolean enabled,
	gpointer data)
{
	struct audio_dir *d = data;

	g_dbus_method_invocation_return_value(inv, NULL);
	if (!voice(d, id))
		return TRUE;
	if (d->out && d->a->ev.out_enable)
		d->a->ev.out_enable(d->a->data, id, enabled);
	else if (!d->out && d->a->ev.in_enable)
		d->a->ev.in_enable(d->a->data, id, enabled);
	return TRUE;
}

static gboolean on_set_volume(GDBusInterfaceSkeleton *skel,
	GDBusMethodInvocation *inv, guint64 id, gboolean mute,
	GVariant *volume, gpointer data)
{
	struct audio_dir *d = data;
	gsize n = 0;
	const uint8_t *vol = g_variant_get_fixed_array(volume, &n, 1);

	g_dbus_method_invocation_return_value(inv, NULL);
	if (!voice(d, id))
		return TRUE;
	if (n > ZS_PCM_MAX_CHANNELS)
		n = ZS_PCM_MAX_CHANNELS;
	if (d->out && d->a->ev.out_volume)
		d->a->ev.out_volume(d->a->data, id, mute, vol, n);
	else if (!d->out && d->a->ev.in_volume)
		d->a->ev.in_volume(d->a->data, id, mute, vol, n);
	return TRUE;
}

static gboolean on_write(ZsQemuDisplay1AudioOutListener *skel,
	GDBusMethodInvocation *inv, guint64 id, GVariant *pcm, gpointer data)
{
	struct audio_dir *d = data;
	const struct zs_pcm_format *f = voice(d, id);
	gsize len = 0;
	const uint8_t *bytes = g_variant_get_fixed_array(pcm, &len, 1);

	zs_qemu_display1_audio_out_listener_complete_write(skel, inv);
	if (!f || !d->a->ev.out_write)
		return TRUE;
	len -= len % f->bytes_per_frame; /* whole frames only */
	if (len)
		d->a->ev.out_write(d->a->data, id, bytes, len);
	return TRUE;
}

static gboolean on_read(ZsQemuDisplay1AudioInListener *skel,
	GDBusMethodInvocation *inv, guint64 id, guint64 size, gpointer data)
{
	struct audio_dir *d = data;
	const struct zs_pcm_format *f = voice(d, id);
	size_t want = size < MAX_READ_BYTES ? (size_t)size : MAX_READ_BYTES;
	size_t got = 0;
	uint8_t *buf = NULL;

	if (f && d->a->ev.in_read) {
		want -= want % f->bytes_per_frame;
		buf = want ? g_try_malloc(want) : NULL;
		if (buf)
			got = d->a->ev.in_read(d->a->data, id, buf, want);
		if (got > want)
			got = want;
	}
	static const uint8_t none[1];
	zs_qemu_display1_audio_in_listener_complete_read(skel, inv,
		g_variant_new_from_data(G_VARIANT_TYPE("ay"),
			buf ? (const void *)buf : (const void *)none, got, TRUE,
			g_free, buf));
	return TRUE;
}

/* ---- registration ---- */

static void export_skeleton(struct audio_dir *d)
{
	GError *error = NULL;

	if (d->out) {
		d->skel = G_DBUS_INTERFACE_SKELETON(
			zs_qemu_display1_audio_out_listener_skeleton_new());
		g_signal_connect(d->skel, "handle-write", G_CALLBACK(on_write),
			d);
	} else {
		d->skel = G_DBUS_INTERFACE_SKELETON(
			zs_qemu_display1_audio_in_listener_skeleton_new());
		g_signal_connect(d->skel, "handle-read", G_CALLBACK(on_read), d);
	}
	g_signal_connect(d->skel, "handle-init", G_CALLBACK(on_init), d);
	g_signal_connect(d->skel, "handle-fini", G_CALLBACK(on_fini), d);
	g_signal_connect(d->skel, "handle-set-enabled",
		G_CALLBACK(on_set_enabled), d);
	g_signal_connect(d->skel, "handle-set-volume",
		G_CALLBACK(on_set_volume), d);
	if (!g_dbus_interface_skeleton_export(d->skel, d->conn,
			d->out ? OUT_LISTENER_PATH : IN_LISTENER_PATH, &error)) {
		g_warning("QEMU audio: exporting the %s listener: %s",
			dir_name(d), error->message);
		g_error_free(error);
	}
}

static void on_listener_conn(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	GDBusConnection *conn = g_dbus_connection_new_finish(res, &error);
	struct audio_dir *d = data;

	(void)obj;
	if (!conn) {
		if (!zs_qemu_is_cancelled(error))
			g_warning("QEMU audio: %s listener connection: %s",
				dir_name(d), error->message);
		g_error_free(error);
		return;
	}
	d->conn = conn;
	export_skeleton(d);
	g_dbus_connection_start_message_processing(conn);
}

static void on_registered(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	struct audio_dir *d = data;
	GVariant *ret = g_dbus_proxy_call_with_unix_fd_list_finish(
		G_DBUS_PROXY(obj), NULL, res, &error);

	if (ret) {
		g_variant_unref(ret);
		g_message("QEMU audio: %s listener registered", dir_name(d));
		return;
	}
	/* d is gone once cancelled (stop, destroy) */
	if (!zs_qemu_is_cancelled(error) && !d->a->said_missing) {
		g_message("QEMU audio: none (%s): give QEMU -audiodev "
			"dbus,id=snd0 and -display dbus,…,audiodev=snd0 with a "
			"sound device for sound", error->message);
		d->a->said_missing = true;
	}
	g_error_free(error);
}

static void register_dir(struct zs_qemu_audio *a, struct audio_dir *d)
{
	GError *error = NULL;
	GSocket *sock;
	GSocketConnection *stream;
	GUnixFDList *fds;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		g_warning("QEMU audio: socketpair: %s", strerror(errno));
		return;
	}
	sock = g_socket_new_from_fd(sv[0], &error);
	if (!sock) {
		g_warning("QEMU audio: listener socket: %s", error->message);
		g_error_free(error);
		close(sv[0]);
		close(sv[1]);
		return;
	}
	stream = g_socket_connection_factory_create_connection(sock);
	g_object_unref(sock);
	g_dbus_connection_new(G_IO_STREAM(stream), NULL,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
		NULL, a->cancel, on_listener_conn, d);
	g_object_unref(stream);

	fds = g_unix_fd_list_new_from_array(&sv[1], 1); /* takes sv[1] */
	if (d->out)
		zs_qemu_display1_audio_call_register_out_listener(a->proxy,
			g_variant_new_handle(0), fds, a->cancel, on_registered,
			d);
	else
		zs_qemu_display1_audio_call_register_in_listener(a->proxy,
			g_variant_new_handle(0), fds, a->cancel, on_registered,
			d);
	g_object_unref(fds);
}

static void on_proxy(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	ZsQemuDisplay1Audio *proxy =
		zs_qemu_display1_audio_proxy_new_finish(res, &error);
	struct zs_qemu_audio *a = data;

	(void)obj;
	if (!proxy) {
		if (!zs_qemu_is_cancelled(error))
			g_warning("QEMU audio: proxy: %s", error->message);
		g_error_free(error);
		return;
	}
	a->proxy = proxy;
	register_dir(a, &a->out);
	register_dir(a, &a->in);
}

/* ---- lifecycle ---- */

static void dir_init(struct zs_qemu_audio *a, struct audio_dir *d, bool out)
{
	d->a = a;
	d->out = out;
	d->voices = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
		g_free);
}

static void dir_stop(struct audio_dir *d)
{
	voices_clear(d);
	if (d->skel) {
		g_signal_handlers_disconnect_matched(d->skel,
			G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, d);
		if (d->conn)
			g_dbus_interface_skeleton_unexport(d->skel);
		g_clear_object(&d->skel);
	}
	if (d->conn) {
		g_dbus_connection_close(d->conn, NULL, NULL, NULL);
		g_clear_object(&d->conn);
	}
}

struct zs_qemu_audio *zs_qemu_audio_create(struct zs_qemu_source *src,
	const struct zs_qemu_audio_events *events, void *data)
{
	struct zs_qemu_audio *a = g_new0(struct zs_qemu_audio, 1);

	a->src = src;
	a->ev = *events;
	a->data = data;
	dir_init(a, &a->out, true);
	dir_init(a, &a->in, false);
	return a;
}

void zs_qemu_audio_start(struct zs_qemu_audio *a)
{
	if (!a || !a->src->qemu_conn || a->cancel)
		return;
	/* QEMU 7.2 crashes when a peer-to-peer client registers an audio
	 * listener (dbusaudio.c hashes the sender name, NULL without a bus);
	 * later versions name such listeners "p2p". The Console's Interfaces
	 * property arrived after the fix (8.1): without it, no audio. */
	if (!a->src->bus_address && a->src->console_proxy &&
	    !zs_qemu_display1_console_get_interfaces(a->src->console_proxy)) {
		g_message("QEMU audio: off: this QEMU (before 8.1) crashes when "
			"a peer-to-peer client registers for audio; use QEMU 8.1 "
			"or later, or --source qemu,bus=ADDRESS");
		return;
	}
	a->cancel = g_cancellable_new();
	zs_qemu_display1_audio_proxy_new(a->src->qemu_conn,
		G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START |
		G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
		G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
		a->src->bus_address ? "org.qemu" : NULL, AUDIO_PATH,
		a->cancel, on_proxy, a);
}

void zs_qemu_audio_stop(struct zs_qemu_audio *a)
{
	if (!a)
		return;
	if (a->cancel) {
		g_cancellable_cancel(a->cancel);
		g_clear_object(&a->cancel);
	}
	g_clear_object(&a->proxy);
	dir_stop(&a->out);
	dir_stop(&a->in);
}

void zs_qemu_audio_destroy(struct zs_qemu_audio *a)
{
	if (!a)
		return;
	zs_qemu_audio_stop(a);
	g_hash_table_destroy(a->out.voices);
	g_hash_table_destroy(a->in.voices);
	g_free(a);
}
