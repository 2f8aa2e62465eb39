/* zs-agent-client: a SPICE client (spice-client-glib) for the agent tests.
 * Connects, waits for the guest agent's capabilities, sends a monitors
 * config of WxH, moves the pointer to 123,45 through the inputs channel
 * and copies FILE to the guest with spice-gtk's file transfer; exits 0
 * when the agent reported the copy done and the pointer moves were sent
 * (or, without an inputs channel, at the timeout: the test then finds no
 * "pointer moved" line). The session asks the guest to
 * disable its wallpaper (spice-gtk sends a display config to an agent
 * that takes one) and has audio (spice-gtk syncs the client's volume to
 * an agent that takes it).
 *
 *   zs-agent-client URI FILE WxH
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice-client.h>
#include <spice/vd_agent.h>

#define TIMEOUT_S 60

struct app {
	GMainLoop *loop;
	SpiceMainChannel *main;
	SpiceInputsChannel *inputs;
	int moves;
	GFile *file;
	int width, height;
	bool started;
	bool copied, moved;
	int rc;
};

/* Both the file copy and the pointer moves are done: a short copy must
 * not end the session before the inputs channel linked. */
static void maybe_quit(struct app *app)
{
	if (app->copied && app->moved)
		g_main_loop_quit(app->loop);
}

static void on_copied(GObject *obj, GAsyncResult *res, gpointer data)
{
	struct app *app = data;
	GError *error = NULL;

	if (spice_main_channel_file_copy_finish(SPICE_MAIN_CHANNEL(obj), res,
			&error)) {
		printf("file copy done\n");
		app->rc = 0;
	} else {
		fprintf(stderr, "file copy failed: %s\n", error->message);
		g_error_free(error);
		g_main_loop_quit(app->loop);
		return;
	}
	app->copied = true;
	maybe_quit(app);
}

static gboolean move_pointer(gpointer data)
{
	struct app *app = data;

	if (!app->inputs)
		return G_SOURCE_CONTINUE;
	spice_inputs_channel_position(app->inputs, 123, 45, 0, 0);
	if (app->moves++ == 0)
		printf("pointer moved to 123,45\n");
	if (app->moves < 10)
		return G_SOURCE_CONTINUE;
	app->moved = true;
	maybe_quit(app);
	return G_SOURCE_REMOVE;
}

static void on_agent_update(SpiceChannel *channel, gpointer data)
{
	struct app *app = data;
	gboolean connected = FALSE;

	g_object_get(channel, "agent-connected", &connected, NULL);
	if (!connected || app->started ||
	    !spice_main_channel_agent_test_capability(app->main,
		    VD_AGENT_CAP_CLIPBOARD_BY_DEMAND))
		return; /* until the guest agent's capabilities are in */
	app->started = true;
	if (spice_main_channel_agent_test_capability(app->main,
			VD_AGENT_CAP_MONITORS_CONFIG)) {
		spice_main_channel_update_display(app->main, 0, 0, 0,
			app->width, app->height, FALSE);
		spice_main_channel_update_display_enabled(app->main, 0, TRUE,
			FALSE);
		if (!spice_main_channel_send_monitor_config(app->main))
			fprintf(stderr, "monitors config not sent\n");
		else
			printf("monitors config %dx%d sent\n", app->width,
				app->height);
	} else {
		fprintf(stderr, "the agent takes no monitors config\n");
	}
	/* client mouse mode: spice-server gives positions to the agent
	 * device as mouse states (a few times: the inputs channel may still
	 * be linking) */
	g_timeout_add(300, move_pointer, app);
	GFile *files[] = { app->file, NULL };
	spice_main_channel_file_copy_async(app->main, files, G_FILE_COPY_NONE,
		NULL, NULL, NULL, on_copied, app);
}

static void on_channel_new(SpiceSession *s, SpiceChannel *channel,
	gpointer data)
{
	struct app *app = data;

	if (SPICE_IS_INPUTS_CHANNEL(channel)) {
		app->inputs = SPICE_INPUTS_CHANNEL(channel);
		spice_channel_connect(channel);
		return;
	}
	if (!SPICE_IS_MAIN_CHANNEL(channel))
		return;
	app->main = SPICE_MAIN_CHANNEL(channel);
	g_signal_connect(channel, "main-agent-update",
		G_CALLBACK(on_agent_update), app);
}

static gboolean on_timeout(gpointer data)
{
	struct app *app = data;

	fprintf(stderr, "timed out after %d s\n", TIMEOUT_S);
	g_main_loop_quit(app->loop);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	struct app app = { .rc = 1 };

	if (argc != 4 || sscanf(argv[3], "%dx%d", &app.width,
			&app.height) != 2) {
		fprintf(stderr, "usage: %s URI FILE WxH\n", argv[0]);
		return 2;
	}
	app.loop = g_main_loop_new(NULL, FALSE);
	app.file = g_file_new_for_path(argv[2]);
	SpiceSession *session = spice_session_new();
	const char *effects[] = { "wallpaper", NULL };
	g_object_set(session, "uri", argv[1], "enable-usbredir", FALSE,
		"disable-effects", effects, "enable-audio", TRUE, NULL);
	/* the audio backend answers spice-gtk's volume query for the sync */
	if (!spice_audio_get(session, NULL))
		fprintf(stderr, "no spice-gtk audio backend\n");
	g_signal_connect(session, "channel-new", G_CALLBACK(on_channel_new),
		&app);
	if (!spice_session_connect(session)) {
		fprintf(stderr, "cannot connect to %s\n", argv[1]);
		return 1;
	}
	g_timeout_add_seconds(TIMEOUT_S, on_timeout, &app);
	g_main_loop_run(app.loop);
	spice_session_disconnect(session);
	g_object_unref(session);
	g_object_unref(app.file);
	g_main_loop_unref(app.loop);
	return app.rc;
}
