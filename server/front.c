/* The connection front (shared/DESIGN.md §4): every accepted connection
 * reaches spice-server through spice_server_add_client() from here.
 *
 * Plain TCP and unix: peek (MSG_PEEK) the SpiceLinkHeader + SpiceLinkMess.
 * Any channel but MAIN goes to spice-server as the accepted fd itself: no
 * relay, no copy. MAIN goes through a relay whose parser (relay.c) rewrites
 * the multimedia clock spice-server gives the client. TLS: we terminate it
 * and relay the plaintext of every channel (only MAIN is rewritten).
 *
 * A relay connects to spice-server only once the client's link message is
 * complete and accepted, over a fresh loopback TCP connection (a unix
 * socketpair for unix clients): spice-server treats a unix peer as a local
 * client (no network test, GL scanout offered), so a TCP client must stay
 * TCP. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <glib-unix.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include "front.h"
#include "internal.h"
#include "relay.h"
#include "stats.h"

#define RELAY_BUF_BYTES (64 * 1024)
#define LINK_TIMEOUT_S 10   /* TLS handshake + link message */
#define LINGER_TIMEOUT_S 5  /* delivering a refusal or the last bytes */
#define MAX_PENDING 64      /* connections still being peeked */
#define MAX_PUMP_ROUNDS 32  /* per dispatch, then yield to the loop */
#define PEEK_BYTES (ZS_RELAY_LINK_HEADER_BYTES + ZS_RELAY_LINK_MESS_BYTES)
#define KEEPALIVE_IDLE_S 600 /* as spice-server sets on its sockets */

struct zs_front {
	struct zs_front_config cfg; /* without its strings: used at create only */
	bool plain_is_unix;
	struct zs_listener *plain, *tls_listener;
	struct zs_tls *tls;
	struct zs_display *display;
	GQueue pending; /* struct pending */
	GQueue relays;  /* struct relay */
	struct zs_front_stats stats;
};

/* ---- helpers ---- */

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void set_tcp_options(int fd)
{
	int one = 1, idle = KEEPALIVE_IDLE_S;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
}

static void peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(buf, len, "?");
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "unix");
	}
}

/* Best effort: a client that is refused before anything was relayed gets
 * spice-server's own kind of answer. Consumes what it sent first, so the
 * close that follows is a FIN, not a RST that could discard the reply. */
static void send_link_error(int fd, uint32_t error)
{
	uint8_t reply[ZS_RELAY_LINK_ERROR_REPLY_BYTES], junk[512];
	zs_relay_link_error_reply(error, reply);
	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	if (send(fd, reply, sizeof(reply), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		g_info("front: could not send a link error: %s",
			g_strerror(errno));
	shutdown(fd, SHUT_WR);
}

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

/* Gives spice-server a connection; takes ownership of fd. */
static void hand_off(struct zs_front *f, int fd)
{
	if (!f->display) {
		close(fd);
		return;
	}
	f->stats.handed_off++;
	zs_stats_connection(fd);
	zs_display_add_client(f->display, fd);
}

/* ---- relays ---- */

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

	int client_fd, server_fd;
	gpointer client_tag, server_tag;
	SSL *ssl;
	enum io client_read_state, client_write_state;

	struct zs_relay_parser parser;
	struct buf c2s, s2c;
	bool client_eof, server_eof, server_gone, refused;
	guint timer;
	uint64_t to_client, to_server;
};

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

static void relay_close(struct relay *r)
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
	if (!r->refused)
		g_warning("front: %s: no SPICE link %s in %d s; closing",
			r->name, r->ssl && !SSL_is_init_finished(r->ssl) ?
			"(TLS handshake unfinished)" : "message", LINK_TIMEOUT_S);
	relay_close(r);
	return G_SOURCE_REMOVE;
}

static enum io client_read(struct relay *r, uint8_t *p, size_t len,
	size_t *n, char *err, size_t err_len)
{
	if (r->ssl) {
		switch (zs_tls_read(r->ssl, p, len, n, err, err_len)) {
		case ZS_TLS_IO_DONE: return IO_DONE;
		case ZS_TLS_IO_WANT_READ: return IO_WANT_READ;
		case ZS_TLS_IO_WANT_WRITE: return IO_WANT_WRITE;
		case ZS_TLS_IO_EOF: return IO_EOF;
		default: return IO_ERROR;
		}
	}
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
	if (r->ssl) {
		switch (zs_tls_write(r->ssl, p, len, n, err, err_len)) {
		case ZS_TLS_IO_DONE: return IO_DONE;
		case ZS_TLS_IO_WANT_READ: return IO_WANT_READ;
		case ZS_TLS_IO_WANT_WRITE: return IO_WANT_WRITE;
		case ZS_TLS_IO_EOF: return IO_EOF;
		default: return IO_ERROR;
		}
	}
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
	set_nonblock(ours);
	if (!r->is_unix) {
		int one = 1;
		setsockopt(ours, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (!zs_display_add_client(r->f->display, theirs)) {
		close(ours);
		return false;
	}
	r->server_fd = ours;
	r->server_tag = g_source_add_unix_fd(&r->source, ours, 0);
	if (r->timer) {
		g_source_remove(r->timer);
		r->timer = 0;
	}
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
	g_warning("front: %s: refused: %s", r->name, why);
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
	if (buf_len(&r->s2c))
		ce |= cond_for(r->client_write_state, G_IO_OUT);
	g_source_modify_unix_fd(&r->source, r->client_tag, ce);
	if (r->server_fd >= 0) {
		if (!r->server_eof && RELAY_BUF_BYTES - buf_len(&r->s2c) > 0)
			se |= G_IO_IN;
		if (buf_len(&r->c2s) && !r->server_gone)
			se |= G_IO_OUT;
		g_source_modify_unix_fd(&r->source, r->server_tag, se);
	}
	g_source_set_ready_time(&r->source, more ? 0 : -1);
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
			return true;
		case ZS_RELAY_REFUSE:
			relay_refuse(r, err);
			return true;
		case ZS_RELAY_ERROR:
			g_warning("front: %s: %s; closing", r->name, err);
			relay_close(r);
			return false;
		}
		return true;
	case IO_EOF:
		r->client_eof = true;
		*progress = true;
		return true;
	case IO_ERROR:
		g_warning("front: %s: %s; closing", r->name, err);
		relay_close(r);
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
	size_t space = buf_space(&r->s2c);
	if (space == 0)
		return true;
	ssize_t rc = recv(r->server_fd, r->s2c.data + r->s2c.end, space, 0);
	if (rc > 0) {
		if (zs_relay_feed_s2c(&r->parser, r->s2c.data + r->s2c.end,
			    (size_t)rc, zs_relay_mm_time_now(), err,
			    sizeof(err)) != ZS_RELAY_OK) {
			g_warning("front: %s: %s; closing", r->name, err);
			relay_close(r);
			return false;
		}
		r->s2c.end += (size_t)rc;
		*progress = true;
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
		relay_close(r);
		return false;
	case IO_ERROR:
		g_warning("front: %s: %s; closing", r->name, err);
		relay_close(r);
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
	size_t n = zs_relay_take_resync(&r->parser, zs_relay_mm_time_now(), msg);
	if (n) {
		memcpy(r->s2c.data + r->s2c.end, msg, n);
		r->s2c.end += n;
		*progress = true;
	}
}

static void relay_pump(struct relay *r)
{
	bool progress = false;
	for (int round = 0; round < MAX_PUMP_ROUNDS; round++) {
		progress = false;
		if (!pump_client_read(r, &progress))
			return;
		if (r->server_fd < 0 && r->parser.link_done && !r->refused) {
			if (!relay_connect_server(r)) {
				relay_close(r);
				return;
			}
			progress = true;
		}
		pump_server_write(r, &progress);
		if (!pump_server_read(r, &progress))
			return;
		pump_resync(r, &progress);
		if (!pump_client_write(r, &progress))
			return;
		bool server_done = r->server_eof || r->refused;
		if (server_done && !buf_len(&r->s2c)) {
			relay_close(r);
			return;
		}
		if (r->client_eof && (!buf_len(&r->c2s) || r->server_fd < 0 ||
			    r->server_gone)) {
			relay_close(r);
			return;
		}
		if (!progress)
			break;
	}
	relay_update(r, progress);
}

static gboolean relay_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
	/* Every wake-up retries every direction that has room or data; a
	 * hang-up or error shows up as EOF or an error there. */
	relay_pump((struct relay *)source);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs relay_funcs = {
	.dispatch = relay_dispatch,
};

static void relay_start(struct zs_front *f, int fd, SSL *ssl, bool is_unix)
{
	struct relay *r = (struct relay *)g_source_new(&relay_funcs,
		sizeof(struct relay));
	char peer[80];
	r->f = f;
	r->client_fd = fd;
	r->server_fd = -1;
	zs_stats_connection(fd);
	r->ssl = ssl;
	r->is_unix = is_unix;
	r->c2s.data = g_malloc(RELAY_BUF_BYTES);
	r->s2c.data = g_malloc(RELAY_BUF_BYTES);
	zs_relay_parser_init(&r->parser, f->cfg.clock_fix, f->cfg.clock_bias_ms);
	peer_name(fd, peer, sizeof(peer));
	snprintf(r->name, sizeof(r->name), "%s client %s", ssl ? "TLS" : "plain",
		peer);
	set_nonblock(fd);
	if (!is_unix)
		set_tcp_options(fd);
	r->client_tag = g_source_add_unix_fd(&r->source, fd, G_IO_IN);
	r->timer = g_timeout_add_seconds(LINK_TIMEOUT_S, relay_timeout, r);
	g_queue_push_tail(&f->relays, r);
	r->node = f->relays.tail;
	f->stats.relayed++;
	g_source_set_name(&r->source, "zerospice relay");
	g_source_attach(&r->source, NULL);
}

/* ---- plain connections: peek, then hand off or relay ---- */

struct pending {
	struct zs_front *f;
	GList *node; /* in f->pending */
	int fd;
	bool is_unix;
	guint watch, retry, deadline;
	unsigned backoff_ms;
};

static gboolean pending_readable(gint fd, GIOCondition cond, gpointer data);

/* Stops watching; returns the fd (the caller owns it now). */
static int pending_take(struct pending *pc)
{
	int fd = pc->fd;
	if (pc->watch)
		g_source_remove(pc->watch);
	if (pc->retry)
		g_source_remove(pc->retry);
	if (pc->deadline)
		g_source_remove(pc->deadline);
	g_queue_delete_link(&pc->f->pending, pc->node);
	g_free(pc);
	return fd;
}

static gboolean pending_expired(gpointer data)
{
	struct pending *pc = data;
	pc->deadline = 0;
	g_info("front: a plain connection sent no SPICE link message in %d s; "
		"closing", LINK_TIMEOUT_S);
	close(pending_take(pc));
	return G_SOURCE_REMOVE;
}

static gboolean pending_retry(gpointer data)
{
	struct pending *pc = data;
	pc->retry = 0;
	pc->watch = g_unix_fd_add(pc->fd, G_IO_IN, pending_readable, pc);
	return G_SOURCE_REMOVE;
}

static gboolean pending_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct pending *pc = data;
	struct zs_front *f = pc->f;
	uint8_t buf[PEEK_BYTES];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return G_SOURCE_CONTINUE;
	pc->watch = 0; /* every path below removes this watch */
	if (n <= 0) {
		close(pending_take(pc));
		return G_SOURCE_REMOVE;
	}
	bool spice = n < 4 || (uint32_t)(buf[0] | buf[1] << 8 | buf[2] << 16 |
		(uint32_t)buf[3] << 24) == SPICE_MAGIC;
	if (n >= 4 && f->cfg.tls_only) {
		bool is_unix = pc->is_unix;
		int cfd = pending_take(pc);
		g_warning("front: refused a plain %s connection: --tls-only",
			is_unix ? "unix" : "TCP");
		f->stats.refused++;
		if (spice)
			send_link_error(cfd, SPICE_LINK_ERR_NEED_SECURED);
		close(cfd);
		return G_SOURCE_REMOVE;
	}
	if (!spice) {
		/* WebSocket or garbage: spice-server's own handling */
		hand_off(f, pending_take(pc));
		return G_SOURCE_REMOVE;
	}
	if (n < (ssize_t)PEEK_BYTES) {
		/* A partial link message. Peeking again at once would spin on
		 * the bytes already there: look again a little later. */
		pc->backoff_ms = pc->backoff_ms ? MIN(pc->backoff_ms * 2, 200) : 5;
		pc->retry = g_timeout_add(pc->backoff_ms, pending_retry, pc);
		return G_SOURCE_REMOVE;
	}
	uint8_t channel_type = buf[ZS_RELAY_LINK_HEADER_BYTES + 4];
	bool is_unix = pc->is_unix;
	int cfd = pending_take(pc);
	if (channel_type == SPICE_CHANNEL_MAIN && f->cfg.clock_fix)
		relay_start(f, cfd, NULL, is_unix);
	else
		hand_off(f, cfd);
	return G_SOURCE_REMOVE;
}

void zs_front_accept_plain(struct zs_front *f, int fd, bool is_unix)
{
	if (!f->cfg.clock_fix && !f->cfg.tls_only) {
		/* nothing to look at: exactly what spice-server alone does */
		hand_off(f, fd);
		return;
	}
	if (f->pending.length >= MAX_PENDING) {
		g_warning("front: %u connections are still to send their link "
			"message; closing a new one", MAX_PENDING);
		close(fd);
		return;
	}
	struct pending *pc = g_new0(struct pending, 1);
	pc->f = f;
	pc->fd = fd;
	pc->is_unix = is_unix;
	g_queue_push_tail(&f->pending, pc);
	pc->node = f->pending.tail;
	pc->watch = g_unix_fd_add(fd, G_IO_IN, pending_readable, pc);
	pc->deadline = g_timeout_add_seconds(LINK_TIMEOUT_S, pending_expired, pc);
}

void zs_front_accept_tls(struct zs_front *f, int fd)
{
	char err[300];
	if (!f->tls) {
		close(fd);
		return;
	}
	SSL *ssl = zs_tls_session_new(f->tls, fd, err, sizeof(err));
	if (!ssl) {
		g_warning("front: %s", err);
		close(fd);
		return;
	}
	relay_start(f, fd, ssl, false);
}

/* ---- listeners ---- */

static void on_accept_plain(int fd, void *data)
{
	struct zs_front *f = data;
	zs_front_accept_plain(f, fd, f->plain_is_unix);
}

static void on_accept_tls(int fd, void *data)
{
	zs_front_accept_tls(data, fd);
}

struct zs_front *zs_front_create(const struct zs_front_config *cfg,
	char *bound_desc, size_t desc_len, char *tls_desc, size_t tls_desc_len,
	char *err, size_t err_len)
{
	struct zs_front *f = g_new0(struct zs_front, 1);
	f->cfg = *cfg;
	f->plain_is_unix = cfg->listen_unix != NULL;
	f->cfg.listen_unix = NULL;
	f->cfg.listen_host = NULL;
	f->cfg.x509_dir = NULL;
	f->cfg.tls_ciphers = NULL;
	g_queue_init(&f->pending);
	g_queue_init(&f->relays);
	if (tls_desc_len)
		tls_desc[0] = '\0';

	if (cfg->tls_port >= 0) {
		if (!cfg->listen_host || !cfg->x509_dir) {
			snprintf(err, err_len,
				"TLS needs a TCP listen address and an x509 directory");
			goto err;
		}
		f->tls = zs_tls_create(cfg->x509_dir, cfg->tls_ciphers, err,
			err_len);
		if (!f->tls)
			goto err;
	}
	f->plain = zs_listener_create(cfg->listen_host, cfg->listen_port,
		cfg->listen_unix, on_accept_plain, f, bound_desc, desc_len, err,
		err_len);
	if (!f->plain)
		goto err;
	if (f->tls) {
		f->tls_listener = zs_listener_create(cfg->listen_host,
			(uint16_t)cfg->tls_port, NULL, on_accept_tls, f, tls_desc,
			tls_desc_len, err, err_len);
		if (!f->tls_listener)
			goto err;
	}
	return f;

err:
	zs_front_destroy(f);
	return NULL;
}

void zs_front_set_display(struct zs_front *f, struct zs_display *d)
{
	f->display = d;
}

void zs_front_destroy(struct zs_front *f)
{
	if (!f)
		return;
	zs_listener_destroy(f->plain);
	zs_listener_destroy(f->tls_listener);
	struct pending *pc;
	while ((pc = g_queue_peek_head(&f->pending)))
		close(pending_take(pc));
	struct relay *r;
	while ((r = g_queue_peek_head(&f->relays)))
		relay_close(r);
	zs_tls_destroy(f->tls);
	g_free(f);
}

void zs_front_get_stats(const struct zs_front *f, struct zs_front_stats *s)
{
	*s = f->stats;
}
