/* zerospice's side of the broker contract before and after the main loop:
 * --print-capabilities, --log-format, socket activation, --pidfile, and
 * closing what they opened. main.c runs the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib.h>

#include "app.h"
#include "broker.h"
#include "internal.h"
#include "process.h"

/* ---- broker contract: --config, --print-capabilities, --log-format,
 * --pidfile, socket activation ---- */

/* Returns -1 to go on, else the exit status. */
int zs_app_broker_setup(struct app *app)
{
	const struct zs_options *o = &app->opts;
	char err[512];
	zs_log_setup(o->log_json);
	if (o->print_capabilities) {
		char *caps = zs_capabilities_json();
		fputs(caps, stdout);
		g_free(caps);
		return EXIT_SUCCESS;
	}
	if (!zs_listen_fds_take(&app->activated_fd, &app->activated_tls_fd, err,
		    sizeof(err))) {
		zs_log_error("%s", err);
		return EXIT_FAILURE;
	}
	if (app->activated_fd < 0)
		app->activated_fd = 0;
	if (app->activated_tls_fd < 0)
		app->activated_tls_fd = 0;
	if (app->activated_tls_fd > 0 && !o->x509_dir) {
		zs_log_error("socket activation passed a TLS socket, but there is "
			"no --x509-dir");
		return EXIT_BAD_OPTIONS;
	}
	if (app->activated_fd > 0 && !zs_fd_is_local(app->activated_fd) &&
		!o->ticket_file && !o->insecure_no_auth && !o->control_path &&
		!o->dbus_address) {
		zs_log_error("refusing the activated socket (not loopback) without "
			"a password: give --ticket-file PATH, a control API "
			"(--control, --dbus-address), or --insecure-no-auth");
		return EXIT_BAD_OPTIONS;
	}
	if (app->activated_tls_fd <= 0 && o->tls_port < 0 &&
		(o->x509_dir || o->tls_only)) {
		zs_log_error("--x509-dir and --tls-only need --tls-port PORT or a "
			"socket named \"tls\" from socket activation");
		return EXIT_BAD_OPTIONS;
	}
	if (o->pidfile) {
		app->pidfile = zs_pidfile_create(o->pidfile, err, sizeof(err));
		if (!app->pidfile) {
			zs_log_error("%s", err);
			return EXIT_FAILURE;
		}
	}
	return -1;
}

void zs_app_broker_teardown(struct app *app)
{
	zs_broker_destroy(app->broker);
	app->broker = NULL;
	if (app->activated_fd > 0)
		close(app->activated_fd);
	if (app->activated_tls_fd > 0)
		close(app->activated_tls_fd);
	if (app->opts.ready_fd >= 0)
		close(app->opts.ready_fd);
	zs_pidfile_destroy(app->pidfile);
	g_free(app->leave_reason);
}
