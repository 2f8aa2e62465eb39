/* zerospice tests — the QMP exchange against scripted fake QMP servers on a
 * unix socket: replies matched by id, errors that mention "return", events,
 * silence, endless lines, a full backlog and a peer of another uid; the
 * main loop keeps running all along. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "qemu-private.h"

/* ---- a scripted QMP server, one connection, on its own thread */

struct script {
	const char *greeting;       /* NULL: accept and say nothing */
	const char *const *answers; /* per command; "%ID%" becomes its id */
	int listen_fd;
	char path[108];
	char dir[64];
	GThread *thread;
	bool got_fd;
	char received[2048];
};

static char *with_id(const char *answer, const char *cmd)
{
	const char *id = strstr(cmd, "\"id\": \"");
	char idbuf[64] = "";

	if (id) {
		id += 7;
		const char *end = strchr(id, '"');
		if (end && (size_t)(end - id) < sizeof(idbuf))
			memcpy(idbuf, id, (size_t)(end - id));
	}
	GString *s = g_string_new(answer);
	g_string_replace(s, "%ID%", idbuf, 0);
	return g_string_free(s, FALSE);
}

static gpointer serve(gpointer data)
{
	struct script *s = data;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	size_t len = 0;

	if (fd < 0)
		return NULL;
	if (!s->greeting)
		goto hold;
	if (write(fd, s->greeting, strlen(s->greeting)) < 0)
		goto out;
	for (int i = 0; s->answers && s->answers[i]; i++) {
		char line[1024];
		size_t line_len = 0;
		for (;;) {
			char buf[512];
			union {
				char c[CMSG_SPACE(sizeof(int))];
				struct cmsghdr a;
			} u;
			struct iovec iov = { buf, sizeof(buf) - 1 };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				.msg_control = u.c, .msg_controllen = sizeof(u.c) };
			ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
			if (n <= 0)
				goto out;
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			if (c && c->cmsg_type == SCM_RIGHTS) {
				int pfd;
				memcpy(&pfd, CMSG_DATA(c), sizeof(pfd));
				close(pfd);
				s->got_fd = true;
			}
			if (len + (size_t)n < sizeof(s->received)) {
				memcpy(s->received + len, buf, (size_t)n);
				len += (size_t)n;
			}
			if (line_len + (size_t)n < sizeof(line)) {
				memcpy(line + line_len, buf, (size_t)n);
				line_len += (size_t)n;
			}
			if (memchr(buf, '\n', (size_t)n))
				break;
		}
		line[line_len] = '\0';
		char *answer = with_id(s->answers[i], line);
		ssize_t w = write(fd, answer, strlen(answer));
		g_free(answer);
		if (w < 0)
			goto out;
	}
hold:
	/* Keep the connection until the client goes. */
	{
		char c;
		while (read(fd, &c, 1) > 0)
			;
	}
out:
	close(fd);
	return NULL;
}

static int listen_at(struct script *s, int backlog)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	g_strlcpy(s->dir, "/tmp/zs-qmp-XXXXXX", sizeof(s->dir));
	cr_assert_not_null(g_mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/qmp.sock", s->dir);
	strcpy(addr.sun_path, s->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	cr_assert(listen(fd, backlog) == 0);
	return fd;
}

static void script_start(struct script *s)
{
	s->listen_fd = listen_at(s, 4);
	s->thread = g_thread_new("fake-qmp", serve, s);
}

static void script_stop(struct script *s)
{
	/* Wakes an accept() that never got a client. */
	shutdown(s->listen_fd, SHUT_RDWR);
	if (s->thread)
		g_thread_join(s->thread);
	close(s->listen_fd);
	unlink(s->path);
	rmdir(s->dir);
}

/* ---- running one exchange */

struct result {
	bool done;
	int dbus_fd;
	char err[256];
	int ticks; /* main-loop timer ticks while waiting */
};

static void on_done(void *data, int dbus_fd, const char *err)
{
	struct result *r = data;

	r->done = true;
	r->dbus_fd = dbus_fd;
	g_strlcpy(r->err, err ? err : "", sizeof(r->err));
}

static gboolean tick(gpointer data)
{
	((struct result *)data)->ticks++;
	return G_SOURCE_CONTINUE;
}

static bool result_done(void *data)
{
	return ((struct result *)data)->done;
}

#define GREETING "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n"

static bool run(struct script *s, int timeout_ms, struct result *r)
{
	struct zs_qemu_qmp *q = NULL;
	char err[256] = "";
	guint t;

	memset(r, 0, sizeof(*r));
	r->dbus_fd = -1;
	script_start(s);
	int64_t t0 = g_get_monotonic_time();
	int rc = zs_qemu_qmp_start(s->path, -1, timeout_ms, on_done, r, &q,
		err, sizeof(err));
	cr_assert_eq(rc, 0, "start: %s", err);
	cr_assert(g_get_monotonic_time() - t0 < 100 * 1000,
		"zs_qemu_qmp_start blocked");
	t = g_timeout_add(10, tick, r);
	cr_assert(loop_until(result_done, r, timeout_ms + 3000), "no result");
	g_source_remove(t);
	zs_qemu_qmp_free(q);
	script_stop(s);
	if (r->dbus_fd >= 0)
		close(r->dbus_fd);
	return r->err[0] == '\0';
}

Test(qemu_qmp, add_client_passes_the_fd_matching_replies_by_id)
{
	static const char *const answers[] = {
		/* a stray reply, an event, then ours */
		"{\"return\": {}, \"id\": \"someone-else\"}\r\n"
		"{\"timestamp\": {}, \"event\": \"RESUME\"}\r\n"
		"{\"return\": {}, \"id\": \"%ID%\"}\r\n",
		"{\"return\": {}, \"id\": \"%ID%\"}\r\n",
		"{\"error\": {\"desc\": \"not ours\"}, \"id\": \"x\"}\r\n"
		"{\"return\": {}, \"id\": \"%ID%\"}\r\n",
		NULL,
	};
	struct script s = { .greeting = GREETING, .answers = answers };
	struct result r;

	cr_assert(run(&s, 2000, &r), "%s", r.err);
	cr_assert(s.got_fd);
	cr_assert(strstr(s.received, "qmp_capabilities"));
	cr_assert(strstr(s.received, "\"getfd\""));
	cr_assert(strstr(s.received, "\"add_client\""));
	cr_assert(strstr(s.received, "@dbus-display"));
}

Test(qemu_qmp, an_error_that_says_return_is_an_error)
{
	static const char *const answers[] = {
		"{\"return\": {}, \"id\": \"%ID%\"}\r\n",
		"{\"return\": {}, \"id\": \"%ID%\"}\r\n",
		"{\"error\": {\"class\": \"GenericError\", \"desc\": "
			"\"\\\"return\\\": cannot return a display\"}, "
			"\"id\": \"%ID%\"}\r\n",
		NULL,
	};
	struct script s = { .greeting = GREETING, .answers = answers };
	struct result r;

	cr_assert(!run(&s, 2000, &r));
	printf("error: %s\n", r.err);
	cr_assert(strstr(r.err, "add-client"), "%s", r.err);
	cr_assert(strstr(r.err, "cannot return a display"), "%s", r.err);
}

Test(qemu_qmp, a_peer_that_never_greets_times_out_without_blocking)
{
	struct script s = { .greeting = NULL };
	struct result r;
	int64_t t0 = g_get_monotonic_time();

	cr_assert(!run(&s, 400, &r));
	int64_t ms = (g_get_monotonic_time() - t0) / 1000;
	printf("silent peer: %s after %" G_GINT64_FORMAT " ms, %d loop ticks\n",
		r.err, ms, r.ticks);
	cr_assert(strstr(r.err, "greeting"), "%s", r.err);
	cr_assert(ms < 2000);
	/* the loop ran all along: ~40 ticks of 10 ms */
	cr_assert_gt(r.ticks, 10, "the main loop was blocked");
}

Test(qemu_qmp, garbage_and_endless_lines_are_refused)
{
	static const char *const garbage[] = { "\x01\x02 not json\n", NULL };
	struct script s = { .greeting = GREETING, .answers = garbage };
	struct result r;

	cr_assert(!run(&s, 2000, &r));
	cr_assert(strstr(r.err, "not a QMP message"), "%s", r.err);

	/* 100 KiB without a newline */
	char *endless = g_strnfill(100 * 1024, 'x');
	const char *const long_answers[] = { endless, NULL };
	struct script s2 = { .greeting = GREETING, .answers = long_answers };
	cr_assert(!run(&s2, 2000, &r));
	cr_assert(strstr(r.err, "longer than"), "%s", r.err);
	g_free(endless);

	/* deep nesting, which json-glib would recurse into */
	GString *deep = g_string_new(NULL);
	for (int i = 0; i < 10000; i++)
		g_string_append_c(deep, '[');
	g_string_append_c(deep, '\n');
	const char *const deep_answers[] = { deep->str, NULL };
	struct script s3 = { .greeting = GREETING, .answers = deep_answers };
	cr_assert(!run(&s3, 2000, &r));
	g_string_free(deep, TRUE);
}

Test(qemu_qmp, a_full_backlog_is_not_listening_yet)
{
	struct script s = { 0 };
	int fds[64], n = 0;
	char err[256] = "";
	struct zs_qemu_qmp *q = NULL;
	struct result r = { 0 };

	s.listen_fd = listen_at(&s, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, s.path);
	/* Fill the backlog: nobody accepts. */
	for (; n < 64; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
			SOCK_NONBLOCK, 0);
		if (connect(fds[n], (struct sockaddr *)&addr,
				sizeof(addr)) < 0) {
			close(fds[n]);
			break;
		}
	}
	cr_assert_lt(n, 64, "the backlog never filled");
	int64_t t0 = g_get_monotonic_time();
	int rc = zs_qemu_qmp_start(s.path, -1, 1000, on_done, &r, &q, err,
		sizeof(err));
	int64_t ms = (g_get_monotonic_time() - t0) / 1000;
	printf("full backlog: %s after %" G_GINT64_FORMAT " ms\n", err, ms);
	cr_assert_eq(rc, -EAGAIN, "%d %s", rc, err);
	cr_assert(ms < 100, "connect blocked for %" G_GINT64_FORMAT " ms", ms);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(s.listen_fd);
	unlink(s.path);
	rmdir(s.dir);
}

/* A QMP socket made by another user (nobody) in a child process. */
Test(qemu_qmp, a_qmp_socket_of_another_uid_is_refused)
{
	struct script s = { 0 };
	char err[256] = "";
	struct zs_qemu_qmp *q = NULL;
	struct result r = { 0 };
	const uid_t nobody = 65534;
	int ready[2];

	if (geteuid() != 0) {
		/* Cannot become another user: the check is still exercised
		 * against our own uid below. */
		printf("not root: only the same-uid case runs\n");
	}
	g_strlcpy(s.dir, "/tmp/zs-qmp-XXXXXX", sizeof(s.dir));
	cr_assert_not_null(g_mkdtemp(s.dir));
	cr_assert(chmod(s.dir, 0777) == 0);
	snprintf(s.path, sizeof(s.path), "%s/qmp.sock", s.dir);
	cr_assert(pipe2(ready, O_CLOEXEC) == 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		if (geteuid() == 0 && (setgid(nobody) < 0 ||
				setuid(nobody) < 0))
			_exit(1);
		strcpy(addr.sun_path, s.path);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&addr,
				sizeof(addr)) < 0 || listen(fd, 4) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1, "the child could not listen");
	close(ready[0]);

	int rc = zs_qemu_qmp_start(s.path, -1, 1000, on_done, &r, &q, err,
		sizeof(err));
	if (geteuid() == 0) {
		printf("other uid: %s\n", err);
		cr_assert_eq(rc, -EPERM, "%d %s", rc, err);
		cr_assert(strstr(err, "65534"), "%s", err);
		cr_assert_null(q);
		/* Allowed on purpose (--qemu-uid). */
		rc = zs_qemu_qmp_start(s.path, nobody, 1000, on_done, &r, &q,
			err, sizeof(err));
	}
	cr_assert_eq(rc, 0, "%s", err);
	zs_qemu_qmp_free(q);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(s.path);
	rmdir(s.dir);
}

/* ---- the source on a silent QMP peer: closes with the reason */

static void src_closed(void *data, const char *reason)
{
	struct result *r = data;

	r->done = true;
	g_strlcpy(r->err, reason, sizeof(r->err));
}

static const struct zs_source_events src_events = { .closed = src_closed };

Test(qemu_qmp, a_source_on_a_silent_qmp_peer_closes_and_the_loop_runs)
{
	struct script s = { .greeting = NULL };
	struct result r = { 0 };
	char err[256];

	script_start(&s);
	struct zs_qemu_options opts = { .qmp_path = s.path, .dbus_fd = -1,
		.connect_timeout_ms = 500 };
	struct zs_source *src = zs_qemu_source_create(&opts, &src_events, &r,
		err, sizeof(err));
	cr_assert_not_null(src, "%s", err);
	guint t = g_timeout_add(10, tick, &r);
	cr_assert(loop_until(result_done, &r, 5000));
	g_source_remove(t);
	printf("closed: %s (%d ticks)\n", r.err, r.ticks);
	cr_assert(strstr(r.err, "greeting"), "%s", r.err);
	cr_assert_gt(r.ticks, 10);
	zs_source_destroy(src);
	script_stop(&s);
}
