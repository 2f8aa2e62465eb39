/* Shared by the connection front's files (front.c: listeners, peeking,
 * sessions; front-relay.c: the relays). Not for the rest of server/. */
#pragma once

#include <sys/types.h>

#include <glib.h>

#include "front.h"
#include "relay.h"

#define LINK_TIMEOUT_S 10      /* accept → the ticket passed */
#define FIRST_BYTE_TIMEOUT_S 3 /* accept → the first byte (or ClientHello) */
#define LINGER_TIMEOUT_S 5     /* delivering a refusal or the last bytes */
#define WRITE_STALL_S 60       /* a live peer that reads nothing */

/* An fd spice-server owns, known by its inode: the number alone may have
 * been closed and reused. */
struct zs_front_watched_fd {
	int fd;
	dev_t dev;
	ino_t ino;
};

struct zs_front {
	struct zs_front_config cfg; /* strings: only x509_dir, tls_ciphers */
	bool plain_is_unix;
	struct zs_listener *plain, *tls_listener;
	struct zs_tls *tls;
	struct zs_display *display;
	struct zs_peers *peers;
	GHashTable *sessions; /* session id → MAIN relays holding it */
	GQueue pending; /* struct pending */
	GQueue relays;  /* struct relay */
	GQueue handed;  /* struct handed: plain channels before their ticket */
	guint tick;
	unsigned ticks;
	/* refusals are logged at most once a second, with a count */
	gint64 refusal_logged_us;
	unsigned refusals_unlogged;
	struct zs_front_stats stats;
	/* plain DISPLAY channels handed to spice-server: only looked at, for
	 * the queue toward the client (front-relay.c) */
	GArray *display_fds; /* struct zs_front_watched_fd */
	/* display clients' stream reports go here (NULL: none) */
	zs_front_report_fn report_fn;
	void *report_data;
};

/* front.c */
void zs_front_log_refusal(struct zs_front *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool zs_front_session_live(const struct zs_front *f, uint32_t id);
void zs_front_session_add(struct zs_front *f, uint32_t id);
void zs_front_session_remove(struct zs_front *f, uint32_t id);
void zs_front_set_nonblock(int fd);
void zs_front_set_tcp_options(int fd);
/* "127.0.0.1:41234", "[::1]:41234" or "unix" */
void zs_front_peer_name(int fd, char *buf, size_t len);

/* front-relay.c */
struct relay;
/* Relays fd (ownership taken; ssl too when not NULL); peer counts it. */
void zs_front_relay_start(struct zs_front *f, int fd, SSL *ssl, bool is_unix,
	struct zs_peer *peer);
void zs_front_relay_close(struct relay *r);
/* Once a second: deadlines that no fd event would end. */
void zs_front_relay_tick(struct relay *r, gint64 now_us);
/* A plain DISPLAY channel fd handed to spice-server, which owns it: it is
 * remembered by inode to read its send queue (zs_front_display_queue). */
void zs_front_watch_display_fd(struct zs_front *f, int fd);
