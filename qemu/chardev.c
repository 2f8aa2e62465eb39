/* zerospice — QEMU's character devices on the D-Bus display
 * (-chardev dbus,id=ID,name=NAME → org.qemu.Display1.Chardev on
 * /org/qemu/Display1/Chardev_ID): found through QEMU's object manager,
 * reported to the session events, and connected on demand with Register.
 * The same object list gives QEMU's graphic consoles (consoles_found). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "qemu-private.h"

#define DISPLAY1_ROOT "/org/qemu/Display1"
#define CHARDEV_PREFIX DISPLAY1_ROOT "/Chardev_"
#define CHARDEV_IFACE "org.qemu.Display1.Chardev"

static const char *chardev_id(GDBusObject *obj)
{
	const char *path = g_dbus_object_get_object_path(obj);

	if (!g_str_has_prefix(path, CHARDEV_PREFIX))
		return NULL;
	path += strlen(CHARDEV_PREFIX);
	return *path ? path : NULL;
}

static bool cached_bool(GDBusProxy *proxy, const char *prop)
{
	GVariant *v = g_dbus_proxy_get_cached_property(proxy, prop);
	bool b = false;

	if (v && g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN))
		b = g_variant_get_boolean(v);
	if (v)
		g_variant_unref(v);
	return b;
}

static void on_chardev_props(GDBusProxy *proxy, GVariant *changed,
	GStrv invalidated, gpointer data)
{
	struct zs_qemu_source *src = data;
	const char *id = g_object_get_data(G_OBJECT(proxy), "zs-id");
	gboolean opened;

	(void)invalidated;
	if (!id || !g_variant_lookup(changed, "FEOpened", "b", &opened))
		return;
	g_message("QEMU chardev %s: guest side %s", id,
		opened ? "opened" : "closed");
	if (src->session.chardev_fe_opened)
		src->session.chardev_fe_opened(src->session_data, id, opened);
}

static void chardev_add(struct zs_qemu_source *src, GDBusObject *obj)
{
	const char *id = chardev_id(obj);
	GDBusInterface *iface;
	GDBusProxy *proxy;
	GVariant *name_v;
	const char *name;
	bool opened;

	if (!id || g_hash_table_contains(src->chardevs, id))
		return;
	iface = g_dbus_object_get_interface(obj, CHARDEV_IFACE);
	if (!iface)
		return;
	proxy = G_DBUS_PROXY(iface); /* the reference goes to the table */
	name_v = g_dbus_proxy_get_cached_property(proxy, "Name");
	if (!name_v || !g_variant_is_of_type(name_v, G_VARIANT_TYPE_STRING)) {
		g_warning("QEMU chardev %s has no Name: ignored", id);
		if (name_v)
			g_variant_unref(name_v);
		g_object_unref(proxy);
		return;
	}
	name = g_variant_get_string(name_v, NULL);
	opened = cached_bool(proxy, "FEOpened");
	g_object_set_data_full(G_OBJECT(proxy), "zs-id", g_strdup(id), g_free);
	g_signal_connect(proxy, "g-properties-changed",
		G_CALLBACK(on_chardev_props), src);
	g_hash_table_insert(src->chardevs, g_strdup(id), proxy);
	g_message("QEMU chardev %s (%s), guest side %s", id, name,
		opened ? "open" : "closed");
	if (src->session.chardev_added)
		src->session.chardev_added(src->session_data, id, name, opened);
	g_variant_unref(name_v);
}

static void chardev_remove(struct zs_qemu_source *src, const char *id)
{
	GDBusProxy *proxy = g_hash_table_lookup(src->chardevs, id);
	char *key;

	if (!proxy)
		return;
	g_signal_handlers_disconnect_matched(proxy, G_SIGNAL_MATCH_DATA, 0, 0,
		NULL, NULL, src);
	key = g_strdup(id);
	g_hash_table_remove(src->chardevs, key);
	g_message("QEMU chardev %s removed", key);
	if (src->session.chardev_removed)
		src->session.chardev_removed(src->session_data, key);
	g_free(key);
}

static void on_object_added(GDBusObjectManager *om, GDBusObject *obj,
	gpointer data)
{
	(void)om;
	chardev_add(data, obj);
}

static void on_object_removed(GDBusObjectManager *om, GDBusObject *obj,
	gpointer data)
{
	const char *id = chardev_id(obj);

	(void)om;
	if (id)
		chardev_remove(data, id);
}

static void on_interface_added(GDBusObjectManager *om, GDBusObject *obj,
	GDBusInterface *iface, gpointer data)
{
	(void)om;
	(void)iface;
	chardev_add(data, obj);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* QEMU's graphic consoles in its object list: Console_N objects whose
 * Console interface says Type "Graphic" (text consoles are left out). */
static void report_consoles(struct zs_qemu_source *src,
	GDBusObjectManager *om)
{
	GList *objects = g_dbus_object_manager_get_objects(om);
	uint32_t numbers[256];
	size_t n = 0;

	for (GList *l = objects; l && n < G_N_ELEMENTS(numbers); l = l->next) {
		const char *path = g_dbus_object_get_object_path(l->data);
		const char *prefix = DISPLAY1_ROOT "/Console_";
		char *end;
		unsigned long num;

		if (!g_str_has_prefix(path, prefix))
			continue;
		path += strlen(prefix);
		if (*path < '0' || *path > '9')
			continue;
		num = strtoul(path, &end, 10);
		if (*end || num > 255)
			continue;
		GDBusInterface *iface = g_dbus_object_get_interface(l->data,
			"org.qemu.Display1.Console");
		if (!iface)
			continue;
		GVariant *type = g_dbus_proxy_get_cached_property(
			G_DBUS_PROXY(iface), "Type");
		if (type && g_variant_is_of_type(type, G_VARIANT_TYPE_STRING) &&
		    strcmp(g_variant_get_string(type, NULL), "Graphic") == 0)
			numbers[n++] = (uint32_t)num;
		if (type)
			g_variant_unref(type);
		g_object_unref(iface);
	}
	g_list_free_full(objects, g_object_unref);
	qsort(numbers, n, sizeof(numbers[0]), cmp_u32);
	src->consoles_found(src->consoles_data, numbers, n);
}

static void on_objects(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	GDBusObjectManager *om =
		g_dbus_object_manager_client_new_finish(res, &error);
	struct zs_qemu_source *src;
	GList *objects;

	(void)obj;
	if (!om) {
		/* Without chardevs the display still works. */
		if (!zs_qemu_is_cancelled(error))
			g_warning("QEMU display: no object manager, so no "
				"character devices: %s", error->message);
		g_error_free(error);
		return;
	}
	src = data;
	if (src->closed) {
		g_object_unref(om);
		return;
	}
	src->objects = om;
	g_signal_connect(om, "object-added", G_CALLBACK(on_object_added), src);
	g_signal_connect(om, "object-removed", G_CALLBACK(on_object_removed),
		src);
	g_signal_connect(om, "interface-added",
		G_CALLBACK(on_interface_added), src);
	objects = g_dbus_object_manager_get_objects(om);
	for (GList *l = objects; l; l = l->next)
		chardev_add(src, l->data);
	g_list_free_full(objects, g_object_unref);
	if (src->consoles_found)
		report_consoles(src, om);
}

void zs_qemu_chardev_start(struct zs_qemu_source *src)
{
	if (!src->chardevs)
		src->chardevs = g_hash_table_new_full(g_str_hash, g_str_equal,
			g_free, g_object_unref);
	g_dbus_object_manager_client_new(src->qemu_conn,
		G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
		src->bus_address ? "org.qemu" : NULL, DISPLAY1_ROOT,
		NULL, NULL, NULL, src->cancel, on_objects, src);
}

void zs_qemu_chardev_stop(struct zs_qemu_source *src)
{
	if (src->objects) {
		g_signal_handlers_disconnect_matched(src->objects,
			G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, src);
		g_clear_object(&src->objects);
	}
	if (!src->chardevs)
		return;
	GList *ids = g_hash_table_get_keys(src->chardevs);
	GList *copy = NULL;
	for (GList *l = ids; l; l = l->next)
		copy = g_list_prepend(copy, g_strdup(l->data));
	g_list_free(ids);
	for (GList *l = copy; l; l = l->next)
		chardev_remove(src, l->data);
	g_list_free_full(copy, g_free);
	g_clear_pointer(&src->chardevs, g_hash_table_unref);
}

static void on_chardev_registered(GObject *obj, GAsyncResult *res,
	gpointer data)
{
	GError *error = NULL;
	GVariant *ret = g_dbus_proxy_call_with_unix_fd_list_finish(
		G_DBUS_PROXY(obj), NULL, res, &error);
	char *id = data;

	if (ret) {
		g_variant_unref(ret);
	} else {
		if (!zs_qemu_is_cancelled(error))
			g_warning("QEMU chardev %s: Register: %s", id,
				error->message);
		g_error_free(error);
	}
	g_free(id);
}

int zs_qemu_chardev_connect(struct zs_source *base, const char *id,
	char *err, size_t err_len)
{
	struct zs_qemu_source *src = zs_qemu_source_from(base);
	GDBusProxy *proxy;
	GUnixFDList *fds;
	int sv[2];

	if (!src || src->closed || !src->chardevs) {
		snprintf(err, err_len, "no QEMU display connection");
		return -1;
	}
	proxy = g_hash_table_lookup(src->chardevs, id);
	if (!proxy) {
		snprintf(err, err_len, "QEMU has no chardev %s", id);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, err_len, "socketpair: %s", strerror(errno));
		return -1;
	}
	int flags = fcntl(sv[0], F_GETFL);
	if (flags < 0 || fcntl(sv[0], F_SETFL, flags | O_NONBLOCK) < 0) {
		snprintf(err, err_len, "O_NONBLOCK: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	fds = g_unix_fd_list_new_from_array(&sv[1], 1); /* takes sv[1] */
	g_main_context_push_thread_default(src->ctx);
	g_dbus_proxy_call_with_unix_fd_list(proxy, "Register",
		g_variant_new("(h)", 0), G_DBUS_CALL_FLAGS_NONE, -1, fds,
		src->cancel, on_chardev_registered, g_strdup(id));
	g_main_context_pop_thread_default(src->ctx);
	g_object_unref(fds);
	return sv[0];
}
