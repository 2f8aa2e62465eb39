/* The connection front's relays (shared/DESIGN.md §4): the MAIN channel of
 * plain clients, and every channel of TLS clients, pass through here. A
 * relay connects to spice-server only once the client's link message is
 * complete and accepted, over a fresh loopback TCP connection (a unix
 * socketpair for unix clients): spice-server treats a unix peer as a local
 * client (no network test, GL scanout offered), so a TCP client must stay
 * TCP.
 *
 * spice-server 0.15.1 as Debian builds it (with libsasl2) starts SASL for
 * any client that picks it after the link reply, even though zerospice
 * never enables SASL: it offers the host's SASL mechanisms for the "spice"
 * service (DIGEST-MD5 here), which would let whoever has credentials
 * there in without the ticket. The relay refuses any choice but the
 * ticket before spice-server reads it, answering as spice-server answers
 * an unknown mechanism (INVALID_DATA).
 *
 * Until spice-server accepts the ticket (MAIN: its SPICE_MSG_MAIN_INIT,
 * which names the session; other channels: a link result OK) the relay
 * counts as unauthenticated for its address and must finish within
 * LINK_TIMEOUT_S. A channel other than MAIN must name a live session.
 * A hang-up or error on either fd ends that direction, and a peer that
 * takes nothing for WRITE_STALL_S (LINGER_TIMEOUT_S once the other side is
 * done) is dropped. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "front-priv.h"
#include "internal.h"
#include "ratectl.h"
#include "stats.h"
#include "ticket.h"

#define RELAY_BUF_BYTES (64 * 1024)
#define MAX_PUMP_ROUNDS 32  /* per dispatch, then yield to the loop */

/* A connected loopback TCP pair: *ours stays with the relay, *theirs goes
 * to spice-server. The private listener lives only for this call, and only
 * the connection we made is accepted. */
static bool tcp_loopback_pair(int *ours, int *theirs, char *err,
	size_t err_len)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct sockaddr_in local, peer;
	socklen_t len = sizeof(addr);
	int lfd = -1, cfd = -1, afd = -1;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
		listen(lfd, 4) < 0 ||
		getsockname(lfd, (struct sockaddr *)&addr, &len) < 0)
		goto err_errno;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* blocking: a loopback connect completes at once */
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto err_errno;
	len = sizeof(local);
	if (getsockname(cfd, (struct sockaddr *)&local, &len) < 0)
		goto err_errno;
	for (int tries = 0; tries < 16 && afd < 0; tries++) {
		socklen_t plen = sizeof(peer);
		afd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		if (afd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
				errno != ECONNABORTED)
				goto err_errno;
			struct pollfd pfd = { .fd = lfd, .events = POLLIN };
			poll(&pfd, 1, 50);
			continue;
		}
		if (peer.sin_port != local.sin_port ||
			peer.sin_addr.s_addr != local.sin_addr.s_addr) {
			/* someone else raced onto the private port */
			close(afd);
			afd = -1;
		}
	}
	if (afd < 0) {
		snprintf(err, err_len,
			"loopback connection to spice-server: not accepted");
		goto err;
	}
	close(lfd);
	*ours = cfd;
	*theirs = afd;
	return true;

err_errno:
	snprintf(err, err_len, "loopback connection to spice-server: %s",
		g_strerror(errno));
err:
	if (lfd >= 0)
		close(lfd);
	if (cfd >= 0)
		close(cfd);
	return false;
}


enum io {
	IO_DONE,
	IO_WANT_READ,
	IO_WANT_WRITE,
	IO_EOF,
	IO_ERROR,
};

struct buf {
	uint8_t *data;
	size_t start, end;
};

struct relay {
	GSource source; /* first: the relay is the GSource */
	struct zs_front *f;
	GList *node; /* in f->relays */
	char name[96];
	bool is_unix;
	/* our end toward spice-server: what it reports as the peer address */
	struct sockaddr_storage server_side;
	socklen_t server_side_len;
	struct zs_peer *peer;
	bool authenticated;   /* spice-server accepted the ticket */
	bool result_handled;  /* the link result was looked at */
	bool session_held;    /* parser.session_id is in f->sessions */
	/* since when a buffer waits for a peer that takes nothing (0: empty
	 * or moving) */
	gint64 c2s_stuck_us, s2c_stuck_us;
	bool client_gone;     /* hung up: nothing more reaches it */

	int client_fd, server_fd;
	gpointer client_tag, server_tag;
	SSL *ssl;
	enum io client_read_state, client_write_state;

	struct zs_relay_parser parser;
	uint64_t reports_seen;             /* parser.reports passed on */
	struct zs_ratectl_client rc_client; /* a display client's link */
	struct buf c2s, s2c;
	bool client_eof, server_eof, server_gone, refused;
	guint timer;
	uint64_t to_client, to_server;
};

static uint64_t send_queue(int fd);

static size_t buf_len(const struct buf *b)
{
	return b->end - b->start;
}

/* Room at the end, compacting when the unsent bytes sit far in. */
static size_t buf_space(struct buf *b)
{
	if (b->start == b->end) {
		b->start = b->end = 0;
	} else if (b->start > 0 && RELAY_BUF_BYTES - b->end < RELAY_BUF_BYTES / 4) {
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
	}
	return RELAY_BUF_BYTES - b->end;
}

void zs_front_relay_close(struct relay *r)
{
	struct zs_front *f = r->f;
	g_info("front: %s: closed (%" G_GUINT64_FORMAT " bytes to the client, %"
		G_GUINT64_FORMAT " to spice-server, %" G_GUINT64_FORMAT
		" clock rewrites, %" G_GUINT64_FORMAT " resyncs)", r->name,
		r->to_client, r->to_server, r->parser.rewrites,
		r->parser.resyncs);
	f->stats.bytes_to_client += r->to_client;
	f->stats.bytes_to_server += r->to_server;
	f->stats.clock_rewrites += r->parser.rewrites + r->parser.resyncs;
	if (r->session_held)
		zs_front_session_remove(f, r->parser.session_id);
	zs_peers_leave(f->peers, r->peer, !r->authenticated);
	if (r->timer)
		g_source_remove(r->timer);
	if (r->ssl) {
		if (SSL_is_init_finished(r->ssl) && !r->client_eof)
			SSL_shutdown(r->ssl); /* best effort close_notify */
		SSL_free(r->ssl);
	}
	close(r->client_fd);
	if (r->server_fd >= 0)
		close(r->server_fd);
	g_free(r->c2s.data);
	g_free(r->s2c.data);
	g_queue_delete_link(&f->relays, r->node);
	g_source_destroy(&r->source);
	g_source_unref(&r->source);
}

static gboolean relay_timeout(gpointer data)
{
	struct relay *r = data;
	r->timer = 0;
	if (!r->refused) {
		r->f->stats.timeouts++;
		zs_front_log_refusal(r->f, "front: %s: %s in %d s; closing",
			r->name, r->ssl && !SSL_is_init_finished(r->ssl) ?
			"TLS handshake unfinished" : !r->parser.link_done ?
			"no SPICE link message" : "no ticket accepted",
			LINK_TIMEOUT_S);
	}
	zs_front_relay_close(r);
	return G_SOURCE_REMOVE;
}

/* FIRST_BYTE_TIMEOUT_S after accept: a client that sent nothing yet goes;
 * the others get the rest of LINK_TIMEOUT_S. */
static gboolean relay_first_byte_timeout(gpointer data)
{
	struct relay *r = data;
	bool silent = r->ssl ? SSL_in_before(r->ssl) :
		r->parser.link_have == 0;
	r->timer = 0;
	if (silent) {
		r->f->stats.timeouts++;
		zs_front_log_refusal(r->f, "front: %s: sent nothing in %d s; "
			"closing", r->name, FIRST_BYTE_TIMEOUT_S);
		zs_front_relay_close(r);
		return G_SOURCE_REMOVE;
	}
	r->timer = g_timeout_add_seconds(LINK_TIMEOUT_S - FIRST_BYTE_TIMEOUT_S,
		relay_timeout, r);
	return G_SOURCE_REMOVE;
}

void zs_front_relay_tick(struct relay *r, gint64 now_us)
{
	bool other_done = r->server_eof || r->server_gone || r->refused;
	gint64 s2c_limit = (other_done ? LINGER_TIMEOUT_S : WRITE_STALL_S) *
		G_USEC_PER_SEC;
	gint64 c2s_limit = (r->client_eof ? LINGER_TIMEOUT_S : WRITE_STALL_S) *
		G_USEC_PER_SEC;
	const char *why = NULL;
	if (r->s2c_stuck_us && now_us - r->s2c_stuck_us > s2c_limit)
		why = "the client took nothing";
	else if (r->c2s_stuck_us && now_us - r->c2s_stuck_us > c2s_limit)
		why = "spice-server took nothing";
	if (!why)
		return;
	r->f->stats.timeouts++;
	g_warning("front: %s: %s for %" G_GINT64_FORMAT " s; closing", r->name,
		why, (r->s2c_stuck_us && now_us - r->s2c_stuck_us > s2c_limit ?
		s2c_limit : c2s_limit) / G_USEC_PER_SEC);
	zs_front_relay_close(r);
}

/* Keeps the stuck-since stamps: set when bytes wait, reset on progress. */
static void note_waiting(gint64 *since, size_t pending, bool moved)
{
	if (!pending)
		*since = 0;
	else if (moved || !*since)
		*since = g_get_monotonic_time();
}

static enum io from_tls(enum zs_tls_io tls_io)
{
	switch (tls_io) {
	case ZS_TLS_IO_DONE: return IO_DONE;
	case ZS_TLS_IO_WANT_READ: return IO_WANT_READ;
	case ZS_TLS_IO_WANT_WRITE: return IO_WANT_WRITE;
	case ZS_TLS_IO_EOF: return IO_EOF;
	default: return IO_ERROR;
	}
}

static enum io client_read(struct relay *r, uint8_t *p, size_t len,
	size_t *n, char *err, size_t err_len)
{
	if (r->ssl)
		return from_tls(zs_tls_read(r->ssl, p, len, n, err, err_len));
	for (;;) {
		ssize_t rc = recv(r->client_fd, p, len, 0);
		if (rc > 0) {
			*n = (size_t)rc;
			return IO_DONE;
		}
		if (rc == 0 || errno == ECONNRESET)
			return IO_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_WANT_READ;
		if (errno != EINTR) {
			snprintf(err, err_len, "read: %s", g_strerror(errno));
			return IO_ERROR;
		}
	}
}

static enum io client_write(struct relay *r, const uint8_t *p, size_t len,
	size_t *n, char *err, size_t err_len)
{
	if (r->ssl)
		return from_tls(zs_tls_write(r->ssl, p, len, n, err, err_len));
	for (;;) {
		ssize_t rc = send(r->client_fd, p, len, MSG_NOSIGNAL);
		if (rc >= 0) {
			*n = (size_t)rc;
			return IO_DONE;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return IO_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_WANT_WRITE;
		if (errno != EINTR) {
			snprintf(err, err_len, "write: %s", g_strerror(errno));
			return IO_ERROR;
		}
	}
}

static void relay_refuse(struct relay *r, const char *why);

/* The client's link message is complete: the checks spice-server cannot
 * make for us. False when the link was refused. */
static bool relay_check_link(struct relay *r)
{
	struct zs_front *f = r->f;
	struct zs_relay_parser *p = &r->parser;
	char why[200];
	if (!p->spice_magic) {
		p->link_error = SPICE_LINK_ERR_INVALID_MAGIC;
		relay_refuse(r, "not a SPICE link message");
		return false;
	}
	if (zs_peers_blocked(f->peers, r->peer, why, sizeof(why))) {
		f->stats.refused_blocked++;
		p->link_error = SPICE_LINK_ERR_PERMISSION_DENIED;
		relay_refuse(r, why);
		return false;
	}
	if (p->channel_type == SPICE_CHANNEL_MAIN && zs_ticket_expired()) {
		p->link_error = SPICE_LINK_ERR_PERMISSION_DENIED;
		relay_refuse(r, "the ticket has expired");
		return false;
	}
	if (p->channel_type != SPICE_CHANNEL_MAIN &&
		!zs_front_session_live(f, p->connection_id)) {
		snprintf(why, sizeof(why), "channel %u:%u names session %u, "
			"which has not passed the ticket", p->channel_type,
			p->channel_id, p->connection_id);
		p->link_error = SPICE_LINK_ERR_BAD_CONNECTION_ID;
		relay_refuse(r, why);
		return false;
	}
	return true;
}

/* After spice-server's bytes were parsed: did the link pass the ticket? */
static void relay_check_auth(struct relay *r)
{
	struct zs_front *f = r->f;
	struct zs_relay_parser *p = &r->parser;
	if (p->result_seen && !r->result_handled) {
		r->result_handled = true;
		if (p->link_result == SPICE_LINK_ERR_PERMISSION_DENIED) {
			f->stats.auth_failures++;
			char why[200] = "";
			if (zs_peers_auth_failed(f->peers, r->peer)) {
				/* once per block: not a flood */
				zs_peers_blocked(f->peers, r->peer, why, sizeof(why));
				g_warning("front: %s: wrong ticket; %s", r->name, why);
			} else {
				zs_front_log_refusal(f, "front: %s: wrong ticket",
					r->name);
			}
		}
	}
	if (r->authenticated || !p->result_seen ||
		p->link_result != SPICE_LINK_ERR_OK)
		return;
	if (p->channel_type == SPICE_CHANNEL_MAIN) {
		if (!p->session_known)
			return;
		zs_front_session_add(f, p->session_id);
		r->session_held = true;
	}
	r->authenticated = true;
	zs_peers_authenticated(f->peers, r->peer);
	if (r->timer) {
		g_source_remove(r->timer);
		r->timer = 0;
	}
	g_info("front: %s: channel %u:%u passed the ticket%s", r->name,
		p->channel_type, p->channel_id,
		p->channel_type == SPICE_CHANNEL_MAIN ? " (session)" : "");
}

static bool relay_connect_server(struct relay *r)
{
	char err[160];
	int ours, theirs;
	if (!r->f->display) {
		g_warning("front: %s: no SPICE server to hand it to", r->name);
		return false;
	}
	if (r->is_unix) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			g_warning("front: %s: socketpair: %s", r->name,
				g_strerror(errno));
			return false;
		}
		ours = sv[0];
		theirs = sv[1];
	} else if (!tcp_loopback_pair(&ours, &theirs, err, sizeof(err))) {
		g_warning("front: %s: %s", r->name, err);
		return false;
	}
	zs_front_set_nonblock(ours);
	if (!r->is_unix) {
		int one = 1;
		setsockopt(ours, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	r->server_side_len = sizeof(r->server_side);
	if (getsockname(ours, (struct sockaddr *)&r->server_side,
		    &r->server_side_len) < 0)
		r->server_side_len = 0;
	if (!zs_display_add_client(r->f->display, theirs)) {
		close(ours);
		return false;
	}
	r->server_fd = ours;
	r->server_tag = g_source_add_unix_fd(&r->source, ours, 0);
	g_info("front: %s: channel %u:%u relayed%s", r->name,
		r->parser.channel_type, r->parser.channel_id,
		r->parser.channel_type == SPICE_CHANNEL_MAIN &&
		r->parser.rewrite_clock ? " with the clock fix" : "");
	return true;
}

/* The client's link message was refused: answer like spice-server would,
 * then close once the answer is out. */
static void relay_refuse(struct relay *r, const char *why)
{
	uint8_t reply[ZS_RELAY_LINK_ERROR_REPLY_BYTES];
	zs_front_log_refusal(r->f, "front: %s: refused: %s", r->name, why);
	r->f->stats.refused++;
	r->refused = true;
	r->c2s.start = r->c2s.end = 0;
	zs_relay_link_error_reply(r->parser.link_error, reply);
	if (buf_space(&r->s2c) >= sizeof(reply)) {
		memcpy(r->s2c.data + r->s2c.end, reply, sizeof(reply));
		r->s2c.end += sizeof(reply);
	}
	if (r->timer)
		g_source_remove(r->timer);
	r->timer = g_timeout_add_seconds(LINGER_TIMEOUT_S, relay_timeout, r);
}

static GIOCondition cond_for(enum io st, GIOCondition fallback)
{
	return st == IO_WANT_READ ? G_IO_IN : st == IO_WANT_WRITE ? G_IO_OUT :
		fallback;
}

static void relay_update(struct relay *r, bool more)
{
	GIOCondition ce = 0, se = 0;
	if (!r->client_eof && RELAY_BUF_BYTES - buf_len(&r->c2s) > 0)
		ce |= cond_for(r->client_read_state, G_IO_IN);
	if (buf_len(&r->s2c) && !r->client_gone)
		ce |= cond_for(r->client_write_state, G_IO_OUT);
	g_source_modify_unix_fd(&r->source, r->client_tag, ce);
	if (r->server_fd >= 0) {
		if (!r->server_eof && RELAY_BUF_BYTES - buf_len(&r->s2c) >
			ZS_RELAY_S2C_SLACK_BYTES)
			se |= G_IO_IN;
		if (buf_len(&r->c2s) && !r->server_gone)
			se |= G_IO_OUT;
		g_source_modify_unix_fd(&r->source, r->server_tag, se);
	}
	/* with nothing to do now, the relay's GSource still wakes itself for
	 * the next periodic clock message */
	int32_t wait = more ? 0 :
		zs_relay_resync_wait_ms(&r->parser, zs_relay_mm_time_now());
	g_source_set_ready_time(&r->source, wait < 0 ? -1 :
		g_get_monotonic_time() + (int64_t)wait * 1000);
}

/* Client → c2s buffer. False when the relay was closed. */
static bool pump_client_read(struct relay *r, bool *progress)
{
	char err[256] = "";
	size_t space = buf_space(&r->c2s), n = 0;
	if (r->client_eof || space == 0)
		return true;
	enum io st = client_read(r, r->c2s.data + r->c2s.end, space, &n, err,
		sizeof(err));
	r->client_read_state = st;
	switch (st) {
	case IO_DONE:
		*progress = true;
		if (r->refused)
			return true; /* read and dropped */
		switch (zs_relay_feed_c2s(&r->parser, r->c2s.data + r->c2s.end, n,
			err, sizeof(err))) {
		case ZS_RELAY_OK:
			r->c2s.end += n;
			if (r->parser.reports != r->reports_seen) {
				r->reports_seen = r->parser.reports;
				r->rc_client.sock_queue_bytes =
					send_queue(r->client_fd) +
					buf_len(&r->s2c);
				if (r->f->report_fn && r->authenticated)
					r->f->report_fn(r->f->report_data,
						r->parser.channel_id,
						&r->rc_client,
						&r->parser.last_report);
			}
			return true;
		case ZS_RELAY_REFUSE:
			relay_refuse(r, err);
			return true;
		case ZS_RELAY_ERROR:
			g_warning("front: %s: %s; closing", r->name, err);
			zs_front_relay_close(r);
			return false;
		}
		return true;
	case IO_EOF:
		r->client_eof = true;
		*progress = true;
		return true;
	case IO_ERROR:
		g_warning("front: %s: %s; closing", r->name, err);
		zs_front_relay_close(r);
		return false;
	default:
		return true;
	}
}

/* c2s buffer → spice-server. */
static void pump_server_write(struct relay *r, bool *progress)
{
	if (r->server_fd < 0 || !buf_len(&r->c2s))
		return;
	if (r->server_gone) {
		r->c2s.start = r->c2s.end = 0;
		return;
	}
	ssize_t rc = send(r->server_fd, r->c2s.data + r->c2s.start,
		buf_len(&r->c2s), MSG_NOSIGNAL);
	if (rc > 0) {
		r->c2s.start += (size_t)rc;
		r->to_server += (uint64_t)rc;
		*progress = true;
	} else if (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		errno != EINTR) {
		/* spice-server closed; what it sent before still gets out */
		r->server_gone = true;
		r->c2s.start = r->c2s.end = 0;
		*progress = true;
	}
}

/* spice-server → s2c buffer. False when the relay was closed. */
static bool pump_server_read(struct relay *r, bool *progress)
{
	char err[256] = "";
	if (r->server_fd < 0 || r->server_eof)
		return true;
	/* read past a gap: the parser may write more than it read (held
	 * bytes it lets go), so it writes at end, from end + the gap */
	size_t space = buf_space(&r->s2c), out_len = 0;
	if (space <= ZS_RELAY_S2C_SLACK_BYTES)
		return true;
	uint8_t *out = r->s2c.data + r->s2c.end;
	uint8_t *in = out + ZS_RELAY_S2C_SLACK_BYTES;
	ssize_t rc = recv(r->server_fd, in, space - ZS_RELAY_S2C_SLACK_BYTES,
		0);
	if (rc > 0) {
		if (zs_relay_feed_s2c(&r->parser, in, (size_t)rc, out, &out_len,
			    zs_relay_mm_time_now(), err,
			    sizeof(err)) != ZS_RELAY_OK) {
			g_warning("front: %s: %s; closing", r->name, err);
			zs_front_relay_close(r);
			return false;
		}
		r->s2c.end += out_len;
		*progress = true;
		relay_check_auth(r);
	} else if (rc == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		errno != EINTR)) {
		r->server_eof = true;
		*progress = true;
	}
	return true;
}

/* s2c buffer → client. False when the relay was closed. */
static bool pump_client_write(struct relay *r, bool *progress)
{
	char err[256] = "";
	size_t n = 0;
	if (r->client_gone)
		r->s2c.start = r->s2c.end = 0;
	if (!buf_len(&r->s2c))
		return true;
	enum io st = client_write(r, r->s2c.data + r->s2c.start,
		buf_len(&r->s2c), &n, err, sizeof(err));
	r->client_write_state = st;
	switch (st) {
	case IO_DONE:
		r->s2c.start += n;
		r->to_client += n;
		*progress = true;
		return true;
	case IO_EOF:
		zs_front_relay_close(r);
		return false;
	case IO_ERROR:
		g_warning("front: %s: %s; closing", r->name, err);
		zs_front_relay_close(r);
		return false;
	default:
		return true;
	}
}

/* The relay's own clock message, between two of spice-server's. */
static void pump_resync(struct relay *r, bool *progress)
{
	uint8_t msg[ZS_RELAY_RESYNC_BYTES];
	if (r->server_fd < 0 || buf_space(&r->s2c) < sizeof(msg))
		return;
	size_t n = zs_relay_take_resync(&r->parser, zs_relay_mm_time_now(),
		msg);
	if (n) {
		memcpy(r->s2c.data + r->s2c.end, msg, n);
		r->s2c.end += n;
		*progress = true;
	}
}

/* False when the relay was closed. */
static bool relay_pump(struct relay *r)
{
	bool progress = false;
	for (int round = 0; round < MAX_PUMP_ROUNDS; round++) {
		progress = false;
		if (!pump_client_read(r, &progress))
			return false;
		/* before spice-server reads the choice: it runs SASL for a
		 * client that picks it even with SASL off (below) */
		if (!r->refused && r->parser.auth_mechanism &&
			r->parser.auth_mechanism != SPICE_COMMON_CAP_AUTH_SPICE) {
			r->parser.link_error = SPICE_LINK_ERR_INVALID_DATA;
			relay_refuse(r, "the client chose SASL (or another "
				"mechanism than the ticket); zerospice offers "
				"only the ticket");
			progress = true;
		}
		if (r->server_fd < 0 && r->parser.link_done && !r->refused &&
			relay_check_link(r)) {
			if (!relay_connect_server(r)) {
				zs_front_relay_close(r);
				return false;
			}
			progress = true;
		}
		pump_server_write(r, &progress);
		if (!pump_server_read(r, &progress))
			return false;
		pump_resync(r, &progress);
		if (!pump_client_write(r, &progress))
			return false;
		bool server_done = r->server_eof || r->refused;
		if (server_done && !buf_len(&r->s2c)) {
			zs_front_relay_close(r);
			return false;
		}
		if (r->client_eof && (!buf_len(&r->c2s) || r->server_fd < 0 ||
			    r->server_gone)) {
			zs_front_relay_close(r);
			return false;
		}
		if (!progress)
			break;
	}
	relay_update(r, progress);
	return true;
}

/* Sets the stuck-since stamps around one pump. */
static void relay_pump_timed(struct relay *r)
{
	uint64_t to_client = r->to_client, to_server = r->to_server;
	if (!relay_pump(r))
		return;
	note_waiting(&r->s2c_stuck_us, buf_len(&r->s2c),
		r->to_client != to_client);
	note_waiting(&r->c2s_stuck_us, buf_len(&r->c2s),
		r->to_server != to_server);
}

static gboolean relay_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
	struct relay *r = (struct relay *)source;
	/* Every wake-up retries every direction that has room or data. GLib
	 * reports a hang-up or an error even on an fd we watch for nothing
	 * (a full buffer toward a peer that does not read): that peer is
	 * gone, so end its direction here or the loop spins on it. */
	GIOCondition cc = g_source_query_unix_fd(source, r->client_tag);
	if (cc & (G_IO_HUP | G_IO_ERR)) {
		/* with G_IO_IN asked for and reported, a read ends it */
		if (!(cc & G_IO_IN))
			r->client_eof = true;
		r->client_gone = true;
	}
	if (r->server_fd >= 0) {
		GIOCondition sc = g_source_query_unix_fd(source, r->server_tag);
		if (sc & (G_IO_HUP | G_IO_ERR)) {
			/* what spice-server sent before still gets out */
			if (!(sc & G_IO_IN))
				r->server_eof = true;
			r->server_gone = true;
		}
	}
	relay_pump_timed(r);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs relay_funcs = {
	.dispatch = relay_dispatch,
};

void zs_front_relay_start(struct zs_front *f, int fd, SSL *ssl,
	bool is_unix, struct zs_peer *peer_rec)
{
	struct relay *r = (struct relay *)g_source_new(&relay_funcs,
		sizeof(struct relay));
	char peer[80];
	r->f = f;
	r->peer = peer_rec;
	r->client_fd = fd;
	r->server_fd = -1;
	zs_stats_connection(fd);
	r->ssl = ssl;
	r->is_unix = is_unix;
	r->c2s.data = g_malloc(RELAY_BUF_BYTES);
	r->s2c.data = g_malloc(RELAY_BUF_BYTES);
	zs_relay_parser_init(&r->parser, f->cfg.clock_fix, f->cfg.clock_bias_ms);
	zs_relay_set_resync_period(&r->parser, f->cfg.clock_resync_ms);
	zs_front_peer_name(fd, peer, sizeof(peer));
	snprintf(r->name, sizeof(r->name), "%s client %s", ssl ? "TLS" : "plain",
		peer);
	zs_front_set_nonblock(fd);
	if (!is_unix)
		zs_front_set_tcp_options(fd);
	r->client_tag = g_source_add_unix_fd(&r->source, fd, G_IO_IN);
	/* plain clients arrive here with their link message already waiting */
	r->timer = ssl ? g_timeout_add_seconds(FIRST_BYTE_TIMEOUT_S,
		relay_first_byte_timeout, r) :
		g_timeout_add_seconds(LINK_TIMEOUT_S, relay_timeout, r);
	g_queue_push_tail(&f->relays, r);
	r->node = f->relays.tail;
	f->stats.relayed++;
	g_source_set_name(&r->source, "zerospice relay");
	g_source_attach(&r->source, NULL);
}


/* ---- control API ---- */

bool zs_front_client_name(const struct zs_front *f, const struct sockaddr *sa,
	socklen_t len, char *buf, size_t buf_len)
{
	for (GList *l = f->relays.head; l; l = l->next) {
		const struct relay *r = l->data;
		if (r->server_side_len && r->server_side_len == len &&
			memcmp(&r->server_side, sa, len) == 0) {
			/* "plain client 192.0.2.1:40000" → the address */
			const char *sp = strrchr(r->name, ' ');
			g_strlcpy(buf, sp ? sp + 1 : r->name, buf_len);
			return true;
		}
	}
	return false;
}


/* ---- the queue toward display clients (--trace-stages) ---- */

/* Drops the fds spice-server closed (their number may be another file
 * now: only the same socket counts). spice-server's stream channel runs on
 * this thread, so it cannot close one while we look. */
static void prune_watched(struct zs_front *f)
{
	for (guint i = 0; i < f->display_fds->len;) {
		struct zs_front_watched_fd *w = &g_array_index(f->display_fds,
			struct zs_front_watched_fd, i);
		struct stat st;
		if (fstat(w->fd, &st) != 0 || st.st_dev != w->dev ||
			st.st_ino != w->ino || !S_ISSOCK(st.st_mode))
			g_array_remove_index_fast(f->display_fds, i);
		else
			i++;
	}
}

void zs_front_watch_display_fd(struct zs_front *f, int fd)
{
	struct stat st;
	prune_watched(f);
	if (fstat(fd, &st) != 0)
		return;
	struct zs_front_watched_fd w = { fd, st.st_dev, st.st_ino };
	g_array_append_val(f->display_fds, w);
}

static uint64_t send_queue(int fd)
{
	int n = 0;
	/* TCP: not yet acknowledged; unix: not yet read by the peer */
	if (ioctl(fd, SIOCOUTQ, &n) != 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

void zs_front_display_queue(struct zs_front *f, struct zs_front_queue *q)
{
	*q = (struct zs_front_queue){ 0 };
	/* handed-off fds belong to spice-server: only read from */
	prune_watched(f);
	for (guint i = 0; i < f->display_fds->len; i++) {
		int fd = g_array_index(f->display_fds,
			struct zs_front_watched_fd, i).fd;
		q->clients++;
		q->socket_bytes = MAX(q->socket_bytes, send_queue(fd));
	}
	for (GList *l = f->relays.head; l; l = l->next) {
		const struct relay *r = l->data;
		if (!r->parser.link_done || r->server_fd < 0 || r->client_gone ||
			r->parser.channel_type != SPICE_CHANNEL_DISPLAY)
			continue;
		int unread = 0;
		if (ioctl(r->server_fd, SIOCINQ, &unread) != 0 || unread < 0)
			unread = 0;
		q->clients++;
		q->socket_bytes = MAX(q->socket_bytes, send_queue(r->client_fd));
		q->relay_bytes = MAX(q->relay_bytes,
			buf_len(&r->s2c) + (uint64_t)unread);
	}
}
