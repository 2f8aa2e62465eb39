/* zerospice — the QMP exchange that hands QEMU a D-Bus display socket,
 * driven from the main loop without ever blocking on QEMU.
 *
 * QMP is one JSON object per line. Lines are bounded (QMP_LINE_MAX), parsed
 * with json-glib after a nesting check (its parser recurses), and replies are
 * matched to our commands by "id": an error whose text says "return" is an
 * error, and a stray reply is not an answer. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "qemu-private.h"

#define QMP_FDNAME "zerospice-dbus"
/* Deeper JSON is not QMP; bounds json-glib's recursion. */
#define QMP_MAX_DEPTH 32

/* ---- the reader: bytes → lines → messages */

void zs_qemu_qmp_reader_init(struct zs_qemu_qmp_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void zs_qemu_qmp_reader_finish(struct zs_qemu_qmp_reader *r)
{
	g_free(r->buf);
	r->buf = NULL;
	r->len = 0;
}

/* Nesting of [ and { outside strings, at most max; false when deeper. */
static bool depth_ok(const char *s, size_t len, int max)
{
	bool in_str = false, esc = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if ((c == '[' || c == '{') && ++depth > max)
			return false;
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
	}
	return true;
}

static void copy_str(char *dst, size_t dst_len, const char *src)
{
	g_strlcpy(dst, src ? src : "", dst_len);
}

bool zs_qemu_qmp_parse_line(const char *line, size_t len,
	struct zs_qemu_qmp_msg *msg)
{
	JsonParser *parser;
	JsonNode *root, *id;
	JsonObject *obj;
	bool ok = false;

	memset(msg, 0, sizeof(*msg));
	msg->kind = ZS_QMP_MSG_OTHER;
	if (len == 0 || !g_utf8_validate(line, (gssize)len, NULL) ||
	    !depth_ok(line, len, QMP_MAX_DEPTH))
		return false;
	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, line, (gssize)len, NULL))
		goto out;
	root = json_parser_get_root(parser);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root))
		goto out;
	obj = json_node_get_object(root);
	id = json_object_get_member(obj, "id");
	if (id && JSON_NODE_HOLDS_VALUE(id) &&
	    json_node_get_value_type(id) == G_TYPE_STRING)
		copy_str(msg->id, sizeof(msg->id), json_node_get_string(id));
	ok = true;
	if (json_object_has_member(obj, "QMP")) {
		msg->kind = ZS_QMP_MSG_GREETING;
	} else if (json_object_has_member(obj, "event")) {
		msg->kind = ZS_QMP_MSG_EVENT;
	} else if (json_object_has_member(obj, "error")) {
		JsonNode *e = json_object_get_member(obj, "error");
		msg->kind = ZS_QMP_MSG_ERROR;
		copy_str(msg->desc, sizeof(msg->desc), "(no description)");
		if (JSON_NODE_HOLDS_OBJECT(e)) {
			JsonObject *eo = json_node_get_object(e);
			JsonNode *d = json_object_get_member(eo, "desc");
			if (d && JSON_NODE_HOLDS_VALUE(d) &&
			    json_node_get_value_type(d) == G_TYPE_STRING)
				copy_str(msg->desc, sizeof(msg->desc),
					json_node_get_string(d));
		}
	} else if (json_object_has_member(obj, "return")) {
		msg->kind = ZS_QMP_MSG_RETURN;
	}
out:
	g_object_unref(parser);
	return ok;
}

int zs_qemu_qmp_reader_feed(struct zs_qemu_qmp_reader *r, const uint8_t *data,
	size_t len, zs_qemu_qmp_msg_fn cb, void *cb_data, char *err,
	size_t err_len)
{
	while (len > 0) {
		const uint8_t *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (r->len + take > ZS_QMP_LINE_MAX) {
			snprintf(err, err_len, "QMP line longer than %d bytes",
				ZS_QMP_LINE_MAX);
			return -EMSGSIZE;
		}
		if (!r->buf)
			r->buf = g_malloc(ZS_QMP_LINE_MAX + 1);
		memcpy(r->buf + r->len, data, take);
		r->len += take;
		data += take;
		len -= take;
		if (!nl)
			break;
		data++; /* the newline */
		len--;

		struct zs_qemu_qmp_msg msg;
		size_t n = r->len;
		r->len = 0;
		while (n > 0 && (r->buf[n - 1] == '\r' || r->buf[n - 1] == ' '))
			n--;
		if (n == 0)
			continue;
		if (!zs_qemu_qmp_parse_line(r->buf, n, &msg)) {
			snprintf(err, err_len, "not a QMP message: %.60s",
				g_utf8_validate(r->buf, (gssize)MIN(n, 60),
					NULL) ? r->buf : "(binary)");
			return -EPROTO;
		}
		int rc = cb(&msg, cb_data);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- peer credentials */

bool zs_qemu_peer_uid_ok(int fd, int64_t allowed_uid, char *why,
	size_t why_len)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		snprintf(why, why_len, "SO_PEERCRED: %s", strerror(errno));
		return false;
	}
	if (cred.uid == geteuid() || cred.uid == 0 ||
	    (allowed_uid >= 0 && (int64_t)cred.uid == allowed_uid))
		return true;
	snprintf(why, why_len, "the peer (pid %d) runs as uid %u, not as "
		"zerospice's uid %u, root%s", (int)cred.pid, (unsigned)cred.uid,
		(unsigned)geteuid(), allowed_uid >= 0 ?
		" or the --qemu-uid" : " (allow it with --qemu-uid UID)");
	return false;
}

/* ---- the exchange */

enum qmp_step {
	STEP_GREETING,
	STEP_CAPABILITIES,
	STEP_GETFD,
	STEP_ADD_CLIENT,
	STEP_DONE,
};

struct zs_qemu_qmp {
	int fd;
	int local_fd, remote_fd; /* the D-Bus socketpair: ours, QEMU's */
	enum qmp_step step;
	GMainContext *ctx;
	GSource *io, *out_src, *timer;
	struct zs_qemu_qmp_reader reader;
	GString *out;
	size_t out_pos;
	bool out_has_fd;
	zs_qemu_qmp_done_fn done;
	void *done_data;
	char err[256];
};

static const char *const step_ids[] = {
	[STEP_CAPABILITIES] = "zs-capabilities",
	[STEP_GETFD] = "zs-getfd",
	[STEP_ADD_CLIENT] = "zs-add-client",
};

static void clear_source(GSource **s)
{
	if (*s) {
		g_source_destroy(*s);
		g_source_unref(*s);
		*s = NULL;
	}
}

static void stop_sources(struct zs_qemu_qmp *q)
{
	clear_source(&q->io);
	clear_source(&q->out_src);
	clear_source(&q->timer);
}

/* Reports the end once; q must not be touched after (done may free it). */
static void finish(struct zs_qemu_qmp *q, bool ok)
{
	int fd = -1;

	stop_sources(q);
	q->step = STEP_DONE;
	if (ok) {
		fd = q->local_fd;
		q->local_fd = -1;
	}
	q->done(q->done_data, fd, ok ? NULL : q->err);
}

static void queue_cmd(struct zs_qemu_qmp *q, enum qmp_step step,
	const char *execute, const char *args, bool with_fd)
{
	g_string_append_printf(q->out, "{\"execute\": \"%s\", \"id\": \"%s\"%s%s"
		"}\n", execute, step_ids[step], args ? ", \"arguments\": " : "",
		args ? args : "");
	q->out_has_fd = with_fd;
	q->step = step;
}

/* Writes what it can without blocking; false on error. */
static bool flush_out(struct zs_qemu_qmp *q)
{
	while (q->out_pos < q->out->len) {
		struct iovec iov = { .iov_base = q->out->str + q->out_pos,
			.iov_len = q->out->len - q->out_pos };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

		if (q->out_has_fd) {
			memset(&u, 0, sizeof(u));
			msg.msg_control = u.buf;
			msg.msg_controllen = sizeof(u.buf);
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &q->remote_fd, sizeof(int));
		}
		ssize_t n = sendmsg(q->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0) {
			snprintf(q->err, sizeof(q->err), "QMP write: %s",
				strerror(errno));
			return false;
		}
		q->out_has_fd = false;
		q->out_pos += (size_t)n;
	}
	g_string_truncate(q->out, 0);
	q->out_pos = 0;
	return true;
}

static int on_msg(const struct zs_qemu_qmp_msg *msg, void *data)
{
	struct zs_qemu_qmp *q = data;

	if (q->step == STEP_GREETING) {
		if (msg->kind != ZS_QMP_MSG_GREETING) {
			snprintf(q->err, sizeof(q->err), "not a QMP greeting");
			return -EPROTO;
		}
		queue_cmd(q, STEP_CAPABILITIES, "qmp_capabilities", NULL,
			false);
		return 0;
	}
	if (msg->kind != ZS_QMP_MSG_RETURN && msg->kind != ZS_QMP_MSG_ERROR)
		return 0; /* events and the like */
	if (q->step >= STEP_DONE || strcmp(msg->id, step_ids[q->step]) != 0)
		return 0; /* not the answer to our command */
	if (msg->kind == ZS_QMP_MSG_ERROR) {
		snprintf(q->err, sizeof(q->err), "QMP %s failed: %s",
			step_ids[q->step] + 3, msg->desc);
		return -EIO;
	}
	switch (q->step) {
	case STEP_CAPABILITIES:
		queue_cmd(q, STEP_GETFD, "getfd",
			"{\"fdname\": \"" QMP_FDNAME "\"}", true);
		break;
	case STEP_GETFD:
		queue_cmd(q, STEP_ADD_CLIENT, "add_client",
			"{\"protocol\": \"@dbus-display\", \"fdname\": \""
			QMP_FDNAME "\"}", false);
		break;
	case STEP_ADD_CLIENT:
	default:
		q->step = STEP_DONE;
		return 1;
	}
	return 0;
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data);

/* Sends what is queued; what the socket does not take now waits for it to
 * become writable (our commands are small: in practice never). */
static bool send_pending(struct zs_qemu_qmp *q)
{
	if (!flush_out(q))
		return false;
	if (q->out->len && !q->out_src) {
		q->out_src = g_unix_fd_source_new(q->fd, G_IO_OUT);
		g_source_set_callback(q->out_src, G_SOURCE_FUNC(on_writable),
			q, NULL);
		g_source_attach(q->out_src, q->ctx);
	} else if (!q->out->len) {
		clear_source(&q->out_src);
	}
	return true;
}

static gboolean on_io(gint fd, GIOCondition cond, gpointer data)
{
	struct zs_qemu_qmp *q = data;
	uint8_t buf[4096];
	int rc = 0;

	if (cond & G_IO_IN) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			n = -1;
		} else if (n < 0) {
			snprintf(q->err, sizeof(q->err), "QMP read: %s",
				strerror(errno));
			goto fail;
		} else if (n == 0) {
			snprintf(q->err, sizeof(q->err), "QEMU closed the QMP "
				"connection");
			goto fail;
		}
		if (n > 0)
			rc = zs_qemu_qmp_reader_feed(&q->reader, buf,
				(size_t)n, on_msg, q, q->err, sizeof(q->err));
		if (rc < 0)
			goto fail;
		if (rc > 0) {
			finish(q, true);
			return G_SOURCE_REMOVE;
		}
	} else if (cond & (G_IO_HUP | G_IO_ERR)) {
		snprintf(q->err, sizeof(q->err), "QEMU closed the QMP "
			"connection");
		goto fail;
	}
	if (!send_pending(q))
		goto fail;
	return G_SOURCE_CONTINUE;

fail:
	finish(q, false);
	return G_SOURCE_REMOVE;
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data)
{
	struct zs_qemu_qmp *q = data;

	(void)fd;
	(void)cond;
	if (!send_pending(q)) {
		finish(q, false);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer data)
{
	struct zs_qemu_qmp *q = data;

	snprintf(q->err, sizeof(q->err), "QMP: no %s in time",
		q->step == STEP_GREETING ? "greeting" : "answer");
	finish(q, false);
	return G_SOURCE_REMOVE;
}

static int qmp_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Non-blocking: a QEMU whose backlog is full gives EAGAIN at once
	 * (retried like a socket not listening yet), never a wait. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		return e == EINPROGRESS ? -EAGAIN : -e;
	}
	return fd;
}

int zs_qemu_qmp_start(const char *path, int64_t allowed_uid, int timeout_ms,
	zs_qemu_qmp_done_fn done, void *data, struct zs_qemu_qmp **out,
	char *err, size_t err_len)
{
	struct zs_qemu_qmp *q;
	int fd, sv[2];

	*out = NULL;
	fd = qmp_connect(path);
	if (fd < 0) {
		snprintf(err, err_len, "%s", strerror(-fd));
		return fd;
	}
	if (!zs_qemu_peer_uid_ok(fd, allowed_uid, err, err_len)) {
		close(fd);
		return -EPERM;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;
		snprintf(err, err_len, "socketpair: %s", strerror(e));
		close(fd);
		return -e;
	}
	q = g_new0(struct zs_qemu_qmp, 1);
	q->fd = fd;
	q->local_fd = sv[0];
	q->remote_fd = sv[1];
	q->ctx = g_main_context_ref_thread_default();
	q->out = g_string_new(NULL);
	q->done = done;
	q->done_data = data;
	zs_qemu_qmp_reader_init(&q->reader);
	q->io = g_unix_fd_source_new(fd, G_IO_IN);
	g_source_set_callback(q->io, G_SOURCE_FUNC(on_io), q, NULL);
	g_source_set_name(q->io, "zerospice qmp");
	g_source_attach(q->io, q->ctx);
	q->timer = g_timeout_source_new((guint)timeout_ms);
	g_source_set_callback(q->timer, on_timeout, q, NULL);
	g_source_attach(q->timer, q->ctx);
	*out = q;
	return 0;
}

void zs_qemu_qmp_free(struct zs_qemu_qmp *q)
{
	if (!q)
		return;
	stop_sources(q);
	zs_qemu_qmp_reader_finish(&q->reader);
	g_string_free(q->out, TRUE);
	if (q->local_fd >= 0)
		close(q->local_fd);
	close(q->remote_fd);
	close(q->fd);
	g_main_context_unref(q->ctx);
	g_free(q);
}
