/* zerospice: one SPICE display server per desktop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "app.h"
#include "broker.h"
#include "front.h"
#include "internal.h"
#include "process.h"
#include "stats.h"
#include "ticket.h"
#include "zs-config.h"
#include "zs-qemu.h"
#include "zs-server.h"

#define QEMU_REFRESH_FPS 33

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
	zs_source_key(app->consoles[0].source, scancode, down);
}

static void release_held_input(struct app *app)
{
	for (int i = 0; i < MAX_KEYS; i++) {
		if (!(app->keys_down[i / 8] & (1u << (i % 8))))
			continue;
		uint32_t code = i < 0x100 ? (uint32_t)i : 0xe000 | (uint32_t)(i & 0xff);
		zs_source_key(app->consoles[0].source, code, false);
	}
	memset(app->keys_down, 0, sizeof(app->keys_down));
	if (app->buttons) {
		app->buttons = 0;
		zs_source_pointer_rel(app->consoles[0].source, 0, 0, 0);
	}
}

/* The position is in display display_id's pixels: that console's. */
static void on_pointer_abs(void *data, uint32_t display_id, int32_t x,
	int32_t y, uint32_t buttons)
{
	struct app *app = data;
	if (display_id >= app->n_consoles) {
		g_debug("mouse on display %u, which is not ours: ignored",
			display_id);
		return;
	}
	app->buttons = buttons;
	zs_source_pointer_abs(app->consoles[display_id].source, x, y,
		buttons);
}

static void on_pointer_rel(void *data, int32_t dx, int32_t dy, uint32_t buttons)
{
	struct app *app = data;
	app->buttons = buttons;
	zs_source_pointer_rel(app->consoles[0].source, dx, dy, buttons);
}

static void on_start_stop(void *data, unsigned output, uint32_t codec_mask)
{
	struct app *app = data;
	if (output >= app->n_consoles)
		return;
	if (codec_mask)
		app->watched |= 1u << output;
	else
		app->watched &= ~(1u << output);
	/* a client closing one display's window still types */
	if (!app->watched)
		release_held_input(app);
	zs_pipeline_start_stop(app->consoles[output].pipeline, codec_mask);
}

static void on_drained(void *data, unsigned output)
{
	struct app *app = data;
	if (output < app->n_consoles)
		zs_pipeline_drained(app->consoles[output].pipeline);
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
	for (unsigned i = 0; i < app->n_consoles; i++) {
		struct zs_agent_monitors one;
		if (zs_resize_monitors_for_display(&m, i, app->n_consoles,
			    &one))
			zs_resize_request(&app->consoles[i].resize,
				app->consoles[i].source, &one);
	}
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
	struct console *c = data;
	char address[ZS_STREAM_MAX_DEVICE_ADDRESS];
	uint32_t head;

	/* the console is open by its first frame: which head it is, for the
	 * guest agent */
	if (!c->device_info_sent && zs_qemu_source_device_info(c->source,
		    address, sizeof(address), &head)) {
		c->device_info_sent = true;
		zs_output_set_device_info(zs_display_output(c->app->display,
			c->index), address, head);
	}
	c->last_width = frame->width;
	c->last_height = frame->height;
	if (c->index == 0)
		zs_broker_frame_size(c->app->broker, frame->width,
			frame->height);
	zs_pipeline_frame(c->pipeline, frame);
}

static void on_cursor_define(void *data, uint32_t width, uint32_t height,
	int32_t hot_x, int32_t hot_y, const uint32_t *argb)
{
	struct console *c = data;
	zs_pipeline_cursor_define(c->pipeline, width, height, hot_x, hot_y,
		argb);
}

static void on_cursor_move(void *data, int32_t x, int32_t y, bool visible)
{
	struct console *c = data;
	zs_pipeline_cursor_move(c->pipeline, x, y, visible);
}

static const struct zs_source_events source_events;
static bool create_sources(struct app *app, char *err, size_t err_len);
static struct zs_source *create_source(struct app *app, struct console *c,
	char *err, size_t err_len);

static struct console *find_console(struct app *app, uint32_t number)
{
	for (unsigned i = 0; i < app->n_consoles; i++)
		if (app->consoles[i].number == number)
			return &app->consoles[i];
	return NULL;
}

/* A display, its pipeline and (for QEMU) its source for console number. */
static struct console *add_console(struct app *app, uint32_t number)
{
	char err[512];

	if (app->consoles_full)
		return NULL;
	if (app->n_consoles == ZS_MAX_CONSOLES) {
		g_warning("QEMU console %u is not shown: zerospice shows at "
			"most %u", number, ZS_MAX_CONSOLES);
		return NULL;
	}
	struct console *c = &app->consoles[app->n_consoles];
	memset(c, 0, sizeof(*c));
	c->app = app;
	c->index = app->n_consoles;
	c->number = number;
	struct zs_output *out = zs_display_add_output(app->display, err,
		sizeof(err));
	if (!out) {
		g_warning("QEMU console %u is not shown: %s", number, err);
		return NULL;
	}
	struct zs_pipeline_config pcfg = app->pcfg;
	pcfg.need_frame_data = c;
	c->pipeline = zs_pipeline_create(&pcfg, out, err, sizeof(err));
	if (!c->pipeline) {
		/* its output stays, unfed: later ones would not match
		 * their display ids */
		app->consoles_full = true;
		g_warning("QEMU console %u is not shown: %s", number, err);
		return NULL;
	}
	app->n_consoles++;
	g_message("QEMU console %u: SPICE display %u (clients connected "
		"before see it when they connect again)", number, c->index);
	return c;
}

/* --console all: QEMU's graphic consoles, once per connection. The first
 * console's source is there already; the others go through its
 * connection. */
static void on_consoles_found(void *data, const uint32_t *numbers, size_t n)
{
	struct app *app = data;
	char err[512];

	if (!app->opts.all_consoles)
		return;
	for (size_t k = 0; k < n; k++) {
		struct console *c = find_console(app, numbers[k]);
		if (!c)
			c = add_console(app, numbers[k]);
		if (!c)
			break;
		if (c->source)
			continue;
		c->source = create_source(app, c, err, sizeof(err));
		if (!c->source)
			g_warning("QEMU console %u: %s", c->number, err);
	}
}

/* The consoles after the first share its connection to QEMU: they go
 * first. */
static void destroy_sources(struct app *app)
{
	for (unsigned i = app->n_consoles; i-- > 0;) {
		zs_source_destroy(app->consoles[i].source);
		app->consoles[i].source = NULL;
	}
}

/* --reconnect: new sources for the next QEMU, in place of the closed
 * ones. */
static gboolean on_reconnect_timer(gpointer data)
{
	struct app *app = data;
	char err[512];

	g_source_unref(app->reconnect_timer);
	app->reconnect_timer = NULL;
	destroy_sources(app);
	for (unsigned i = 0; i < app->n_consoles; i++)
		memset(&app->consoles[i].resize, 0,
			sizeof(app->consoles[i].resize));
	if (!create_sources(app, err, sizeof(err))) {
		zs_log_error("%s", err);
		app_quit(app, EXIT_FAILURE, err);
	}
	return G_SOURCE_REMOVE;
}

static void on_source_closed(void *data, const char *reason)
{
	struct console *c = data;
	struct app *app = c->app;
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

/* What waits toward the display clients (--rate-control). */
static uint64_t client_queue_bytes(void *data)
{
	struct app *app = data;
	struct zs_front_queue q;
	zs_front_display_queue(app->front, &q);
	return q.socket_bytes + q.relay_bytes;
}

/* A display client's stream report, read by the front's relay. */
static void on_stream_report(void *data, unsigned display_id,
	struct zs_ratectl_client *client,
	const struct zs_relay_stream_report *report)
{
	struct app *app = data;
	if (display_id < app->n_consoles && app->consoles[display_id].pipeline)
		zs_pipeline_link_report(app->consoles[display_id].pipeline,
			client, report);
}

static void on_need_frame(void *data)
{
	struct console *c = data;
	if (c->source && c->source->impl->request_frame)
		c->source->impl->request_frame(c->source);
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

static struct zs_source *create_source(struct app *app, struct console *c,
	char *err, size_t err_len)
{
	const struct zs_options *o = &app->opts;
	c->device_info_sent = false;
	switch (o->source) {
	case ZS_SOURCE_TESTPATTERN: {
		struct zs_source *src = zs_testpattern_source_create(o->width,
			o->height, o->fps, &source_events, c);
		zs_testpattern_source_set_still_after(src, o->still_after);
		return src;
	}
	case ZS_SOURCE_QEMU:
		if (c->index > 0)
			/* over the first console's connection: QEMU's p2p
			 * display serves one client at a time */
			return zs_qemu_source_create_console(
				app->consoles[0].source, c->number,
				c->last_width, c->last_height, &source_events, c,
				err, err_len);
		struct zs_qemu_options qo = {
			.qmp_path = o->qemu_qmp_path,
			.dbus_fd = o->qemu_dbus_fd,
			.bus_address = o->qemu_bus_address,
			.console = c->number,
			.wait_for_qemu = o->reconnect,
			.blank_width = c->last_width,
			.blank_height = c->last_height,
			.allowed_uid = o->qemu_uid,
			.session = zs_session_qemu_events(),
			.session_data = app->session,
			.consoles_found = on_consoles_found,
			.consoles_data = app,
		};
		/* the source owns the inherited fd from here on */
		app->opts.qemu_dbus_fd = -1;
		struct zs_source *src = zs_qemu_source_create(&qo,
			&source_events, c, err, err_len);
		if (src && app->audio)
			zs_qemu_source_set_audio(src, zs_audio_qemu_events(),
				app->audio);
		if (src && app->trace)
			zs_qemu_source_trace_keys(src, zs_trace_key, app->trace);
		return src;
	}
	snprintf(err, err_len, "unknown source");
	return NULL;
}

/* With --console all, the consoles after the first come when QEMU lists
 * its consoles (on_consoles_found). */
static bool create_sources(struct app *app, char *err, size_t err_len)
{
	unsigned n = app->opts.all_consoles &&
		app->opts.source == ZS_SOURCE_QEMU ? 1 : app->n_consoles;
	for (unsigned i = 0; i < n; i++) {
		struct console *c = &app->consoles[i];
		c->source = create_source(app, c, err, err_len);
		if (!c->source)
			return false;
	}
	return true;
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
	app->n_consoles = o->n_consoles ? o->n_consoles : 1;
	for (unsigned i = 0; i < app->n_consoles; i++) {
		app->consoles[i].app = app;
		app->consoles[i].index = i;
		app->consoles[i].number = o->n_consoles ? o->consoles[i] : 0;
	}
	/* the session's chardevs, clipboard and audio are the first
	 * console's connection's */
	app->session = zs_session_create(&app->consoles[0].source,
		o->source == ZS_SOURCE_QEMU ? &session_hooks : NULL, app);
	struct zs_display_config dcfg = {
		.width = o->width,
		.height = o->height,
		.n_outputs = app->n_consoles,
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
	app->pcfg = (struct zs_pipeline_config) {
		.backend = o->encoder,
		.forced_codec = o->codec,
		.bitrate_kbps = o->bitrate_kbps,
		/* rate control spreads the bitrate over the frames that really
		 * come: QEMU refreshes its display every 30 ms */
		.fps = o->source == ZS_SOURCE_QEMU ? QEMU_REFRESH_FPS : o->fps,
		.max_fps = o->max_fps,
		.need_frame = on_need_frame,
		.refine = o->refine,
		.rate_control = o->rate_control,
		.client_queue_bytes = client_queue_bytes,
		.client_queue_data = app,
		.trace = app->trace,
	};
	if (o->rate_control)
		zs_front_set_report_sink(app->front, on_stream_report, app);
	/* one encoder per console, shared by every client */
	for (unsigned i = 0; i < app->n_consoles; i++) {
		struct console *c = &app->consoles[i];
		struct zs_pipeline_config pcfg = app->pcfg;
		pcfg.need_frame_data = c;
		c->pipeline = zs_pipeline_create(&pcfg,
			zs_display_output(app->display, i), err, sizeof(err));
		if (!c->pipeline) {
			zs_log_error("%s", err);
			goto err_ticket;
		}
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
	/* the first display's; the others are not in the figures yet */
	zs_stats_set_pipeline(app->consoles[0].pipeline);
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

	if (!create_sources(app, err, sizeof(err))) {
		zs_log_error("%s", err);
		goto err_ticket;
	}

	/* the control API (--control, --dbus-address) */
	struct zs_broker_config bcfg = {
		.opts = o,
		.display = app->display,
		.front = app->front,
		.pipeline = app->consoles[0].pipeline,
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

	int rc = zs_app_broker_setup(&app);
	if (rc >= 0) {
		zs_app_broker_teardown(&app);
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
	zs_app_broker_teardown(&app);
	zs_metrics_destroy(app.metrics);
	zs_stats_set_display(NULL);
	zs_stats_set_pipeline(NULL);
	zs_trace_set_front(app.trace, NULL);
	zs_front_destroy(app.front);
	for (unsigned i = 0; i < app.n_consoles; i++)
		zs_pipeline_destroy(app.consoles[i].pipeline);
	destroy_sources(&app); /* a source may still report a key press */
	zs_trace_close(app.trace);
	zs_ticket_bind(NULL, NULL);
	zs_session_destroy(app.session);
	zs_audio_destroy(app.audio); /* after the source that feeds it */
	zs_display_destroy(app.display);
	zs_ticket_finish();
	g_main_loop_unref(app.loop);
	zs_options_finish(&app.opts);
	return rc;
}
