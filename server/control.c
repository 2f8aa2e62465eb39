/* The control API, org.zerospice.Server1 (server/zs-control.xml, code by
 * gdbus-codegen): one skeleton exported on QEMU's per-VM bus under a
 * well-known name and on every peer-to-peer connection to the
 * --control unix socket. What the methods do is main.c's (zs_control_ops). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "process.h"
#include "zs-control-gen.h"

#define DBUS_NAME_FLAG_DO_NOT_QUEUE 4
#define DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER 1
#define BUS_CALL_TIMEOUT_MS 5000

struct zs_control {
	const struct zs_control_ops *ops;
	void *data;
	ZsServer1 *skeleton;
	GDBusConnection *bus;
	GDBusServer *server;
	char *control_path;
	GList *peers; /* GDBusConnection, one per --control client */
	/* ids and addresses of the clients last reported */
	GHashTable *clients; /* id → address */
};

/* ---- expiry ---- */

#define MAX_EXPIRY_S ((int64_t)1 << 40)

bool zs_control_parse_expiry(const char *s, int64_t now_s, int64_t *expires_s)
{
	if (!s)
		return false;
	if (strcmp(s, "never") == 0) {
		*expires_s = 0;
		return true;
	}
	if (strcmp(s, "now") == 0) {
		*expires_s = -1;
		return true;
	}
	bool relative = s[0] == '+';
	const char *digits = relative ? s + 1 : s;
	if (*digits < '0' || *digits > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(digits, &end, 10);
	if (errno || *end || v > (unsigned long long)MAX_EXPIRY_S)
		return false;
	int64_t at = relative ? now_s + (int64_t)v : (int64_t)v;
	*expires_s = at <= now_s ? -1 : at;
	return true;
}

/* ---- method handlers ---- */

static bool reply(GDBusMethodInvocation *inv, bool ok, GError *error)
{
	if (ok) {
		g_dbus_method_invocation_return_value(inv, NULL);
		return true;
	}
	if (!error)
		error = g_error_new(G_DBUS_ERROR, G_DBUS_ERROR_FAILED, "failed");
	g_info("control: %s failed: %s",
		g_dbus_method_invocation_get_method_name(inv), error->message);
	g_dbus_method_invocation_take_error(inv, error);
	return true;
}

static gboolean on_set_ticket(ZsServer1 *obj, GDBusMethodInvocation *inv,
	const gchar *ticket, const gchar *expiry, gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	int64_t expires_s;
	if (!zs_control_parse_expiry(expiry, g_get_real_time() / G_USEC_PER_SEC,
		    &expires_s)) {
		g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR,
			G_DBUS_ERROR_INVALID_ARGS, "expiry '%s' is not \"now\", "
			"\"never\", \"+SECONDS\" or epoch SECONDS", expiry);
		return TRUE;
	}
	bool ok = c->ops->set_ticket(c->data, ticket, expires_s, &error);
	if (ok) {
		g_message("control: ticket set, %s", expires_s == 0 ?
			"never expires" : expires_s < 0 ? "already expired" :
			"expires later");
	}
	return reply(inv, ok, error);
}

static gboolean on_expire_ticket(ZsServer1 *obj, GDBusMethodInvocation *inv,
	gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	bool ok = c->ops->expire_ticket(c->data, &error);
	if (ok) {
		g_message("control: ticket expired; new connections are refused");
	}
	return reply(inv, ok, error);
}

static gboolean on_reload_certificates(ZsServer1 *obj,
	GDBusMethodInvocation *inv, gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	bool ok = c->ops->reload_certificates(c->data, &error);
	return reply(inv, ok, error);
}

static gboolean on_add_client(ZsServer1 *obj, GDBusMethodInvocation *inv,
	GUnixFDList *fd_list, GVariant *socket_v, gboolean skip_auth,
	gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	gint idx = g_variant_get_handle(socket_v);
	if (!fd_list || idx < 0 || idx >= g_unix_fd_list_get_length(fd_list)) {
		g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR,
			G_DBUS_ERROR_INVALID_ARGS, "AddClient: no file descriptor "
			"was passed with the call");
		return TRUE;
	}
	int fd = g_unix_fd_list_get(fd_list, idx, &error);
	if (fd < 0)
		return reply(inv, false, error);
	int type = 0;
	socklen_t len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		type != SOCK_STREAM) {
		close(fd);
		g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR,
			G_DBUS_ERROR_INVALID_ARGS, "AddClient: the descriptor is not "
			"a connected stream socket");
		return TRUE;
	}
	bool ok = c->ops->add_client(c->data, fd, skip_auth, &error);
	return reply(inv, ok, error);
}

static gboolean on_disconnect_clients(ZsServer1 *obj,
	GDBusMethodInvocation *inv, gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	bool ok = c->ops->disconnect_clients(c->data, &error);
	return reply(inv, ok, error);
}

static gboolean on_request_keyframe(ZsServer1 *obj,
	GDBusMethodInvocation *inv, gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	bool ok = c->ops->request_keyframe(c->data, &error);
	return reply(inv, ok, error);
}

static gboolean on_set_bitrate(ZsServer1 *obj, GDBusMethodInvocation *inv,
	guint kbps, gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	bool ok = c->ops->set_bitrate(c->data, kbps, &error);
	return reply(inv, ok, error);
}

static gboolean on_connection_file(ZsServer1 *obj,
	GDBusMethodInvocation *inv, GVariant *options, gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	char *text = c->ops->connection_file(c->data, options, &error);
	if (!text)
		return reply(inv, false, error);
	zs_server1_complete_connection_file(obj, inv, text);
	g_free(text);
	return TRUE;
}

/* ---- peer-to-peer socket ---- */

static void on_peer_closed(GDBusConnection *conn, gboolean remote_peer_vanished,
	GError *error, gpointer data)
{
	struct zs_control *c = data;
	GList *l = g_list_find(c->peers, conn);
	if (!l)
		return;
	g_dbus_interface_skeleton_unexport_from_connection(
		G_DBUS_INTERFACE_SKELETON(c->skeleton), conn);
	g_signal_handlers_disconnect_by_data(conn, c);
	c->peers = g_list_delete_link(c->peers, l);
	g_object_unref(conn);
}

static gboolean on_new_connection(GDBusServer *server, GDBusConnection *conn,
	gpointer data)
{
	struct zs_control *c = data;
	GError *error = NULL;
	if (!g_dbus_interface_skeleton_export(
		    G_DBUS_INTERFACE_SKELETON(c->skeleton), conn, ZS_CONTROL_PATH,
		    &error)) {
		g_warning("control: cannot serve a --control connection: %s",
			error->message);
		g_error_free(error);
		return FALSE;
	}
	c->peers = g_list_prepend(c->peers, g_object_ref(conn));
	g_signal_connect(conn, "closed", G_CALLBACK(on_peer_closed), c);
	return TRUE;
}

static bool socket_in_use(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool alive = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	if (!alive)
		unlink(path); /* stale, from a process that died */
	return alive;
}

static bool serve_socket(struct zs_control *c, const char *path, char *err,
	size_t err_len)
{
	GError *error = NULL;
	if (socket_in_use(path)) {
		snprintf(err, err_len, "--control unix:%s: another server is "
			"listening there", path);
		return false;
	}
	char *guid = g_dbus_generate_guid();
	char *address = g_dbus_address_escape_value(path);
	char *full = g_strdup_printf("unix:path=%s", address);
	/* only our user may connect: the socket is 0600 from the start and
	 * GDBus checks the peer's uid */
	mode_t old = umask(0077);
	c->server = g_dbus_server_new_sync(full,
		G_DBUS_SERVER_FLAGS_AUTHENTICATION_REQUIRE_SAME_USER, guid, NULL,
		NULL, &error);
	umask(old);
	g_free(full);
	g_free(address);
	g_free(guid);
	if (!c->server) {
		snprintf(err, err_len, "--control unix:%s: %s", path,
			error->message);
		g_error_free(error);
		return false;
	}
	chmod(path, 0600);
	c->control_path = g_strdup(path);
	g_signal_connect(c->server, "new-connection",
		G_CALLBACK(on_new_connection), c);
	g_dbus_server_start(c->server);
	return true;
}

/* ---- the VM's bus ---- */

static void on_bus_closed(GDBusConnection *conn, gboolean remote_peer_vanished,
	GError *error, gpointer data)
{
	g_warning("control: the --dbus-address bus closed (%s); the control API "
		"is now only on --control, if given",
		error ? error->message : "no reason given");
}

static bool serve_bus(struct zs_control *c, const char *address,
	const char *name, char *err, size_t err_len)
{
	GError *error = NULL;
	c->bus = g_dbus_connection_new_for_address_sync(address,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
	if (!c->bus)
		goto err;
	g_dbus_connection_set_exit_on_close(c->bus, FALSE);
	g_signal_connect(c->bus, "closed", G_CALLBACK(on_bus_closed), c);
	if (!g_dbus_interface_skeleton_export(
		    G_DBUS_INTERFACE_SKELETON(c->skeleton), c->bus, ZS_CONTROL_PATH,
		    &error))
		goto err;
	GVariant *ret = g_dbus_connection_call_sync(c->bus,
		"org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus", "RequestName",
		g_variant_new("(su)", name, DBUS_NAME_FLAG_DO_NOT_QUEUE),
		G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, BUS_CALL_TIMEOUT_MS,
		NULL, &error);
	if (!ret)
		goto err;
	guint32 r;
	g_variant_get(ret, "(u)", &r);
	g_variant_unref(ret);
	if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
		snprintf(err, err_len, "--dbus-address %s: the name %s is taken "
			"(another zerospice on this VM or console? see --control-name)", address,
			name);
		return false;
	}
	return true;

err:
	snprintf(err, err_len, "--dbus-address %s: %s", address, error->message);
	g_error_free(error);
	return false;
}

/* ---- lifecycle ---- */

struct zs_control *zs_control_create(const struct zs_control_config *cfg,
	const struct zs_control_ops *ops, void *data, char *err, size_t err_len)
{
	struct zs_control *c = g_new0(struct zs_control, 1);
	c->ops = ops;
	c->data = data;
	c->clients = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
		g_free);
	c->skeleton = zs_server1_skeleton_new();
	ZsServer1 *s = c->skeleton;
	zs_server1_set_version(s, ZS_CONTROL_API_VERSION);
	zs_server1_set_source(s, cfg->source ? cfg->source : "");
	zs_server1_set_size(s, g_variant_new("(uu)", 0, 0));
	zs_server1_set_codec(s, "none");
	zs_server1_set_encoder(s, cfg->encoder ? cfg->encoder : "");
	zs_server1_set_ticket_state(s, "none");
	zs_server1_set_clients(s, g_variant_new_array(G_VARIANT_TYPE("a{sv}"),
		NULL, 0));
	zs_server1_set_stats(s, g_variant_new_array(G_VARIANT_TYPE("{sv}"),
		NULL, 0));
	g_signal_connect(s, "handle-set-ticket", G_CALLBACK(on_set_ticket), c);
	g_signal_connect(s, "handle-expire-ticket", G_CALLBACK(on_expire_ticket),
		c);
	g_signal_connect(s, "handle-reload-certificates",
		G_CALLBACK(on_reload_certificates), c);
	g_signal_connect(s, "handle-add-client", G_CALLBACK(on_add_client), c);
	g_signal_connect(s, "handle-disconnect-clients",
		G_CALLBACK(on_disconnect_clients), c);
	g_signal_connect(s, "handle-request-keyframe",
		G_CALLBACK(on_request_keyframe), c);
	g_signal_connect(s, "handle-set-bitrate", G_CALLBACK(on_set_bitrate), c);
	g_signal_connect(s, "handle-connection-file",
		G_CALLBACK(on_connection_file), c);

	if (cfg->control_path && !serve_socket(c, cfg->control_path, err,
		    err_len))
		goto err;
	if (cfg->bus_address && !serve_bus(c, cfg->bus_address,
		    cfg->bus_name ? cfg->bus_name : ZS_CONTROL_DEFAULT_BUS_NAME,
		    err, err_len))
		goto err;
	return c;

err:
	zs_control_destroy(c);
	return NULL;
}

static void flush(GDBusConnection *conn)
{
	GError *error = NULL;
	if (!g_dbus_connection_is_closed(conn) &&
		!g_dbus_connection_flush_sync(conn, NULL, &error)) {
		g_info("control: flush: %s", error->message);
		g_error_free(error);
	}
}

void zs_control_leaving(struct zs_control *c, const char *reason)
{
	if (!c)
		return;
	zs_server1_emit_leaving(c->skeleton, reason);
	if (c->bus)
		flush(c->bus);
	for (GList *l = c->peers; l; l = l->next)
		flush(l->data);
}

void zs_control_destroy(struct zs_control *c)
{
	if (!c)
		return;
	if (c->server) {
		g_dbus_server_stop(c->server);
		g_object_unref(c->server);
		unlink(c->control_path);
		g_free(c->control_path);
	}
	GList *exported = g_dbus_interface_skeleton_get_connections(
		G_DBUS_INTERFACE_SKELETON(c->skeleton));
	if (exported)
		g_dbus_interface_skeleton_unexport(
			G_DBUS_INTERFACE_SKELETON(c->skeleton));
	g_list_free_full(exported, g_object_unref);
	while (c->peers) {
		GDBusConnection *conn = c->peers->data;
		g_signal_handlers_disconnect_by_data(conn, c);
		g_dbus_connection_close_sync(conn, NULL, NULL);
		g_object_unref(conn);
		c->peers = g_list_delete_link(c->peers, c->peers);
	}
	if (c->bus) {
		g_signal_handlers_disconnect_by_data(c->bus, c);
		g_dbus_connection_close_sync(c->bus, NULL, NULL);
		g_object_unref(c->bus);
	}
	g_signal_handlers_disconnect_by_data(c->skeleton, c);
	g_object_unref(c->skeleton);
	g_hash_table_destroy(c->clients);
	g_free(c);
}

/* ---- properties ---- */

void zs_control_set_size(struct zs_control *c, uint32_t width,
	uint32_t height)
{
	if (!c)
		return;
	GVariant *old = zs_server1_get_size(c->skeleton);
	guint32 w = 0, h = 0;
	if (old)
		g_variant_get(old, "(uu)", &w, &h);
	if (w != width || h != height)
		zs_server1_set_size(c->skeleton, g_variant_new("(uu)", width,
			height));
}

void zs_control_set_ticket_info(struct zs_control *c, const char *state,
	int64_t expires_s)
{
	if (!c)
		return;
	zs_server1_set_ticket_state(c->skeleton, state);
	zs_server1_set_ticket_expires(c->skeleton, expires_s);
}

void zs_control_set_codec(struct zs_control *c, const char *codec)
{
	if (c && g_strcmp0(zs_server1_get_codec(c->skeleton), codec) != 0)
		zs_server1_set_codec(c->skeleton, codec);
}

void zs_control_set_encoder(struct zs_control *c, const char *encoder)
{
	if (c && g_strcmp0(zs_server1_get_encoder(c->skeleton), encoder) != 0)
		zs_server1_set_encoder(c->skeleton, encoder);
}

void zs_control_set_stats(struct zs_control *c, GVariant *stats)
{
	if (!c) {
		g_variant_unref(g_variant_ref_sink(stats));
		return;
	}
	zs_server1_set_stats(c->skeleton, stats);
}

void zs_control_set_clients(struct zs_control *c,
	const struct zs_control_client *clients, size_t n)
{
	if (!c)
		return;
	const char *codec = zs_server1_get_codec(c->skeleton);
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
	GHashTable *now = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (size_t i = 0; i < n; i++) {
		const struct zs_control_client *cl = &clients[i];
		g_variant_builder_open(&b, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&b, "{sv}", "address",
			g_variant_new_string(cl->address ? cl->address : "?"));
		g_variant_builder_add(&b, "{sv}", "since",
			g_variant_new_int64(cl->since_s));
		g_variant_builder_add(&b, "{sv}", "channels",
			g_variant_new_uint32(cl->channels));
		g_variant_builder_add(&b, "{sv}", "id",
			g_variant_new_uint32(cl->id));
		g_variant_builder_add(&b, "{sv}", "codec",
			g_variant_new_string(codec ? codec : "none"));
		g_variant_builder_close(&b);
		g_hash_table_add(now, GUINT_TO_POINTER(cl->id));
		if (!g_hash_table_contains(c->clients, GUINT_TO_POINTER(cl->id))) {
			g_hash_table_insert(c->clients, GUINT_TO_POINTER(cl->id),
				g_strdup(cl->address ? cl->address : "?"));
			zs_server1_emit_client_connected(c->skeleton, cl->id,
				cl->address ? cl->address : "?");
		}
	}
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, c->clients);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		if (g_hash_table_contains(now, key))
			continue;
		zs_server1_emit_client_disconnected(c->skeleton,
			GPOINTER_TO_UINT(key), value);
		g_hash_table_iter_remove(&it);
	}
	g_hash_table_destroy(now);
	zs_server1_set_clients(c->skeleton, g_variant_builder_end(&b));
}
