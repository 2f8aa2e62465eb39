/* The process contract toward brokers and service managers (pidfile,
 * readiness, socket activation, logging, capabilities) and the control
 * API (org.zerospice.Server1). Private to server/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#define ZS_PROCESS_LOG_DOMAIN "zerospice"

#define ZS_CONTROL_INTERFACE "org.zerospice.Server1"
#define ZS_CONTROL_PATH "/org/zerospice/Server1"
#define ZS_CONTROL_DEFAULT_BUS_NAME "org.zerospice.Display"
#define ZS_CONTROL_API_VERSION 1

/* ---- process.c ---- */

/* First thing in main(), before any thread starts (it sets environment
 * variables): trims what libraries load into every session. Cyrus SASL's
 * plugins (which spice-server's sasl_server_init() loads although SASL is
 * never enabled here: libdb, Kerberos, ~0.5 MiB of RSS) are pointed at a
 * directory that does not exist, unless SASL_PATH is set; and the software
 * encoder skips GStreamer's registry (zs_encoder_preinit). */
void zs_process_preinit(void);

struct zs_pidfile;
/* Creates PATH (or takes over a stale one), locks it (flock) and writes
 * our pid. Fails when another live process holds it. */
struct zs_pidfile *zs_pidfile_create(const char *path, char *err,
	size_t err_len);
/* Removes the file and releases the lock. Accepts NULL. */
void zs_pidfile_destroy(struct zs_pidfile *p);

/* Sends one sd_notify datagram ("READY=1\nSTATUS=…") to $NOTIFY_SOCKET;
 * false (quietly) when it is not set. */
bool zs_notify(const char *state);
/* Writes "READY=1\n" to fd and closes it (takes ownership). -1: no-op. */
void zs_ready_fd_signal(int fd);

/* Socket activation: the listening sockets passed in LISTEN_FDS (for our
 * pid), by LISTEN_FDNAMES "spice" / "tls", else in that order. Sets -1 when
 * not passed; the caller owns the fds. Clears the variables. */
bool zs_listen_fds_take(int *plain_fd, int *tls_fd, char *err,
	size_t err_len);

/* True for a unix socket or one bound to a loopback address. */
bool zs_fd_is_local(int fd);

/* Installs the stderr log writer: "zerospice: [error: |warning: ]message"
 * lines, or one JSON object per line. */
void zs_log_setup(bool json);

/* "zerospice: error: …" (or a JSON line) on stderr, not a GLib critical. */
void zs_log_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* --print-capabilities: a JSON object (ends with a newline; g_free). */
char *zs_capabilities_json(void);

/* ---- control.c: org.zerospice.Server1 ---- */

struct zs_control;

struct zs_control_client {
	char *address;       /* "192.0.2.1:40000", "unix" */
	int64_t since_s;     /* wall clock, seconds since the epoch */
	uint32_t channels;   /* SPICE channels this client has open */
	uint32_t id;         /* spice-server's connection id */
};

/* What the control API does; main.c implements it. Methods that fail set
 * *error (G_DBUS_ERROR_INVALID_ARGS for bad arguments, G_IO_ERROR_* else);
 * the session goes on. */
struct zs_control_ops {
	/* expires_s: wall-clock epoch seconds, 0 = never, < 0 = already */
	bool (*set_ticket)(void *data, const char *ticket, int64_t expires_s,
		GError **error);
	bool (*expire_ticket)(void *data, GError **error);
	bool (*reload_certificates)(void *data, GError **error);
	/* takes ownership of fd */
	bool (*add_client)(void *data, int fd, bool skip_auth, GError **error);
	bool (*disconnect_clients)(void *data, GError **error);
	bool (*request_keyframe)(void *data, GError **error);
	bool (*set_bitrate)(void *data, uint32_t kbps, GError **error);
	/* returns the .vv text (g_free) or NULL */
	char *(*connection_file)(void *data, GVariant *options, GError **error);
};

struct zs_control_config {
	const char *control_path;  /* NULL: no peer-to-peer socket */
	const char *bus_address;   /* NULL: not on a bus */
	const char *bus_name;      /* NULL: ZS_CONTROL_DEFAULT_BUS_NAME */
	const char *source;        /* "testpattern", "qemu" */
	const char *encoder;       /* "software: …", for the Encoder property */
};

/* Serves the API (synchronously: when it returns the socket listens and
 * the bus name is ours). */
struct zs_control *zs_control_create(const struct zs_control_config *cfg,
	const struct zs_control_ops *ops, void *data, char *err,
	size_t err_len);
/* Emits Leaving(reason) on every connection and flushes it. */
void zs_control_leaving(struct zs_control *c, const char *reason);
void zs_control_destroy(struct zs_control *c);

/* Property updates (main thread). */
void zs_control_set_size(struct zs_control *c, uint32_t width,
	uint32_t height);
void zs_control_set_codec(struct zs_control *c, const char *codec);
/* state "none", "set", "expired"; expires_s epoch s, 0 never, -1 past */
void zs_control_set_ticket_info(struct zs_control *c, const char *state,
	int64_t expires_s);
void zs_control_set_encoder(struct zs_control *c, const char *encoder);
void zs_control_set_stats(struct zs_control *c, GVariant *stats);
/* Clients changed: the full list (borrowed); emits ClientConnected /
 * ClientDisconnected for added / removed ids. */
void zs_control_set_clients(struct zs_control *c,
	const struct zs_control_client *clients, size_t n);

/* "now", "never", "+N" (seconds from now), "N" (epoch seconds) →
 * *expires_s as set_ticket takes it. False for anything else. */
bool zs_control_parse_expiry(const char *s, int64_t now_s,
	int64_t *expires_s);
