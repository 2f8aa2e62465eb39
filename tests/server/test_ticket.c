/* The ticket: the file parser and reader (what is refused and why), and
 * the state others drive (set, expire, reload). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ticket.h"

static char *write_temp(const char *content, size_t len, mode_t mode)
{
	char *path = strdup("/tmp/zs-ticket-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, content, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static bool read_temp(const char *content, size_t len, mode_t mode,
	char out[ZS_TICKET_MAX_BYTES + 1], char *err, size_t err_len)
{
	char *path = write_temp(content, len, mode);
	bool ok = zs_ticket_read_file(path, out, err, err_len);
	unlink(path);
	free(path);
	return ok;
}

Test(ticket, file_first_line_without_its_line_ending)
{
	char t[ZS_TICKET_MAX_BYTES + 1], err[256] = "";
	cr_assert(read_temp("s3cret\nsecond line\n", 19, 0600, t, err,
		sizeof(err)), "%s", err);
	cr_expect_str_eq(t, "s3cret");
	cr_assert(read_temp("crlf\r\n", 6, 0400, t, err, sizeof(err)), "%s",
		err);
	cr_expect_str_eq(t, "crlf");
	cr_assert(read_temp("no-newline", 10, 0600, t, err, sizeof(err)),
		"%s", err);
	cr_expect_str_eq(t, "no-newline");
}

Test(ticket, file_errors_say_why)
{
	char t[ZS_TICKET_MAX_BYTES + 1], err[256] = "";
	cr_expect_not(zs_ticket_read_file("/nonexistent/ticket", t, err,
		sizeof(err)));
	cr_expect_not_null(strstr(err, "No such file"), "%s", err);

	cr_expect_not(read_temp("\n", 1, 0600, t, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "empty"), "%s", err);
	cr_expect_not(read_temp("", 0, 0600, t, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "empty"), "%s", err);

	char long_ticket[80];
	memset(long_ticket, 'x', sizeof(long_ticket));
	cr_expect_not(read_temp(long_ticket, sizeof(long_ticket), 0600, t, err,
		sizeof(err)));
	cr_expect_not_null(strstr(err, "longer"), "%s", err);

	/* a NUL after the first line counts too: the whole file is read */
	cr_expect_not(read_temp("abc\0def", 7, 0600, t, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "NUL"), "%s", err);
	cr_expect_not(read_temp("abc\n\0", 5, 0600, t, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "NUL"), "%s", err);

	cr_expect_not(read_temp("ab\rcd", 5, 0600, t, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "carriage return"), "%s", err);

	static char big[ZS_TICKET_FILE_MAX_BYTES + 10];
	memset(big, 'y', sizeof(big));
	big[3] = '\n';
	cr_expect_not(read_temp(big, sizeof(big), 0600, t, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "larger"), "%s", err);
	cr_expect_eq(t[0], '\0', "no ticket handed out on an error");
}

Test(ticket, file_readable_by_others_is_refused)
{
	char t[ZS_TICKET_MAX_BYTES + 1], err[256] = "";
	cr_expect_not(read_temp("s3cret\n", 7, 0644, t, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "mode 0644"), "%s", err);
	cr_expect_not_null(strstr(err, "chmod 600"), "%s", err);
	cr_expect_not(read_temp("s3cret\n", 7, 0640, t, err, sizeof(err)));
	cr_expect_not(read_temp("s3cret\n", 7, 0602, t, err, sizeof(err)));
}

Test(ticket, fifo_written_in_two_parts_is_read_whole)
{
	char dir[] = "/tmp/zs-ticket-fifo-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY);
		if (fd < 0)
			_exit(1);
		if (write(fd, "two-", 4) != 4)
			_exit(1);
		usleep(200 * 1000);
		if (write(fd, "parts\n", 6) != 6)
			_exit(1);
		close(fd);
		_exit(0);
	}
	char t[ZS_TICKET_MAX_BYTES + 1], err[256] = "";
	bool ok = zs_ticket_read_file(path, t, err, sizeof(err));
	int status;
	waitpid(pid, &status, 0);
	unlink(path);
	rmdir(dir);
	cr_assert(ok, "%s", err);
	cr_expect_str_eq(t, "two-parts");
}

static char applied[ZS_TICKET_MAX_BYTES + 1];
static uint32_t applied_lifetime;
static int applied_count;
static bool applied_noauth;

static void on_apply(void *data, const char *text, uint32_t lifetime_s)
{
	applied_count++;
	applied_noauth = text == NULL;
	snprintf(applied, sizeof(applied), "%s", text ? text : "");
	applied_lifetime = lifetime_s;
}

Test(ticket, set_expire_and_reload_reach_spice_server)
{
	char err[256] = "";
	char *path = write_temp("first\n", 6, 0600);
	cr_assert(zs_ticket_init(path, 0, err, sizeof(err)), "%s", err);
	zs_ticket_bind(on_apply, NULL);
	cr_expect_str_eq(applied, "first");
	cr_expect(zs_ticket_required());
	cr_expect_not(zs_ticket_expired());

	cr_assert(zs_ticket_set("second", 30, err, sizeof(err)), "%s", err);
	cr_expect_str_eq(applied, "second");
	cr_expect_eq(applied_lifetime, 30);
	cr_expect_not(zs_ticket_set("", 0, err, sizeof(err)));

	zs_ticket_expire();
	cr_expect(zs_ticket_expired());
	cr_expect_str_neq(applied, "second");
	cr_expect_eq(strlen(applied), ZS_TICKET_MAX_BYTES,
		"expired: an unknown full-length ticket");

	FILE *fp = fopen(path, "w");
	fputs("third\n", fp);
	fclose(fp);
	cr_assert(zs_ticket_reload_file(err, sizeof(err)), "%s", err);
	cr_expect_str_eq(applied, "third");
	cr_expect_not(zs_ticket_expired());

	/* a bad file on reload keeps the ticket in force */
	chmod(path, 0644);
	int before = applied_count;
	cr_expect_not(zs_ticket_reload_file(err, sizeof(err)));
	cr_expect_eq(applied_count, before);
	cr_expect_str_eq(applied, "third");

	zs_ticket_bind(NULL, NULL);
	zs_ticket_finish();
	cr_expect_not(zs_ticket_required());
	unlink(path);
	free(path);
}

Test(ticket, no_file_means_no_ticket)
{
	char err[256] = "";
	cr_assert(zs_ticket_init(NULL, 0, err, sizeof(err)));
	zs_ticket_bind(on_apply, NULL);
	cr_expect(applied_noauth);
	cr_expect_not(zs_ticket_required());
	cr_expect_not(zs_ticket_expired());
	cr_expect_not(zs_ticket_reload_file(err, sizeof(err)));
	zs_ticket_bind(NULL, NULL);
	zs_ticket_finish();
}
