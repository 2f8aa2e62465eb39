/* zerospice — the server: options, the SPICE instance, the encode pipeline
 * and the listening front. main() is the only user outside tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zs-encoder.h"

/* ---- options ---- */

/* --console lists at most this many (spice-gtk shows 16 displays; the
 * stub QXL takes one id). */
#define ZS_MAX_CONSOLES 15

enum zs_source_kind {
	ZS_SOURCE_TESTPATTERN = 0,
	ZS_SOURCE_QEMU,
};

struct zs_options {
	enum zs_source_kind source;
	/* testpattern */
	uint32_t width, height, fps;
	uint32_t still_after; /* frames; 0 = moves for ever */
	/* qemu */
	char *qemu_qmp_path;
	int qemu_dbus_fd; /* -1 when unset; inherited, owned by main */
	char *qemu_bus_address;
	/* --console: the consoles shown, display i = consoles[i]; console is
	 * consoles[0]. all_consoles (--console all, the default): console 0,
	 * then every other graphic console QEMU lists. */
	uint32_t console;
	uint32_t consoles[ZS_MAX_CONSOLES];
	unsigned n_consoles;
	bool all_consoles;
	/* --reconnect (qmp or bus only): wait for QEMU without a bound, and
	 * attach to the next one when it goes away */
	bool reconnect;
	/* another uid QEMU may run as (besides ours and root); 0 for none */
	uint32_t qemu_uid;

	/* listen: either a unix path or host + port (port 0 = any free one) */
	char *listen_unix;
	uint32_t socket_mode; /* of listen_unix, default 0600 */
	char *listen_host;
	uint16_t listen_port;

	char *ticket_file;
	uint32_t ticket_expiry_s; /* 0 = never */
	bool insecure_no_auth;

	/* TLS, terminated by zerospice: tls_port -1 = none (0 = any free
	 * port), on listen_host; x509_dir holds ca-cert.pem, server-cert.pem,
	 * server-key.pem */
	int tls_port;
	char *x509_dir;
	char *tls_ciphers; /* NULL: OpenSSL's defaults */
	bool tls_only;     /* refuse plain connections */
	bool allow_plain;  /* --allow-plain */
	/* tls_only was set because of a ticket, TLS and a non-loopback
	 * address without --allow-plain */
	bool plain_refused_by_default;

	/* the main-channel clock relay (shared/DESIGN.md §4) */
	bool clock_fix;         /* default on */
	uint32_t clock_bias_ms; /* client clock this far behind ours */
	uint32_t clock_resync_ms; /* the clock again every N ms; 0 = once */

	enum zs_codec codec; /* ZS_CODEC_NONE = auto */
	enum zs_encoder_backend encoder;
	char *va_device; /* --va-device; NULL = first capable render node */
	uint32_t bitrate_kbps; /* 0 = encoder default */
	uint32_t max_fps;      /* 0 = no cap */
	bool refine;           /* sharpen still pictures (default on) */
	bool rate_control;     /* follow the clients' links (default on) */
	char *trace_stages;    /* --trace-stages FILE; NULL = off */

	/* --metrics: Prometheus endpoint; metrics_port -1 = off (0 = any
	 * free port), metrics_host defaults to loopback */
	char *metrics_host;
	int metrics_port;

	bool show_help, show_version;

	/* ---- broker contract (server/process.c, server/control.c) ---- */
	/* --dbus-address: QEMU's private per-VM bus. Without an explicit
	 * --source it means --source qemu,bus=ADDR; the control API is also
	 * exported there under bus_name. */
	char *dbus_address;
	char *bus_name;       /* well-known name, default org.zerospice.Display */
	char *control_path;   /* --control unix:PATH (peer-to-peer, mode 0600) */
	char *pidfile;
	int ready_fd;         /* -1 = none */
	bool log_json;        /* --log-format json */
	bool print_capabilities;
	char *config_file;    /* --config FILE (read before the command line) */
	char *title;          /* --title, for .vv files */
	char *public_host;    /* --public-host, the host put in .vv files */
	/* set while parsing: --source given explicitly, and how many of
	 * qmp=, dbus-fd=, bus= it named */
	bool source_given;
	int qemu_targets;
};

/* Reads a --config FILE (GKeyFile, group [zerospice], keys = the long
 * option names) into an argv of "--key=value" words, placed before the
 * command line's own (so the command line wins). Returns a new argv
 * (g_strfreev) or NULL with a reason. Only --config itself is looked for in
 * argv; everything else is left for zs_options_parse(). */
char **zs_options_merge_config(int argc, char **argv, char *err,
	size_t err_len);

/* Parses argv into opts (defaults first). Returns false with a one-line
 * reason in err for bad options. Does not touch files or the network. */
bool zs_options_parse(struct zs_options *opts, int argc, char **argv,
	char *err, size_t err_len);
void zs_options_finish(struct zs_options *opts);
/* Parses --console's "N" or "N,M,...": distinct numbers 0..255, at most
 * ZS_MAX_CONSOLES. False with a one-line reason in err. */
bool zs_parse_console_list(const char *arg, uint32_t *consoles,
	unsigned *n_consoles, char *err, size_t err_len);
/* The --help text. */
const char *zs_options_usage(void);

/* True when every address `host` resolves to is loopback (127/8, ::1). */
bool zs_host_is_loopback(const char *host);
