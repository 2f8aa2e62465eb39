/* What the control API does (zs_control_ops): tickets, connections handed
 * over by a proxy, certificates, encoder knobs, .vv connection files, and
 * the client list from spice-server's channel events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spice.h>

#include "broker.h"
#include "front.h"
#include "internal.h"
#include "process.h"
#include "zs-client-proto.h"

#include "stats.h"
#include "ticket.h"

#define MAX_TICKET_BYTES 60 /* SPICE_MAX_PASSWORD_LENGTH */
#define FRESH_TICKET_BYTES 24
#define DEFAULT_VV_TICKET_LIFETIME_S 30
#define MAX_VV_TICKET_LIFETIME_S (366 * 24 * 3600)
#define MAX_BITRATE_KBPS 1000000
#define REFRESH_MS 1000
#define MAX_PEM_BYTES (256 * 1024)

struct client {
	uint32_t id;
	char *address;
	int64_t since_s;
	uint32_t channels;
};

struct zs_broker {
	struct zs_broker_config cfg;
	struct zs_control *control;
	int64_t expires_s;  /* 0 never, < 0 expired */
	GHashTable *clients; /* connection id → struct client */
	guint refresh;
	uint32_t width, height;
	enum zs_codec codec; /* as last published */
};

/* ---- tickets ----
 * The one place the control API sets the ticket: through ticket.c, the one
 * ticket state for the ticket file, SIGHUP and this API. */

static bool ticket_apply(struct zs_broker *b, const char *ticket,
	int64_t expires_s, GError **error)
{
	char err[256];
	int64_t left = expires_s - g_get_real_time() / G_USEC_PER_SEC;
	bool expired = expires_s < 0 || (expires_s > 0 && left <= 0);
	uint32_t lifetime_s = expires_s == 0 || expired ? 0 :
		left > G_MAXINT32 ? G_MAXINT32 : (uint32_t)left;
	if (!zs_ticket_set(ticket, lifetime_s, err, sizeof(err))) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS, "%s",
			err);
		return false;
	}
	if (expired)
		zs_ticket_expire();
	b->expires_s = expired ? -1 : expires_s;
	zs_control_set_ticket_info(b->control, expired ? "expired" : "set",
		b->expires_s);
	return true;
}

static bool random_ticket(char *out, size_t n)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[MAX_TICKET_BYTES];
	if (n - 1 > sizeof(raw) || getrandom(raw, n - 1, 0) != (ssize_t)(n - 1))
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		out[i] = alphabet[raw[i] & 63];
	out[n - 1] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return true;
}

static bool op_set_ticket(void *data, const char *ticket, int64_t expires_s,
	GError **error)
{
	struct zs_broker *b = data;
	size_t len = strlen(ticket);
	if (len == 0 || len > MAX_TICKET_BYTES) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
			"the ticket must be 1..%d bytes", MAX_TICKET_BYTES);
		return false;
	}
	return ticket_apply(b, ticket, expires_s, error);
}

static bool op_expire_ticket(void *data, GError **error)
{
	struct zs_broker *b = data;
	char fresh[FRESH_TICKET_BYTES + 1];
	if (zs_ticket_required()) {
		zs_ticket_expire();
		b->expires_s = -1;
		zs_control_set_ticket_info(b->control, "expired", -1);
		return true;
	}
	/* no ticket yet (no auth): from now on nobody without one */
	if (!random_ticket(fresh, sizeof(fresh))) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_FAILED,
			"getrandom failed");
		return false;
	}
	bool ok = ticket_apply(b, fresh, -1, error);
	explicit_bzero(fresh, sizeof(fresh));
	return ok;
}

/* spice-server drops every client only from its ticket call; the ticket
 * state (whoever set it last: this API, the file, SIGHUP) is applied again
 * right after. */
static bool op_disconnect_clients(void *data, GError **error)
{
	struct zs_broker *b = data;
	(void)error;
	SpiceServer *s = zs_display_spice_server(b->cfg.display);
	spice_server_set_ticket(s, NULL, 0, 0, 1);
	if (!zs_ticket_required())
		spice_server_set_noauth(s);
	else
		zs_ticket_reapply();
	return true;
}

/* ---- other methods ---- */

static bool op_reload_certificates(void *data, GError **error)
{
	struct zs_broker *b = data;
	char err[512];
	if (!b->cfg.opts->x509_dir) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_NOT_SUPPORTED,
			"TLS is not enabled (no --x509-dir)");
		return false;
	}
	if (!zs_front_reload_tls(b->cfg.front, err, sizeof(err))) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_FAILED, "%s", err);
		return false;
	}
	g_message("control: TLS certificates reloaded from %s",
		b->cfg.opts->x509_dir);
	return true;
}

static bool op_add_client(void *data, int fd, bool skip_auth, GError **error)
{
	struct zs_broker *b = data;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
		getpeername(fd, (struct sockaddr *)&peer, &plen) < 0) {
		int e = errno;
		close(fd);
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
			"AddClient: not a connected socket: %s", g_strerror(e));
		return false;
	}
	bool is_unix = ss.ss_family == AF_UNIX;
	g_message("control: AddClient (%s socket%s)", is_unix ? "unix" : "TCP",
		skip_auth ? ", without the ticket" : "");
	if (skip_auth)
		/* straight to spice-server: the front's ticket checks and clock
		 * relay are for connections that log in */
		zs_display_add_client_auth(b->cfg.display, fd, true);
	else
		zs_front_accept_plain(b->cfg.front, fd, is_unix);
	return true;
}

static bool op_request_keyframe(void *data, GError **error)
{
	struct zs_broker *b = data;
	zs_pipeline_request_keyframe(b->cfg.pipeline);
	return true;
}

static bool op_set_bitrate(void *data, uint32_t kbps, GError **error)
{
	struct zs_broker *b = data;
	if (kbps < 1 || kbps > MAX_BITRATE_KBPS) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
			"bitrate %u is not 1..%u kbit/s", kbps, MAX_BITRATE_KBPS);
		return false;
	}
	g_message("control: bitrate %u kbit/s", kbps);
	zs_pipeline_set_bitrate(b->cfg.pipeline, kbps);
	return true;
}

/* ---- .vv files ---- */

static uint16_t port_of(const char *desc)
{
	const char *colon = desc ? strrchr(desc, ':') : NULL;
	if (!colon || strncmp(desc, "unix:", 5) == 0)
		return 0;
	return (uint16_t)strtoul(colon + 1, NULL, 10);
}

/* "CN=127.0.0.1" / "C=FR,O=Example,CN=host": the subject's entries in the
 * certificate's order, as spice-gtk compares them. */
static char *cert_subject(const char *path, GError **error)
{
	FILE *fp = fopen(path, "re");
	if (!fp) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_FAILED,
			"cannot read %s: %s", path, g_strerror(errno));
		return NULL;
	}
	X509 *cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!cert) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_FAILED,
			"%s holds no PEM certificate", path);
		return NULL;
	}
	const X509_NAME *name = X509_get_subject_name(cert);
	GString *s = g_string_new(NULL);
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		unsigned char *utf8 = NULL;
		int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
		if (n < 0)
			continue;
		g_string_append_printf(s, "%s%s=", s->len ? "," : "",
			nid != NID_undef ? OBJ_nid2sn(nid) : "?");
		for (int k = 0; k < n; k++) {
			if (utf8[k] == ',' || utf8[k] == '\\')
				g_string_append_c(s, '\\');
			g_string_append_c(s, (char)utf8[k]);
		}
		OPENSSL_free(utf8);
	}
	X509_free(cert);
	return g_string_free(s, FALSE);
}

static char *op_connection_file(void *data, GVariant *options,
	GError **error)
{
	struct zs_broker *b = data;
	const struct zs_options *o = b->cfg.opts;
	const char *host = NULL, *proxy = NULL, *title = NULL;
	gboolean fresh = FALSE, delete_file = TRUE;
	guint32 lifetime = DEFAULT_VV_TICKET_LIFETIME_S, port = 0, tls_port = 0;
	GVariantIter it;
	const char *key;
	GVariant *value;
	g_variant_iter_init(&it, options);
	while (g_variant_iter_next(&it, "{&sv}", &key, &value)) {
		const char *want = NULL;
		if (strcmp(key, "host") == 0 || strcmp(key, "proxy") == 0 ||
			strcmp(key, "title") == 0)
			want = "s";
		else if (strcmp(key, "fresh-ticket") == 0 ||
			strcmp(key, "delete-this-file") == 0)
			want = "b";
		else if (strcmp(key, "ticket-lifetime") == 0 ||
			strcmp(key, "port") == 0 || strcmp(key, "tls-port") == 0)
			want = "u";
		if (!want || !g_variant_is_of_type(value, G_VARIANT_TYPE(want))) {
			g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
				want ? "option %s must be of type %s" :
				"unknown option %s (host, port, tls-port, proxy, title, "
				"fresh-ticket, ticket-lifetime, delete-this-file)%s", key,
				want ? want : "");
			g_variant_unref(value);
			return NULL;
		}
		if (strcmp(key, "host") == 0)
			host = g_variant_get_string(value, NULL);
		else if (strcmp(key, "proxy") == 0)
			proxy = g_variant_get_string(value, NULL);
		else if (strcmp(key, "title") == 0)
			title = g_variant_get_string(value, NULL);
		else if (strcmp(key, "fresh-ticket") == 0)
			fresh = g_variant_get_boolean(value);
		else if (strcmp(key, "delete-this-file") == 0)
			delete_file = g_variant_get_boolean(value);
		else if (strcmp(key, "ticket-lifetime") == 0)
			lifetime = g_variant_get_uint32(value);
		else if (strcmp(key, "port") == 0)
			port = g_variant_get_uint32(value);
		else
			tls_port = g_variant_get_uint32(value);
		/* the strings stay valid: options holds a reference */
		g_variant_unref(value);
	}
	if (lifetime < 1 || lifetime > MAX_VV_TICKET_LIFETIME_S || port > 65535 ||
		tls_port > 65535) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
			"ticket-lifetime must be 1..%d s and ports 1..65535",
			MAX_VV_TICKET_LIFETIME_S);
		return NULL;
	}
	if (proxy && !g_str_has_prefix(proxy, "http://") &&
		!g_str_has_prefix(proxy, "https://")) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
			"proxy '%s' is not http://HOST:PORT", proxy);
		return NULL;
	}

	struct zs_vv vv = {
		.host = host ? host : o->public_host ? o->public_host :
			o->listen_host,
		.port = port ? (uint16_t)port : o->tls_only ? 0 :
			port_of(b->cfg.bound),
		.tls_port = tls_port ? (uint16_t)tls_port :
			port_of(b->cfg.tls_bound),
		.title = title ? title : o->title,
		.proxy = proxy,
		.delete_this_file = delete_file,
	};
	if (!vv.host || (!vv.port && !vv.tls_port)) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_NOT_SUPPORTED,
			"no TCP address to put in a .vv file (unix socket); give "
			"host and port");
		return NULL;
	}
	if (strcmp(vv.host, "0.0.0.0") == 0 || strcmp(vv.host, "::") == 0) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
			"zerospice listens on %s: give the host clients reach it at "
			"(option host, or --public-host)", vv.host);
		return NULL;
	}

	char fresh_ticket[FRESH_TICKET_BYTES + 1];
	char *ca = NULL, *subject = NULL, *text = NULL;
	if (fresh) {
		if (!random_ticket(fresh_ticket, sizeof(fresh_ticket))) {
			g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_FAILED,
				"getrandom failed");
			return NULL;
		}
		int64_t at = g_get_real_time() / G_USEC_PER_SEC + lifetime;
		if (!ticket_apply(b, fresh_ticket, at, error))
			return NULL;
		vv.password = fresh_ticket;
	} else {
		vv.password = zs_ticket_text();
	}
	if (vv.tls_port && o->x509_dir) {
		char *ca_path = g_build_filename(o->x509_dir, "ca-cert.pem", NULL);
		char *cert_path = g_build_filename(o->x509_dir, "server-cert.pem",
			NULL);
		gsize len = 0;
		bool ok = g_file_get_contents(ca_path, &ca, &len, error);
		if (ok && len > MAX_PEM_BYTES) {
			g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_FAILED,
				"%s is larger than %d bytes", ca_path, MAX_PEM_BYTES);
			ok = false;
		}
		if (ok)
			subject = cert_subject(cert_path, error);
		g_free(ca_path);
		g_free(cert_path);
		if (!ok || !subject)
			goto out;
		vv.ca_pem = ca;
		vv.host_subject = subject;
	}
	char *raw = zs_vv_format(&vv);
	if (!raw) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_NO_MEMORY,
			"out of memory");
		goto out;
	}
	text = g_strdup(raw);
	explicit_bzero(raw, strlen(raw));
	free(raw);
	g_message("control: connection file for %s%s", vv.host,
		fresh ? " with a fresh ticket" : "");
out:
	explicit_bzero(fresh_ticket, sizeof(fresh_ticket));
	g_free(ca);
	g_free(subject);
	return text;
}

static const struct zs_control_ops ops = {
	.set_ticket = op_set_ticket,
	.expire_ticket = op_expire_ticket,
	.reload_certificates = op_reload_certificates,
	.add_client = op_add_client,
	.disconnect_clients = op_disconnect_clients,
	.request_keyframe = op_request_keyframe,
	.set_bitrate = op_set_bitrate,
	.connection_file = op_connection_file,
};

/* ---- clients, from spice-server's channel events ---- */

struct channel_event {
	struct zs_broker *b;
	int event;
	uint32_t connection_id;
	int type;
	struct sockaddr_storage peer;
	socklen_t peer_len;
};

static struct zs_broker *event_target; /* one broker per process */

static void publish_clients(struct zs_broker *b)
{
	guint n = g_hash_table_size(b->clients);
	struct zs_control_client *list = g_new0(struct zs_control_client, n + 1);
	GHashTableIter it;
	gpointer v;
	size_t i = 0;
	g_hash_table_iter_init(&it, b->clients);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct client *cl = v;
		list[i++] = (struct zs_control_client){
			.address = cl->address,
			.since_s = cl->since_s,
			.channels = cl->channels,
			.id = cl->id,
		};
	}
	zs_control_set_clients(b->control, list, i);
	g_free(list);
}

static char *peer_address(struct zs_broker *b, const struct channel_event *ev)
{
	char buf[96], host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = (const struct sockaddr *)&ev->peer;
	if (ev->peer_len == 0)
		return g_strdup("?");
	if (zs_front_client_name(b->cfg.front, sa, ev->peer_len, buf,
		    sizeof(buf)))
		return g_strdup(buf);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		return g_strdup_printf("%s:%u", host, ntohs(sin->sin_port));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		return g_strdup_printf("[%s]:%u", host, ntohs(sin6->sin6_port));
	}
	return g_strdup("unix");
}

static gboolean on_channel_event_main(gpointer data)
{
	struct channel_event *ev = data;
	struct zs_broker *b = ev->b;
	if (event_target != b)
		return G_SOURCE_REMOVE; /* destroyed meanwhile */
	gpointer key = GUINT_TO_POINTER(ev->connection_id);
	struct client *cl = g_hash_table_lookup(b->clients, key);
	bool changed = false;
	/* spice-server 0.15 reports CONNECTED before the link message (no
	 * type, no connection id): a channel counts once INITIALIZED */
	if (ev->event == SPICE_CHANNEL_EVENT_INITIALIZED) {
		if (!cl && ev->type == SPICE_CHANNEL_MAIN) {
			cl = g_new0(struct client, 1);
			cl->id = ev->connection_id;
			cl->address = peer_address(b, ev);
			cl->since_s = g_get_real_time() / G_USEC_PER_SEC;
			g_hash_table_insert(b->clients, key, cl);
			g_message("client %u connected from %s", cl->id,
				cl->address);
		}
		if (cl) {
			cl->channels++;
			changed = true;
		}
	} else if (ev->event == SPICE_CHANNEL_EVENT_DISCONNECTED && cl) {
		if (cl->channels)
			cl->channels--;
		if (ev->type == SPICE_CHANNEL_MAIN) {
			g_message("client %u (%s) disconnected", cl->id, cl->address);
			g_hash_table_remove(b->clients, key);
		}
		changed = true;
	}
	if (changed)
		publish_clients(b);
	return G_SOURCE_REMOVE;
}

/* Any thread: copy what is needed and go to the main loop. */
static void on_channel_event(int event, const SpiceChannelEventInfo *info,
	void *data)
{
	struct channel_event *ev = g_new0(struct channel_event, 1);
	ev->b = data;
	ev->event = event;
	ev->connection_id = info->connection_id;
	ev->type = info->type;
	if (info->plen_ext > 0 &&
		(size_t)info->plen_ext <= sizeof(ev->peer)) {
		memcpy(&ev->peer, &info->paddr_ext, (size_t)info->plen_ext);
		ev->peer_len = (socklen_t)info->plen_ext;
	}
	g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT,
		on_channel_event_main, ev, g_free);
}

static void free_client(gpointer data)
{
	struct client *cl = data;
	g_free(cl->address);
	g_free(cl);
}

/* ---- properties refreshed from the pipeline ---- */

#define ADD(key, type, value) \
	g_variant_builder_add(&sb, "{sv}", key, g_variant_new_##type(value))

/* The Stats property: server/stats.c's snapshot (the same figures as
 * /metrics) as a{sv}, with one a{sv} per client machine in "clients". */
static GVariant *stats_variant(struct zs_broker *b)
{
	struct zs_stats_snapshot st;
	zs_stats_snapshot(&st);
	GVariantBuilder sb;
	g_variant_builder_init(&sb, G_VARIANT_TYPE("a{sv}"));
	ADD("uptime-s", double,
		(double)(g_get_real_time() - st.start_us) / G_USEC_PER_SEC);
	ADD("frames-in", uint64, st.frames_in);
	ADD("frames-encoded", uint64, st.frames_encoded);
	ADD("frames-sent", uint64, st.frames_sent);
	ADD("frames-skipped", uint64, st.frames_skipped);
	ADD("frames-dropped", uint64, st.frames_dropped);
	ADD("keyframes", uint64, st.keyframes);
	ADD("bytes-sent", uint64, st.bytes_sent);
	ADD("cpu-pixel-bytes", uint64, st.cpu_pixel_bytes);
	ADD("fps-in", double, st.fps_in);
	ADD("fps-out", double, st.fps_out);
	ADD("bitrate-kbps", double, st.bitrate_kbps);
	ADD("encode-us-last", uint32, st.encode_us_last);
	ADD("encode-us-p50", uint32, st.encode_us_p50);
	ADD("latency-us-last", uint32, st.latency_us_last);
	ADD("latency-us-p50", uint32, st.latency_us_p50);
	ADD("clients-connected", uint32, st.clients_connected);
	GVariantBuilder cb;
	g_variant_builder_init(&cb, G_VARIANT_TYPE("aa{sv}"));
	for (uint32_t i = 0; i < st.n_clients && i < ZS_STATS_MAX_CLIENTS; i++) {
		const struct zs_stats_client *c = &st.clients[i];
		g_variant_builder_open(&cb, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&cb, "{sv}", "address",
			g_variant_new_string(c->address));
		g_variant_builder_add(&cb, "{sv}", "connections",
			g_variant_new_uint32(c->connections));
		g_variant_builder_add(&cb, "{sv}", "bytes-sent",
			g_variant_new_uint64(c->bytes_sent));
		g_variant_builder_add(&cb, "{sv}", "send-queue-bytes",
			g_variant_new_uint64(c->send_queue_bytes));
		g_variant_builder_add(&cb, "{sv}", "frames-dropped",
			g_variant_new_uint64(c->frames_dropped));
		g_variant_builder_close(&cb);
	}
	g_variant_builder_add(&sb, "{sv}", "clients", g_variant_builder_end(&cb));
	return g_variant_builder_end(&sb);
}
#undef ADD

static gboolean on_refresh(gpointer data)
{
	struct zs_broker *b = data;
	enum zs_codec codec = zs_pipeline_codec(b->cfg.pipeline);
	zs_control_set_codec(b->control, codec == ZS_CODEC_NONE ? "none" :
		zs_codec_name(codec));
	if (codec != b->codec) {
		b->codec = codec;
		publish_clients(b); /* each client's codec */
	}
	const char *desc = zs_pipeline_encoder_desc(b->cfg.pipeline);
	if (*desc) {
		/* "vaapi: …" or "software: …", and why not VA-API */
		bool va = g_str_has_prefix(desc, "vaapi");
		enum zs_encoder_backend asked = b->cfg.opts->encoder;
		char text[320];
		snprintf(text, sizeof(text), "%s: %s%s", va ? "vaapi" : "software",
			desc, va ? "" : asked == ZS_ENCODER_SOFTWARE ?
			" (--encoder software)" :
			!zs_encoder_probe(ZS_ENCODER_VAAPI) ?
			" (no VA-API device can encode; the log says why)" :
			" (VA-API cannot encode this codec at this size)");
		zs_control_set_encoder(b->control, text);
	}
	zs_control_set_stats(b->control, stats_variant(b));
	return G_SOURCE_CONTINUE;
}

/* ---- lifecycle ---- */

struct zs_broker *zs_broker_create(const struct zs_broker_config *cfg,
	char *err, size_t err_len)
{
	const struct zs_options *o = cfg->opts;
	err[0] = '\0';
	if (!o->control_path && !o->dbus_address)
		return NULL; /* no control API asked for; not an error */
	struct zs_broker *b = g_new0(struct zs_broker, 1);
	b->cfg = *cfg;
	b->cfg.bound = g_strdup(cfg->bound);
	b->cfg.tls_bound = g_strdup(cfg->tls_bound ? cfg->tls_bound : "");
	b->clients = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
		free_client);
	char encoder[64];
	snprintf(encoder, sizeof(encoder), "%s",
		o->encoder == ZS_ENCODER_VAAPI ? "vaapi" :
		o->encoder == ZS_ENCODER_SOFTWARE ? "software" : "auto");
	char bus_name[128];
	if (o->bus_name)
		snprintf(bus_name, sizeof(bus_name), "%s", o->bus_name);
	else if (o->console > 0)
		snprintf(bus_name, sizeof(bus_name), "%s.Console%u",
			ZS_CONTROL_DEFAULT_BUS_NAME, o->console);
	else
		snprintf(bus_name, sizeof(bus_name), "%s",
			ZS_CONTROL_DEFAULT_BUS_NAME);
	struct zs_control_config ccfg = {
		.control_path = o->control_path,
		.bus_address = o->dbus_address,
		.bus_name = bus_name,
		.source = o->source == ZS_SOURCE_QEMU ? "qemu" : "testpattern",
		.encoder = encoder,
	};
	b->control = zs_control_create(&ccfg, &ops, b, err, err_len);
	if (!b->control)
		goto err;
	if (zs_ticket_required()) {
		zs_control_set_ticket_info(b->control, "set", 0);
	} else if ((cfg->public_listener || o->source == ZS_SOURCE_QEMU) &&
		!o->insecure_no_auth) {
		/* (a QEMU source gives clients the VM's keyboard and mouse) */
		/* nobody gets in until the broker's SetTicket */
		if (!op_expire_ticket(b, NULL)) {
			snprintf(err, err_len, "cannot set an initial ticket");
			goto err;
		}
	}
	event_target = b;
	zs_spice_core_set_client_events(on_channel_event, b);
	b->refresh = g_timeout_add(REFRESH_MS, on_refresh, b);
	return b;

err:
	zs_broker_destroy(b);
	return NULL;
}

void zs_broker_frame_size(struct zs_broker *b, uint32_t width,
	uint32_t height)
{
	if (!b || (b->width == width && b->height == height))
		return;
	b->width = width;
	b->height = height;
	zs_control_set_size(b->control, width, height);
}

void zs_broker_leaving(struct zs_broker *b, const char *reason)
{
	if (b)
		zs_control_leaving(b->control, reason);
}

void zs_broker_destroy(struct zs_broker *b)
{
	if (!b)
		return;
	if (event_target == b) {
		zs_spice_core_set_client_events(NULL, NULL);
		event_target = NULL;
	}
	if (b->refresh)
		g_source_remove(b->refresh);
	zs_control_destroy(b->control);
	g_hash_table_destroy(b->clients);
	g_free((char *)b->cfg.bound);
	g_free((char *)b->cfg.tls_bound);
	g_free(b);
}
