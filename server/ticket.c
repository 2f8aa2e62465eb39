/* The SPICE ticket: reading the file, the one ticket in force, its expiry.
 * spice-server keeps its own copy (spice_server_set_ticket); ours is the
 * only other one and is wiped whenever it changes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "ticket.h"

/* How long a FIFO may take to deliver the whole ticket. */
#define FIFO_DEADLINE_MS 5000

static struct {
	char *path;
	uint32_t expiry_s;
	bool required;      /* a ticket was set at least once */
	bool expired;       /* zs_ticket_expire() */
	gint64 expires_us;  /* monotonic; 0 = never */
	char text[ZS_TICKET_MAX_BYTES + 1];
	zs_ticket_apply_fn apply;
	void *apply_data;
} ticket;

static bool fail(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return false;
}

bool zs_ticket_parse(const uint8_t *buf, size_t len,
	char out[ZS_TICKET_MAX_BYTES + 1], char *err, size_t err_len)
{
	out[0] = '\0';
	if (len > ZS_TICKET_FILE_MAX_BYTES)
		return fail(err, err_len, "is larger than %d bytes",
			ZS_TICKET_FILE_MAX_BYTES);
	if (len && memchr(buf, '\0', len))
		return fail(err, err_len, "contains a NUL byte");
	size_t line = 0;
	while (line < len && buf[line] != '\n' && buf[line] != '\r')
		line++;
	if (line < len && buf[line] == '\r' &&
		(line + 1 == len || buf[line + 1] != '\n'))
		return fail(err, err_len,
			"has a carriage return that does not end a line");
	if (line == 0)
		return fail(err, err_len, "is empty");
	if (line > ZS_TICKET_MAX_BYTES)
		return fail(err, err_len, "holds a ticket longer than %d bytes",
			ZS_TICKET_MAX_BYTES);
	memcpy(out, buf, line);
	out[line] = '\0';
	return true;
}

/* Reads fd to its end (a FIFO may deliver in parts) into buf. */
static bool read_all(int fd, uint8_t *buf, size_t cap, size_t *len,
	char *err, size_t err_len)
{
	gint64 deadline = g_get_monotonic_time() + FIFO_DEADLINE_MS * 1000;
	*len = 0;
	for (;;) {
		gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
		if (left_ms <= 0)
			return fail(err, err_len,
				"did not reach its end within %d ms", FIFO_DEADLINE_MS);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, (int)left_ms);
		if (rc < 0 && errno != EINTR)
			return fail(err, err_len, "poll: %s", strerror(errno));
		if (rc <= 0)
			continue;
		/* one byte over the limit tells a too-large file apart */
		ssize_t n = read(fd, buf + *len, cap - *len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return fail(err, err_len, "%s", strerror(errno));
		}
		if (n == 0)
			return true;
		*len += (size_t)n;
		if (*len == cap)
			return true;
	}
}

bool zs_ticket_read_file(const char *path, char out[ZS_TICKET_MAX_BYTES + 1],
	char *err, size_t err_len)
{
	uint8_t buf[ZS_TICKET_FILE_MAX_BYTES + 1];
	char why[200];
	size_t len = 0;
	bool ok = false;
	struct stat st;

	out[0] = '\0';
	/* O_NONBLOCK: opening a FIFO must not wait for its writer here */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(err, err_len, "cannot read ticket file %s: %s", path,
			strerror(errno));
	if (fstat(fd, &st) < 0) {
		fail(err, err_len, "cannot read ticket file %s: %s", path,
			strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		fail(err, err_len,
			"ticket file %s is not a regular file or a FIFO", path);
		goto out;
	}
	if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
		fail(err, err_len,
			"ticket file %s may be read or written by other users "
			"(mode %04o): make it readable by its owner only "
			"(chmod 600)", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (!read_all(fd, buf, sizeof(buf), &len, why, sizeof(why))) {
		fail(err, err_len, "cannot read ticket file %s: %s", path, why);
		goto out;
	}
	if (!zs_ticket_parse(buf, len, out, why, sizeof(why))) {
		fail(err, err_len, "ticket file %s %s", path, why);
		goto out;
	}
	ok = true;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ok;
}

static void apply(void)
{
	if (!ticket.apply)
		return;
	if (!ticket.required) {
		ticket.apply(ticket.apply_data, NULL, 0);
	} else if (zs_ticket_expired()) {
		/* spice-server has no "expire now": a ticket nobody knows */
		uint8_t rnd[ZS_TICKET_MAX_BYTES / 2];
		char text[ZS_TICKET_MAX_BYTES + 1];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			/* cannot happen after boot; still, never a known one */
			for (size_t i = 0; i < sizeof(rnd); i++)
				rnd[i] = (uint8_t)g_random_int();
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(text + 2 * i, 3, "%02x", rnd[i]);
		ticket.apply(ticket.apply_data, text, 0);
		explicit_bzero(rnd, sizeof(rnd));
		explicit_bzero(text, sizeof(text));
	} else {
		/* what is left of the lifetime: applied again (DisconnectClients)
		 * it must not start over */
		uint32_t left = 0;
		if (ticket.expires_us) {
			gint64 us = ticket.expires_us - g_get_monotonic_time();
			left = (uint32_t)((us + G_USEC_PER_SEC - 1) /
				G_USEC_PER_SEC);
		}
		ticket.apply(ticket.apply_data, ticket.text, left);
	}
}

static bool store(const char *text, uint32_t expiry_s, char *err,
	size_t err_len)
{
	size_t len = strlen(text);
	if (len == 0 || len > ZS_TICKET_MAX_BYTES)
		return fail(err, err_len, "a ticket is 1..%d bytes",
			ZS_TICKET_MAX_BYTES);
	/* a core dump would hold the ticket */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		g_warning("ticket: cannot turn core dumps off: %s",
			g_strerror(errno));
	explicit_bzero(ticket.text, sizeof(ticket.text));
	memcpy(ticket.text, text, len);
	ticket.required = true;
	ticket.expired = false;
	ticket.expiry_s = expiry_s;
	ticket.expires_us = expiry_s ?
		g_get_monotonic_time() + (gint64)expiry_s * G_USEC_PER_SEC : 0;
	return true;
}

bool zs_ticket_init(const char *path, uint32_t expiry_s, char *err,
	size_t err_len)
{
	char text[ZS_TICKET_MAX_BYTES + 1];
	zs_ticket_finish();
	ticket.expiry_s = expiry_s;
	if (!path)
		return true;
	if (!zs_ticket_read_file(path, text, err, err_len))
		return false;
	bool ok = store(text, expiry_s, err, err_len);
	explicit_bzero(text, sizeof(text));
	if (ok)
		ticket.path = g_strdup(path);
	return ok;
}

void zs_ticket_bind(zs_ticket_apply_fn fn, void *data)
{
	ticket.apply = fn;
	ticket.apply_data = data;
	apply();
}

bool zs_ticket_set(const char *text, uint32_t expiry_s, char *err,
	size_t err_len)
{
	if (!text || !store(text, expiry_s, err, err_len))
		return text ? false : fail(err, err_len, "no ticket given");
	apply();
	g_message("ticket: a new ticket is in force%s",
		expiry_s ? "" : " (no expiry)");
	return true;
}

void zs_ticket_expire(void)
{
	if (!ticket.required)
		return;
	explicit_bzero(ticket.text, sizeof(ticket.text));
	ticket.expired = true;
	ticket.expires_us = 0;
	apply();
	g_message("ticket: expired; new clients are refused until a new one "
		"is set");
}

bool zs_ticket_reload_file(char *err, size_t err_len)
{
	char text[ZS_TICKET_MAX_BYTES + 1];
	if (!ticket.path)
		return fail(err, err_len, "no --ticket-file to read again");
	if (!zs_ticket_read_file(ticket.path, text, err, err_len))
		return false;
	bool ok = zs_ticket_set(text, ticket.expiry_s, err, err_len);
	explicit_bzero(text, sizeof(text));
	return ok;
}

void zs_ticket_reapply(void)
{
	apply();
}

const char *zs_ticket_text(void)
{
	return zs_ticket_expired() ? NULL : ticket.required ? ticket.text : NULL;
}

bool zs_ticket_required(void)
{
	return ticket.required;
}

bool zs_ticket_expired(void)
{
	if (!ticket.required)
		return false;
	if (ticket.expired)
		return true;
	return ticket.expires_us && g_get_monotonic_time() >= ticket.expires_us;
}

void zs_ticket_finish(void)
{
	g_free(ticket.path);
	explicit_bzero(&ticket, sizeof(ticket));
}
