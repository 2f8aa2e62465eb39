/* The process contract a broker or service manager relies on: pidfile,
 * readiness (sd_notify datagram, --ready-fd), socket activation
 * (LISTEN_FDS), the stderr log writer (text or JSON) and
 * --print-capabilities. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "process.h"
#include "zs-config.h"
#include "zs-encoder.h"

/* ---- before threads ---- */

#define NO_SASL_PLUGINS "/nonexistent/zerospice-no-sasl-plugins"

void zs_process_preinit(void)
{
	/* zerospice never calls spice_server_set_sasl(), yet spice-server
	 * 0.15.1 runs SASL for a client that picks it (SECURITY.md): with no
	 * mechanism plugins SASL cannot log anyone in, also on the channels
	 * the front hands over unread. Always, whatever the environment
	 * says: there is no SASL set-up to honour. */
	setenv("SASL_PATH", NO_SASL_PLUGINS, 1);
	zs_encoder_preinit();
}

/* ---- pidfile ---- */

struct zs_pidfile {
	char *path;
	int fd;
};

struct zs_pidfile *zs_pidfile_create(const char *path, char *err,
	size_t err_len)
{
	/* A file left by a dead process is taken over; one still locked by a
	 * live zerospice is not. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(err, err_len, "--pidfile %s: %s", path, g_strerror(errno));
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char other[32] = "";
		ssize_t n = pread(fd, other, sizeof(other) - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			snprintf(err, err_len, "--pidfile %s: held by running process %s",
				path, other[0] ? other : "?");
		else
			snprintf(err, err_len, "--pidfile %s: lock: %s", path,
				g_strerror(e));
		return NULL;
	}
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		snprintf(err, err_len, "--pidfile %s: write: %s", path,
			g_strerror(errno));
		unlink(path);
		close(fd);
		return NULL;
	}
	struct zs_pidfile *p = g_new0(struct zs_pidfile, 1);
	p->path = g_strdup(path);
	p->fd = fd;
	return p;
}

void zs_pidfile_destroy(struct zs_pidfile *p)
{
	if (!p)
		return;
	/* unlink while still holding the lock, so no one else's file goes */
	unlink(p->path);
	close(p->fd);
	g_free(p->path);
	g_free(p);
}

/* ---- readiness ---- */

bool zs_notify(const char *state)
{
	const char *path = g_getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return false;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path)) {
		g_warning("NOTIFY_SOCKET '%s' is not a unix socket path", path);
		return false;
	}
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0'; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g_warning("sd_notify: socket: %s", g_strerror(errno));
		return false;
	}
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		(struct sockaddr *)&addr, alen);
	int e = errno;
	close(fd);
	if (n < 0) {
		g_warning("sd_notify to %s: %s", path, g_strerror(e));
		return false;
	}
	return true;
}

void zs_ready_fd_signal(int fd)
{
	static const char msg[] = "READY=1\n";
	if (fd < 0)
		return;
	ssize_t n;
	do {
		n = write(fd, msg, sizeof(msg) - 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		g_warning("--ready-fd %d: %s", fd, g_strerror(errno));
	close(fd);
}

/* ---- socket activation ---- */

#define SD_LISTEN_FDS_START 3
#define MAX_ACTIVATED_FDS 16

bool zs_listen_fds_take(int *plain_fd, int *tls_fd, char *err, size_t err_len)
{
	*plain_fd = *tls_fd = -1;
	const char *pid_s = g_getenv("LISTEN_PID");
	const char *fds_s = g_getenv("LISTEN_FDS");
	if (!pid_s || !fds_s)
		return true;
	char *end;
	errno = 0;
	long pid = strtol(pid_s, &end, 10);
	if (errno || *end || pid != (long)getpid())
		return true; /* meant for another process */
	long n = strtol(fds_s, &end, 10);
	if (errno || *end || n < 1 || n > MAX_ACTIVATED_FDS) {
		snprintf(err, err_len, "LISTEN_FDS='%s' is not 1..%d", fds_s,
			MAX_ACTIVATED_FDS);
		return false;
	}
	gchar **names = NULL;
	const char *names_s = g_getenv("LISTEN_FDNAMES");
	if (names_s)
		names = g_strsplit(names_s, ":", -1);
	bool named = names && g_strv_length(names) == (guint)n;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = named ? names[i] : NULL;
		int *slot = NULL;
		if (name && strcmp(name, "tls") == 0)
			slot = tls_fd;
		else if (name && strcmp(name, "spice") == 0)
			slot = plain_fd;
		else if (!named || !name || !*name || strcmp(name, "unknown") == 0)
			slot = *plain_fd < 0 ? plain_fd : *tls_fd < 0 ? tls_fd : NULL;
		int acc = 0;
		socklen_t alen = sizeof(acc);
		if (!slot || *slot >= 0 ||
			getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0 ||
			!acc) {
			snprintf(err, err_len, "socket activation: fd %d (%s) is not "
				"a listening socket zerospice can use (names: spice, tls)",
				fd, name ? name : "unnamed");
			g_strfreev(names);
			for (int j = 0; j < n; j++)
				if (SD_LISTEN_FDS_START + j != *plain_fd &&
					SD_LISTEN_FDS_START + j != *tls_fd)
					close(SD_LISTEN_FDS_START + j);
			if (*plain_fd >= 0)
				close(*plain_fd);
			if (*tls_fd >= 0)
				close(*tls_fd);
			*plain_fd = *tls_fd = -1;
			return false;
		}
		*slot = fd;
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0)
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	g_strfreev(names);
	/* not for the processes we might start */
	g_unsetenv("LISTEN_PID");
	g_unsetenv("LISTEN_FDS");
	g_unsetenv("LISTEN_FDNAMES");
	return true;
}

bool zs_fd_is_local(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family == AF_UNIX)
		return true;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) ==
			127;
	if (ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
	return false;
}

/* ---- logging ---- */

static bool log_json;

static const char *level_name(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "error";
	if (level & G_LOG_LEVEL_CRITICAL)
		return "error";
	if (level & G_LOG_LEVEL_WARNING)
		return "warning";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "notice";
	if (level & G_LOG_LEVEL_INFO)
		return "info";
	return "debug";
}

static void json_escape(GString *s, const char *in)
{
	g_string_append_c(s, '"');
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		switch (*p) {
		case '"': g_string_append(s, "\\\""); break;
		case '\\': g_string_append(s, "\\\\"); break;
		case '\n': g_string_append(s, "\\n"); break;
		case '\r': g_string_append(s, "\\r"); break;
		case '\t': g_string_append(s, "\\t"); break;
		default:
			if (*p < 0x20)
				g_string_append_printf(s, "\\u%04x", *p);
			else
				g_string_append_c(s, (char)*p);
		}
	}
	g_string_append_c(s, '"');
}

static GLogWriterOutput log_writer(GLogLevelFlags level,
	const GLogField *fields, gsize n_fields, gpointer data)
{
	const char *message = NULL, *domain = NULL;
	for (gsize i = 0; i < n_fields; i++) {
		if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
			message = fields[i].value;
		else if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 &&
			fields[i].length < 0)
			domain = fields[i].value;
	}
	if (!message)
		return G_LOG_WRITER_UNHANDLED;
	if (level & G_LOG_LEVEL_DEBUG)
		return G_LOG_WRITER_HANDLED;
	if ((level & G_LOG_LEVEL_INFO) && !g_getenv("ZS_DEBUG"))
		return G_LOG_WRITER_HANDLED;
	bool ours = !domain || strcmp(domain, ZS_PROCESS_LOG_DOMAIN) == 0;

	GString *line = g_string_sized_new(128);
	if (log_json) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		char when[40];
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		g_string_append_printf(line, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\","
			"\"pid\":%ld,\"domain\":", when, ts.tv_nsec / 1000000,
			level_name(level), (long)getpid());
		json_escape(line, domain ? domain : ZS_PROCESS_LOG_DOMAIN);
		g_string_append(line, ",\"message\":");
		json_escape(line, message);
		g_string_append(line, "}\n");
	} else {
		const char *what = "";
		if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
			what = "error: ";
		else if (level & G_LOG_LEVEL_WARNING)
			what = "warning: ";
		g_string_append_printf(line, "zerospice: %s%s%s%s\n", what,
			ours ? "" : domain, ours ? "" : ": ", message);
	}
	/* one write per line: lines from threads do not interleave */
	ssize_t n = write(STDERR_FILENO, line->str, line->len);
	(void)n;
	g_string_free(line, TRUE);
	return G_LOG_WRITER_HANDLED;
}

void zs_log_setup(bool json)
{
	static bool installed; /* GLib takes one writer per process */
	log_json = json;
	if (!installed)
		g_log_set_writer_func(log_writer, NULL, NULL);
	installed = true;
}

/* ---- --print-capabilities ---- */

static void append_codecs(GString *s, uint32_t mask)
{
	bool first = true;
	g_string_append_c(s, '[');
	for (int c = 1; c < ZS_CODEC_COUNT; c++) {
		if (!(mask & ZS_CODEC_BIT(c)))
			continue;
		g_string_append_printf(s, "%s\"%s\"", first ? "" : ",",
			zs_codec_name((enum zs_codec)c));
		first = false;
	}
	g_string_append_c(s, ']');
}

static void append_encoders(GString *s, enum zs_encoder_backend backend,
	uint32_t mask)
{
	bool first = true;
	g_string_append_c(s, '{');
	for (int c = 1; c < ZS_CODEC_COUNT; c++) {
		if (!(mask & ZS_CODEC_BIT(c)))
			continue;
		const char *el = zs_encoder_element_name(backend, (enum zs_codec)c);
		g_string_append_printf(s, "%s\"%s\":", first ? "" : ",",
			zs_codec_name((enum zs_codec)c));
		json_escape(s, el ? el : "");
		first = false;
	}
	g_string_append_c(s, '}');
}

char *zs_capabilities_json(void)
{
	uint32_t sw = zs_encoder_probe(ZS_ENCODER_SOFTWARE);
	uint32_t va = zs_encoder_probe(ZS_ENCODER_VAAPI);
	GString *s = g_string_new("{\"name\":\"zerospice\",\"version\":");
	json_escape(s, ZS_VERSION);
	g_string_append(s, ",\"features\":[\"dbus-address\",\"bus-name\","
		"\"control-socket\",\"pidfile\",\"ready-fd\",\"sd-notify\","
		"\"socket-activation\",\"log-json\",\"config-file\",\"tls\","
		"\"reconnect\",\"add-client\",\"ticket-expiry\",\"connection-file\"]");
	g_string_append_printf(s, ",\"control_api\":{\"interface\":\"%s\","
		"\"path\":\"%s\",\"version\":%d,\"bus_name\":\"%s\"}",
		ZS_CONTROL_INTERFACE, ZS_CONTROL_PATH, ZS_CONTROL_API_VERSION,
		ZS_CONTROL_DEFAULT_BUS_NAME);
	g_string_append(s, ",\"sources\":[\"testpattern\",\"qemu\"]"
		",\"qemu_connections\":[\"qmp\",\"bus\",\"dbus-fd\"]");
	g_string_append(s, ",\"codecs\":");
	append_codecs(s, sw | va);
	g_string_append(s, ",\"encoders\":{\"software\":");
	append_encoders(s, ZS_ENCODER_SOFTWARE, sw);
	g_string_append(s, ",\"vaapi\":");
	append_encoders(s, ZS_ENCODER_VAAPI, va);
	g_string_append_printf(s, "},\"vaapi\":%s}\n", va ? "true" : "false");
	return g_string_free(s, FALSE);
}

void zs_log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* straight to the writer: a runtime error is not a GLib critical
	 * (G_DEBUG=fatal-criticals must not turn it into a trap) */
	const GLogField fields[] = {
		{ "MESSAGE", msg, -1 },
		{ "GLIB_DOMAIN", ZS_PROCESS_LOG_DOMAIN, -1 },
	};
	log_writer(G_LOG_LEVEL_CRITICAL, fields, G_N_ELEMENTS(fields), NULL);
	g_free(msg);
}
