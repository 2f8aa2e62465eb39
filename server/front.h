/* The connection front: zerospice's listening sockets (plain TCP or unix,
 * and TLS), the hand-off of each accepted connection to spice-server, the
 * main-channel clock relay and TLS termination (shared/DESIGN.md §4).
 * Private to server/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct zs_display;

/* ---- front.c ---- */

struct zs_front_config {
	/* the plain listener: a unix path, or host + port (0 = any) */
	const char *listen_unix;
	unsigned unix_mode;     /* permissions of listen_unix */
	const char *listen_host;
	uint16_t listen_port;
	/* TLS: tls_port -1 = no TLS listener, 0 = any free port; on
	 * listen_host */
	int tls_port;
	const char *x509_dir;    /* ca-cert.pem, server-cert.pem, server-key.pem */
	const char *tls_ciphers; /* NULL: OpenSSL's defaults */
	bool tls_only;           /* refuse every plain connection */
	/* ... because a ticket is served off loopback without --allow-plain
	 * (the refusal says so) */
	bool tls_only_off_loopback;
	/* the main-channel clock relay */
	bool clock_fix;
	uint32_t clock_bias_ms;
	uint32_t clock_resync_ms; /* the clock again every N ms; 0 = once */
	/* socket activation: listening fds to use instead of binding; the
	 * front takes ownership. 0 = none (stdin is never a listener), so
	 * configs that do not know the fields keep binding. */
	int listen_fd, tls_fd;
};

struct zs_front;

/* Loads the TLS files and binds every listening socket. On success
 * *bound_desc holds "127.0.0.1:5900" or "unix:/path" and *tls_desc the TLS
 * address ("" without TLS), with the real ports when 0 was asked. */
struct zs_front *zs_front_create(const struct zs_front_config *cfg,
	char *bound_desc, size_t desc_len, char *tls_desc, size_t tls_desc_len,
	char *err, size_t err_len);
/* Where accepted connections go. Borrows d; set it before the main loop
 * runs, and NULL (or destroy the front) before destroying d. */
void zs_front_set_display(struct zs_front *f, struct zs_display *d);
/* Reads the TLS files again for new connections (SIGHUP); live TLS
 * sessions keep the old ones. On error the old ones stay. */
bool zs_front_reload_tls(struct zs_front *f, char *err, size_t err_len);
/* Closes the listeners and every connection it still relays. */
void zs_front_destroy(struct zs_front *f);

/* Entry points for an accepted connection (take ownership of fd); the
 * listeners call them, tests may too. */
void zs_front_accept_plain(struct zs_front *f, int fd, bool is_unix);
void zs_front_accept_tls(struct zs_front *f, int fd);
/* The client address behind a relay whose spice-server side has address
 * sa (what spice-server reports as the peer). False when no relay has it. */
bool zs_front_client_name(const struct zs_front *f, const struct sockaddr *sa,
	socklen_t len, char *buf, size_t buf_len);

struct zs_front_stats {
	uint64_t handed_off;    /* plain connections given to spice-server as is */
	uint64_t relayed;       /* connections relayed (main channel or TLS) */
	uint64_t refused;       /* link errors we answered ourselves */
	uint64_t refused_full;  /* over a connection cap */
	uint64_t refused_blocked; /* from an address blocked after wrong tickets */
	uint64_t auth_failures; /* wrong tickets spice-server reported */
	uint64_t timeouts;      /* no link, no ticket or no progress in time */
	uint64_t bytes_to_client, bytes_to_server;
	uint64_t clock_rewrites;
};
void zs_front_get_stats(const struct zs_front *f, struct zs_front_stats *s);

/* Display clients' stream reports (ratectl.h), as the relay reads them;
 * with a sink set, plain TCP display channels are relayed too (not handed
 * to spice-server as they are) so that their reports are seen. client is
 * that relay's rate-control state, valid during the call. */
struct zs_ratectl_client;
struct zs_relay_stream_report;
typedef void (*zs_front_report_fn)(void *data, unsigned display_id,
	struct zs_ratectl_client *client,
	const struct zs_relay_stream_report *report);
void zs_front_set_report_sink(struct zs_front *f, zs_front_report_fn fn,
	void *data);

/* What waits toward the display channel's clients now (the most any one
 * client has): bytes in the kernel's send queue of the client socket
 * (SIOCOUTQ: sent but not acknowledged, or not sent yet), and bytes the
 * relay holds (its buffer plus what spice-server wrote to it unread) when
 * the channel is relayed (TLS). */
struct zs_front_queue {
	unsigned clients;
	uint64_t socket_bytes;
	uint64_t relay_bytes;
};
void zs_front_display_queue(struct zs_front *f, struct zs_front_queue *q);

/* ---- peers.c: per-source-address accounting ---- */

struct zs_peer_limits {
	unsigned max_total;           /* connections the front holds */
	unsigned max_unauth_total;    /* ... of which before the ticket */
	unsigned max_per_addr;        /* per source address */
	unsigned max_unauth_per_addr; /* ... before the ticket */
};
/* Limits scaled to RLIMIT_NOFILE. */
void zs_peer_limits_default(struct zs_peer_limits *l);

struct zs_peers;
struct zs_peer;
struct zs_peers *zs_peers_create(const struct zs_peer_limits *limits);
void zs_peers_destroy(struct zs_peers *p);
/* "127.0.0.1", "[::1]" or "unix": the accounting key of fd's peer. */
void zs_peer_name_of_fd(int fd, char *buf, size_t len);
/* A new connection from name, counted as not yet past the ticket; NULL
 * (why says which cap) when a cap is reached. */
struct zs_peer *zs_peers_enter(struct zs_peers *p, const char *name,
	char *why, size_t why_len);
/* True while name is blocked after wrong tickets (why says how long). */
bool zs_peers_blocked(struct zs_peers *p, const struct zs_peer *peer,
	char *why, size_t why_len);
/* One of peer's connections passed the ticket: its failures are forgiven. */
void zs_peers_authenticated(struct zs_peers *p, struct zs_peer *peer);
/* One of peer's connections is gone (unauth: it never passed the ticket).
 * peer may be freed. */
void zs_peers_leave(struct zs_peers *p, struct zs_peer *peer, bool unauth);
/* A wrong ticket from peer; true when this starts (or extends) a block. */
bool zs_peers_auth_failed(struct zs_peers *p, struct zs_peer *peer);
/* Forgets addresses with no connection, no block and no recent failure. */
void zs_peers_sweep(struct zs_peers *p);
unsigned zs_peers_total(const struct zs_peers *p);
const char *zs_peer_name(const struct zs_peer *peer);

/* ---- tls.c: OpenSSL server context and non-blocking I/O ---- */

struct zs_tls;

/* Reads DIR/ca-cert.pem, DIR/server-cert.pem, DIR/server-key.pem; TLS ≥ 1.2;
 * ciphers (TLS ≤ 1.2 cipher list) may be NULL. Checks that the key matches
 * the certificate and that the certificate chains to the CA. */
struct zs_tls *zs_tls_create(const char *x509_dir, const char *ciphers,
	char *err, size_t err_len);
void zs_tls_destroy(struct zs_tls *t);
/* A server-side session on fd (borrowed: the caller closes it after
 * SSL_free). NULL on failure with a reason. */
SSL *zs_tls_session_new(struct zs_tls *t, int fd, char *err, size_t err_len);

enum zs_tls_io {
	ZS_TLS_IO_DONE,       /* moved > 0 bytes */
	ZS_TLS_IO_WANT_READ,  /* retry when the fd is readable */
	ZS_TLS_IO_WANT_WRITE, /* retry when the fd is writable */
	ZS_TLS_IO_EOF,        /* the peer closed (close_notify or TCP EOF) */
	ZS_TLS_IO_ERROR,      /* err says why */
};
/* SSL_read / SSL_write (the first call also runs the handshake); *n gets
 * the bytes moved on DONE. */
enum zs_tls_io zs_tls_read(SSL *ssl, void *buf, size_t len, size_t *n,
	char *err, size_t err_len);
enum zs_tls_io zs_tls_write(SSL *ssl, const void *buf, size_t len, size_t *n,
	char *err, size_t err_len);
