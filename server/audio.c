/* SPICE audio fed by QEMU's: a SpicePlaybackInstance playing the guest's
 * sound (QEMU's AudioOutListener Writes) and a SpiceRecordInstance whose
 * client microphone QEMU reads (AudioInListener Read). SPICE's side is
 * fixed at 48 kHz stereo S16, the rate at which spice-server codes Opus
 * for clients that take it (raw PCM otherwise); QEMU's voices are
 * converted to and from it (pcm.c). One voice per direction at a time:
 * for playback the one the guest enables (others are not mixed in while it
 * plays: logged); for record the first QEMU announces.
 *
 * Clock: once playback runs, spice-gtk times video by the audio clock
 * (shared/DESIGN.md §3) and the relay's periodic clock messages are paused
 * so as not to fight it (relay.h); playback starts only while QEMU's voice
 * is enabled, so a silent guest leaves the video clock as it was. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "relay.h"

#define SPICE_RATE_HZ 48000
#define SPICE_CHANNELS 2
#define RECORD_CHUNK_FRAMES 480
/* The client's microphone comes in bursts (its timer, the network, a busy
 * host) while QEMU reads at its own steady pace: this much is kept ahead,
 * so that a late burst does not chop the sound with silence. */
#define RECORD_PREFILL_MS 60

static const struct zs_pcm_format spice_fmt = {
	.rate_hz = SPICE_RATE_HZ, .channels = SPICE_CHANNELS, .bits = 16,
	.is_signed = true, .big_endian = G_BYTE_ORDER == G_BIG_ENDIAN,
	.bytes_per_frame = 4,
};

struct voice {
	bool active;        /* a voice is chosen */
	uint64_t id;
	struct zs_pcm_format fmt;
	bool enabled;
	struct zs_pcm_resampler rs;
};

/* A playback voice QEMU announced (it plays once enabled). */
#define MAX_OUT_VOICES 8
struct out_voice {
	bool used;
	uint64_t id;
	struct zs_pcm_format fmt;
	bool have_volume, mute;
	uint8_t volume[ZS_PCM_MAX_CHANNELS];
	size_t n_volume;
	bool said_ignored;
};

struct zs_audio {
	SpicePlaybackInstance play;
	SpiceRecordInstance rec;
	bool play_added, rec_added;

	struct voice out, in; /* out: the voice that plays */
	struct out_voice known[MAX_OUT_VOICES];
	/* spice-server's playback buffer being filled (get_buffer takes it
	 * from its free list: it must go back with put_samples) */
	uint32_t *frame;
	uint32_t frame_len, frame_pos;
	uint8_t *scratch;   /* conversion output */
	size_t scratch_bytes;
	GByteArray *in_pending; /* record data converted, not read yet */
	uint64_t played_frames, dropped_frames, recorded_frames;
	bool said_recording;
	/* record: QEMU is given real time's worth of frames from here */
	int64_t in_clock_us;
	uint64_t in_frames_given;
	/* the client's microphone is handed on once RECORD_PREFILL_MS of it
	 * wait (again after it ran dry): silence until then */
	bool in_primed;
	uint64_t in_underruns;
};

static const SpicePlaybackInterface playback_sif = {
	.base = {
		.type = SPICE_INTERFACE_PLAYBACK,
		.description = "zerospice playback",
		.major_version = SPICE_INTERFACE_PLAYBACK_MAJOR,
		.minor_version = SPICE_INTERFACE_PLAYBACK_MINOR,
	},
};

static const SpiceRecordInterface record_sif = {
	.base = {
		.type = SPICE_INTERFACE_RECORD,
		.description = "zerospice record",
		.major_version = SPICE_INTERFACE_RECORD_MAJOR,
		.minor_version = SPICE_INTERFACE_RECORD_MINOR,
	},
};

static bool scratch_reserve(struct zs_audio *a, size_t frames,
	uint32_t bytes_per_frame)
{
	size_t need = frames * bytes_per_frame;

	if (a->scratch && a->scratch_bytes >= need)
		return true;
	g_free(a->scratch);
	a->scratch = g_try_malloc(need);
	a->scratch_bytes = a->scratch ? need : 0;
	return a->scratch != NULL;
}

/* ---- playback ---- */

static void play_stop(struct zs_audio *a)
{
	if (a->frame) {
		/* the partial buffer goes back, completed with silence */
		memset(a->frame + a->frame_pos, 0,
			(size_t)(a->frame_len - a->frame_pos) * sizeof(*a->frame));
		spice_server_playback_put_samples(&a->play, a->frame);
		a->frame = NULL;
	}
	if (a->out.enabled) {
		spice_server_playback_stop(&a->play);
		zs_relay_pause_resync(false);
	}
	a->out.enabled = false;
}

static struct out_voice *known_voice(struct zs_audio *a, uint64_t id)
{
	for (int i = 0; i < MAX_OUT_VOICES; i++) {
		if (a->known[i].used && a->known[i].id == id)
			return &a->known[i];
	}
	return NULL;
}

static void apply_volume(struct zs_audio *a, const struct out_voice *v);

static void out_init(void *data, uint64_t id, const struct zs_pcm_format *f)
{
	struct zs_audio *a = data;
	struct out_voice *v = known_voice(a, id);

	for (int i = 0; i < MAX_OUT_VOICES && !v; i++) {
		if (!a->known[i].used)
			v = &a->known[i];
	}
	if (!v) {
		g_message("audio: playback voice %" G_GUINT64_FORMAT " ignored "
			"(%d voices already)", id, MAX_OUT_VOICES);
		return;
	}
	memset(v, 0, sizeof(*v));
	v->used = true;
	v->id = id;
	v->fmt = *f;
	if (a->out.active && a->out.id == id) {
		/* the playing voice changed format */
		play_stop(a);
		a->out.active = false;
	}
}

static void out_fini(void *data, uint64_t id)
{
	struct zs_audio *a = data;
	struct out_voice *v = known_voice(a, id);

	if (v)
		v->used = false;
	if (a->out.active && a->out.id == id) {
		play_stop(a);
		a->out.active = false;
	}
}

/* The voice the guest enables plays, unless another one plays already
 * (SPICE has one playback stream; voices are not mixed). */
static void out_enable(void *data, uint64_t id, bool enabled)
{
	struct zs_audio *a = data;
	struct out_voice *v = known_voice(a, id);

	if (!enabled) {
		if (a->out.active && a->out.id == id) {
			play_stop(a);
			a->out.active = false;
		}
		return;
	}
	if (!v || (a->out.active && a->out.id == id && a->out.enabled))
		return;
	if (a->out.active && a->out.enabled) {
		if (!v->said_ignored)
			g_message("audio: playback voice %" G_GUINT64_FORMAT
				" not heard while voice %" G_GUINT64_FORMAT
				" plays (voices are not mixed)", id, a->out.id);
		v->said_ignored = true;
		return;
	}
	a->out.active = true;
	a->out.id = id;
	a->out.fmt = v->fmt;
	zs_pcm_resampler_reset(&a->out.rs);
	spice_server_playback_start(&a->play);
	/* the client's clock follows the audio now: the relay leaves it */
	zs_relay_pause_resync(true);
	a->out.enabled = true;
	apply_volume(a, v);
}

static void set_volume(struct zs_audio *a, bool playback, bool mute,
	const uint8_t *volume, size_t n)
{
	uint16_t vol[ZS_PCM_MAX_CHANNELS];

	for (size_t i = 0; i < n; i++)
		vol[i] = (uint16_t)(volume[i] * 257u); /* 0..255 → 0..65535 */
	if (playback) {
		if (n)
			spice_server_playback_set_volume(&a->play, (uint8_t)n,
				vol);
		spice_server_playback_set_mute(&a->play, mute);
	} else {
		if (n)
			spice_server_record_set_volume(&a->rec, (uint8_t)n,
				vol);
		spice_server_record_set_mute(&a->rec, mute);
	}
}

static void apply_volume(struct zs_audio *a, const struct out_voice *v)
{
	if (v->have_volume)
		set_volume(a, true, v->mute, v->volume, v->n_volume);
}

static void out_volume(void *data, uint64_t id, bool mute,
	const uint8_t *volume, size_t n)
{
	struct zs_audio *a = data;
	struct out_voice *v = known_voice(a, id);

	if (!v)
		return;
	v->have_volume = true;
	v->mute = mute;
	v->n_volume = MIN(n, (size_t)ZS_PCM_MAX_CHANNELS);
	if (v->n_volume)
		memcpy(v->volume, volume, v->n_volume);
	if (a->out.active && a->out.id == id)
		apply_volume(a, v);
}

/* Copies n stereo S16 frames into spice-server's buffers, handing each
 * one over when full. Without a client playing there is no buffer: the
 * frames are dropped. */
static void play_frames(struct zs_audio *a, const uint32_t *frames, size_t n)
{
	while (n > 0) {
		if (!a->frame) {
			uint32_t len = 0;
			spice_server_playback_get_buffer(&a->play, &a->frame,
				&len);
			if (!a->frame || len == 0) {
				a->frame = NULL;
				a->dropped_frames += n;
				return;
			}
			a->frame_len = len;
			a->frame_pos = 0;
		}
		size_t k = MIN(n, (size_t)(a->frame_len - a->frame_pos));
		memcpy(a->frame + a->frame_pos, frames, k * sizeof(*frames));
		a->frame_pos += (uint32_t)k;
		frames += k;
		n -= k;
		if (a->frame_pos == a->frame_len) {
			spice_server_playback_put_samples(&a->play, a->frame);
			a->frame = NULL;
			a->played_frames += a->frame_len;
		}
	}
}

static void out_write(void *data, uint64_t id, const uint8_t *pcm,
	size_t len)
{
	struct zs_audio *a = data;
	size_t n_in, max_out, n_out;

	if (!a->out.active || a->out.id != id || !a->out.enabled)
		return;
	n_in = len / a->out.fmt.bytes_per_frame;
	max_out = zs_pcm_max_out(n_in, a->out.fmt.rate_hz, SPICE_RATE_HZ);
	if (!scratch_reserve(a, max_out, spice_fmt.bytes_per_frame))
		return;
	n_out = zs_pcm_convert(&a->out.rs, &a->out.fmt, pcm, n_in, &spice_fmt,
		a->scratch, max_out);
	play_frames(a, (const uint32_t *)(const void *)a->scratch, n_out);
}

/* ---- record ---- */

static void rec_stop(struct zs_audio *a)
{
	if (a->in.enabled)
		spice_server_record_stop(&a->rec);
	a->in.enabled = false;
	g_byte_array_set_size(a->in_pending, 0);
}

static void in_init(void *data, uint64_t id, const struct zs_pcm_format *f)
{
	struct zs_audio *a = data;

	if (a->in.active && a->in.id != id) {
		g_message("audio: record voice %" G_GUINT64_FORMAT " ignored "
			"(voice %" G_GUINT64_FORMAT " records)", id, a->in.id);
		return;
	}
	rec_stop(a);
	a->in.active = true;
	a->in.id = id;
	a->in.fmt = *f;
	zs_pcm_resampler_reset(&a->in.rs);
}

static void in_fini(void *data, uint64_t id)
{
	struct zs_audio *a = data;

	if (!a->in.active || a->in.id != id)
		return;
	rec_stop(a);
	a->in.active = false;
}

static void in_enable(void *data, uint64_t id, bool enabled)
{
	struct zs_audio *a = data;

	if (!a->in.active || a->in.id != id || enabled == a->in.enabled)
		return;
	g_message("audio: QEMU %s recording (voice %" G_GUINT64_FORMAT ")",
		enabled ? "starts" : "stops", id);
	if (enabled) {
		spice_server_record_start(&a->rec);
		a->in.enabled = true;
		a->in_primed = false;
		zs_pcm_resampler_reset(&a->in.rs);
		a->in_clock_us = g_get_monotonic_time();
		a->in_frames_given = 0;
	} else {
		rec_stop(a);
	}
}

static void in_volume(void *data, uint64_t id, bool mute,
	const uint8_t *volume, size_t n)
{
	struct zs_audio *a = data;

	if (a->in.active && a->in.id == id)
		set_volume(a, false, mute, volume, n);
}

/* How many frames QEMU may have now: real time since the voice started,
 * so that silence stands in for a missing microphone at the real rate
 * (a capture that stalls makes guests fail their reads) and a late
 * client's sound is not queued behind seconds of it. */
static size_t in_frames_due(struct zs_audio *a, size_t max_frames)
{
	int64_t now = g_get_monotonic_time();
	uint64_t due = (uint64_t)(now - a->in_clock_us) * a->in.fmt.rate_hz /
		G_USEC_PER_SEC;

	if (due > a->in_frames_given + 4 * max_frames)
		a->in_frames_given = due - max_frames; /* fell behind: skip */
	if (due <= a->in_frames_given)
		return 0;
	return MIN((size_t)(due - a->in_frames_given), max_frames);
}

static size_t in_read(void *data, uint64_t id, uint8_t *pcm, size_t len)
{
	struct zs_audio *a = data;
	uint32_t chunk[RECORD_CHUNK_FRAMES];
	size_t bpf, frames, n;

	if (!a->in.active || a->in.id != id || !a->in.enabled)
		return 0;
	bpf = a->in.fmt.bytes_per_frame;
	frames = in_frames_due(a, len / bpf);
	if (frames == 0)
		return 0;
	size_t prefill = (size_t)a->in.fmt.rate_hz * RECORD_PREFILL_MS / 1000 *
		bpf;
	/* take what spice-server holds, up to the prefill ahead */
	while (a->in_pending->len < MAX(frames * bpf, prefill)) {
		uint32_t got = spice_server_record_get_samples(&a->rec, chunk,
			RECORD_CHUNK_FRAMES);
		size_t max_out;

		if (got == 0)
			break;
		a->recorded_frames += got;
		max_out = zs_pcm_max_out(got, SPICE_RATE_HZ, a->in.fmt.rate_hz);
		if (!scratch_reserve(a, max_out, bpf))
			break;
		n = zs_pcm_convert(&a->in.rs, &spice_fmt, (const uint8_t *)chunk,
			got, &a->in.fmt, a->scratch, max_out);
		g_byte_array_append(a->in_pending, a->scratch, (guint)(n * bpf));
	}
	/* A client that sends faster than QEMU reads (a guest that captures
	 * slower than real time, under load): past 200 ms waiting, the oldest
	 * go at once down to the prefill, so that the sound jumps rarely
	 * rather than losing a few samples at every read (which smears its
	 * pitch). */
	size_t keep = (size_t)a->in.fmt.rate_hz / 5 * bpf;
	if (a->in_pending->len > keep) {
		size_t drop = a->in_pending->len - prefill;
		drop -= drop % bpf;
		g_byte_array_remove_range(a->in_pending, 0, (guint)drop);
	}
	if (a->recorded_frames && !a->said_recording) {
		g_message("audio: QEMU reads the client's microphone (record "
			"voice %" G_GUINT64_FORMAT ")", id);
		a->said_recording = true;
	}
	if (!a->in_primed && a->in_pending->len >= prefill)
		a->in_primed = true;
	n = a->in_primed ? MIN(frames * bpf, a->in_pending->len) : 0;
	n -= n % bpf;
	if (a->in_primed && n < frames * bpf) {
		/* ran dry: fill up again before handing more on */
		a->in_primed = false;
		if (a->recorded_frames && a->in_underruns++ == 0)
			g_message("audio: the client's microphone fell behind "
				"QEMU's reads: silence until %d ms of it wait "
				"again (said once)", RECORD_PREFILL_MS);
	}
	if (n) {
		memcpy(pcm, a->in_pending->data, n);
		g_byte_array_remove_range(a->in_pending, 0, (guint)n);
	}
	/* no microphone (yet): silence */
	zs_pcm_silence(&a->in.fmt, pcm + n, frames - n / bpf);
	a->in_frames_given += frames;
	return frames * bpf;
}

static const struct zs_qemu_audio_events qemu_events = {
	.out_init = out_init,
	.out_fini = out_fini,
	.out_enable = out_enable,
	.out_volume = out_volume,
	.out_write = out_write,
	.in_init = in_init,
	.in_fini = in_fini,
	.in_enable = in_enable,
	.in_volume = in_volume,
	.in_read = in_read,
};

const struct zs_qemu_audio_events *zs_audio_qemu_events(void)
{
	return &qemu_events;
}

/* ---- lifecycle ---- */

struct zs_audio *zs_audio_create(SpiceServer *server, char *err,
	size_t err_len)
{
	struct zs_audio *a = g_new0(struct zs_audio, 1);

	a->in_pending = g_byte_array_new();
	a->play.base.sif = &playback_sif.base;
	if (spice_server_add_interface(server, &a->play.base) != 0) {
		snprintf(err, err_len, "spice-server refused the playback "
			"interface");
		goto err;
	}
	a->play_added = true;
	spice_server_set_playback_rate(&a->play, SPICE_RATE_HZ);
	a->rec.base.sif = &record_sif.base;
	if (spice_server_add_interface(server, &a->rec.base) != 0) {
		snprintf(err, err_len, "spice-server refused the record "
			"interface");
		goto err;
	}
	a->rec_added = true;
	spice_server_set_record_rate(&a->rec, SPICE_RATE_HZ);
	return a;

err:
	zs_audio_destroy(a);
	return NULL;
}

void zs_audio_destroy(struct zs_audio *a)
{
	if (!a)
		return;
	if (a->play_added) {
		play_stop(a);
		spice_server_remove_interface(&a->play.base);
	}
	if (a->rec_added) {
		rec_stop(a);
		spice_server_remove_interface(&a->rec.base);
	}
	if (a->played_frames || a->dropped_frames)
		g_debug("audio: %" G_GUINT64_FORMAT " frames played, %"
			G_GUINT64_FORMAT " dropped", a->played_frames,
			a->dropped_frames);
	g_byte_array_free(a->in_pending, TRUE);
	g_free(a->scratch);
	g_free(a);
}
