/* The session's counters (stats.h).
 *
 * Per-client bytes: plain TCP channels other than MAIN go to spice-server
 * as the accepted fd itself, so zerospice never sees their bytes. The
 * kernel does: at each snapshot every tracked connection is looked up by
 * its 4-tuple over NETLINK_SOCK_DIAG (what `ss -ti` uses; unprivileged) and
 * its tcp_info gives the bytes the client acknowledged. A connection the
 * kernel no longer has open is forgotten then. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include "internal.h"
#include "stats.h"

#define RING 64 /* samples for the p50s */
#define TCP_STATE_ESTABLISHED 1
#define TCP_STATE_CLOSE_WAIT 8

struct bucket {
	int64_t sec; /* monotonic second this bucket counts */
	uint32_t frames_in, frames_out;
	uint64_t bytes_out;
};

struct conn {
	bool used;
	struct sockaddr_storage local, peer;
	int64_t since_us;
	uint64_t dropped_base;
};

struct ring {
	uint32_t v[RING];
	unsigned n, next;
};

static struct {
	struct zs_stats_snapshot totals; /* counters; the rest is computed */
	int64_t start_mono_us;
	struct bucket buckets[ZS_STATS_WINDOW_S + 1];
	struct ring encode_us, latency_us;
	struct conn conns[ZS_STATS_MAX_CONNECTIONS];
	struct zs_display *display;
	struct zs_pipeline *pipeline;
	uint32_t nl_seq;
} st;

static void ring_push(struct ring *r, uint32_t v)
{
	r->v[r->next] = v;
	r->next = (r->next + 1) % RING;
	if (r->n < RING)
		r->n++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t ring_p50(const struct ring *r)
{
	uint32_t tmp[RING];
	if (r->n == 0)
		return 0;
	memcpy(tmp, r->v, r->n * sizeof(tmp[0]));
	qsort(tmp, r->n, sizeof(tmp[0]), cmp_u32);
	return tmp[r->n / 2];
}

static uint32_t ring_last(const struct ring *r)
{
	return r->n ? r->v[(r->next + RING - 1) % RING] : 0;
}

static struct bucket *bucket_now(void)
{
	int64_t sec = g_get_monotonic_time() / G_USEC_PER_SEC;
	struct bucket *b = &st.buckets[sec % (ZS_STATS_WINDOW_S + 1)];
	if (b->sec != sec)
		*b = (struct bucket){ .sec = sec };
	return b;
}

static uint32_t clamp_u32(int64_t v)
{
	return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void zs_stats_reset(void)
{
	memset(&st, 0, sizeof(st));
	st.totals.start_us = g_get_real_time();
	st.start_mono_us = g_get_monotonic_time();
}

void zs_stats_set_display(struct zs_display *d)
{
	st.display = d;
}

void zs_stats_set_pipeline(struct zs_pipeline *p)
{
	st.pipeline = p;
}

static uint64_t frames_dropped_now(void)
{
	struct zs_pipeline_stats ps = { 0 };
	if (st.pipeline)
		zs_pipeline_get_stats(st.pipeline, &ps);
	return ps.frames_dropped;
}

void zs_stats_frame_in(void)
{
	bucket_now()->frames_in++;
}

void zs_stats_frame_encoded(const struct zs_access_unit *au,
	uint64_t cpu_pixel_bytes)
{
	st.totals.cpu_pixel_bytes += cpu_pixel_bytes;
	if (au->encode_end_us >= au->encode_start_us)
		ring_push(&st.encode_us,
			clamp_u32((int64_t)(au->encode_end_us - au->encode_start_us)));
}

void zs_stats_frame_sent(const struct zs_access_unit *au)
{
	struct bucket *b = bucket_now();
	st.totals.width = au->width;
	st.totals.height = au->height;
	b->frames_out++;
	b->bytes_out += au->size;
	if (au->capture_us)
		ring_push(&st.latency_us, clamp_u32(g_get_monotonic_time() -
			(int64_t)au->capture_us));
}

void zs_stats_streaming(enum zs_codec codec)
{
	st.totals.codec = codec;
}

void zs_stats_encoder(const char *description)
{
	g_strlcpy(st.totals.encoder, description ? description : "",
		sizeof(st.totals.encoder));
}

/* ---- connections ---- */

void zs_stats_connection(int fd)
{
	struct conn c = { .used = true };
	socklen_t ll = sizeof(c.local), pl = sizeof(c.peer);
	if (getsockname(fd, (struct sockaddr *)&c.local, &ll) < 0 ||
		getpeername(fd, (struct sockaddr *)&c.peer, &pl) < 0)
		return;
	if (c.peer.ss_family != AF_INET && c.peer.ss_family != AF_INET6)
		return; /* unix clients: no TCP counters to ask for */
	c.since_us = g_get_real_time();
	c.dropped_base = frames_dropped_now();
	for (size_t i = 0; i < G_N_ELEMENTS(st.conns); i++) {
		if (!st.conns[i].used) {
			st.conns[i] = c;
			return;
		}
	}
	g_info("stats: over %d client connections; this one gets no "
		"per-client figures", ZS_STATS_MAX_CONNECTIONS);
}

static void put_addr(__be32 dst[4], const struct sockaddr_storage *ss,
	__be16 *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		dst[0] = sin->sin_addr.s_addr;
		*port = sin->sin_port;
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;
		memcpy(dst, &sin6->sin6_addr, 16);
		*port = sin6->sin6_port;
	}
}

enum lookup {
	LOOKUP_OPEN,
	LOOKUP_GONE,
	LOOKUP_FAILED, /* netlink error: keep the entry, no figures */
};

/* Asks the kernel for one connection's TCP counters. */
static enum lookup diag_lookup(int nl, const struct conn *c,
	uint64_t *bytes_acked, uint64_t *queued)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST,
			.nlmsg_seq = ++st.nl_seq,
		},
		.req = {
			.sdiag_family = (uint8_t)c->peer.ss_family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_ext = 1 << (INET_DIAG_INFO - 1),
			.idiag_states = ~0u,
			.id.idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE },
		},
	};
	put_addr(msg.req.id.idiag_src, &c->local, &msg.req.id.idiag_sport);
	put_addr(msg.req.id.idiag_dst, &c->peer, &msg.req.id.idiag_dport);
	if (send(nl, &msg, sizeof(msg), 0) < 0)
		return LOOKUP_FAILED;

	/* one answer: the socket, or an NLMSG_ERROR (ENOENT when gone) */
	union {
		struct nlmsghdr nlh;
		uint8_t bytes[2048];
	} buf;
	for (int tries = 0; tries < 4; tries++) {
		ssize_t n = recv(nl, &buf, sizeof(buf), 0);
		if (n < 0)
			return LOOKUP_FAILED;
		for (struct nlmsghdr *h = &buf.nlh; NLMSG_OK(h, (size_t)n);
			h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != st.nl_seq)
				continue; /* a stale answer to an earlier query */
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return LOOKUP_FAILED;
				return e->error == -ENOENT ? LOOKUP_GONE :
					LOOKUP_FAILED;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
				h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				return LOOKUP_FAILED;
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			if (m->idiag_state != TCP_STATE_ESTABLISHED &&
				m->idiag_state != TCP_STATE_CLOSE_WAIT)
				return LOOKUP_GONE; /* closed on our side */
			*queued = m->idiag_wqueue;
			*bytes_acked = 0;
			int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (struct rtattr *a = (struct rtattr *)(m + 1);
				RTA_OK(a, len); a = RTA_NEXT(a, len)) {
				if (a->rta_type != INET_DIAG_INFO)
					continue;
				struct tcp_info ti = { 0 };
				size_t alen = RTA_PAYLOAD(a);
				memcpy(&ti, RTA_DATA(a), MIN(alen, sizeof(ti)));
				*bytes_acked = ti.tcpi_bytes_acked;
			}
			return LOOKUP_OPEN;
		}
	}
	return LOOKUP_FAILED;
}

static void addr_string(const struct sockaddr_storage *ss, char *buf,
	size_t len)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
		return;
	}
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf,
			(socklen_t)len);
	else
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)len);
}

static struct zs_stats_client *client_for(struct zs_stats_snapshot *out,
	const char *address)
{
	for (uint32_t i = 0; i < out->n_clients; i++)
		if (strcmp(out->clients[i].address, address) == 0)
			return &out->clients[i];
	if (out->n_clients == ZS_STATS_MAX_CLIENTS)
		return NULL;
	struct zs_stats_client *cl = &out->clients[out->n_clients++];
	memset(cl, 0, sizeof(*cl));
	g_strlcpy(cl->address, address, sizeof(cl->address));
	cl->since_us = INT64_MAX;
	return cl;
}

static void snapshot_clients(struct zs_stats_snapshot *out)
{
	int nl = -1;
	for (size_t i = 0; i < G_N_ELEMENTS(st.conns); i++) {
		struct conn *c = &st.conns[i];
		if (!c->used)
			continue;
		if (nl < 0) {
			nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
				NETLINK_SOCK_DIAG);
			if (nl < 0) {
				g_warning("stats: no NETLINK_SOCK_DIAG socket (%s): no "
					"per-client figures", g_strerror(errno));
				return;
			}
			/* the kernel answers at once; never hold the loop long */
			struct timeval tv = { .tv_usec = 200 * 1000 };
			setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		}
		uint64_t acked = 0, queued = 0;
		enum lookup l = diag_lookup(nl, c, &acked, &queued);
		if (l == LOOKUP_GONE) {
			c->used = false;
			continue;
		}
		if (l == LOOKUP_FAILED) {
			/* no per-client figures this time; keep the entries */
			g_info("stats: sock_diag gave no answer; per-client "
				"figures skipped");
			break;
		}
		char address[sizeof(out->clients[0].address)];
		addr_string(&c->peer, address, sizeof(address));
		struct zs_stats_client *cl = client_for(out, address);
		if (!cl)
			continue;
		cl->connections++;
		cl->bytes_sent += acked;
		cl->send_queue_bytes += queued;
		if (c->since_us < cl->since_us) {
			cl->since_us = c->since_us;
			cl->frames_dropped = out->frames_dropped - c->dropped_base;
		}
	}
	if (nl >= 0)
		close(nl);
}

/* ---- snapshot ---- */

void zs_stats_snapshot(struct zs_stats_snapshot *out)
{
	*out = st.totals;
	out->n_clients = 0;
	if (st.pipeline) {
		struct zs_pipeline_stats ps;
		zs_pipeline_get_stats(st.pipeline, &ps);
		out->frames_in = ps.frames_in;
		out->frames_encoded = ps.frames_encoded;
		out->frames_sent = ps.frames_sent;
		out->frames_skipped = ps.frames_skipped;
		out->frames_dropped = ps.frames_dropped;
		out->keyframes = ps.keyframes;
		out->bytes_sent = ps.bytes_sent;
		out->link_kbps = zs_pipeline_link_kbps(st.pipeline);
	}

	int64_t now_sec = g_get_monotonic_time() / G_USEC_PER_SEC;
	int64_t elapsed = now_sec - st.start_mono_us / G_USEC_PER_SEC;
	int64_t window = MIN(elapsed, ZS_STATS_WINDOW_S);
	uint64_t in = 0, sent = 0, bytes = 0;
	/* the whole seconds before this one */
	for (size_t i = 0; i < G_N_ELEMENTS(st.buckets); i++) {
		const struct bucket *b = &st.buckets[i];
		if (b->sec >= now_sec - window && b->sec < now_sec) {
			in += b->frames_in;
			sent += b->frames_out;
			bytes += b->bytes_out;
		}
	}
	if (window > 0) {
		out->fps_in = (double)in / (double)window;
		out->fps_out = (double)sent / (double)window;
		out->bitrate_kbps = (double)bytes * 8.0 / 1000.0 / (double)window;
	}
	out->encode_us_last = ring_last(&st.encode_us);
	out->encode_us_p50 = ring_p50(&st.encode_us);
	out->latency_us_last = ring_last(&st.latency_us);
	out->latency_us_p50 = ring_p50(&st.latency_us);
	out->clients_connected = st.display ?
		zs_display_client_count(st.display) : 0;
	snapshot_clients(out);
}
