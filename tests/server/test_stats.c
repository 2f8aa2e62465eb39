/* The session's counters (server/stats.c) and their Prometheus text
 * (server/metrics.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <glib.h>

#include "stats.h"

static struct zs_stats_snapshot snap;

static void setup(void)
{
	zs_stats_reset();
}

TestSuite(stats, .init = setup);

static void encoded(uint64_t encode_us, uint64_t cpu_bytes)
{
	struct zs_access_unit au = {
		.encode_start_us = 1000,
		.encode_end_us = 1000 + encode_us,
	};
	zs_stats_frame_encoded(&au, cpu_bytes);
}

Test(stats, a_fresh_session_reports_nothing)
{
	zs_stats_snapshot(&snap);
	cr_expect_eq(snap.frames_in, 0);
	cr_expect_eq(snap.encode_us_p50, 0);
	cr_expect_eq(snap.latency_us_last, 0);
	cr_expect_eq(snap.codec, ZS_CODEC_NONE);
	cr_expect_eq(snap.clients_connected, 0);
	cr_expect_eq(snap.n_clients, 0);
	cr_expect_eq(snap.fps_in, 0);
	cr_expect_gt(snap.start_us, 0);
}

Test(stats, encode_time_is_the_last_and_the_median)
{
	static const uint64_t us[] = { 10, 20, 30, 40, 1000 };
	for (size_t i = 0; i < G_N_ELEMENTS(us); i++)
		encoded(us[i], 100);
	zs_stats_snapshot(&snap);
	cr_expect_eq(snap.encode_us_last, 1000);
	cr_expect_eq(snap.encode_us_p50, 30);
	cr_expect_eq(snap.cpu_pixel_bytes, 500);
}

Test(stats, the_median_covers_the_last_64_frames_only)
{
	for (uint64_t i = 1; i <= 100; i++)
		encoded(i, 0);
	zs_stats_snapshot(&snap);
	/* frames 37..100 remain; the upper median of 64 is the 33rd: 69 */
	cr_expect_eq(snap.encode_us_p50, 69);
	cr_expect_eq(snap.encode_us_last, 100);
}

Test(stats, an_encode_that_ends_before_it_starts_is_ignored)
{
	struct zs_access_unit au = { .encode_start_us = 500, .encode_end_us = 100 };
	zs_stats_frame_encoded(&au, 0);
	zs_stats_snapshot(&snap);
	cr_expect_eq(snap.encode_us_last, 0);
}

Test(stats, latency_runs_from_capture_to_hand_off)
{
	struct zs_access_unit au = {
		.size = 1000,
		.keyframe = true,
		.width = 640,
		.height = 360,
		.capture_us = (uint64_t)g_get_monotonic_time() - 5000,
	};
	zs_stats_streaming(ZS_CODEC_H264);
	zs_stats_frame_sent(&au);
	zs_stats_snapshot(&snap);
	cr_expect_geq(snap.latency_us_last, 5000);
	cr_expect_lt(snap.latency_us_last, 5000 + 1000000, "%u us",
		snap.latency_us_last);
	cr_expect_eq(snap.codec, ZS_CODEC_H264);
	cr_expect_eq(snap.width, 640);
	cr_expect_eq(snap.height, 360);
}

Test(stats, rates_count_whole_seconds_only)
{
	/* all within the current second: not in the window yet */
	for (int i = 0; i < 10; i++)
		zs_stats_frame_in();
	zs_stats_snapshot(&snap);
	cr_expect_eq(snap.fps_in, 0);
}

/* A connected loopback TCP pair: *server is the accepted end. */
static void tcp_pair(int *server, int *client)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
	*server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(*server, 0);
	close(l);
}

Test(stats, a_client_is_listed_with_the_bytes_its_tcp_acknowledged)
{
	int s1, c1, s2, c2;
	tcp_pair(&s1, &c1);
	tcp_pair(&s2, &c2);
	zs_stats_connection(s1);
	zs_stats_connection(s2);

	static char buf[3000];
	cr_assert_eq(send(s1, buf, 1000, 0), 1000);
	cr_assert_eq(send(s2, buf, 2000, 0), 2000);
	cr_assert_eq(recv(c1, buf, 1000, MSG_WAITALL), 1000);
	cr_assert_eq(recv(c2, buf, 2000, MSG_WAITALL), 2000);
	/* the ACKs travel back on loopback at once; allow a moment */
	for (int i = 0; i < 50; i++) {
		zs_stats_snapshot(&snap);
		if (snap.n_clients == 1 && snap.clients[0].bytes_sent >= 3000)
			break;
		poll(NULL, 0, 20);
	}
	cr_assert_eq(snap.n_clients, 1, "needs NETLINK_SOCK_DIAG");
	cr_expect_str_eq(snap.clients[0].address, "127.0.0.1");
	cr_expect_eq(snap.clients[0].connections, 2);
	cr_expect_eq(snap.clients[0].bytes_sent, 3000);
	cr_expect_gt(snap.clients[0].since_us, 0);

	close(s1);
	close(c1);
	zs_stats_snapshot(&snap);
	cr_assert_eq(snap.n_clients, 1);
	cr_expect_eq(snap.clients[0].connections, 1, "a closed channel is gone");
	close(s2);
	close(c2);
	zs_stats_snapshot(&snap);
	cr_expect_eq(snap.n_clients, 0, "a client with no open channel is gone");
}

Test(stats, unix_connections_get_no_per_client_entry)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	zs_stats_connection(sv[0]);
	zs_stats_snapshot(&snap);
	cr_expect_eq(snap.n_clients, 0);
	close(sv[0]);
	close(sv[1]);
}

Test(stats, prometheus_text_has_types_values_and_escaped_labels)
{
	struct zs_stats_snapshot s = {
		.start_us = 1700000000123456,
		.frames_in = 42,
		.codec = ZS_CODEC_VP8,
		.encoder = "gst:x264enc \"q\"",
		.width = 800,
		.height = 600,
		.fps_out = 29.5,
		.bitrate_kbps = 1500,
		.encode_us_p50 = 2500,
		.n_clients = 1,
		.clients[0] = { .address = "a\"b\\c\nd", .bytes_sent = 5,
			.connections = 3, .since_us = 1700000001000000 },
	};
	GString *out = g_string_new(NULL);
	zs_stats_format_prometheus(&s, out);
	const char *t = out->str;
	cr_expect_not_null(strstr(t, "# TYPE zerospice_frames_in_total counter\n"));
	cr_expect_not_null(strstr(t, "\nzerospice_build_info{version=\""));
	cr_expect_not_null(strstr(t, "\nzerospice_encoder_info{encoder=\"gst:x264enc \\\"q\\\"\"} 1\n"), "%s", t);
	cr_expect_not_null(strstr(t, "\nzerospice_frames_in_total 42\n"));
	cr_expect_not_null(strstr(t, "\nzerospice_start_time_seconds 1700000000.123\n"));
	cr_expect_not_null(strstr(t, "\nzerospice_fps_out 29.5\n"));
	cr_expect_not_null(strstr(t, "\nzerospice_bitrate_bits_per_second 1.5e+06\n"));
	cr_expect_not_null(strstr(t, "\nzerospice_encode_seconds_p50 0.0025\n"));
	cr_expect_not_null(strstr(t,
		"zerospice_stream_info{codec=\"vp8\",width=\"800\",height=\"600\"} 1\n"));
	cr_expect_not_null(strstr(t,
		"zerospice_client_bytes_sent_total{client=\"a\\\"b\\\\c\\nd\"} 5\n"), "%s", t);
	cr_expect_not_null(strstr(t,
		"zerospice_client_connections{client=\"a\\\"b\\\\c\\nd\"} 3\n"));
	/* every line is a comment or NAME[{…}] VALUE */
	gchar **lines = g_strsplit(t, "\n", -1);
	for (gchar **l = lines; *l && **l; l++)
		cr_expect((*l)[0] == '#' || g_str_has_prefix(*l, "zerospice_"),
			"line '%s'", *l);
	g_strfreev(lines);
	g_string_free(out, TRUE);
}

/* ---- the --metrics endpoint's request reader (server/http-request.c) ---- */

#include "http-request.h"

static enum zs_http_parse parse(const char *s, struct zs_http_request *r)
{
	return zs_http_request_parse(s, strlen(s), r);
}

Test(http_request, reads_method_and_path)
{
	struct zs_http_request r;
	const char *get = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\nbody";
	cr_assert_eq(parse(get, &r), ZS_HTTP_OK);
	cr_expect_str_eq(r.method, "GET");
	cr_expect_str_eq(r.path, "/metrics");
	cr_expect_eq(r.head_len, strlen(get) - strlen("body"));
	cr_assert_eq(parse("HEAD /metrics?a=b HTTP/1.0\n\n", &r), ZS_HTTP_OK);
	cr_expect_str_eq(r.method, "HEAD");
	cr_expect_str_eq(r.path, "/metrics");
}

Test(http_request, waits_for_the_empty_line)
{
	struct zs_http_request r;
	cr_expect_eq(parse("", &r), ZS_HTTP_MORE);
	cr_expect_eq(parse("GET /metrics HTTP/1.1", &r), ZS_HTTP_MORE);
	cr_expect_eq(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n", &r),
		ZS_HTTP_MORE);
}

Test(http_request, refuses_what_is_not_a_plain_request)
{
	struct zs_http_request r;
	const char *bad[] = {
		"get /metrics HTTP/1.1\r\n\r\n",
		"GET metrics HTTP/1.1\r\n\r\n",
		"GET http://h/metrics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/2.0\r\n\r\n",
		"GET /metrics HTTP/1.1 x\r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"GET /me\x01trics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n",
		"VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n",
		"GARBAGE\r\n\r\n",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		cr_expect_eq(parse(bad[i], &r), ZS_HTTP_BAD, "%s", bad[i]);
	/* a NUL in the head, a head that never ends */
	cr_expect_eq(zs_http_request_parse("GET /\0 HTTP/1.1\r\n\r\n", 20, &r),
		ZS_HTTP_BAD);
	char big[ZS_HTTP_HEAD_MAX + 10];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	cr_expect_eq(zs_http_request_parse(big, sizeof(big), &r), ZS_HTTP_BAD);
	char path[ZS_HTTP_PATH_MAX + 40];
	memset(path, 'p', sizeof(path));
	memcpy(path, "GET /", 5);
	memcpy(path + sizeof(path) - 16, " HTTP/1.1\r\n\r\n", 14);
	cr_expect_eq(zs_http_request_parse(path, sizeof(path) - 2, &r),
		ZS_HTTP_BAD);
}
