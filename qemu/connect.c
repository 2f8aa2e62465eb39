/* zerospice — reaching QEMU's display: the QMP exchange that hands QEMU a
 * p2p D-Bus socket, an inherited socket, or QEMU's name on a bus; each
 * peer's uid is checked before we talk to it. Ends in use_qemu_conn(), which
 * opens the console (source.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qemu-private.h"

#define QMP_RETRY_MS 100
/* Bound on the QMP exchange once the socket accepted (QEMU answers it
 * from its main loop in milliseconds). */
#define QMP_EXCHANGE_TIMEOUT_MS 5000

static gboolean try_qmp(gpointer data);

static void on_name_vanished(GDBusConnection *conn, const char *name,
	gpointer data)
{
	struct zs_qemu_source *src = data;

	/* Also called at once when QEMU has not taken its name yet: then the
	 * name timer bounds the wait, if any. */
	if (src->name_seen) {
		zs_qemu_source_close(src, "QEMU (%s) left the bus", name);
	} else if (src->wait_for_qemu && !src->said_waiting) {
		g_message("QEMU display: waiting for %s on bus %s", name,
			src->bus_address);
		src->said_waiting = true;
	}
}

static gboolean on_name_timeout(gpointer data)
{
	struct zs_qemu_source *src = data;

	g_source_unref(src->retry_timer);
	src->retry_timer = NULL;
	zs_qemu_source_close(src, "no %s on bus %s after %u ms", "org.qemu",
		src->bus_address, src->connect_timeout_ms);
	return G_SOURCE_REMOVE;
}

/* The bus daemon's word on the uid of org.qemu's owner: anyone else who
 * took the name could read the keystrokes. */
static void on_owner_uid(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	GVariant *ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(obj),
		res, &error);
	struct zs_qemu_source *src = data;
	guint32 uid;

	if (!ret) {
		if (!zs_qemu_is_cancelled(error))
			zs_qemu_source_close(src, "uid of org.qemu's owner: %s",
				error->message);
		g_error_free(error);
		return;
	}
	g_variant_get(ret, "(u)", &uid);
	g_variant_unref(ret);
	if (uid != geteuid() && uid != 0 &&
	    (src->allowed_uid < 0 || uid != src->allowed_uid)) {
		zs_qemu_source_close(src, "org.qemu on bus %s is owned by uid "
			"%u, not by zerospice's uid %u, root or --qemu-uid",
			src->bus_address, uid, (unsigned)geteuid());
		return;
	}
	g_main_context_push_thread_default(src->ctx);
	zs_qemu_open_console(src);
	g_main_context_pop_thread_default(src->ctx);
}

static void on_name_appeared(GDBusConnection *conn, const char *name,
	const char *owner, gpointer data)
{
	struct zs_qemu_source *src = data;

	if (src->name_seen || src->closed)
		return;
	src->name_seen = true;
	zs_qemu_clear_timer(&src->retry_timer);
	g_main_context_push_thread_default(src->ctx);
	g_dbus_connection_call(conn, "org.freedesktop.DBus",
		"/org/freedesktop/DBus", "org.freedesktop.DBus",
		"GetConnectionUnixUser", g_variant_new("(s)", owner),
		G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000,
		src->cancel, on_owner_uid, src);
	g_main_context_pop_thread_default(src->ctx);
}

/* Wraps an fd in a GIOStream; takes ownership of fd. */
GIOStream *zs_qemu_stream_from_fd(int fd, GError **error)
{
	GSocket *sock = g_socket_new_from_fd(fd, error);
	GSocketConnection *conn;

	if (!sock) {
		close(fd);
		return NULL;
	}
	conn = g_socket_connection_factory_create_connection(sock);
	g_object_unref(sock);
	return G_IO_STREAM(conn);
}

/* Takes the connection to QEMU's display (p2p or bus) and opens the
 * console. */
static void use_qemu_conn(struct zs_qemu_source *src, GDBusConnection *conn)
{
	g_main_context_push_thread_default(src->ctx);
	src->qemu_conn = conn;
	src->qemu_closed_id = g_signal_connect(conn, "closed",
		G_CALLBACK(zs_qemu_on_conn_closed), src);
	if (src->bus_address) {
		/* QEMU may join the bus after us: wait for its name. */
		if (!src->wait_for_qemu) {
			src->retry_timer = g_timeout_source_new(
				src->connect_timeout_ms);
			g_source_set_callback(src->retry_timer,
				on_name_timeout, src, NULL);
			g_source_attach(src->retry_timer, src->ctx);
		}
		src->name_watch = g_bus_watch_name_on_connection(conn,
			"org.qemu", G_BUS_NAME_WATCHER_FLAGS_NONE,
			on_name_appeared, on_name_vanished, src, NULL);
	} else {
		zs_qemu_open_console(src);
	}
	g_main_context_pop_thread_default(src->ctx);
}

static void on_qemu_conn(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	GDBusConnection *conn;

	(void)obj;
	conn = g_dbus_connection_new_finish(res, &error);
	if (!conn) {
		if (!zs_qemu_is_cancelled(error))
			zs_qemu_source_close(data, "D-Bus connection to QEMU: "
				"%s", error->message);
		g_error_free(error);
		return;
	}
	if (((struct zs_qemu_source *)data)->closed) {
		g_object_unref(conn);
		return;
	}
	use_qemu_conn(data, conn);
}

/* Starts D-Bus on a connected peer-to-peer socket; takes ownership of fd. */
static void start_p2p(struct zs_qemu_source *src, int fd)
{
	GError *error = NULL;
	GIOStream *stream = zs_qemu_stream_from_fd(fd, &error);

	if (!stream) {
		zs_qemu_source_close(src, "D-Bus socket: %s", error->message);
		g_error_free(error);
		return;
	}
	g_dbus_connection_new(stream, NULL,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL,
		src->cancel, on_qemu_conn, src);
	g_object_unref(stream);
}

static void schedule_qmp_retry(struct zs_qemu_source *src)
{
	src->retry_timer = g_timeout_source_new(src->wait_for_qemu ?
		ZS_QEMU_WAIT_RETRY_MS : QMP_RETRY_MS);
	g_source_set_callback(src->retry_timer, try_qmp, src, NULL);
	g_source_attach(src->retry_timer, src->ctx);
}

static void on_qmp_done(void *data, int dbus_fd, const char *err)
{
	struct zs_qemu_source *src = data;

	zs_qemu_qmp_free(src->qmp);
	src->qmp = NULL;
	if (dbus_fd < 0) {
		zs_qemu_source_close(src, "QEMU QMP %s: %s", src->qmp_path, err);
		return;
	}
	/* QEMU holds its own copy now; the QMP monitor is free for others. */
	g_main_context_push_thread_default(src->ctx);
	start_p2p(src, dbus_fd);
	g_main_context_pop_thread_default(src->ctx);
}

static gboolean try_qmp(gpointer data)
{
	struct zs_qemu_source *src = data;
	char err[256];
	int rc;

	if (src->retry_timer) {
		g_source_unref(src->retry_timer);
		src->retry_timer = NULL;
	}
	g_main_context_push_thread_default(src->ctx);
	rc = zs_qemu_qmp_start(src->qmp_path, src->allowed_uid,
		(int)MIN(src->connect_timeout_ms, QMP_EXCHANGE_TIMEOUT_MS),
		on_qmp_done, src, &src->qmp, err, sizeof(err));
	if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -EAGAIN) {
		if (src->wait_for_qemu && !src->said_waiting) {
			g_message("QEMU display: waiting for QEMU's QMP socket "
				"%s (%s; trying every %d ms)", src->qmp_path,
				err, ZS_QEMU_WAIT_RETRY_MS);
			src->said_waiting = true;
		}
		if (src->wait_for_qemu ||
		    g_get_monotonic_time() < src->connect_deadline_us) {
			schedule_qmp_retry(src);
			goto out;
		}
		zs_qemu_source_close(src, "QEMU QMP socket %s not listening "
			"after %u ms: %s", src->qmp_path,
			src->connect_timeout_ms, err);
		goto out;
	}
	if (rc < 0)
		zs_qemu_source_close(src, "QEMU QMP socket %s: %s",
			src->qmp_path, err);
out:
	g_main_context_pop_thread_default(src->ctx);
	return G_SOURCE_REMOVE;
}

static void on_bus_conn(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	GDBusConnection *conn =
		g_dbus_connection_new_for_address_finish(res, &error);

	(void)obj;
	if (!conn) {
		if (!zs_qemu_is_cancelled(error))
			zs_qemu_source_close(data, "D-Bus bus %s: %s",
				((struct zs_qemu_source *)data)->bus_address,
				error->message);
		g_error_free(error);
		return;
	}
	if (((struct zs_qemu_source *)data)->closed) {
		g_object_unref(conn);
		return;
	}
	use_qemu_conn(data, conn);
}

void zs_qemu_connect(struct zs_qemu_source *src)
{
	g_main_context_push_thread_default(src->ctx);
	if (src->qmp_path) {
		src->connect_deadline_us = g_get_monotonic_time() +
			(int64_t)src->connect_timeout_ms * 1000;
		try_qmp(src);
	} else if (src->dbus_fd >= 0) {
		int fd = src->dbus_fd;
		char why[200];
		src->dbus_fd = -1;
		if (zs_qemu_peer_uid_ok(fd, src->allowed_uid, why,
				sizeof(why))) {
			start_p2p(src, fd);
		} else {
			close(fd);
			zs_qemu_source_close(src, "D-Bus socket: %s", why);
		}
	} else {
		g_dbus_connection_new_for_address(src->bus_address,
			G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
			NULL, src->cancel, on_bus_conn, src);
	}
	g_main_context_pop_thread_default(src->ctx);
}
