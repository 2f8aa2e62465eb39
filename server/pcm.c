/* PCM conversion between QEMU's voice formats and SPICE's (48 kHz stereo
 * S16): sample format, channel count and rate (linear interpolation), in
 * blocks, the resampler keeping its position between blocks. */
#include <string.h>

#include "internal.h"

void zs_pcm_resampler_reset(struct zs_pcm_resampler *rs)
{
	memset(rs, 0, sizeof(*rs));
}

static uint32_t get_u32(const uint8_t *p, bool be)
{
	return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3] :
		(uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
		(uint32_t)p[1] << 8 | p[0];
}

static void put_u32(uint8_t *p, uint32_t v, bool be)
{
	for (int i = 0; i < 4; i++)
		p[be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

/* One sample as -1..1. */
static float get_sample(const uint8_t *p, const struct zs_pcm_format *f)
{
	switch (f->bits) {
	case 8:
		return f->is_signed ? (int8_t)p[0] / 128.0f :
			((int)p[0] - 128) / 128.0f;
	case 16: {
		uint16_t u = f->big_endian ? (uint16_t)(p[0] << 8 | p[1]) :
			(uint16_t)(p[1] << 8 | p[0]);
		return f->is_signed ? (int16_t)u / 32768.0f :
			((int)u - 32768) / 32768.0f;
	}
	default: {
		uint32_t u = get_u32(p, f->big_endian);
		if (f->is_float) {
			float v;
			memcpy(&v, &u, sizeof(v));
			/* NaN and infinities from a guest become silence or
			 * full scale, never undefined conversions */
			return v != v ? 0.0f : v > 1.0f ? 1.0f :
				v < -1.0f ? -1.0f : v;
		}
		return f->is_signed ? (float)((int32_t)u / 2147483648.0) :
			(float)(((double)u - 2147483648.0) / 2147483648.0);
	}
	}
}

static void put_sample(uint8_t *p, const struct zs_pcm_format *f, float v)
{
	v = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
	switch (f->bits) {
	case 8: {
		int s = (int)(v * 127.0f);
		p[0] = f->is_signed ? (uint8_t)(int8_t)s : (uint8_t)(s + 128);
		break;
	}
	case 16: {
		int s = (int)(v * 32767.0f);
		uint16_t u = f->is_signed ? (uint16_t)(int16_t)s :
			(uint16_t)(s + 32768);
		p[f->big_endian ? 0 : 1] = (uint8_t)(u >> 8);
		p[f->big_endian ? 1 : 0] = (uint8_t)u;
		break;
	}
	default: {
		uint32_t u;
		if (f->is_float) {
			memcpy(&u, &v, sizeof(u));
		} else {
			double s = (double)v * 2147483647.0;
			u = f->is_signed ? (uint32_t)(int32_t)s :
				(uint32_t)(s + 2147483648.0);
		}
		put_u32(p, u, f->big_endian);
		break;
	}
	}
}

/* One frame as out_ch floats: mono spreads, down-mixing to mono averages,
 * otherwise channels map in order (missing ones silent). */
static void get_frame(const uint8_t *p, const struct zs_pcm_format *f,
	uint8_t out_ch, float *out)
{
	float in[ZS_PCM_MAX_CHANNELS];
	uint32_t bytes = f->bits / 8u;

	for (uint8_t c = 0; c < f->channels; c++)
		in[c] = get_sample(p + c * bytes, f);
	if (f->channels == 1) {
		for (uint8_t c = 0; c < out_ch; c++)
			out[c] = in[0];
	} else if (out_ch == 1) {
		float sum = 0;
		for (uint8_t c = 0; c < f->channels; c++)
			sum += in[c];
		out[0] = sum / f->channels;
	} else {
		for (uint8_t c = 0; c < out_ch; c++)
			out[c] = c < f->channels ? in[c] : 0.0f;
	}
}

static void put_frame(struct zs_pcm_resampler *rs,
	const struct zs_pcm_format *f, uint8_t *out, size_t *n_out,
	size_t max_out, const float *v)
{
	uint32_t bytes = f->bits / 8u;

	if (*n_out >= max_out) {
		rs->dropped++;
		return;
	}
	for (uint8_t c = 0; c < f->channels; c++)
		put_sample(out + *n_out * f->bytes_per_frame + c * bytes, f, v[c]);
	(*n_out)++;
}

size_t zs_pcm_max_out(size_t n_in, uint32_t in_rate, uint32_t out_rate)
{
	return (size_t)((double)n_in * out_rate / in_rate) + 2;
}

size_t zs_pcm_convert(struct zs_pcm_resampler *rs,
	const struct zs_pcm_format *in_fmt, const uint8_t *in, size_t n_in,
	const struct zs_pcm_format *out_fmt, uint8_t *out, size_t max_out)
{
	double step = (double)in_fmt->rate_hz / out_fmt->rate_hz;
	uint8_t ch = out_fmt->channels;
	size_t n_out = 0;

	for (size_t i = 0; i < n_in; i++) {
		float cur[ZS_PCM_MAX_CHANNELS];
		get_frame(in + i * in_fmt->bytes_per_frame, in_fmt, ch, cur);
		if (!rs->have_prev) {
			/* the first input is the first output */
			memcpy(rs->prev, cur, sizeof(cur));
			rs->have_prev = true;
			rs->t = 0;
			put_frame(rs, out_fmt, out, &n_out, max_out, cur);
			rs->t = step;
			continue;
		}
		/* outputs that fall after the previous input, up to this one */
		while (rs->t <= 1.0) {
			float v[ZS_PCM_MAX_CHANNELS];
			for (uint8_t c = 0; c < ch; c++)
				v[c] = rs->prev[c] + (cur[c] - rs->prev[c]) *
					(float)rs->t;
			put_frame(rs, out_fmt, out, &n_out, max_out, v);
			rs->t += step;
		}
		rs->t -= 1.0;
		memcpy(rs->prev, cur, sizeof(cur));
	}
	return n_out;
}

void zs_pcm_silence(const struct zs_pcm_format *f, uint8_t *out,
	size_t frames)
{
	uint8_t frame[ZS_PCM_MAX_CHANNELS * 4];

	for (uint8_t c = 0; c < f->channels; c++)
		put_sample(frame + c * (f->bits / 8u), f, 0.0f);
	for (size_t i = 0; i < frames; i++)
		memcpy(out + i * f->bytes_per_frame, frame, f->bytes_per_frame);
}
