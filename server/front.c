/* The connection front (shared/DESIGN.md §4): every accepted connection
 * reaches spice-server through spice_server_add_client() from here, and
 * only once it showed it belongs (SECURITY.md).
 *
 * Every connection is counted against its source address and the total
 * (peers.c) from accept until it passed the ticket or went away. Plain TCP
 * and unix: peek (MSG_PEEK) the SpiceLinkHeader + SpiceLinkMess. MAIN goes
 * through a relay (front-relay.c) that sees spice-server's answer to the
 * ticket and the session id in SPICE_MSG_MAIN_INIT (and rewrites the
 * multimedia clock). Any other channel must name a live session (one whose
 * MAIN passed the ticket); over TCP it then goes to spice-server as the
 * accepted fd itself: no relay, no copy. We keep a dup of that fd until
 * spice-server reports the link's ticket accepted (its INITIALIZED channel
 * event, matched by the connection's two addresses); at the deadline we
 * shut the socket down under spice-server, which has no link timeout of
 * its own. Unix clients cannot be told apart by address: their other
 * channels are relayed like MAIN. The rest is answered with a SPICE link
 * error and closed before spice-server sees it. TLS: we terminate it and
 * relay the plaintext of every channel, with the same rules. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <glib-unix.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include "front-priv.h"
#include "internal.h"
#include "stats.h"

#define PEEK_BYTES (ZS_RELAY_LINK_HEADER_BYTES + ZS_RELAY_LINK_MESS_BYTES)
#define KEEPALIVE_IDLE_S 600 /* as spice-server sets on its sockets */
#define SWEEP_EVERY_TICKS 30

/* ---- helpers ---- */

void zs_front_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void zs_front_set_tcp_options(int fd)
{
	int one = 1, idle = KEEPALIVE_IDLE_S;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
}

void zs_front_peer_name(int fd, char *buf, size_t len)
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

void zs_front_log_refusal(struct zs_front *f, const char *fmt, ...)
{
	/* a flood of refusals must not become a flood of log lines */
	gint64 now = g_get_monotonic_time();
	if (now - f->refusal_logged_us < G_USEC_PER_SEC) {
		f->refusals_unlogged++;
		return;
	}
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (f->refusals_unlogged)
		g_warning("%s (and %u more refusals or timeouts not logged)", msg,
			f->refusals_unlogged);
	else
		g_warning("%s", msg);
	f->refusal_logged_us = now;
	f->refusals_unlogged = 0;
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


/* ---- sessions: MAIN channels that passed the ticket ---- */

bool zs_front_session_live(const struct zs_front *f, uint32_t id)
{
	return id != 0 &&
		g_hash_table_contains(f->sessions, GUINT_TO_POINTER(id));
}

void zs_front_session_add(struct zs_front *f, uint32_t id)
{
	gpointer key = GUINT_TO_POINTER(id);
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(f->sessions, key));
	g_hash_table_insert(f->sessions, key, GUINT_TO_POINTER(n + 1));
}

void zs_front_session_remove(struct zs_front *f, uint32_t id)
{
	gpointer key = GUINT_TO_POINTER(id);
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(f->sessions, key));
	if (n <= 1)
		g_hash_table_remove(f->sessions, key);
	else
		g_hash_table_insert(f->sessions, key, GUINT_TO_POINTER(n - 1));
}

/* ---- plain channels given to spice-server as they are ---- */

/* A plain TCP channel of a live session in spice-server's hands, until
 * spice-server reports its ticket accepted. fd is our dup of spice-server's
 * socket: shutting it down at the deadline makes spice-server read EOF and
 * drop the link. Counted for its address as not past the ticket. */
struct handed {
	struct zs_front *f;
	GList *node; /* in f->handed */
	int fd;
	struct zs_peer *peer;
	struct sockaddr_storage local, remote;
	guint deadline;
	char name[96];
};

/* Same family, address and port (the rest of a sockaddr is padding). */
static bool same_addr(const struct sockaddr_storage *a,
	const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
			x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
			*y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
			memcmp(&x->sin6_addr, &y->sin6_addr,
				sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

/* Lets go of a watched hand-off: spice-server keeps the connection (or has
 * dropped it). passed: its ticket was accepted. */
static void handed_end(struct handed *h, bool passed)
{
	struct zs_front *f = h->f;
	if (h->deadline)
		g_source_remove(h->deadline);
	close(h->fd);
	if (passed)
		zs_peers_authenticated(f->peers, h->peer);
	zs_peers_leave(f->peers, h->peer, !passed);
	g_queue_delete_link(&f->handed, h->node);
	g_free(h);
}

static gboolean handed_expired(gpointer data)
{
	struct handed *h = data;
	h->deadline = 0;
	h->f->stats.timeouts++;
	zs_front_log_refusal(h->f, "front: %s: no ticket accepted in %d s; "
		"closing", h->name, LINK_TIMEOUT_S);
	/* under spice-server: its next read is the end of the stream */
	shutdown(h->fd, SHUT_RDWR);
	handed_end(h, false);
	return G_SOURCE_REMOVE;
}

/* Gives spice-server a plain TCP connection (fd owned) whose link message
 * waits unread, and watches it until its ticket is accepted or
 * deadline_us (monotonic) passes. peer stays counted until then. */
static void hand_off_watched(struct zs_front *f, int fd, struct zs_peer *peer,
	gint64 deadline_us, uint8_t channel_type)
{
	struct handed *h = g_new0(struct handed, 1);
	socklen_t ll = sizeof(h->local), rl = sizeof(h->remote);
	h->f = f;
	h->peer = peer;
	h->fd = f->display ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
	if (h->fd < 0 ||
		getsockname(fd, (struct sockaddr *)&h->local, &ll) < 0 ||
		getpeername(fd, (struct sockaddr *)&h->remote, &rl) < 0) {
		/* unwatched is unbounded: refuse rather than hand it on */
		if (f->display)
			g_warning("front: a plain channel from %s: %s; closing",
				zs_peer_name(peer), g_strerror(errno));
		if (h->fd >= 0)
			close(h->fd);
		zs_peers_leave(f->peers, peer, true);
		close(fd);
		g_free(h);
		return;
	}
	char where[80];
	zs_front_peer_name(fd, where, sizeof(where));
	snprintf(h->name, sizeof(h->name), "plain client %s", where);
	g_queue_push_tail(&f->handed, h);
	h->node = f->handed.tail;
	gint64 left_ms = (deadline_us - g_get_monotonic_time()) / 1000;
	h->deadline = g_timeout_add((guint)CLAMP(left_ms, 100,
		LINK_TIMEOUT_S * 1000), handed_expired, h);
	f->stats.handed_off++;
	zs_stats_connection(fd);
	if (channel_type == SPICE_CHANNEL_DISPLAY)
		zs_front_watch_display_fd(f, fd);
	if (!zs_display_add_client(f->display, fd))
		handed_end(h, false);
}

/* spice-server's channel events (its main dispatcher calls the core's
 * channel_event on the thread that ran spice_server_init: our loop).
 * INITIALIZED: a link passed the ticket; DISCONNECTED: a link's socket is
 * being closed. */
static void on_link_event(int event, const SpiceChannelEventInfo *info,
	void *data)
{
	struct zs_front *f = data;
	if ((event != SPICE_CHANNEL_EVENT_INITIALIZED &&
		    event != SPICE_CHANNEL_EVENT_DISCONNECTED) ||
		!(info->flags & SPICE_CHANNEL_EVENT_FLAG_ADDR_EXT))
		return;
	for (GList *l = f->handed.head; l; l = l->next) {
		struct handed *h = l->data;
		if (!same_addr(&h->remote, &info->paddr_ext) ||
			!same_addr(&h->local, &info->laddr_ext))
			continue;
		if (event == SPICE_CHANNEL_EVENT_INITIALIZED)
			g_info("front: %s: channel %d:%d passed the ticket",
				h->name, info->type, info->id);
		else
			g_info("front: %s: spice-server dropped the link before "
				"its ticket passed", h->name);
		handed_end(h, event == SPICE_CHANNEL_EVENT_INITIALIZED);
		return;
	}
}

/* ---- plain connections: peek, then hand off, relay or refuse ---- */

struct pending {
	struct zs_front *f;
	GList *node; /* in f->pending */
	int fd;
	bool is_unix, got_bytes;
	struct zs_peer *peer;
	guint watch, retry, deadline;
	unsigned backoff_ms;
	gint64 accepted_us;
};

static gboolean pending_readable(gint fd, GIOCondition cond, gpointer data);

/* Stops watching; returns the fd (the caller owns it now). The peer stays
 * counted when keep_peer (it moves to a relay). */
static int pending_take(struct pending *pc, bool keep_peer)
{
	int fd = pc->fd;
	if (pc->watch)
		g_source_remove(pc->watch);
	if (pc->retry)
		g_source_remove(pc->retry);
	if (pc->deadline)
		g_source_remove(pc->deadline);
	if (!keep_peer)
		zs_peers_leave(pc->f->peers, pc->peer, true);
	g_queue_delete_link(&pc->f->pending, pc->node);
	g_free(pc);
	return fd;
}

static gboolean pending_expired(gpointer data)
{
	struct pending *pc = data;
	pc->deadline = 0;
	pc->f->stats.timeouts++;
	zs_front_log_refusal(pc->f, "front: a plain connection from %s sent %s "
		"in %d s; closing", zs_peer_name(pc->peer), pc->got_bytes ?
		"no whole SPICE link message" : "nothing", pc->got_bytes ?
		LINK_TIMEOUT_S : FIRST_BYTE_TIMEOUT_S);
	close(pending_take(pc, false));
	return G_SOURCE_REMOVE;
}

static gboolean pending_retry(gpointer data)
{
	struct pending *pc = data;
	pc->retry = 0;
	pc->watch = g_unix_fd_add(pc->fd, G_IO_IN, pending_readable, pc);
	return G_SOURCE_REMOVE;
}

/* Answers a plain link with a SPICE link error and closes it. */
static void pending_refuse(struct pending *pc, uint32_t error,
	const char *why)
{
	struct zs_front *f = pc->f;
	zs_front_log_refusal(f, "front: refused a plain %s connection from "
		"%s: %s", pc->is_unix ? "unix" : "TCP", zs_peer_name(pc->peer),
		why);
	f->stats.refused++;
	int fd = pending_take(pc, false);
	send_link_error(fd, error);
	close(fd);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}

static gboolean pending_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct pending *pc = data;
	struct zs_front *f = pc->f;
	uint8_t buf[PEEK_BYTES];
	char why[200];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return G_SOURCE_CONTINUE;
	pc->watch = 0; /* every path below removes this watch */
	if (n <= 0) {
		close(pending_take(pc, false));
		return G_SOURCE_REMOVE;
	}
	if (!pc->got_bytes) {
		/* the first byte: the rest of the link deadline */
		pc->got_bytes = true;
		g_source_remove(pc->deadline);
		pc->deadline = g_timeout_add_seconds(LINK_TIMEOUT_S -
			FIRST_BYTE_TIMEOUT_S, pending_expired, pc);
	}
	bool spice = n < 4 || get_le32(buf) == SPICE_MAGIC;
	if (!spice) {
		/* WebSocket or garbage: nothing spice-server needs to see */
		pending_refuse(pc, SPICE_LINK_ERR_INVALID_MAGIC,
			"not a SPICE link message");
		return G_SOURCE_REMOVE;
	}
	if (n >= 4 && f->cfg.tls_only) {
		pending_refuse(pc, SPICE_LINK_ERR_NEED_SECURED,
			f->cfg.tls_only_off_loopback ? "a ticket off loopback "
			"needs TLS (--allow-plain to accept plain connections)" :
			"--tls-only");
		return G_SOURCE_REMOVE;
	}
	if (n < (ssize_t)PEEK_BYTES) {
		/* A partial link message. Peeking again at once would spin on
		 * the bytes already there: look again a little later. */
		pc->backoff_ms = pc->backoff_ms ? MIN(pc->backoff_ms * 2, 200) : 5;
		pc->retry = g_timeout_add(pc->backoff_ms, pending_retry, pc);
		return G_SOURCE_REMOVE;
	}
	const uint8_t *mess = buf + ZS_RELAY_LINK_HEADER_BYTES;
	uint32_t connection_id = get_le32(mess);
	uint8_t channel_type = mess[4], channel_id = mess[5];
	if (zs_peers_blocked(f->peers, pc->peer, why, sizeof(why))) {
		f->stats.refused_blocked++;
		pending_refuse(pc, SPICE_LINK_ERR_PERMISSION_DENIED, why);
		return G_SOURCE_REMOVE;
	}
	/* The stub QXL's display and cursor channels are not offered
	 * (relay.h): a link to them is refused before spice-server sees it. */
	if (zs_relay_channel_hidden(channel_type, channel_id)) {
		snprintf(why, sizeof(why), "channel %u:%u is not offered",
			channel_type, channel_id);
		pending_refuse(pc, SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE, why);
		return G_SOURCE_REMOVE;
	}
	if (channel_type == SPICE_CHANNEL_MAIN) {
		/* the relay checks the rest (and rewrites CHANNELS_LIST and the
		 * clock) and sees the ticket's result */
		bool is_unix = pc->is_unix;
		struct zs_peer *peer = pc->peer;
		zs_front_relay_start(f, pending_take(pc, true), NULL, is_unix,
			peer);
		return G_SOURCE_REMOVE;
	}
	if (!zs_front_session_live(f, connection_id)) {
		snprintf(why, sizeof(why), "channel %u:%u names session %u, "
			"which has not passed the ticket", channel_type, channel_id,
			connection_id);
		pending_refuse(pc, SPICE_LINK_ERR_BAD_CONNECTION_ID, why);
		return G_SOURCE_REMOVE;
	}
	/* A channel of a session that passed the ticket: spice-server takes
	 * it from here (and checks its ticket too), within the rest of the
	 * link deadline. A unix client cannot be recognised in spice-server's
	 * channel events (they all share one address): relay it. */
	bool is_unix = pc->is_unix;
	struct zs_peer *peer = pc->peer;
	gint64 deadline_us = pc->accepted_us + LINK_TIMEOUT_S * G_USEC_PER_SEC;
	int cfd = pending_take(pc, true);
	if (is_unix || (channel_type == SPICE_CHANNEL_DISPLAY && f->report_fn))
		zs_front_relay_start(f, cfd, NULL, is_unix, peer);
	else
		hand_off_watched(f, cfd, peer, deadline_us, channel_type);
	return G_SOURCE_REMOVE;
}

void zs_front_set_report_sink(struct zs_front *f, zs_front_report_fn fn,
	void *data)
{
	f->report_fn = fn;
	f->report_data = data;
}

/* Counts a new connection; false (fd closed) when a cap is reached. */
static struct zs_peer *admit(struct zs_front *f, int fd, bool tls)
{
	char name[INET6_ADDRSTRLEN + 2], why[200];
	zs_peer_name_of_fd(fd, name, sizeof(name));
	struct zs_peer *peer = zs_peers_enter(f->peers, name, why,
		sizeof(why));
	if (peer)
		return peer;
	f->stats.refused_full++;
	f->stats.refused++;
	zs_front_log_refusal(f, "front: refused a %s connection from %s: %s",
		tls ? "TLS" : "plain", name, why);
	/* before TLS there is no SPICE to answer in */
	if (!tls)
		send_link_error(fd, SPICE_LINK_ERR_ERROR);
	close(fd);
	return NULL;
}

void zs_front_accept_plain(struct zs_front *f, int fd, bool is_unix)
{
	struct zs_peer *peer = admit(f, fd, false);
	if (!peer)
		return;
	struct pending *pc = g_new0(struct pending, 1);
	pc->f = f;
	pc->fd = fd;
	pc->is_unix = is_unix;
	pc->peer = peer;
	pc->accepted_us = g_get_monotonic_time();
	g_queue_push_tail(&f->pending, pc);
	pc->node = f->pending.tail;
	pc->watch = g_unix_fd_add(fd, G_IO_IN, pending_readable, pc);
	pc->deadline = g_timeout_add_seconds(FIRST_BYTE_TIMEOUT_S,
		pending_expired, pc);
}

void zs_front_accept_tls(struct zs_front *f, int fd)
{
	char err[300];
	if (!f->tls) {
		close(fd);
		return;
	}
	struct zs_peer *peer = admit(f, fd, true);
	if (!peer)
		return;
	SSL *ssl = zs_tls_session_new(f->tls, fd, err, sizeof(err));
	if (!ssl) {
		g_warning("front: %s", err);
		zs_peers_leave(f->peers, peer, true);
		close(fd);
		return;
	}
	zs_front_relay_start(f, fd, ssl, false, peer);
}

static gboolean on_tick(gpointer data)
{
	struct zs_front *f = data;
	gint64 now = g_get_monotonic_time();
	/* a relay may close itself: walk with the next link in hand */
	for (GList *l = f->relays.head; l;) {
		GList *next = l->next;
		zs_front_relay_tick(l->data, now);
		l = next;
	}
	if (++f->ticks % SWEEP_EVERY_TICKS == 0)
		zs_peers_sweep(f->peers);
	return G_SOURCE_CONTINUE;
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

/* Binds (or, with socket activation, takes over) the listening sockets. */
static bool listen_all(struct zs_front *f, const struct zs_front_config *cfg,
	char *bound_desc, size_t desc_len, char *tls_desc, size_t tls_desc_len,
	char *err, size_t err_len)
{
	if (cfg->listen_fd > 0)
		f->plain = zs_listener_create_from_fd(cfg->listen_fd,
			on_accept_plain, f, &f->plain_is_unix, bound_desc, desc_len,
			err, err_len);
	else
		f->plain = zs_listener_create(cfg->listen_host, cfg->listen_port,
			cfg->listen_unix, cfg->unix_mode, on_accept_plain, f,
			bound_desc, desc_len, err, err_len);
	if (!f->plain)
		return false;
	if (!f->tls)
		return true;
	bool tls_unix;
	if (cfg->tls_fd > 0)
		f->tls_listener = zs_listener_create_from_fd(cfg->tls_fd,
			on_accept_tls, f, &tls_unix, tls_desc, tls_desc_len, err,
			err_len);
	else
		f->tls_listener = zs_listener_create(cfg->listen_host,
			(uint16_t)cfg->tls_port, NULL, 0, on_accept_tls, f, tls_desc,
			tls_desc_len, err, err_len);
	return f->tls_listener != NULL;
}

struct zs_front *zs_front_create(const struct zs_front_config *cfg,
	char *bound_desc, size_t desc_len, char *tls_desc, size_t tls_desc_len,
	char *err, size_t err_len)
{
	struct zs_front *f = g_new0(struct zs_front, 1);
	f->cfg = *cfg;
	f->plain_is_unix = cfg->listen_unix != NULL;
	struct zs_peer_limits limits;
	zs_peer_limits_default(&limits);
	f->peers = zs_peers_create(&limits);
	f->sessions = g_hash_table_new(g_direct_hash, g_direct_equal);
	f->tick = g_timeout_add_seconds(1, on_tick, f);
	f->cfg.listen_unix = NULL;
	f->cfg.listen_host = NULL;
	f->cfg.x509_dir = g_strdup(cfg->x509_dir);
	f->cfg.tls_ciphers = g_strdup(cfg->tls_ciphers);
	g_queue_init(&f->pending);
	g_queue_init(&f->relays);
	g_queue_init(&f->handed);
	f->display_fds = g_array_new(FALSE, FALSE,
		sizeof(struct zs_front_watched_fd));
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
	if (!listen_all(f, cfg, bound_desc, desc_len, tls_desc, tls_desc_len,
		    err, err_len))
		goto err;
	return f;

err:
	zs_front_destroy(f);
	return NULL;
}

void zs_front_set_display(struct zs_front *f, struct zs_display *d)
{
	f->display = d;
	/* the stub QXL follows the displays: hide it whatever its id */
	if (d)
		zs_relay_set_hidden_channel_id(zs_display_stub_channel_id(d));
	if (d)
		zs_spice_core_set_link_events(on_link_event, f);
	else
		zs_spice_core_set_link_events(NULL, NULL);
}

void zs_front_destroy(struct zs_front *f)
{
	if (!f)
		return;
	zs_listener_destroy(f->plain);
	zs_listener_destroy(f->tls_listener);
	struct pending *pc;
	while ((pc = g_queue_peek_head(&f->pending)))
		close(pending_take(pc, false));
	struct relay *r;
	while ((r = g_queue_peek_head(&f->relays)))
		zs_front_relay_close(r);
	struct handed *h;
	while ((h = g_queue_peek_head(&f->handed)))
		handed_end(h, false);
	if (f->display)
		zs_spice_core_set_link_events(NULL, NULL);
	if (f->tick)
		g_source_remove(f->tick);
	zs_peers_destroy(f->peers);
	if (f->display_fds)
		g_array_free(f->display_fds, TRUE);
	if (f->sessions)
		g_hash_table_destroy(f->sessions);
	zs_tls_destroy(f->tls);
	g_free((char *)f->cfg.x509_dir);
	g_free((char *)f->cfg.tls_ciphers);
	g_free(f);
}

bool zs_front_reload_tls(struct zs_front *f, char *err, size_t err_len)
{
	if (!f->tls) {
		snprintf(err, err_len, "no TLS listener");
		return false;
	}
	/* sessions in progress hold a reference to the old context */
	struct zs_tls *t = zs_tls_create(f->cfg.x509_dir, f->cfg.tls_ciphers,
		err, err_len);
	if (!t)
		return false;
	zs_tls_destroy(f->tls);
	f->tls = t;
	return true;
}

void zs_front_get_stats(const struct zs_front *f, struct zs_front_stats *s)
{
	*s = f->stats;
}
