/* zerospice: one SPICE display server per desktop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "broker.h"
#include "front.h"
#include "internal.h"
#include "process.h"
#include "stats.h"
#include "ticket.h"
#include "zs-config.h"
#include "zs-qemu.h"
#include "zs-server.h"

#define EXIT_BAD_OPTIONS 2
#define MAX_KEYS 512
#define QEMU_REFRESH_FPS 33

struct app {
	struct zs_options opts;
	GMainLoop *loop;
	struct zs_display *display;
	struct zs_pipeline *pipeline;
	struct zs_source *source;
	struct zs_front *front;
	struct zs_session *session;
	struct zs_trace *trace; /* --trace-stages */
	struct zs_metrics *metrics;
	int exit_code;
	/* --reconnect: the closed source is replaced from this timer, and the
	 * new one shows black at the last picture's size until QEMU's first */
	GSource *reconnect_timer;
	uint32_t last_width, last_height;
	/* keys the clients hold down, released when the last client leaves */
	uint8_t keys_down[MAX_KEYS / 8];
	uint32_t buttons;
	struct zs_resize resize; /* the client's window size asked of QEMU */
	struct zs_audio *audio;  /* QEMU source: SPICE playback and record */
	/* broker contract: control API, pidfile, why the loop stopped */
	struct zs_broker *broker;
	struct zs_pidfile *pidfile;
	char *leave_reason;
	int activated_fd, activated_tls_fd; /* socket activation, 0 = none */
};

/* Stops the main loop; Leaving(reason) goes out before exit. */
static void app_quit(struct app *app, int exit_code, const char *reason)
{
	app->exit_code = exit_code;
	if (!app->leave_reason)
		app->leave_reason = g_strdup(reason);
	g_main_loop_quit(app->loop);
}

/* ---- key bookkeeping: index 0..255 plain, 256..511 extended (0xe0xx) ---- */

static int key_index(uint32_t scancode)
{
	if (scancode < 0x100)
		return (int)scancode;
	if ((scancode & 0xff00) == 0xe000)
		return 0x100 | (int)(scancode & 0xff);
	return -1;
}

static void on_key(void *data, uint32_t scancode, bool down)
{
	struct app *app = data;
	int i = key_index(scancode);
	if (i >= 0) {
		if (down)
			app->keys_down[i / 8] |= (uint8_t)(1u << (i % 8));
		else
			app->keys_down[i / 8] &= (uint8_t)~(1u << (i % 8));
	}
	zs_source_key(app->source, scancode, down);
}

static void release_held_input(struct app *app)
{
	for (int i = 0; i < MAX_KEYS; i++) {
		if (!(app->keys_down[i / 8] & (1u << (i % 8))))
			continue;
		uint32_t code = i < 0x100 ? (uint32_t)i : 0xe000 | (uint32_t)(i & 0xff);
		zs_source_key(app->source, code, false);
	}
	memset(app->keys_down, 0, sizeof(app->keys_down));
	if (app->buttons) {
		app->buttons = 0;
		zs_source_pointer_rel(app->source, 0, 0, 0);
	}
}

static void on_pointer_abs(void *data, int32_t x, int32_t y, uint32_t buttons)
{
	struct app *app = data;
	app->buttons = buttons;
	zs_source_pointer_abs(app->source, x, y, buttons);
}

static void on_pointer_rel(void *data, int32_t dx, int32_t dy, uint32_t buttons)
{
	struct app *app = data;
	app->buttons = buttons;
	zs_source_pointer_rel(app->source, dx, dy, buttons);
}

static void on_start_stop(void *data, uint32_t codec_mask)
{
	struct app *app = data;
	if (codec_mask == 0)
		release_held_input(app);
	zs_pipeline_start_stop(app->pipeline, codec_mask);
}

static void on_drained(void *data)
{
	struct app *app = data;
	zs_pipeline_drained(app->pipeline);
}

/* The client's window size, when no guest agent takes it: QEMU's
 * Console.SetUIInfo (resize.c). */
static void on_monitors_config(void *data, const uint8_t *config, size_t len)
{
	struct app *app = data;
	struct zs_agent_monitors m;
	char why[128];

	if (!zs_agent_parse_monitors_config(config, len, &m, why,
			sizeof(why))) {
		g_warning("agent channel: %s; ignored", why);
		return;
	}
	zs_resize_request(&app->resize, app->source, &m);
}

static const struct zs_session_hooks session_hooks = {
	.monitors_config = on_monitors_config,
};

static const struct zs_display_events display_events = {
	.start_stop = on_start_stop,
	.drained = on_drained,
	.key = on_key,
	.pointer_abs = on_pointer_abs,
	.pointer_rel = on_pointer_rel,
};

/* ---- source → pipeline ---- */

static void on_frame(void *data, struct zs_frame *frame)
{
	struct app *app = data;
	app->last_width = frame->width;
	app->last_height = frame->height;
	zs_broker_frame_size(app->broker, frame->width, frame->height);
	zs_pipeline_frame(app->pipeline, frame);
}

static void on_cursor_define(void *data, uint32_t width, uint32_t height,
	int32_t hot_x, int32_t hot_y, const uint32_t *argb)
{
	struct app *app = data;
	zs_pipeline_cursor_define(app->pipeline, width, height, hot_x, hot_y,
		argb);
}

static void on_cursor_move(void *data, int32_t x, int32_t y, bool visible)
{
	struct app *app = data;
	zs_pipeline_cursor_move(app->pipeline, x, y, visible);
}

static const struct zs_source_events source_events;
static struct zs_source *create_source(struct app *app, char *err,
	size_t err_len);

/* --reconnect: a new source for the next QEMU, in place of the closed one. */
static gboolean on_reconnect_timer(gpointer data)
{
	struct app *app = data;
	char err[512];

	g_source_unref(app->reconnect_timer);
	app->reconnect_timer = NULL;
	zs_source_destroy(app->source);
	memset(&app->resize, 0, sizeof(app->resize));
	app->source = create_source(app, err, sizeof(err));
	if (!app->source) {
		zs_log_error("%s", err);
		app_quit(app, EXIT_FAILURE, err);
	}
	return G_SOURCE_REMOVE;
}

static void on_source_closed(void *data, const char *reason)
{
	struct app *app = data;
	const struct zs_options *o = &app->opts;

	if (!o->reconnect) {
		zs_log_error("source ended: %s", reason);
		char *why = g_strdup_printf("source ended: %s", reason);
		app_quit(app, EXIT_FAILURE, why);
		g_free(why);
		return;
	}
	/* Clients stay connected and see black (the source showed it before
	 * closing, the next one shows it until QEMU's first picture). A
	 * source that fails at once (QMP error, console missing) is retried
	 * no more often than this. */
	g_message("QEMU display ended: %s; --reconnect: waiting for a new "
		"QEMU at %s %s", reason, o->qemu_qmp_path ? "QMP socket" : "bus",
		o->qemu_qmp_path ? o->qemu_qmp_path : o->qemu_bus_address);
	if (app->reconnect_timer)
		return;
	app->reconnect_timer = g_timeout_source_new(ZS_QEMU_WAIT_RETRY_MS);
	g_source_set_callback(app->reconnect_timer, on_reconnect_timer, app,
		NULL);
	g_source_attach(app->reconnect_timer, NULL);
}

static const struct zs_source_events source_events = {
	.frame = on_frame,
	.cursor_define = on_cursor_define,
	.cursor_move = on_cursor_move,
	.closed = on_source_closed,
};

static void on_need_frame(void *data)
{
	struct app *app = data;
	if (app->source && app->source->impl->request_frame)
		app->source->impl->request_frame(app->source);
}

static gboolean on_signal(gpointer data)
{
	struct app *app = data;
	g_message("shutting down");
	app_quit(app, EXIT_SUCCESS, "shutting down on a signal");
	return G_SOURCE_CONTINUE;
}

/* SIGHUP: the ticket file and the TLS files again; live clients stay. */
static gboolean on_reload(gpointer data)
{
	struct app *app = data;
	char err[512];
	if (app->opts.ticket_file) {
		if (zs_ticket_reload_file(err, sizeof(err)))
			g_message("SIGHUP: read the ticket file again");
		else
			g_warning("SIGHUP: %s; the previous ticket stays", err);
	}
	if (app->opts.tls_port >= 0) {
		if (zs_front_reload_tls(app->front, err, sizeof(err)))
			g_message("SIGHUP: read the TLS files again");
		else
			g_warning("SIGHUP: %s; the previous TLS files stay", err);
	}
	return G_SOURCE_CONTINUE;
}

static void apply_ticket(void *data, const char *text, uint32_t lifetime_s)
{
	zs_display_set_ticket(data, text, lifetime_s);
}

static struct zs_source *create_source(struct app *app, char *err,
	size_t err_len)
{
	const struct zs_options *o = &app->opts;
	switch (o->source) {
	case ZS_SOURCE_TESTPATTERN: {
		struct zs_source *src = zs_testpattern_source_create(o->width,
			o->height, o->fps, &source_events, app);
		zs_testpattern_source_set_still_after(src, o->still_after);
		return src;
	}
	case ZS_SOURCE_QEMU: {
		struct zs_qemu_options qo = {
			.qmp_path = o->qemu_qmp_path,
			.dbus_fd = o->qemu_dbus_fd,
			.bus_address = o->qemu_bus_address,
			.console = o->console,
			.wait_for_qemu = o->reconnect,
			.blank_width = app->last_width,
			.blank_height = app->last_height,
			.allowed_uid = o->qemu_uid,
			.session = zs_session_qemu_events(),
			.session_data = app->session,
		};
		/* the source owns the inherited fd from here on */
		app->opts.qemu_dbus_fd = -1;
		struct zs_source *src = zs_qemu_source_create(&qo,
			&source_events, app, err, err_len);
		if (src && app->audio)
			zs_qemu_source_set_audio(src, zs_audio_qemu_events(),
				app->audio);
		return src;
	}
	}
	snprintf(err, err_len, "unknown source");
	return NULL;
}

static int run(struct app *app)
{
	const struct zs_options *o = &app->opts;
	char err[512];
	if (!zs_ticket_init(o->ticket_file, o->ticket_expiry_s, err,
		    sizeof(err))) {
		zs_log_error("%s", err);
		return EXIT_FAILURE;
	}

	char bound[300], tls_bound[300];
	struct zs_front_config fcfg = {
		.listen_unix = o->listen_unix,
		.unix_mode = o->socket_mode,
		.listen_host = o->listen_host,
		.listen_port = o->listen_port,
		.tls_port = o->tls_port,
		.x509_dir = o->x509_dir,
		.tls_ciphers = o->tls_ciphers,
		.tls_only = o->tls_only,
		.tls_only_off_loopback = o->plain_refused_by_default,
		.clock_fix = o->clock_fix,
		.clock_bias_ms = o->clock_bias_ms,
		.clock_resync_ms = o->clock_resync_ms,
		.listen_fd = app->activated_fd,
		.tls_fd = app->activated_tls_fd,
	};
	if (app->activated_tls_fd > 0 && fcfg.tls_port < 0)
		fcfg.tls_port = 0; /* the TLS socket came from the manager */
	/* reachable from other hosts: the control API starts with no way in */
	bool public_listener = app->activated_fd > 0 ?
		!zs_fd_is_local(app->activated_fd) :
		o->listen_host && !zs_host_is_loopback(o->listen_host);
	app->activated_fd = app->activated_tls_fd = 0; /* the front owns them */
	app->front = zs_front_create(&fcfg, bound, sizeof(bound), tls_bound,
		sizeof(tls_bound), err, sizeof(err));
	if (!app->front) {
		zs_log_error("%s", err);
		return EXIT_FAILURE;
	}

	/* Only a VM can follow the client's window. */
	app->session = zs_session_create(&app->source,
		o->source == ZS_SOURCE_QEMU ? &session_hooks : NULL, app);
	struct zs_display_config dcfg = {
		.width = o->width,
		.height = o->height,
		.agent_ops = zs_session_agent_ops(app->session),
		.agent_data = app->session,
	};
	app->display = zs_display_create(&dcfg, &display_events, app, err,
		sizeof(err));
	if (!app->display) {
		zs_log_error("%s", err);
		goto err_ticket;
	}
	zs_ticket_bind(apply_ticket, app->display);
	zs_front_set_display(app->front, app->display);
	zs_session_set_display(app->session, app->display);

	zs_encoder_set_va_device(o->va_device);
	if (o->trace_stages) {
		app->trace = zs_trace_open(o->trace_stages, err, sizeof(err));
		if (!app->trace) {
			fprintf(stderr, "zerospice: error: %s\n", err);
			return EXIT_FAILURE;
		}
		zs_trace_set_front(app->trace, app->front);
	}
	struct zs_pipeline_config pcfg = {
		.backend = o->encoder,
		.forced_codec = o->codec,
		.bitrate_kbps = o->bitrate_kbps,
		/* rate control spreads the bitrate over the frames that really
		 * come: QEMU refreshes its display every 30 ms */
		.fps = o->source == ZS_SOURCE_QEMU ? QEMU_REFRESH_FPS : o->fps,
		.max_fps = o->max_fps,
		.need_frame = on_need_frame,
		.need_frame_data = app,
		.refine = o->refine,
		.trace = app->trace,
	};
	app->pipeline = zs_pipeline_create(&pcfg, app->display, err,
		sizeof(err));
	if (!app->pipeline) {
		zs_log_error("%s", err);
		goto err_ticket;
	}

	if (o->source == ZS_SOURCE_QEMU) {
		app->audio = zs_audio_create(zs_display_spice_server(
			app->display), err, sizeof(err));
		if (!app->audio) {
			fprintf(stderr, "zerospice: error: %s\n", err);
			return EXIT_FAILURE;
		}
	}

	zs_stats_set_display(app->display);
	zs_stats_set_pipeline(app->pipeline);
	char metrics_bound[300] = "";
	if (o->metrics_port >= 0) {
		app->metrics = zs_metrics_create(o->metrics_host,
			(uint16_t)o->metrics_port, metrics_bound,
			sizeof(metrics_bound), err, sizeof(err));
		if (!app->metrics) {
			fprintf(stderr, "zerospice: error: %s\n", err);
			return EXIT_FAILURE;
		}
	}

	app->source = create_source(app, err, sizeof(err));
	if (!app->source) {
		zs_log_error("%s", err);
		goto err_ticket;
	}

	/* the control API (--control, --dbus-address) */
	struct zs_broker_config bcfg = {
		.opts = o,
		.display = app->display,
		.front = app->front,
		.pipeline = app->pipeline,
		.bound = bound,
		.tls_bound = tls_bound,
		.public_listener = public_listener,
	};
	app->broker = zs_broker_create(&bcfg, err, sizeof(err));
	if (!app->broker && err[0]) {
		zs_log_error("%s", err);
		return EXIT_FAILURE;
	}

	g_unix_signal_add(SIGINT, on_signal, app);
	g_unix_signal_add(SIGTERM, on_signal, app);
	g_unix_signal_add(SIGHUP, on_reload, app);

	if (strncmp(bound, "unix:", 5) == 0) /* --listen unix: or activated */
		printf("zerospice %s: listening on %s\n"
		       "connect with: remote-viewer spice+unix://%s\n",
			ZS_VERSION, bound, bound + 5);
	else
		printf("zerospice %s: listening on %s\n"
		       "connect with: remote-viewer spice://%s\n",
			ZS_VERSION, bound, bound);
	if (tls_bound[0])
		printf("zerospice %s: TLS on %s%s\n", ZS_VERSION, tls_bound,
			o->plain_refused_by_default ? " (plain connections "
			"refused: a ticket off loopback; --allow-plain to accept "
			"them)" : o->tls_only ? " (plain connections refused)" : "");
	if (metrics_bound[0])
		printf("zerospice %s: metrics on http://%s/metrics\n", ZS_VERSION,
			metrics_bound);
	fflush(stdout);

	/* readiness: every socket listens, the bus name is ours */
	char status[700];
	snprintf(status, sizeof(status), "READY=1\nSTATUS=serving on %s%s%s",
		bound, tls_bound[0] ? ", TLS on " : "", tls_bound);
	zs_notify(status);
	zs_ready_fd_signal(app->opts.ready_fd);
	app->opts.ready_fd = -1;

	app->exit_code = EXIT_SUCCESS;
	g_main_loop_run(app->loop);

	zs_notify("STOPPING=1");
	zs_broker_leaving(app->broker, app->leave_reason ? app->leave_reason :
		"shutting down");
	return app->exit_code;

err_ticket:
	return EXIT_FAILURE;
}

/* ---- broker contract: --config, --print-capabilities, --log-format,
 * --pidfile, socket activation ---- */

/* Returns -1 to go on, else the exit status. */
static int broker_setup(struct app *app)
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

static void broker_teardown(struct app *app)
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

int main(int argc, char **argv)
{
	struct app app = { 0 };
	char err[512];

	zs_process_preinit(); /* before any thread: it may setenv */
	signal(SIGPIPE, SIG_IGN);
	zs_log_setup(false);

	char **args = zs_options_merge_config(argc, argv, err, sizeof(err));
	if (!args) {
		fprintf(stderr, "zerospice: %s\n", err);
		return EXIT_BAD_OPTIONS;
	}
	bool parsed = zs_options_parse(&app.opts, (int)g_strv_length(args),
		args, err, sizeof(err));
	g_strfreev(args);
	if (!parsed) {
		fprintf(stderr, "zerospice: %s\n", err);
		zs_options_finish(&app.opts);
		return EXIT_BAD_OPTIONS;
	}
	if (app.opts.show_help) {
		fputs(zs_options_usage(), stdout);
		zs_options_finish(&app.opts);
		return EXIT_SUCCESS;
	}
	if (app.opts.show_version) {
		printf("zerospice %s\n", ZS_VERSION);
		zs_options_finish(&app.opts);
		return EXIT_SUCCESS;
	}

	int rc = broker_setup(&app);
	if (rc >= 0) {
		broker_teardown(&app);
		zs_options_finish(&app.opts);
		return rc;
	}

	app.loop = g_main_loop_new(NULL, FALSE);
	zs_stats_reset();
	rc = run(&app);

	/* The pipeline first: it hands the frames it holds back to the
	 * source. */
	if (app.reconnect_timer) {
		g_source_destroy(app.reconnect_timer);
		g_source_unref(app.reconnect_timer);
	}
	broker_teardown(&app);
	zs_metrics_destroy(app.metrics);
	zs_stats_set_display(NULL);
	zs_stats_set_pipeline(NULL);
	zs_trace_set_front(app.trace, NULL);
	zs_front_destroy(app.front);
	zs_pipeline_destroy(app.pipeline);
	zs_trace_close(app.trace);
	zs_source_destroy(app.source);
	zs_ticket_bind(NULL, NULL);
	zs_session_destroy(app.session);
	zs_audio_destroy(app.audio); /* after the source that feeds it */
	zs_display_destroy(app.display);
	zs_ticket_finish();
	g_main_loop_unref(app.loop);
	zs_options_finish(&app.opts);
	return rc;
}
