/* Command-line options. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "zs-dmabuf.h"
#include "options-private.h"
#include "zs-server.h"

#define DEFAULT_WIDTH 1280
#define DEFAULT_HEIGHT 720
#define DEFAULT_FPS 60
#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 5900
#define MAX_BITRATE_KBPS 1000000
/* a year: spice-server keeps the lifetime as an int of seconds */
#define MAX_TICKET_EXPIRY_S (366u * 24 * 3600)
#define MAX_CLOCK_BIAS_MS 1000
#define DEFAULT_SOCKET_MODE 0600
#define DEFAULT_CLOCK_RESYNC_MS 1000
#define MAX_CLOCK_RESYNC_MS 600000

static bool parse_on_off(const char *opt, const char *arg, bool *out,
	char *err, size_t err_len)
{
	if (strcmp(arg, "on") == 0)
		*out = true;
	else if (strcmp(arg, "off") == 0)
		*out = false;
	else
		return fail(err, err_len, "%s: '%s' is not on or off", opt, arg);
	return true;
}

static bool parse_listen(struct zs_options *opts, const char *arg, char *err,
	size_t err_len)
{
	free(opts->listen_unix);
	opts->listen_unix = NULL;
	if (strncmp(arg, "unix:", 5) == 0) {
		const char *path = arg + 5;
		if (!*path)
			return fail(err, err_len, "--listen: unix: needs a path");
		if (strlen(path) >= 108)
			return fail(err, err_len, "--listen: unix path is too long");
		return replace_str(&opts->listen_unix, path) ||
			fail(err, err_len, "out of memory");
	}

	const char *host_start = arg, *colon;
	size_t host_len;
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (!close || close[1] != ':')
			return fail(err, err_len,
				"--listen: '%s' is not [IPV6]:PORT", arg);
		host_start = arg + 1;
		host_len = (size_t)(close - host_start);
		colon = close + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon)
			return fail(err, err_len,
				"--listen: '%s' is not HOST:PORT or unix:PATH", arg);
		host_len = (size_t)(colon - arg);
		if (memchr(arg, ':', host_len))
			return fail(err, err_len,
				"--listen: write IPv6 addresses as [ADDR]:PORT");
	}
	uint32_t port;
	if (host_len == 0 || host_len > 253)
		return fail(err, err_len, "--listen: '%s' has no host", arg);
	if (!parse_u32(colon + 1, 0, 65535, &port))
		return fail(err, err_len, "--listen: port '%s' is not 0..65535",
			colon + 1);
	char *host = strndup(host_start, host_len);
	if (!host)
		return fail(err, err_len, "out of memory");
	free(opts->listen_host);
	opts->listen_host = host;
	opts->listen_port = (uint16_t)port;
	return true;
}

/* --metrics [HOST:]PORT; HOST a numeric address ([ADDR] for IPv6). */
static bool parse_metrics(struct zs_options *opts, const char *arg,
	char *err, size_t err_len)
{
	const char *port_s = arg;
	char *host = NULL;
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (!close || close[1] != ':' || close == arg + 1)
			return fail(err, err_len,
				"--metrics: '%s' is not [IPV6]:PORT", arg);
		host = strndup(arg + 1, (size_t)(close - arg - 1));
		port_s = close + 2;
	} else if (strchr(arg, ':')) {
		const char *colon = strrchr(arg, ':');
		if (colon == arg || memchr(arg, ':', (size_t)(colon - arg)))
			return fail(err, err_len,
				"--metrics: '%s' is not [HOST:]PORT (IPv6 as [ADDR]:PORT)",
				arg);
		host = strndup(arg, (size_t)(colon - arg));
		port_s = colon + 1;
	} else {
		host = strdup(DEFAULT_HOST);
	}
	if (!host)
		return fail(err, err_len, "out of memory");
	uint32_t port;
	if (!parse_u32(port_s, 0, 65535, &port)) {
		free(host);
		return fail(err, err_len, "--metrics: port '%s' is not 0..65535",
			port_s);
	}
	free(opts->metrics_host);
	opts->metrics_host = host;
	opts->metrics_port = (int)port;
	return true;
}

enum {
	OPT_SOURCE = 256,
	OPT_CONSOLE,
	OPT_QEMU_UID,
	OPT_SOCKET_MODE,
	OPT_RECONNECT,
	OPT_LISTEN,
	OPT_TICKET_FILE,
	OPT_TICKET_EXPIRY,
	OPT_INSECURE_NO_AUTH,
	OPT_TLS_PORT,
	OPT_X509_DIR,
	OPT_TLS_CIPHERS,
	OPT_TLS_ONLY,
	OPT_ALLOW_PLAIN,
	OPT_CLOCK_FIX,
	OPT_CLOCK_BIAS_MS,
	OPT_CLOCK_RESYNC_MS,
	OPT_CODEC,
	OPT_ENCODER,
	OPT_VA_DEVICE,
	OPT_BITRATE,
	OPT_MAX_FPS,
	OPT_REFINE,
	OPT_RATE_CONTROL,
	OPT_TRACE_STAGES,
	OPT_METRICS,
	OPT_VERSION,
	OPT_HELP,
	/* broker contract */
	OPT_DBUS_ADDRESS,
	OPT_BUS_NAME,
	OPT_CONTROL,
	OPT_PIDFILE,
	OPT_READY_FD,
	OPT_LOG_FORMAT,
	OPT_CONFIG,
	OPT_TITLE,
	OPT_PUBLIC_HOST,
	OPT_PRINT_CAPABILITIES,
};

static const struct option long_options[] = {
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "qemu-uid", required_argument, NULL, OPT_QEMU_UID },
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
	{ "reconnect", no_argument, NULL, OPT_RECONNECT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "ticket-file", required_argument, NULL, OPT_TICKET_FILE },
	{ "ticket-expiry", required_argument, NULL, OPT_TICKET_EXPIRY },
	{ "insecure-no-auth", no_argument, NULL, OPT_INSECURE_NO_AUTH },
	{ "tls-port", required_argument, NULL, OPT_TLS_PORT },
	{ "x509-dir", required_argument, NULL, OPT_X509_DIR },
	{ "tls-ciphers", required_argument, NULL, OPT_TLS_CIPHERS },
	{ "tls-only", no_argument, NULL, OPT_TLS_ONLY },
	{ "allow-plain", no_argument, NULL, OPT_ALLOW_PLAIN },
	{ "clock-fix", required_argument, NULL, OPT_CLOCK_FIX },
	{ "clock-bias-ms", required_argument, NULL, OPT_CLOCK_BIAS_MS },
	{ "clock-resync-ms", required_argument, NULL, OPT_CLOCK_RESYNC_MS },
	{ "codec", required_argument, NULL, OPT_CODEC },
	{ "encoder", required_argument, NULL, OPT_ENCODER },
	{ "va-device", required_argument, NULL, OPT_VA_DEVICE },
	{ "bitrate", required_argument, NULL, OPT_BITRATE },
	{ "max-fps", required_argument, NULL, OPT_MAX_FPS },
	{ "refine", required_argument, NULL, OPT_REFINE },
	{ "rate-control", required_argument, NULL, OPT_RATE_CONTROL },
	{ "trace-stages", required_argument, NULL, OPT_TRACE_STAGES },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "dbus-address", required_argument, NULL, OPT_DBUS_ADDRESS },
	{ "control-name", required_argument, NULL, OPT_BUS_NAME },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "title", required_argument, NULL, OPT_TITLE },
	{ "public-host", required_argument, NULL, OPT_PUBLIC_HOST },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPABILITIES },
	{ NULL, 0, NULL, 0 },
};

/* ---- broker contract options ---- */

static bool set_str(char **dst, const char *arg, const char *what, char *err,
	size_t err_len)
{
	if (!*arg)
		return fail(err, err_len, "%s needs a value", what);
	return replace_str(dst, arg) || fail(err, err_len, "out of memory");
}

static bool parse_broker_option(struct zs_options *opts, int opt,
	const char *arg, char *err, size_t err_len)
{
	uint32_t v;
	switch (opt) {
	case OPT_DBUS_ADDRESS:
		if (!*arg || !g_dbus_is_address(arg))
			return fail(err, err_len,
				"--dbus-address: '%s' is not a D-Bus address", arg);
		return set_str(&opts->dbus_address, arg, "--dbus-address", err,
			err_len);
	case OPT_BUS_NAME:
		if (!g_dbus_is_name(arg) || g_dbus_is_unique_name(arg))
			return fail(err, err_len,
				"--control-name: '%s' is not a well-known D-Bus name", arg);
		return set_str(&opts->bus_name, arg, "--control-name", err, err_len);
	case OPT_CONTROL:
		if (strncmp(arg, "unix:", 5) != 0 || !arg[5])
			return fail(err, err_len,
				"--control: '%s' is not unix:PATH", arg);
		if (strlen(arg + 5) >= 108)
			return fail(err, err_len, "--control: unix path is too long");
		return set_str(&opts->control_path, arg + 5, "--control", err,
			err_len);
	case OPT_PIDFILE:
		return set_str(&opts->pidfile, arg, "--pidfile", err, err_len);
	case OPT_READY_FD:
		if (!parse_u32(arg, 0, INT_MAX, &v) || fcntl((int)v, F_GETFD) < 0)
			return fail(err, err_len,
				"--ready-fd: '%s' is not an open file descriptor", arg);
		if (v <= 2)
			return fail(err, err_len,
				"--ready-fd: %u is stdin, stdout or stderr", v);
		opts->ready_fd = (int)v;
		return true;
	case OPT_LOG_FORMAT:
		if (strcmp(arg, "text") == 0)
			opts->log_json = false;
		else if (strcmp(arg, "json") == 0)
			opts->log_json = true;
		else
			return fail(err, err_len,
				"--log-format: '%s' is not text or json", arg);
		return true;
	case OPT_CONFIG:
		/* read by zs_options_merge_config() before parsing */
		return set_str(&opts->config_file, arg, "--config", err, err_len);
	case OPT_TITLE:
		return set_str(&opts->title, arg, "--title", err, err_len);
	case OPT_PUBLIC_HOST:
		return set_str(&opts->public_host, arg, "--public-host", err,
			err_len);
	case OPT_PRINT_CAPABILITIES:
		opts->print_capabilities = true;
		return true;
	}
	return fail(err, err_len, "unknown option");
}

static void set_defaults(struct zs_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->source = ZS_SOURCE_TESTPATTERN;
	opts->width = DEFAULT_WIDTH;
	opts->height = DEFAULT_HEIGHT;
	opts->fps = DEFAULT_FPS;
	opts->qemu_dbus_fd = -1;
	opts->listen_port = DEFAULT_PORT;
	opts->codec = ZS_CODEC_NONE;
	opts->encoder = ZS_ENCODER_AUTO;
	opts->tls_port = -1;
	opts->metrics_port = -1;
	opts->clock_fix = true;
	opts->ready_fd = -1;
	opts->socket_mode = DEFAULT_SOCKET_MODE;
	opts->refine = true;
	opts->rate_control = true;
	opts->clock_resync_ms = DEFAULT_CLOCK_RESYNC_MS;
	opts->n_consoles = 1; /* console 0, and the others QEMU has */
	opts->all_consoles = true;
}

/* Octal permission bits, 0..0777. */
static bool parse_mode(const char *s, uint32_t *out)
{
	if (!s || !*s || strspn(s, "01234567") != strlen(s) || strlen(s) > 4)
		return false;
	unsigned long v = strtoul(s, NULL, 8);
	if (v > 0777)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_one(struct zs_options *opts, int opt, const char *arg,
	const char *bad_opt, char *err, size_t err_len)
{
	uint32_t v;
	switch (opt) {
	case OPT_SOURCE:
		return zs_options_parse_source(opts, arg, err, err_len);
	case OPT_CONSOLE:
		if (strcmp(arg, "all") == 0) {
			opts->all_consoles = true;
			opts->n_consoles = 1;
			opts->consoles[0] = opts->console = 0;
			return true;
		}
		if (!zs_parse_console_list(arg, opts->consoles,
			    &opts->n_consoles, err, err_len))
			return false;
		opts->console = opts->consoles[0];
		opts->all_consoles = false;
		return true;
	case OPT_RECONNECT:
		opts->reconnect = true;
		return true;
	case OPT_QEMU_UID:
		/* 0 is root, always allowed; (uid_t)-1 is no user */
		if (!parse_u32(arg, 0, UINT32_MAX - 1, &v))
			return fail(err, err_len, "--qemu-uid: '%s' is not a "
				"numeric uid", arg);
		opts->qemu_uid = v;
		return true;
	case OPT_SOCKET_MODE:
		if (!parse_mode(arg, &opts->socket_mode))
			return fail(err, err_len, "--socket-mode: '%s' is not "
				"an octal mode 0..0777 (e.g. 0660)", arg);
		return true;
	case OPT_LISTEN:
		return parse_listen(opts, arg, err, err_len);
	case OPT_TICKET_FILE:
		if (!*arg)
			return fail(err, err_len, "--ticket-file needs a path");
		return replace_str(&opts->ticket_file, arg) ||
			fail(err, err_len, "out of memory");
	case OPT_TICKET_EXPIRY:
		if (!parse_u32(arg, 1, MAX_TICKET_EXPIRY_S,
			    &opts->ticket_expiry_s))
			return fail(err, err_len,
				"--ticket-expiry: '%s' is not 1..%u seconds", arg,
				MAX_TICKET_EXPIRY_S);
		return true;
	case OPT_INSECURE_NO_AUTH:
		opts->insecure_no_auth = true;
		return true;
	case OPT_TLS_PORT:
		if (!parse_u32(arg, 0, 65535, &v))
			return fail(err, err_len, "--tls-port: '%s' is not 0..65535",
				arg);
		opts->tls_port = (int)v;
		return true;
	case OPT_X509_DIR:
		if (!*arg)
			return fail(err, err_len, "--x509-dir needs a directory");
		return replace_str(&opts->x509_dir, arg) ||
			fail(err, err_len, "out of memory");
	case OPT_TLS_CIPHERS:
		if (!*arg)
			return fail(err, err_len, "--tls-ciphers needs a list");
		return replace_str(&opts->tls_ciphers, arg) ||
			fail(err, err_len, "out of memory");
	case OPT_TLS_ONLY:
		opts->tls_only = true;
		return true;
	case OPT_ALLOW_PLAIN:
		opts->allow_plain = true;
		return true;
	case OPT_CLOCK_FIX:
		return parse_on_off("--clock-fix", arg, &opts->clock_fix, err,
			err_len);
	case OPT_REFINE:
		return parse_on_off("--refine", arg, &opts->refine, err,
			err_len);
	case OPT_RATE_CONTROL:
		return parse_on_off("--rate-control", arg, &opts->rate_control,
			err, err_len);
	case OPT_TRACE_STAGES:
		if (!*arg)
			return fail(err, err_len, "--trace-stages needs a file");
		return replace_str(&opts->trace_stages, arg) ||
			fail(err, err_len, "out of memory");
	case OPT_CLOCK_RESYNC_MS:
		if (!parse_u32(arg, 0, MAX_CLOCK_RESYNC_MS, &opts->clock_resync_ms) ||
			(opts->clock_resync_ms && opts->clock_resync_ms < 100))
			return fail(err, err_len,
				"--clock-resync-ms: '%s' is not 0 or 100..%u", arg,
				MAX_CLOCK_RESYNC_MS);
		return true;
	case OPT_CLOCK_BIAS_MS:
		if (!parse_u32(arg, 0, MAX_CLOCK_BIAS_MS, &opts->clock_bias_ms))
			return fail(err, err_len,
				"--clock-bias-ms: '%s' is not 0..%u", arg,
				MAX_CLOCK_BIAS_MS);
		return true;
	case OPT_CODEC:
		if (strcmp(arg, "auto") == 0) {
			opts->codec = ZS_CODEC_NONE;
			return true;
		}
		if (!zs_codec_from_name(arg, &opts->codec) ||
			opts->codec == ZS_CODEC_NONE)
			return fail(err, err_len,
				"--codec: '%s' is not auto, h264, vp8, vp9, h265 or mjpeg",
				arg);
		return true;
	case OPT_ENCODER:
		if (strcmp(arg, "auto") == 0)
			opts->encoder = ZS_ENCODER_AUTO;
		else if (strcmp(arg, "software") == 0)
			opts->encoder = ZS_ENCODER_SOFTWARE;
		else if (strcmp(arg, "vaapi") == 0)
			opts->encoder = ZS_ENCODER_VAAPI;
		else
			return fail(err, err_len,
				"--encoder: '%s' is not auto, vaapi or software", arg);
		return true;
	case OPT_VA_DEVICE:
		if (!*arg)
			return fail(err, err_len, "--va-device: empty path");
		free(opts->va_device);
		opts->va_device = strdup(arg);
		return true;
	case OPT_BITRATE:
		if (!parse_u32(arg, 1, MAX_BITRATE_KBPS, &opts->bitrate_kbps))
			return fail(err, err_len, "--bitrate: '%s' is not 1..%u kbps",
				arg, MAX_BITRATE_KBPS);
		return true;
	case OPT_MAX_FPS:
		if (!parse_u32(arg, 1, MAX_FPS, &v))
			return fail(err, err_len, "--max-fps: '%s' is not 1..%u", arg,
				MAX_FPS);
		opts->max_fps = v;
		return true;
	case OPT_METRICS:
		return parse_metrics(opts, arg, err, err_len);
	case OPT_VERSION:
		opts->show_version = true;
		return true;
	case OPT_HELP:
		opts->show_help = true;
		return true;
	case OPT_DBUS_ADDRESS:
	case OPT_BUS_NAME:
	case OPT_CONTROL:
	case OPT_PIDFILE:
	case OPT_READY_FD:
	case OPT_LOG_FORMAT:
	case OPT_CONFIG:
	case OPT_TITLE:
	case OPT_PUBLIC_HOST:
	case OPT_PRINT_CAPABILITIES:
		return parse_broker_option(opts, opt, arg, err, err_len);
	case ':':
		return fail(err, err_len, "%s needs a value", bad_opt);
	default:
		return fail(err, err_len, "unknown option '%s' (see --help)", bad_opt);
	}
}

bool zs_options_parse(struct zs_options *opts, int argc, char **argv,
	char *err, size_t err_len)
{
	set_defaults(opts);
	opterr = 0;
	optind = 0; /* GNU: full re-initialisation, so tests may parse twice */
	for (;;) {
		int prev_optind = optind ? optind : 1;
		int opt = getopt_long(argc, argv, ":", long_options, NULL);
		if (opt == -1)
			break;
		const char *bad = prev_optind < argc ? argv[prev_optind] : "?";
		if (!parse_one(opts, opt, optarg, bad, err, err_len))
			return false;
	}
	if (optind < argc)
		return fail(err, err_len, "unexpected argument '%s' (see --help)",
			argv[optind]);
	if (opts->show_help || opts->show_version || opts->print_capabilities)
		return true;
	if (!zs_options_check_source(opts, err, err_len))
		return false;

	if (opts->reconnect && opts->source != ZS_SOURCE_QEMU)
		return fail(err, err_len,
			"--reconnect is for --source qemu,qmp=PATH or bus=ADDRESS");
	if (opts->reconnect && opts->qemu_dbus_fd >= 0)
		return fail(err, err_len,
			"--reconnect cannot reopen an inherited dbus-fd: use "
			"qmp=PATH or bus=ADDRESS");
	if (!opts->listen_unix && !opts->listen_host &&
		!replace_str(&opts->listen_host, DEFAULT_HOST))
		return fail(err, err_len, "out of memory");
	/* With a control API the broker sets the ticket: until then nobody
	 * gets in (main.c starts with an expired one). */
	if (opts->source == ZS_SOURCE_QEMU && !opts->ticket_file &&
		!opts->insecure_no_auth && !opts->control_path &&
		!opts->dbus_address)
		return fail(err, err_len,
			"--source qemu gives every client the VM's keyboard and "
			"mouse: give --ticket-file PATH, a control API to set "
			"tickets with (--control, --dbus-address), or "
			"--insecure-no-auth");
	if (opts->listen_host && !opts->ticket_file && !opts->insecure_no_auth &&
		!opts->control_path && !opts->dbus_address &&
		!zs_host_is_loopback(opts->listen_host))
		return fail(err, err_len,
			"refusing to listen on %s without a password: give "
			"--ticket-file PATH, a control API to set tickets with "
			"(--control, --dbus-address), or --insecure-no-auth",
			opts->listen_host);
	if (opts->ticket_expiry_s && !opts->ticket_file)
		return fail(err, err_len, "--ticket-expiry needs --ticket-file");
	if (opts->allow_plain && opts->tls_only)
		return fail(err, err_len,
			"--allow-plain and --tls-only contradict each other");
	if (opts->tls_port >= 0) {
		if (!opts->x509_dir)
			return fail(err, err_len,
				"--tls-port needs --x509-dir DIR (ca-cert.pem, "
				"server-cert.pem, server-key.pem)");
		if (opts->listen_unix)
			return fail(err, err_len,
				"--tls-port listens on the --listen host: give "
				"--listen HOST:PORT, not a unix socket");
		if (opts->tls_port != 0 && opts->tls_port == opts->listen_port)
			return fail(err, err_len,
				"--tls-port %d is also the plain --listen port",
				opts->tls_port);
		/* Off loopback the keyboard must not cross the network in
		 * the clear once there is a way not to (SECURITY.md). */
		if (opts->ticket_file && opts->listen_host && !opts->allow_plain &&
			!zs_host_is_loopback(opts->listen_host)) {
			opts->tls_only = true;
			opts->plain_refused_by_default = true;
		}
	} else if ((opts->x509_dir || opts->tls_ciphers || opts->tls_only ||
		opts->allow_plain) && !getenv("LISTEN_FDS")) {
		/* (socket activation may pass the TLS socket: main.c checks) */
		return fail(err, err_len, "%s needs --tls-port PORT",
			opts->tls_only ? "--tls-only" : opts->x509_dir ?
			"--x509-dir" : opts->tls_ciphers ? "--tls-ciphers" :
			"--allow-plain");
	}
	return true;
}

void zs_options_finish(struct zs_options *opts)
{
	free(opts->va_device);
	free(opts->trace_stages);
	opts->va_device = NULL;
	free(opts->qemu_qmp_path);
	free(opts->qemu_bus_address);
	free(opts->listen_unix);
	free(opts->listen_host);
	free(opts->ticket_file);
	free(opts->x509_dir);
	free(opts->tls_ciphers);
	free(opts->metrics_host);
	opts->metrics_host = NULL;
	opts->x509_dir = opts->tls_ciphers = NULL;
	opts->qemu_qmp_path = opts->qemu_bus_address = NULL;
	opts->listen_unix = opts->listen_host = opts->ticket_file = NULL;
	g_clear_pointer(&opts->dbus_address, free);
	g_clear_pointer(&opts->bus_name, free);
	g_clear_pointer(&opts->control_path, free);
	g_clear_pointer(&opts->pidfile, free);
	g_clear_pointer(&opts->config_file, free);
	g_clear_pointer(&opts->title, free);
	g_clear_pointer(&opts->public_host, free);
}

bool zs_host_is_loopback(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	if (getaddrinfo(host, "0", &hints, &res) != 0 || !res)
		return false;
	bool loopback = true;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)ai->ai_addr;
			if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
				loopback = false;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;
			if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
				loopback = false;
		} else {
			loopback = false;
		}
	}
	freeaddrinfo(res);
	return loopback;
}

/* ---- --config FILE ---- */

#define CONFIG_GROUP "zerospice"

char **zs_options_merge_config(int argc, char **argv, char *err,
	size_t err_len)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(out, g_strdup(argc > 0 ? argv[0] : "zerospice"));
	if (path) {
		GKeyFile *kf = g_key_file_new();
		GError *error = NULL;
		gchar **keys = NULL;
		if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
			fail(err, err_len, "--config %s: %s", path, error->message);
			goto err_kf;
		}
		gsize n_groups = 0;
		gchar **groups = g_key_file_get_groups(kf, &n_groups);
		for (gsize g = 0; g < n_groups; g++) {
			if (strcmp(groups[g], CONFIG_GROUP) != 0) {
				fail(err, err_len, "--config %s: unknown group [%s] "
					"(expected [" CONFIG_GROUP "])", path, groups[g]);
				g_strfreev(groups);
				goto err_kf;
			}
		}
		g_strfreev(groups);
		keys = g_key_file_get_keys(kf, CONFIG_GROUP, NULL, NULL);
		for (gchar **k = keys; k && *k; k++) {
			const struct option *o = NULL;
			for (const struct option *lo = long_options; lo->name; lo++)
				if (strcmp(lo->name, *k) == 0)
					o = lo;
			if (!o || o->val == OPT_CONFIG || o->val == OPT_HELP ||
				o->val == OPT_VERSION ||
				o->val == OPT_PRINT_CAPABILITIES) {
				fail(err, err_len, "--config %s: unknown key '%s' "
					"(keys are the long option names)", path, *k);
				goto err_kf;
			}
			if (o->has_arg == no_argument) {
				gboolean on = g_key_file_get_boolean(kf, CONFIG_GROUP, *k,
					&error);
				if (error) {
					fail(err, err_len, "--config %s: %s: %s", path, *k,
						"expected true or false");
					goto err_kf;
				}
				if (on)
					g_ptr_array_add(out, g_strdup_printf("--%s", *k));
				continue;
			}
			gchar *val = g_key_file_get_string(kf, CONFIG_GROUP, *k,
				&error);
			if (!val) {
				fail(err, err_len, "--config %s: %s: %s", path, *k,
					error->message);
				goto err_kf;
			}
			g_ptr_array_add(out, g_strdup_printf("--%s=%s", *k, val));
			g_free(val);
		}
		g_strfreev(keys);
		g_key_file_free(kf);
		goto done;
err_kf:
		g_clear_error(&error);
		g_strfreev(keys);
		g_key_file_free(kf);
		g_ptr_array_free(out, TRUE);
		return NULL;
	}
done:
	for (int i = 1; i < argc; i++)
		g_ptr_array_add(out, g_strdup(argv[i]));
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}
