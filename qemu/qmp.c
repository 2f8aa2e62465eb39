/* zerospice — the QMP exchange that hands QEMU a D-Bus display socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qemu-private.h"

#define QMP_LINE_MAX 65536
#define QMP_FDNAME "zerospice-dbus"

int zs_qemu_qmp_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

struct qmp_reader {
	int fd;
	int64_t deadline_us;
	char buf[QMP_LINE_MAX];
	size_t len;
};

static bool set_err(char *err, size_t err_len, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static bool set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Reads one line (without the newline) into line. */
static bool qmp_read_line(struct qmp_reader *r, char *line, size_t line_len,
	char *err, size_t err_len)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		if (nl) {
			size_t n = (size_t)(nl - r->buf);
			size_t copy = n < line_len - 1 ? n : line_len - 1;
			memcpy(line, r->buf, copy);
			line[copy] = '\0';
			memmove(r->buf, nl + 1, r->len - n - 1);
			r->len -= n + 1;
			return true;
		}
		if (r->len == sizeof(r->buf))
			return set_err(err, err_len, "QMP line longer than %d "
				"bytes", QMP_LINE_MAX);

		int64_t left_us = r->deadline_us - g_get_monotonic_time();
		if (left_us <= 0)
			return set_err(err, err_len, "QMP: no answer in time");
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int rc = poll(&pfd, 1, (int)((left_us + 999) / 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return set_err(err, err_len, "QMP poll: %s",
				strerror(errno));
		if (rc == 0)
			continue;
		ssize_t got = recv(r->fd, r->buf + r->len,
			sizeof(r->buf) - r->len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return set_err(err, err_len, "QMP read: %s",
				strerror(errno));
		if (got == 0)
			return set_err(err, err_len, "QMP: QEMU closed the "
				"connection");
		r->len += (size_t)got;
	}
}

/* Waits for the answer to the last command: {"return": ...} or
 * {"error": {"class": ..., "desc": ...}}; skips {"event": ...} lines. */
static bool qmp_wait_return(struct qmp_reader *r, const char *what, char *err,
	size_t err_len)
{
	char line[1024];

	for (;;) {
		if (!qmp_read_line(r, line, sizeof(line), err, err_len))
			return false;
		if (strstr(line, "\"event\""))
			continue;
		if (strstr(line, "\"return\""))
			return true;
		if (strstr(line, "\"error\"")) {
			const char *desc = strstr(line, "\"desc\"");
			return set_err(err, err_len, "QMP %s failed: %s", what,
				desc ? desc : line);
		}
		/* Anything else (the greeting repeated, blank lines): skip. */
	}
}

static bool qmp_send(int fd, const char *cmd, int pass_fd, char *err,
	size_t err_len)
{
	size_t len = strlen(cmd), off = 0;

	while (off < len) {
		struct iovec iov = { .iov_base = (char *)cmd + off,
			.iov_len = len - off };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

		if (pass_fd >= 0 && off == 0) {
			memset(&u, 0, sizeof(u));
			msg.msg_control = u.buf;
			msg.msg_controllen = sizeof(u.buf);
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
		}
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return set_err(err, err_len, "QMP write: %s",
				strerror(errno));
		off += (size_t)n;
	}
	return true;
}

bool zs_qemu_qmp_add_client(int qmp_fd, int dbus_fd, int timeout_ms,
	char *err, size_t err_len)
{
	struct qmp_reader *r = g_new0(struct qmp_reader, 1);
	char line[1024];
	bool ok = false;

	r->fd = qmp_fd;
	r->deadline_us = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;

	if (!qmp_read_line(r, line, sizeof(line), err, err_len))
		goto out;
	if (!strstr(line, "\"QMP\"")) {
		set_err(err, err_len, "not a QMP greeting: %.80s", line);
		goto out;
	}
	if (!qmp_send(qmp_fd, "{\"execute\": \"qmp_capabilities\"}\n", -1,
			err, err_len) ||
	    !qmp_wait_return(r, "qmp_capabilities", err, err_len))
		goto out;
	if (!qmp_send(qmp_fd, "{\"execute\": \"getfd\", \"arguments\": "
			"{\"fdname\": \"" QMP_FDNAME "\"}}\n", dbus_fd, err,
			err_len) ||
	    !qmp_wait_return(r, "getfd", err, err_len))
		goto out;
	if (!qmp_send(qmp_fd, "{\"execute\": \"add_client\", \"arguments\": "
			"{\"protocol\": \"@dbus-display\", \"fdname\": \""
			QMP_FDNAME "\"}}\n", -1, err, err_len) ||
	    !qmp_wait_return(r, "add_client", err, err_len))
		goto out;
	ok = true;
out:
	g_free(r);
	return ok;
}
