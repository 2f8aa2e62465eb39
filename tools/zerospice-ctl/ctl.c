/* zerospice-ctl: a small command line on top of zerospice's control API
 * (org.zerospice.Server1), over the --control socket or the VM's bus. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "zs-control-gen.h"

#define CALL_TIMEOUT_MS 10000
#define DEFAULT_BUS_NAME "org.zerospice.Display"
#define OBJECT_PATH "/org/zerospice/Server1"
#define EXIT_USAGE 2

static const char usage[] =
	"Usage: zerospice-ctl (--control unix:PATH | --dbus-address ADDR\n"
	"                      [--control-name NAME]) COMMAND [ARGS]\n"
	"Control a running zerospice through its control API.\n"
	"\n"
	"Commands:\n"
	"  status                       source, size, codec, encoder, ticket, clients\n"
	"  set-ticket (TICKET|-|--ticket-file F) [--expiry E]\n"
	"                               new SPICE password for new connections; '-'\n"
	"                               reads it from stdin; E: now, never (default),\n"
	"                               +SECONDS, or epoch SECONDS\n"
	"  expire                       refuse new connections (connected clients stay)\n"
	"  vv [--host H] [--port N] [--tls-port N] [--proxy URL] [--title T]\n"
	"     [--fresh-ticket [--lifetime S]] [--keep-file] [-o FILE]\n"
	"                               a virt-viewer .vv file (stdout or FILE, 0600);\n"
	"                               --fresh-ticket mints a ticket valid S seconds\n"
	"                               (default 30)\n"
	"  disconnect                   disconnect every client\n"
	"  keyframe                     make the next frame a keyframe\n"
	"  bitrate KBPS                 new target bitrate\n"
	"  reload-certs                 re-read the TLS certificate files\n"
	"  add-client --fd N [--skip-auth]\n"
	"                               hand zerospice a connected socket (fd N)\n"
	"  monitor                      print client and Leaving signals until\n"
	"                               zerospice leaves\n"
	"\n"
	"Exit status: 0 on success, 1 when the call failed (the error is printed),\n"
	"2 on bad usage.\n";

struct ctl {
	GDBusConnection *conn;
	ZsServer1 *proxy;
	GMainLoop *loop;
};

static int die_usage(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "zerospice-ctl: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see --help)\n");
	va_end(ap);
	return EXIT_USAGE;
}

static int report(GError *error)
{
	if (!error)
		return EXIT_SUCCESS;
	gchar *remote = g_dbus_error_get_remote_error(error);
	g_dbus_error_strip_remote_error(error);
	fprintf(stderr, "zerospice-ctl: error: %s%s%s%s\n", error->message,
		remote ? " (" : "", remote ? remote : "", remote ? ")" : "");
	g_free(remote);
	g_error_free(error);
	return EXIT_FAILURE;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static char *read_secret(const char *path)
{
	char *text = NULL;
	gsize len = 0;
	GError *error = NULL;
	if (strcmp(path, "-") == 0) {
		char buf[128];
		if (!fgets(buf, sizeof(buf), stdin))
			return NULL;
		text = g_strdup(buf);
	} else if (!g_file_get_contents(path, &text, &len, &error)) {
		fprintf(stderr, "zerospice-ctl: %s\n", error->message);
		g_error_free(error);
		return NULL;
	}
	text[strcspn(text, "\r\n")] = '\0';
	return text;
}

/* ---- commands ---- */

static int cmd_status(struct ctl *c)
{
	ZsServer1 *p = c->proxy;
	guint32 w = 0, h = 0;
	GVariant *size = zs_server1_get_size(p);
	if (!size) {
		fprintf(stderr, "zerospice-ctl: error: no properties (is this "
			"zerospice?)\n");
		return EXIT_FAILURE;
	}
	g_variant_get(size, "(uu)", &w, &h);
	printf("source: %s\nsize: %ux%u\ncodec: %s\nencoder: %s\n",
		zs_server1_get_source(p), w, h, zs_server1_get_codec(p),
		zs_server1_get_encoder(p));
	gint64 exp = zs_server1_get_ticket_expires(p);
	printf("ticket: %s", zs_server1_get_ticket_state(p));
	if (exp > 0)
		printf(" (expires at %" G_GINT64_FORMAT ")", exp);
	printf("\n");
	GVariant *clients = zs_server1_get_clients(p);
	printf("clients: %zu\n", clients ? g_variant_n_children(clients) : 0);
	for (gsize i = 0; clients && i < g_variant_n_children(clients); i++) {
		GVariant *d = g_variant_get_child_value(clients, i);
		const char *addr = "?", *codec = "?";
		guint32 id = 0, channels = 0;
		gint64 since = 0;
		g_variant_lookup(d, "address", "&s", &addr);
		g_variant_lookup(d, "codec", "&s", &codec);
		g_variant_lookup(d, "id", "u", &id);
		g_variant_lookup(d, "channels", "u", &channels);
		g_variant_lookup(d, "since", "x", &since);
		printf("  client %u: %s, %u channels, since %" G_GINT64_FORMAT
			", %s\n", id, addr, channels, since, codec);
		g_variant_unref(d);
	}
	GVariant *stats = zs_server1_get_stats(p);
	if (stats && g_variant_n_children(stats)) {
		gchar *text = g_variant_print(stats, FALSE);
		printf("stats: %s\n", text);
		g_free(text);
	}
	return EXIT_SUCCESS;
}

static int cmd_set_ticket(struct ctl *c, int argc, char **argv)
{
	const char *expiry = "never", *file = NULL, *ticket = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--expiry") == 0 && i + 1 < argc)
			expiry = argv[++i];
		else if (strcmp(argv[i], "--ticket-file") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (!ticket && argv[i][0] != '-')
			ticket = argv[i];
		else if (!ticket && strcmp(argv[i], "-") == 0)
			file = "-";
		else
			return die_usage("set-ticket: unexpected '%s'", argv[i]);
	}
	if (!ticket && !file)
		return die_usage("set-ticket needs a ticket");
	char *secret = file ? read_secret(file) : g_strdup(ticket);
	if (!secret)
		return EXIT_FAILURE;
	GError *error = NULL;
	zs_server1_call_set_ticket_sync(c->proxy, secret, expiry, NULL, &error);
	explicit_bzero(secret, strlen(secret));
	g_free(secret);
	return report(error);
}

static int cmd_vv(struct ctl *c, int argc, char **argv)
{
	GVariantBuilder b;
	const char *out = NULL;
	unsigned long v;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--fresh-ticket") == 0) {
			g_variant_builder_add(&b, "{sv}", "fresh-ticket",
				g_variant_new_boolean(TRUE));
		} else if (strcmp(a, "--keep-file") == 0) {
			g_variant_builder_add(&b, "{sv}", "delete-this-file",
				g_variant_new_boolean(FALSE));
		} else if (!next) {
			g_variant_builder_clear(&b);
			return die_usage("vv: '%s' needs a value or is unknown", a);
		} else if (strcmp(a, "-o") == 0) {
			out = next;
			i++;
		} else if (strcmp(a, "--host") == 0 || strcmp(a, "--proxy") == 0 ||
			strcmp(a, "--title") == 0) {
			g_variant_builder_add(&b, "{sv}", a + 2,
				g_variant_new_string(next));
			i++;
		} else if (strcmp(a, "--lifetime") == 0 || strcmp(a, "--port") == 0 ||
			strcmp(a, "--tls-port") == 0) {
			if (!parse_uint(next, G_MAXUINT32, &v)) {
				g_variant_builder_clear(&b);
				return die_usage("vv: '%s' is not a number", next);
			}
			g_variant_builder_add(&b, "{sv}",
				strcmp(a, "--lifetime") == 0 ? "ticket-lifetime" : a + 2,
				g_variant_new_uint32((guint32)v));
			i++;
		} else {
			g_variant_builder_clear(&b);
			return die_usage("vv: unknown option '%s'", a);
		}
	}
	GError *error = NULL;
	gchar *text = NULL;
	if (!zs_server1_call_connection_file_sync(c->proxy,
		    g_variant_builder_end(&b), &text, NULL, &error))
		return report(error);
	int rc = EXIT_SUCCESS;
	if (out) {
		/* it may hold a password: only for us */
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		size_t len = strlen(text);
		if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
			fprintf(stderr, "zerospice-ctl: %s: %s\n", out,
				g_strerror(errno));
			rc = EXIT_FAILURE;
		}
		if (fd >= 0)
			close(fd);
	} else {
		fputs(text, stdout);
	}
	explicit_bzero(text, strlen(text));
	g_free(text);
	return rc;
}

static int cmd_add_client(struct ctl *c, int argc, char **argv)
{
	unsigned long fd = G_MAXULONG;
	gboolean skip = FALSE;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--skip-auth") == 0)
			skip = TRUE;
		else if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc &&
			parse_uint(argv[i + 1], G_MAXINT, &fd))
			i++;
		else
			return die_usage("add-client: unexpected '%s'", argv[i]);
	}
	if (fd == G_MAXULONG || fcntl((int)fd, F_GETFD) < 0)
		return die_usage("add-client needs --fd N of an open socket");
	GError *error = NULL;
	GUnixFDList *list = g_unix_fd_list_new();
	int idx = g_unix_fd_list_append(list, (int)fd, &error);
	if (idx < 0) {
		g_object_unref(list);
		return report(error);
	}
	zs_server1_call_add_client_sync(c->proxy, g_variant_new_handle(idx),
		skip, list, NULL, NULL, &error);
	g_object_unref(list);
	return report(error);
}

static void on_signal(GDBusProxy *proxy, const gchar *sender,
	const gchar *name, GVariant *params, gpointer data)
{
	struct ctl *c = data;
	gchar *text = g_variant_print(params, FALSE);
	printf("%s %s\n", name, text);
	fflush(stdout);
	g_free(text);
	if (strcmp(name, "Leaving") == 0)
		g_main_loop_quit(c->loop);
}

static void on_closed(GDBusConnection *conn, gboolean vanished, GError *error,
	gpointer data)
{
	struct ctl *c = data;
	printf("closed\n");
	fflush(stdout);
	g_main_loop_quit(c->loop);
}

static int cmd_monitor(struct ctl *c)
{
	c->loop = g_main_loop_new(NULL, FALSE);
	g_signal_connect(c->proxy, "g-signal", G_CALLBACK(on_signal), c);
	g_signal_connect(c->conn, "closed", G_CALLBACK(on_closed), c);
	printf("monitoring\n");
	fflush(stdout);
	g_main_loop_run(c->loop);
	g_main_loop_unref(c->loop);
	return EXIT_SUCCESS;
}

static int run_command(struct ctl *c, const char *cmd, int argc, char **argv)
{
	GError *error = NULL;
	unsigned long v;
	if (strcmp(cmd, "status") == 0 && argc == 0)
		return cmd_status(c);
	if (strcmp(cmd, "set-ticket") == 0)
		return cmd_set_ticket(c, argc, argv);
	if (strcmp(cmd, "vv") == 0)
		return cmd_vv(c, argc, argv);
	if (strcmp(cmd, "add-client") == 0)
		return cmd_add_client(c, argc, argv);
	if (strcmp(cmd, "monitor") == 0 && argc == 0)
		return cmd_monitor(c);
	if (strcmp(cmd, "expire") == 0 && argc == 0)
		zs_server1_call_expire_ticket_sync(c->proxy, NULL, &error);
	else if (strcmp(cmd, "disconnect") == 0 && argc == 0)
		zs_server1_call_disconnect_clients_sync(c->proxy, NULL, &error);
	else if (strcmp(cmd, "keyframe") == 0 && argc == 0)
		zs_server1_call_request_keyframe_sync(c->proxy, NULL, &error);
	else if (strcmp(cmd, "reload-certs") == 0 && argc == 0)
		zs_server1_call_reload_certificates_sync(c->proxy, NULL, &error);
	else if (strcmp(cmd, "bitrate") == 0 && argc == 1) {
		if (!parse_uint(argv[0], G_MAXUINT32, &v))
			return die_usage("bitrate: '%s' is not a number", argv[0]);
		zs_server1_call_set_bitrate_sync(c->proxy, (guint)v, NULL, &error);
	} else
		return die_usage("unknown command or arguments: '%s'", cmd);
	return report(error);
}

int main(int argc, char **argv)
{
	const char *control = NULL, *address = NULL, *name = DEFAULT_BUS_NAME;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return EXIT_SUCCESS;
		}
		if (a[0] != '-')
			break;
		if (i + 1 >= argc)
			return die_usage("'%s' needs a value", a);
		if (strcmp(a, "--control") == 0)
			control = argv[++i];
		else if (strcmp(a, "--dbus-address") == 0)
			address = argv[++i];
		else if (strcmp(a, "--control-name") == 0)
			name = argv[++i];
		else
			return die_usage("unknown option '%s'", a);
	}
	if (i >= argc)
		return die_usage("no command");
	if (!!control == !!address)
		return die_usage("give exactly one of --control unix:PATH and "
			"--dbus-address ADDR");
	if (control && strncmp(control, "unix:", 5) != 0)
		return die_usage("--control '%s' is not unix:PATH", control);

	struct ctl c = { 0 };
	GError *error = NULL;
	if (control) {
		gchar *esc = g_dbus_address_escape_value(control + 5);
		gchar *addr = g_strdup_printf("unix:path=%s", esc);
		c.conn = g_dbus_connection_new_for_address_sync(addr,
			G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL, NULL,
			&error);
		g_free(addr);
		g_free(esc);
	} else {
		c.conn = g_dbus_connection_new_for_address_sync(address,
			G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL,
			&error);
	}
	if (!c.conn)
		return report(error);
	c.proxy = zs_server1_proxy_new_sync(c.conn, G_DBUS_PROXY_FLAGS_NONE,
		control ? NULL : name, OBJECT_PATH, NULL, &error);
	if (!c.proxy) {
		g_object_unref(c.conn);
		return report(error);
	}
	g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(c.proxy), CALL_TIMEOUT_MS);
	int rc = run_command(&c, argv[i], argc - i - 1, argv + i + 1);
	g_object_unref(c.proxy);
	g_dbus_connection_close_sync(c.conn, NULL, NULL);
	g_object_unref(c.conn);
	return rc;
}
