/* zs-audio-client: a SPICE client (spice-client-glib, the library
 * remote-viewer uses) for audio tests. It connects, records the PCM the
 * playback channel delivers ("playback-data") and prints its format and
 * dominant frequency; with --mic-hz it answers the record channel's start
 * with a sine of that frequency (spice_record_channel_send_data).
 *
 *   zs-audio-client --port P [--host H] [--seconds S] [--expect-hz F]
 *                   [--mic-hz F]
 *
 * Exit status: 0 when playback arrived (and, with --expect-hz, its
 * dominant frequency is within 3 % of F), 1 otherwise, 2 on bad usage. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice-client.h>

#define MAX_SECONDS 30

static struct {
	GMainLoop *loop;
	int16_t *mono;          /* playback, channels averaged */
	size_t n, cap;
	int rate, channels;
	double mic_hz;
	double mic_phase;
	int mic_rate, mic_channels;
	SpiceRecordChannel *rec;
	guint mic_timer;
	size_t mic_frames_sent;
	bool playback_started;
} g;

static void on_playback_start(SpicePlaybackChannel *ch, gint format,
	gint channels, gint rate, gpointer data)
{
	g.rate = rate;
	g.channels = channels;
	g.playback_started = true;
	printf("playback-start: format %d, %d channel(s), %d Hz\n", format,
		channels, rate);
}

static void on_playback_data(SpicePlaybackChannel *ch, gpointer pcm,
	gint size, gpointer data)
{
	const int16_t *s = pcm;
	size_t frames;

	if (g.channels <= 0 || size <= 0)
		return;
	frames = (size_t)size / (2u * (size_t)g.channels);
	for (size_t i = 0; i < frames && g.n < g.cap; i++) {
		int sum = 0;
		for (int c = 0; c < g.channels; c++)
			sum += s[i * (size_t)g.channels + (size_t)c];
		g.mono[g.n++] = (int16_t)(sum / g.channels);
	}
}

/* The microphone sine up to now (late timer ticks catch up, so that the
 * stream has no gaps on a loaded machine). */
static gboolean mic_tick(gpointer data)
{
	static gint64 start_us;
	gint64 now = g_get_monotonic_time();
	if (!start_us)
		start_us = now;
	int frames = (int)((now - start_us) * g.mic_rate / G_USEC_PER_SEC -
		(gint64)g.mic_frames_sent);
	if (frames <= 0)
		return G_SOURCE_CONTINUE;
	if (frames > g.mic_rate / 2)
		frames = g.mic_rate / 2;
	int16_t *buf = g_new(int16_t, (size_t)frames * (size_t)g.mic_channels);

	for (int i = 0; i < frames; i++) {
		int16_t v = (int16_t)(12000 * sin(g.mic_phase));
		g.mic_phase += 2 * M_PI * g.mic_hz / g.mic_rate;
		for (int c = 0; c < g.mic_channels; c++)
			buf[i * g.mic_channels + c] = v;
	}
	spice_record_channel_send_data(g.rec, buf,
		(gsize)frames * (gsize)g.mic_channels * 2, 0);
	g.mic_frames_sent += (size_t)frames;
	g_free(buf);
	return G_SOURCE_CONTINUE;
}

static void on_record_start(SpiceRecordChannel *ch, gint format,
	gint channels, gint rate, gpointer data)
{
	printf("record-start: format %d, %d channel(s), %d Hz\n", format,
		channels, rate);
	if (g.mic_hz <= 0 || g.mic_timer)
		return;
	g.rec = ch;
	g.mic_rate = rate;
	g.mic_channels = channels;
	g.mic_timer = g_timeout_add(10, mic_tick, NULL);
}

static void on_record_stop(SpiceRecordChannel *ch, gpointer data)
{
	printf("record-stop\n");
	if (g.mic_timer) {
		g_source_remove(g.mic_timer);
		g.mic_timer = 0;
	}
}

/* the guest's mixer as QEMU reports it (SetVolume), through spice-server */
static void on_volume(GObject *ch, GParamSpec *pspec, gpointer data)
{
	guint16 *vol = NULL;
	guint8 n = 0;
	gboolean mute = FALSE;

	g_object_get(ch, "nchannels", &n, "volume", &vol, "mute", &mute, NULL);
	printf("%s-volume: mute %d, %u channel(s), volume %u\n",
		SPICE_IS_PLAYBACK_CHANNEL(ch) ? "playback" : "record", mute, n,
		n && vol ? vol[0] : 0u);
}

static void on_channel_new(SpiceSession *s, SpiceChannel *ch, gpointer data)
{
	if (SPICE_IS_PLAYBACK_CHANNEL(ch)) {
		g_signal_connect(ch, "playback-start",
			G_CALLBACK(on_playback_start), NULL);
		g_signal_connect(ch, "playback-data",
			G_CALLBACK(on_playback_data), NULL);
		g_signal_connect(ch, "notify::volume", G_CALLBACK(on_volume),
			NULL);
		g_signal_connect(ch, "notify::mute", G_CALLBACK(on_volume),
			NULL);
		spice_channel_connect(ch);
	} else if (SPICE_IS_RECORD_CHANNEL(ch)) {
		g_signal_connect(ch, "record-start",
			G_CALLBACK(on_record_start), NULL);
		g_signal_connect(ch, "record-stop",
			G_CALLBACK(on_record_stop), NULL);
		g_signal_connect(ch, "notify::volume", G_CALLBACK(on_volume),
			NULL);
		g_signal_connect(ch, "notify::mute", G_CALLBACK(on_volume),
			NULL);
		spice_channel_connect(ch);
	} else if (SPICE_IS_MAIN_CHANNEL(ch)) {
		spice_channel_connect(ch);
	}
}

static gboolean on_timeout(gpointer data)
{
	g_main_loop_quit(g.loop);
	return G_SOURCE_REMOVE;
}

/* Power of the signal at hz (Goertzel). */
static double power_at(const int16_t *x, size_t n, double rate, double hz)
{
	double w = 2 * M_PI * hz / rate, c = 2 * cos(w), s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - c * s1 * s2;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL;
	double seconds = 5, expect_hz = 0;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--host") && v)
			host = argv[++i];
		else if (!strcmp(argv[i], "--port") && v)
			port = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && v)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--expect-hz") && v)
			expect_hz = atof(argv[++i]);
		else if (!strcmp(argv[i], "--mic-hz") && v)
			g.mic_hz = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: %s --port P [--host H] "
				"[--seconds S] [--expect-hz F] [--mic-hz F]\n",
				argv[0]);
			return 2;
		}
	}
	if (!port || seconds <= 0 || seconds > MAX_SECONDS) {
		fprintf(stderr, "zs-audio-client: --port and --seconds "
			"0..%d are needed\n", MAX_SECONDS);
		return 2;
	}
	g.cap = (size_t)(seconds * 192000);
	g.mono = g_new(int16_t, g.cap);
	g.loop = g_main_loop_new(NULL, FALSE);

	SpiceSession *session = spice_session_new();
	g_object_set(session, "host", host, "port", port,
		"enable-audio", TRUE, NULL);
	g_signal_connect(session, "channel-new", G_CALLBACK(on_channel_new),
		NULL);
	if (!spice_session_connect(session)) {
		fprintf(stderr, "zs-audio-client: cannot connect\n");
		return 1;
	}
	g_timeout_add((guint)(seconds * 1000), on_timeout, NULL);
	g_main_loop_run(g.loop);
	spice_session_disconnect(session);
	if (g.mic_hz > 0)
		printf("microphone: %zu frames of %.0f Hz sent\n",
			g.mic_frames_sent, g.mic_hz);

	if (!g.playback_started || g.n < (size_t)g.rate / 10) {
		printf("playback: %zu frames\n", g.n);
		return expect_hz > 0 || !g.playback_started ? 1 : 0;
	}
	/* dominant frequency: coarse scan in 5 Hz steps, then 0.5 Hz */
	double best_hz = 0, best = -1;
	for (double hz = 50; hz <= 5000; hz += 5) {
		double p = power_at(g.mono, g.n, g.rate, hz);
		if (p > best) {
			best = p;
			best_hz = hz;
		}
	}
	double fine = best_hz;
	for (double hz = best_hz - 5; hz <= best_hz + 5; hz += 0.5) {
		double p = power_at(g.mono, g.n, g.rate, hz);
		if (p > best) {
			best = p;
			fine = hz;
		}
	}
	double rms = 0;
	for (size_t i = 0; i < g.n; i++)
		rms += (double)g.mono[i] * g.mono[i];
	rms = sqrt(rms / (double)g.n);
	printf("playback: %zu frames at %d Hz, rms %.0f, dominant %.1f Hz\n",
		g.n, g.rate, rms, fine);
	if (expect_hz > 0 && fabs(fine - expect_hz) > expect_hz * 0.03) {
		printf("expected %.1f Hz\n", expect_hz);
		return 1;
	}
	return 0;
}
