/* Prometheus text exposition of the session's counters on --metrics.
 *
 * One scrape = one zs_stats_snapshot() into a buffer the endpoint keeps and
 * reuses. The HTTP side is ours, not libsoup's: a scrape needs one request
 * line read and one response written, and libsoup with its dependencies
 * (sqlite, nghttp2, psl, brotli, Kerberos, idn2, unistring) was mapped
 * into every session, --metrics or not (1.4 MiB of RSS; its 3.2 listener
 * also leaked per connection). Each connection gets one response and is
 * closed; at most MAX_CONNECTIONS are open, each for at most
 * REQUEST_TIMEOUT_S, and its request head is bounded (http-request.h). */
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>

#include "http-request.h"
#include "internal.h"
#include "stats.h"
#include "zs-config.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define REQUEST_TIMEOUT_S 10
#define MAX_CONNECTIONS 16

struct zs_metrics {
	GSocketService *service;
	GString *text;
	struct zs_stats_snapshot snap;
	GList *conns; /* struct conn */
	unsigned n_conns;
};

struct conn {
	struct zs_metrics *m; /* NULL once the endpoint is gone */
	GSocketConnection *sc;
	GCancellable *cancel;
	GSource *timeout;
	GString *out;
	size_t have;
	char buf[ZS_HTTP_HEAD_MAX];
};

/* ---- the text format ---- */

static void family(GString *out, const char *name, const char *type,
	const char *help)
{
	g_string_append_printf(out, "# HELP zerospice_%s %s\n# TYPE zerospice_%s %s\n",
		name, help, name, type);
}

static void sample_u64(GString *out, const char *name, const char *type,
	const char *help, uint64_t v)
{
	family(out, name, type, help);
	g_string_append_printf(out, "zerospice_%s %" G_GUINT64_FORMAT "\n", name,
		v);
}

static void sample_f(GString *out, const char *name, const char *type,
	const char *help, double v)
{
	family(out, name, type, help);
	g_string_append_printf(out, "zerospice_%s %.6g\n", name, v);
}

/* Label values: backslash, double quote and newline escaped. */
static void append_label_value(GString *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			g_string_append_c(out, '\\');
		if (*v == '\n') {
			g_string_append(out, "\\n");
			continue;
		}
		g_string_append_c(out, *v);
	}
}

enum client_field {
	CLIENT_BYTES,
	CLIENT_QUEUE,
	CLIENT_CONNECTIONS,
	CLIENT_DROPPED,
	CLIENT_SINCE,
};

static void client_family(GString *out, const struct zs_stats_snapshot *s,
	const char *name, const char *type, const char *help,
	enum client_field field)
{
	family(out, name, type, help);
	for (uint32_t i = 0; i < s->n_clients; i++) {
		const struct zs_stats_client *c = &s->clients[i];
		g_string_append_printf(out, "zerospice_%s{client=\"", name);
		append_label_value(out, c->address);
		g_string_append(out, "\"} ");
		switch (field) {
		case CLIENT_BYTES:
			g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n",
				c->bytes_sent);
			break;
		case CLIENT_QUEUE:
			g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n",
				c->send_queue_bytes);
			break;
		case CLIENT_CONNECTIONS:
			g_string_append_printf(out, "%u\n", c->connections);
			break;
		case CLIENT_DROPPED:
			g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n",
				c->frames_dropped);
			break;
		case CLIENT_SINCE:
			g_string_append_printf(out, "%.3f\n",
				(double)c->since_us / 1e6);
			break;
		}
	}
}

void zs_stats_format_prometheus(const struct zs_stats_snapshot *s,
	GString *out)
{
	family(out, "build_info", "gauge", "zerospice's version.");
	g_string_append(out, "zerospice_build_info{version=\"" ZS_VERSION "\"} 1\n");
	family(out, "start_time_seconds", "gauge",
		"Wall-clock time the session started, in seconds since the epoch.");
	g_string_append_printf(out, "zerospice_start_time_seconds %.3f\n",
		(double)s->start_us / 1e6);
	sample_u64(out, "frames_in_total", "counter",
		"Frames the source delivered.", s->frames_in);
	sample_u64(out, "frames_encoded_total", "counter",
		"Frames the encoder produced.", s->frames_encoded);
	sample_u64(out, "frames_sent_total", "counter",
		"Encoded frames handed to spice-server for the clients.",
		s->frames_sent);
	sample_u64(out, "frames_skipped_total", "counter",
		"Source frames replaced by a newer one before encoding.",
		s->frames_skipped);
	sample_u64(out, "frames_dropped_total", "counter",
		"Encoded frames dropped before spice-server took them.",
		s->frames_dropped);
	sample_u64(out, "keyframes_total", "counter",
		"Keyframes sent.", s->keyframes);
	sample_u64(out, "stream_bytes_total", "counter",
		"Encoded stream bytes handed to spice-server.", s->bytes_sent);
	sample_u64(out, "cpu_pixel_bytes_total", "counter",
		"Pixel bytes the CPU copied or converted for the encoder (0 on "
		"the zero-copy VA-API path).", s->cpu_pixel_bytes);
	char help[128];
	snprintf(help, sizeof(help), "Source frames per second over the last "
		"%d s.", ZS_STATS_WINDOW_S);
	sample_f(out, "fps_in", "gauge", help, s->fps_in);
	snprintf(help, sizeof(help), "Frames per second sent to clients over "
		"the last %d s.", ZS_STATS_WINDOW_S);
	sample_f(out, "fps_out", "gauge", help, s->fps_out);
	snprintf(help, sizeof(help), "Encoded stream bitrate over the last "
		"%d s.", ZS_STATS_WINDOW_S);
	sample_f(out, "bitrate_bits_per_second", "gauge", help,
		s->bitrate_kbps * 1000.0);
	sample_f(out, "link_pacing_bits_per_second", "gauge",
		"The rate the stream is paced at for the slowest client's link "
		"(--rate-control); 0 while no link limits it.",
		s->link_kbps * 1000.0);
	sample_f(out, "encode_seconds_last", "gauge",
		"Encode time of the last frame.", s->encode_us_last / 1e6);
	sample_f(out, "encode_seconds_p50", "gauge",
		"Median encode time over the last 64 frames.",
		s->encode_us_p50 / 1e6);
	sample_f(out, "latency_seconds_last", "gauge",
		"Capture to hand-off to spice-server, last frame (the network and "
		"the client come on top).", s->latency_us_last / 1e6);
	sample_f(out, "latency_seconds_p50", "gauge",
		"Capture to hand-off to spice-server, median over the last 64 "
		"frames.", s->latency_us_p50 / 1e6);
	family(out, "stream_info", "gauge",
		"What is streamed: codec (none while no client watches), size.");
	g_string_append_printf(out, "zerospice_stream_info{codec=\"%s\","
		"width=\"%u\",height=\"%u\"} 1\n",
		s->codec == ZS_CODEC_NONE ? "none" : zs_codec_name(s->codec),
		s->width, s->height);
	family(out, "encoder_info", "gauge",
		"The encoder in use (empty before the first client).");
	g_string_append(out, "zerospice_encoder_info{encoder=\"");
	append_label_value(out, s->encoder);
	g_string_append(out, "\"} 1\n");
	sample_u64(out, "clients_connected", "gauge",
		"SPICE sessions (main channels) connected.", s->clients_connected);
	client_family(out, s, "client_bytes_sent_total", "counter",
		"Bytes the client acknowledged, all its TCP connections.",
		CLIENT_BYTES);
	client_family(out, s, "client_send_queue_bytes", "gauge",
		"Bytes written toward the client and not yet acknowledged.",
		CLIENT_QUEUE);
	client_family(out, s, "client_connections", "gauge",
		"Open TCP connections (SPICE channels) from the client.",
		CLIENT_CONNECTIONS);
	client_family(out, s, "client_frames_dropped_total", "counter",
		"Stream frames dropped while the client was connected.",
		CLIENT_DROPPED);
	client_family(out, s, "client_connected_since_seconds", "gauge",
		"When the client's oldest open connection was accepted.",
		CLIENT_SINCE);
}

/* ---- the HTTP endpoint ---- */

static void conn_finish(struct conn *c)
{
	if (c->timeout) {
		g_source_destroy(c->timeout);
		g_source_unref(c->timeout);
	}
	g_io_stream_close(G_IO_STREAM(c->sc), NULL, NULL);
	if (c->m) {
		c->m->conns = g_list_remove(c->m->conns, c);
		c->m->n_conns--;
	}
	g_object_unref(c->sc);
	g_object_unref(c->cancel);
	if (c->out)
		g_string_free(c->out, TRUE);
	g_free(c);
}

static gboolean on_timeout(gpointer data)
{
	struct conn *c = data;
	/* the pending read or write ends with G_IO_ERROR_CANCELLED */
	g_cancellable_cancel(c->cancel);
	return G_SOURCE_CONTINUE; /* destroyed by conn_finish */
}

static void on_written(GObject *source, GAsyncResult *res, gpointer data)
{
	g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, NULL);
	conn_finish(data);
}

static void respond(struct conn *c, const char *status, const char *type,
	const char *extra_header, const char *body, size_t body_len, bool head)
{
	c->out = g_string_sized_new(256 + (head ? 0 : body_len));
	g_string_append_printf(c->out, "HTTP/1.1 %s\r\nServer: zerospice\r\n"
		"Connection: close\r\nContent-Type: %s\r\n"
		"Content-Length: %zu\r\n%s\r\n", status, type, body_len,
		extra_header ? extra_header : "");
	if (!head)
		g_string_append_len(c->out, body, (gssize)body_len);
	g_output_stream_write_all_async(
		g_io_stream_get_output_stream(G_IO_STREAM(c->sc)), c->out->str,
		c->out->len, G_PRIORITY_DEFAULT, c->cancel, on_written, c);
}

#define TEXT(s) "text/plain", NULL, s, strlen(s)

static void answer(struct conn *c, const struct zs_http_request *req)
{
	struct zs_metrics *m = c->m;
	bool head = strcmp(req->method, "HEAD") == 0;
	if (strcmp(req->path, "/metrics") != 0) {
		respond(c, "404 Not Found", TEXT("zerospice serves /metrics only\n"),
			head);
		return;
	}
	if (strcmp(req->method, "GET") != 0 && !head) {
		respond(c, "405 Method Not Allowed", "text/plain",
			"Allow: GET, HEAD\r\n", "", 0, false);
		return;
	}
	zs_stats_snapshot(&m->snap);
	g_string_truncate(m->text, 0);
	zs_stats_format_prometheus(&m->snap, m->text);
	respond(c, "200 OK", CONTENT_TYPE, NULL, m->text->str, m->text->len,
		head);
}

static void read_more(struct conn *c);

static void on_read(GObject *source, GAsyncResult *res, gpointer data)
{
	struct conn *c = data;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, NULL);
	if (n <= 0 || !c->m) {
		/* closed, failed, timed out, or the endpoint is gone */
		conn_finish(c);
		return;
	}
	c->have += (size_t)n;
	struct zs_http_request req;
	switch (zs_http_request_parse(c->buf, c->have, &req)) {
	case ZS_HTTP_MORE:
		read_more(c);
		return;
	case ZS_HTTP_BAD:
		respond(c, "400 Bad Request", TEXT("bad request\n"), false);
		return;
	case ZS_HTTP_OK:
		answer(c, &req);
		return;
	}
}

static void read_more(struct conn *c)
{
	/* parse gives BAD, not MORE, once the buffer is full */
	g_input_stream_read_async(
		g_io_stream_get_input_stream(G_IO_STREAM(c->sc)), c->buf + c->have,
		sizeof(c->buf) - c->have, G_PRIORITY_DEFAULT, c->cancel, on_read, c);
}

static gboolean on_incoming(GSocketService *service,
	GSocketConnection *conn, GObject *source, gpointer data)
{
	struct zs_metrics *m = data;
	if (m->n_conns >= MAX_CONNECTIONS) {
		/* not ours to keep: the service's reference closes it */
		g_info("metrics: %u connections open, one more refused",
			m->n_conns);
		return TRUE;
	}
	struct conn *c = g_new0(struct conn, 1);
	c->m = m;
	c->sc = g_object_ref(conn);
	c->cancel = g_cancellable_new();
	/* a connection that sends no request (or stalls) is dropped instead
	 * of being held for good */
	c->timeout = g_timeout_source_new_seconds(REQUEST_TIMEOUT_S);
	g_source_set_callback(c->timeout, on_timeout, c, NULL);
	g_source_attach(c->timeout, g_main_context_get_thread_default());
	m->conns = g_list_prepend(m->conns, c);
	m->n_conns++;
	read_more(c);
	return TRUE;
}

struct zs_metrics *zs_metrics_create(const char *host, uint16_t port,
	char *bound_desc, size_t desc_len, char *err, size_t err_len)
{
	GError *error = NULL;
	GInetAddress *ia = strcmp(host, "localhost") == 0 ?
		g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4) :
		g_inet_address_new_from_string(host);
	if (!ia) {
		snprintf(err, err_len, "--metrics: '%s' is not an IP address",
			host);
		return NULL;
	}
	struct zs_metrics *m = g_new0(struct zs_metrics, 1);
	/* sized for many clients: the buffer never grows in steady state */
	m->text = g_string_sized_new(16 * 1024);
	m->service = g_socket_service_new();
	g_signal_connect(m->service, "incoming", G_CALLBACK(on_incoming), m);
	GSocketAddress *addr = g_inet_socket_address_new(ia, port);
	g_object_unref(ia);
	GSocketAddress *bound = NULL;
	gboolean ok = g_socket_listener_add_address(
		G_SOCKET_LISTENER(m->service), addr, G_SOCKET_TYPE_STREAM,
		G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
	g_object_unref(addr);
	if (!ok) {
		snprintf(err, err_len, "--metrics %s:%u: %s", host, port,
			error->message);
		g_error_free(error);
		goto err;
	}
	GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(bound);
	char *h = g_inet_address_to_string(g_inet_socket_address_get_address(isa));
	snprintf(bound_desc, desc_len, strchr(h, ':') ? "[%s]:%u" : "%s:%u", h,
		g_inet_socket_address_get_port(isa));
	g_free(h);
	g_object_unref(bound);
	g_socket_service_start(m->service);
	return m;

err:
	zs_metrics_destroy(m);
	return NULL;
}

void zs_metrics_destroy(struct zs_metrics *m)
{
	if (!m)
		return;
	if (m->service) {
		g_socket_service_stop(m->service);
		g_socket_listener_close(G_SOCKET_LISTENER(m->service));
		g_object_unref(m->service);
	}
	/* Open connections end from their pending operation's callback. */
	for (GList *l = m->conns; l; l = l->next) {
		struct conn *c = l->data;
		c->m = NULL;
		g_cancellable_cancel(c->cancel);
	}
	g_list_free(m->conns);
	g_string_free(m->text, TRUE);
	g_free(m);
}
