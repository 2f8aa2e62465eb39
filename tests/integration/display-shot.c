/* zerospice tests — a spice-client-glib client that connects to every
 * display channel the server offers and writes each display's picture
 * (PREFIX-ID.ppm), as spicy-screenshot does for display 0 only. Prints
 * "displays: 0 1 ..." (the display channel ids offered) and exits 0 once
 * every display wrote its picture, 1 on a timeout or error.
 *
 * usage: zs-display-shot URI PREFIX [TIMEOUT_S [HOLD_S]]
 * HOLD_S: stay connected that long after the pictures (a session for the
 * guest agent to talk to).
 * The picture is taken 1 s after a display's first update, so that a
 * stream's first decoded frame is in it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice-client.h>

#define MAX_DISPLAYS 16

struct display {
	SpiceChannel *channel;
	int id;
	gint format, width, height, stride;
	gpointer data;
	guint shot_timer;
	bool written;
};

static struct display displays[MAX_DISPLAYS];
static int n_displays;
static bool list_seen;
static const char *prefix;
static GMainLoop *loop;
static int status = 1;
static int hold_s;

static gboolean quit_now(gpointer data)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

/* Every picture is written: done, after HOLD_S. */
static void done(void)
{
	status = 0;
	if (hold_s > 0)
		g_timeout_add_seconds((guint)hold_s, quit_now, NULL);
	else
		g_main_loop_quit(loop);
}

static bool all_written(void)
{
	if (!list_seen || n_displays == 0)
		return false;
	for (int i = 0; i < n_displays; i++)
		if (!displays[i].written)
			return false;
	return true;
}

static bool write_ppm(struct display *d)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s-%d.ppm", prefix, d->id);
	FILE *fp = fopen(path, "wb");
	if (!fp) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return false;
	}
	fprintf(fp, "P6\n%d %d\n255\n", d->width, d->height);
	for (int y = 0; y < d->height; y++) {
		const uint8_t *row = (const uint8_t *)d->data +
			(size_t)y * (size_t)d->stride;
		for (int x = 0; x < d->width; x++) {
			fputc(row[4 * x + 2], fp);
			fputc(row[4 * x + 1], fp);
			fputc(row[4 * x + 0], fp);
		}
	}
	fclose(fp);
	fprintf(stderr, "display %d: %dx%d written to %s\n", d->id, d->width,
		d->height, path);
	return true;
}

static gboolean take_shot(gpointer data)
{
	struct display *d = data;
	d->shot_timer = 0;
	if (!d->data || d->format != SPICE_SURFACE_FMT_32_xRGB) {
		fprintf(stderr, "display %d: no 32-bit picture\n", d->id);
		g_main_loop_quit(loop);
		return G_SOURCE_REMOVE;
	}
	if (!write_ppm(d)) {
		g_main_loop_quit(loop);
		return G_SOURCE_REMOVE;
	}
	d->written = true;
	if (all_written())
		done();
	return G_SOURCE_REMOVE;
}

static void primary_create(SpiceChannel *channel, gint format, gint width,
	gint height, gint stride, gint shmid, gpointer imgdata, gpointer data)
{
	struct display *d = data;
	d->format = format;
	d->width = width;
	d->height = height;
	d->stride = stride;
	d->data = imgdata;
}

static void invalidate(SpiceChannel *channel, gint x, gint y, gint w, gint h,
	gpointer data)
{
	struct display *d = data;
	if (!d->written && !d->shot_timer)
		d->shot_timer = g_timeout_add(1000, take_shot, d);
}

static gboolean list_done(gpointer data);

static void channel_new(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
	int id;

	if (!SPICE_IS_DISPLAY_CHANNEL(channel))
		return;
	/* spice-gtk makes the channels of CHANNELS_LIST one idle callback
	 * each, queued together: one queued now runs after the last */
	if (n_displays == 0)
		g_idle_add(list_done, NULL);
	g_object_get(channel, "channel-id", &id, NULL);
	if (n_displays == MAX_DISPLAYS)
		return;
	struct display *d = &displays[n_displays++];
	d->channel = channel;
	d->id = id;
	g_signal_connect(channel, "display-primary-create",
		G_CALLBACK(primary_create), d);
	g_signal_connect(channel, "display-invalidate",
		G_CALLBACK(invalidate), d);
	spice_channel_connect(channel);
}

static void main_event(SpiceChannel *channel, SpiceChannelEvent event,
	gpointer data)
{
	if (event != SPICE_CHANNEL_OPENED) {
		fprintf(stderr, "main channel event %d\n", event);
		g_main_loop_quit(loop);
	}
}

/* The channel list has come (every channel_new ran): say which displays
 * there are. */
static gboolean list_done(gpointer data)
{
	list_seen = true;
	printf("displays:");
	for (int i = 0; i < n_displays; i++)
		printf(" %d", displays[i].id);
	printf("\n");
	fflush(stdout);
	if (all_written())
		done();
	return G_SOURCE_REMOVE;
}

static void main_new(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
	if (SPICE_IS_MAIN_CHANNEL(channel)) {
		g_signal_connect(channel, "channel-event",
			G_CALLBACK(main_event), NULL);
	}
}

static gboolean on_timeout(gpointer data)
{
	if (status == 0)
		return G_SOURCE_REMOVE; /* holding */
	fprintf(stderr, "timed out\n");
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s URI PREFIX [TIMEOUT_S]\n", argv[0]);
		return 2;
	}
	prefix = argv[2];
	int timeout_s = argc > 3 ? atoi(argv[3]) : 20;
	if (timeout_s <= 0 || timeout_s > 600)
		timeout_s = 20;
	hold_s = argc > 4 ? atoi(argv[4]) : 0;
	if (hold_s < 0 || hold_s > 600)
		hold_s = 0;

	loop = g_main_loop_new(NULL, FALSE);
	SpiceSession *session = spice_session_new();
	g_object_set(session, "uri", argv[1], NULL);
	const char *password = g_getenv("ZS_PASSWORD");
	if (password)
		g_object_set(session, "password", password, NULL);
	g_signal_connect(session, "channel-new", G_CALLBACK(main_new), NULL);
	g_signal_connect(session, "channel-new", G_CALLBACK(channel_new),
		NULL);
	if (!spice_session_connect(session)) {
		fprintf(stderr, "spice_session_connect failed\n");
		return 1;
	}
	g_timeout_add_seconds((guint)timeout_s, on_timeout, NULL);
	g_main_loop_run(loop);
	if (status != 0)
		for (int i = 0; i < n_displays; i++)
			if (!displays[i].written)
				fprintf(stderr, "display %d: no picture\n",
					displays[i].id);
	spice_session_disconnect(session);
	g_object_unref(session);
	g_main_loop_unref(loop);
	return status;
}
