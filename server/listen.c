/* The listening sockets. zerospice owns them (spice-server gets none) and
 * hands every accepted connection to spice-server from the main loop. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

#include "internal.h"

#define MAX_LISTEN_FDS 8
#define LISTEN_BACKLOG 16
/* Out of fds (or memory): stop accepting this long. */
#define ACCEPT_PAUSE_MS 1000

struct zs_listener {
	int fds[MAX_LISTEN_FDS];
	guint watches[MAX_LISTEN_FDS];
	int n_fds;
	char *unix_path;
	zs_accept_fn accept_cb;
	void *data;
	/* An fd held in reserve: given up to accept and close one waiting
	 * connection when the process is out of fds, so that client learns
	 * at once instead of waiting in the backlog. */
	int spare_fd;
	guint pause;
	uint64_t shed;
};

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data);

static void watch_all(struct zs_listener *l)
{
	for (int i = 0; i < l->n_fds; i++)
		if (!l->watches[i])
			l->watches[i] = g_unix_fd_add(l->fds[i], G_IO_IN,
				on_accept, l);
}

static void unwatch_all(struct zs_listener *l)
{
	for (int i = 0; i < l->n_fds; i++) {
		if (l->watches[i])
			g_source_remove(l->watches[i]);
		l->watches[i] = 0;
	}
}

static gboolean on_pause_end(gpointer data)
{
	struct zs_listener *l = data;
	l->pause = 0;
	if (l->spare_fd < 0)
		l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	watch_all(l);
	return G_SOURCE_REMOVE;
}

/* accept failed for want of fds or memory: the loop would spin on the
 * waiting connection. Shed one with the spare fd, stop accepting for a
 * while, say so once per pause. */
static void pause_accepting(struct zs_listener *l, int fd, int err)
{
	if (l->spare_fd >= 0) {
		close(l->spare_fd);
		l->spare_fd = -1;
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd >= 0) {
			close(cfd);
			l->shed++;
		}
	}
	g_warning("accept: %s; not accepting connections for %d ms (%"
		G_GUINT64_FORMAT " shed so far)", g_strerror(err),
		ACCEPT_PAUSE_MS, l->shed);
	unwatch_all(l);
	l->pause = g_timeout_add(ACCEPT_PAUSE_MS, on_pause_end, l);
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
	struct zs_listener *l = data;
	/* Accept everything that is waiting; an error on one connection
	 * (a client that reset before we got to it) must not stop listening. */
	for (int i = 0; i < 64; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			if (errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
				errno == ENOBUFS || errno == ENOMEM) {
				pause_accepting(l, fd, errno);
				return G_SOURCE_CONTINUE; /* removed: no spin */
			}
			g_warning("accept: %s", g_strerror(errno));
			break;
		}
		l->accept_cb(cfd, l->data);
		if (l->pause)
			break;
	}
	return G_SOURCE_CONTINUE;
}

static bool add_fd(struct zs_listener *l, int fd)
{
	if (l->n_fds == MAX_LISTEN_FDS) {
		close(fd);
		return false;
	}
	l->fds[l->n_fds] = fd;
	l->watches[l->n_fds] = g_unix_fd_add(fd, G_IO_IN, on_accept, l);
	l->n_fds++;
	return true;
}

static int listen_unix(struct zs_listener *l, const char *path,
	unsigned mode, char *err, size_t err_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_len, "unix socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_len, "socket: %s", g_strerror(e));
		return -e;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		/* a stale socket from a previous run, unless someone answers */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0) {
			bool alive = connect(probe, (struct sockaddr *)&addr,
				sizeof(addr)) == 0;
			close(probe);
			if (alive) {
				close(fd);
				snprintf(err, err_len,
					"cannot listen on unix:%s: another server is listening there",
					path);
				return -EADDRINUSE;
			}
			unlink(path);
		}
	}
	/* The mode is set before listen(): until then nobody can connect, so
	 * no one slips in under the umask's mode. */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
		chmod(path, mode) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, err_len, "cannot listen on unix:%s: %s", path,
			g_strerror(e));
		return -e;
	}
	l->unix_path = g_strdup(path);
	add_fd(l, fd);
	return 0;
}

static int listen_tcp(struct zs_listener *l, const char *host, uint16_t port,
	uint16_t *bound_port, char *err, size_t err_len)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG,
	};
	char port_str[8];
	snprintf(port_str, sizeof(port_str), "%u", port);
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, port_str, &hints, &res);
	if (rc != 0) {
		snprintf(err, err_len, "cannot resolve %s: %s", host,
			gai_strerror(rc));
		return -EINVAL;
	}
	int last_errno = 0;
	*bound_port = port;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family,
			ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		/* with port 0, every address family shares the first free port */
		if (*bound_port != 0) {
			if (ai->ai_family == AF_INET)
				((struct sockaddr_in *)ai->ai_addr)->sin_port =
					htons(*bound_port);
			else if (ai->ai_family == AF_INET6)
				((struct sockaddr_in6 *)ai->ai_addr)->sin6_port =
					htons(*bound_port);
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
			listen(fd, LISTEN_BACKLOG) < 0) {
			last_errno = errno;
			close(fd);
			continue;
		}
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			*bound_port = ntohs(ss.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
		add_fd(l, fd);
	}
	freeaddrinfo(res);
	if (l->n_fds == 0) {
		snprintf(err, err_len, "cannot listen on %s:%u: %s", host, port,
			g_strerror(last_errno ? last_errno : EADDRNOTAVAIL));
		return -(last_errno ? last_errno : EADDRNOTAVAIL);
	}
	return 0;
}

struct zs_listener *zs_listener_create(const char *host, uint16_t port,
	const char *unix_path, unsigned unix_mode, zs_accept_fn accept_cb,
	void *data, char *bound_desc, size_t desc_len, char *err,
	size_t err_len)
{
	struct zs_listener *l = g_new0(struct zs_listener, 1);
	l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	l->accept_cb = accept_cb;
	l->data = data;
	int rc;
	if (unix_path) {
		rc = listen_unix(l, unix_path, unix_mode, err, err_len);
		if (rc == 0)
			snprintf(bound_desc, desc_len, "unix:%s", unix_path);
	} else {
		uint16_t bound_port;
		rc = listen_tcp(l, host, port, &bound_port, err, err_len);
		if (rc == 0)
			snprintf(bound_desc, desc_len,
				strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
				bound_port);
	}
	if (rc < 0) {
		zs_listener_destroy(l);
		return NULL;
	}
	return l;
}

void zs_listener_destroy(struct zs_listener *l)
{
	if (!l)
		return;
	unwatch_all(l);
	for (int i = 0; i < l->n_fds; i++)
		close(l->fds[i]);
	if (l->pause)
		g_source_remove(l->pause);
	if (l->spare_fd >= 0)
		close(l->spare_fd);
	if (l->unix_path) {
		unlink(l->unix_path);
		g_free(l->unix_path);
	}
	g_free(l);
}
