/* server/pcm.c and the voice format check: conversions keep the signal,
 * streaming in blocks gives what one block gives, hostile formats are
 * refused and hostile samples stay in range. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "internal.h"

static const struct zs_pcm_format spice = {
	.rate_hz = 48000, .channels = 2, .bits = 16, .is_signed = true,
	.bytes_per_frame = 4,
};

/* Power of x (n samples, stride samples apart) at hz (Goertzel). */
static double power_at(const int16_t *x, size_t n, size_t stride,
	double rate, double hz)
{
	double w = 2 * M_PI * hz / rate, c = 2 * cos(w), s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = x[i * stride] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - c * s1 * s2;
}

static double dominant_hz(const int16_t *x, size_t n, size_t stride,
	double rate)
{
	double best = -1, best_hz = 0;
	for (double hz = 100; hz <= 4000; hz += 10) {
		double p = power_at(x, n, stride, rate, hz);
		if (p > best) {
			best = p;
			best_hz = hz;
		}
	}
	return best_hz;
}

Test(pcm, format_check_refuses_absurd_formats)
{
	struct zs_pcm_format ok = { .rate_hz = 44100, .channels = 2,
		.bits = 16, .is_signed = true, .bytes_per_frame = 4 };
	char why[128];
	struct zs_pcm_format f;

	cr_assert(zs_pcm_format_check(&ok, why, sizeof(why)), "%s", why);
	f = ok; f.channels = 0; f.bytes_per_frame = 0;
	cr_expect_not(zs_pcm_format_check(&f, why, sizeof(why)));
	f = ok; f.channels = 255; f.bytes_per_frame = 510;
	cr_expect_not(zs_pcm_format_check(&f, why, sizeof(why)));
	f = ok; f.rate_hz = 0;
	cr_expect_not(zs_pcm_format_check(&f, why, sizeof(why)));
	f = ok; f.rate_hz = 1000000000;
	cr_expect_not(zs_pcm_format_check(&f, why, sizeof(why)));
	f = ok; f.bits = 7; f.bytes_per_frame = 2;
	cr_expect_not(zs_pcm_format_check(&f, why, sizeof(why)));
	f = ok; f.bits = 24; f.bytes_per_frame = 6;
	cr_expect_not(zs_pcm_format_check(&f, why, sizeof(why)));
	f = ok; f.is_float = true; /* float16 */
	cr_expect_not(zs_pcm_format_check(&f, why, sizeof(why)));
	f = ok; f.bytes_per_frame = 3;
	cr_expect_not(zs_pcm_format_check(&f, why, sizeof(why)));
	cr_expect(strstr(why, "bytes per frame"), "%s", why);
	f = ok; f.bits = 32; f.is_float = true; f.bytes_per_frame = 8;
	cr_expect(zs_pcm_format_check(&f, why, sizeof(why)), "%s", why);
	f = ok; f.bits = 8; f.is_signed = false; f.channels = 1;
	f.bytes_per_frame = 1;
	cr_expect(zs_pcm_format_check(&f, why, sizeof(why)), "%s", why);
}

Test(pcm, same_format_passes_through)
{
	int16_t in[2 * 100], out[2 * 110];
	struct zs_pcm_resampler rs;

	for (int i = 0; i < 200; i++)
		in[i] = (int16_t)(i * 300 - 30000);
	zs_pcm_resampler_reset(&rs);
	size_t n = zs_pcm_convert(&rs, &spice, (const uint8_t *)in, 100,
		&spice, (uint8_t *)out, 110);
	cr_assert_eq(n, 100);
	for (int i = 0; i < 200; i++)
		cr_expect_leq(abs(out[i] - in[i]), 1, "sample %d: %d vs %d", i,
			out[i], in[i]);
}

/* QEMU's default voice (44.1 kHz) and the PC speaker's kind (8-bit
 * unsigned mono) reach SPICE's 48 kHz stereo with the tone intact; fed in
 * odd-sized blocks the result is the one-block result. */
Test(pcm, resampling_keeps_the_tone_across_blocks)
{
	const struct zs_pcm_format u8mono = { .rate_hz = 44100, .channels = 1,
		.bits = 8, .is_signed = false, .bytes_per_frame = 1 };
	enum { N = 44100 };
	static uint8_t in[N];
	static int16_t whole[2 * 48100], blocks[2 * 48100];
	struct zs_pcm_resampler rs;
	size_t n_whole, n_blocks = 0;

	for (int i = 0; i < N; i++)
		in[i] = (uint8_t)(128 + 100 * sin(2 * M_PI * 1000 * i / 44100.0));
	zs_pcm_resampler_reset(&rs);
	n_whole = zs_pcm_convert(&rs, &u8mono, in, N, &spice,
		(uint8_t *)whole, 48100);
	cr_expect(n_whole >= 47999 && n_whole <= 48001, "%zu frames", n_whole);
	cr_expect_eq(dominant_hz(whole, n_whole, 2, 48000), 1000.0);
	cr_expect_eq(dominant_hz(whole + 1, n_whole, 2, 48000), 1000.0);

	zs_pcm_resampler_reset(&rs);
	for (size_t off = 0, k = 1; off < N; off += k, k = k * 3 % 997 + 1) {
		size_t take = MIN(k, (size_t)N - off);
		n_blocks += zs_pcm_convert(&rs, &u8mono, in + off, take, &spice,
			(uint8_t *)(blocks + 2 * n_blocks), 48100 - n_blocks);
	}
	cr_assert_eq(n_blocks, n_whole);
	cr_expect_eq(memcmp(whole, blocks, n_whole * 4), 0);
}

/* SPICE's 48 kHz stereo microphone to QEMU's 44.1 kHz mono S32 BE. */
Test(pcm, downmix_and_other_sample_formats)
{
	const struct zs_pcm_format s32be = { .rate_hz = 44100, .channels = 1,
		.bits = 32, .is_signed = true, .big_endian = true,
		.bytes_per_frame = 4 };
	enum { N = 4800 };
	static int16_t in[2 * N];
	static uint8_t out[4 * 4500];
	static int16_t back[4500];
	struct zs_pcm_resampler rs;

	for (int i = 0; i < N; i++) {
		in[2 * i] = (int16_t)(10000 * sin(2 * M_PI * 440 * i / 48000.0));
		in[2 * i + 1] = in[2 * i];
	}
	zs_pcm_resampler_reset(&rs);
	size_t n = zs_pcm_convert(&rs, &spice, (const uint8_t *)in, N, &s32be,
		out, 4500);
	cr_assert(n >= 4409 && n <= 4411, "%zu frames", n);
	for (size_t i = 0; i < n; i++) {
		int32_t v = (int32_t)((uint32_t)out[4 * i] << 24 |
			(uint32_t)out[4 * i + 1] << 16 |
			(uint32_t)out[4 * i + 2] << 8 | out[4 * i + 3]);
		back[i] = (int16_t)(v >> 16);
	}
	cr_expect_eq(dominant_hz(back, n, 1, 44100), 440.0);
}

/* A guest's floats may be anything: NaN and infinities stay in range; an
 * output buffer too small is never overrun (the rest is counted). */
Test(pcm, hostile_samples_and_small_buffers)
{
	const struct zs_pcm_format f32 = { .rate_hz = 8000, .channels = 2,
		.bits = 32, .is_float = true, .bytes_per_frame = 8 };
	float in[2 * 8] = { NAN, -NAN, INFINITY, -INFINITY, 1e30f, -1e30f,
		0.5f, -0.5f, 2.0f, 0, 0, 0, 0, 0, 0, 0 };
	int16_t out[2 * 64 + 8];
	struct zs_pcm_resampler rs;

	memset(out, 0x5a, sizeof(out));
	zs_pcm_resampler_reset(&rs);
	size_t n = zs_pcm_convert(&rs, &f32, (const uint8_t *)in, 8, &spice,
		(uint8_t *)out, 10);
	cr_assert_eq(n, 10);
	cr_expect_gt(rs.dropped, 0);
	for (size_t i = 0; i < 2 * n; i++)
		cr_expect(out[i] >= -32767 && out[i] <= 32767);
	for (size_t i = 2 * n; i < sizeof(out) / sizeof(out[0]); i++)
		cr_expect_eq((uint16_t)out[i], 0x5a5a, "overrun at %zu", i);
	cr_expect_geq(zs_pcm_max_out(8, 8000, 48000), 48);
}

/* The microphone's way: SPICE's 48 kHz stereo, taken from spice-server in
 * 480-frame blocks, to QEMU's default 44.1 kHz stereo voice. Every 100 ms
 * piece keeps the tone (a block seam that lost or repeated samples would
 * smear it) and the blocks give what one block gives. */
Test(pcm, microphone_blocks_keep_the_pitch_in_every_piece)
{
	const struct zs_pcm_format qemu = { .rate_hz = 44100, .channels = 2,
		.bits = 16, .is_signed = true, .bytes_per_frame = 4 };
	enum { N = 48000, OUT = 44200, PIECE = 4410 };
	static int16_t in[2 * N], whole[2 * OUT], blocks[2 * OUT];
	struct zs_pcm_resampler rs;
	size_t n_whole, n_blocks = 0;

	for (int i = 0; i < N; i++) {
		in[2 * i] = (int16_t)(12000 * sin(2 * M_PI * 440 * i / 48000.0));
		in[2 * i + 1] = in[2 * i];
	}
	zs_pcm_resampler_reset(&rs);
	n_whole = zs_pcm_convert(&rs, &spice, (const uint8_t *)in, N, &qemu,
		(uint8_t *)whole, OUT);
	zs_pcm_resampler_reset(&rs);
	for (size_t off = 0; off < N; off += 480)
		n_blocks += zs_pcm_convert(&rs, &spice,
			(const uint8_t *)(in + 2 * off), 480, &qemu,
			(uint8_t *)(blocks + 2 * n_blocks), OUT - n_blocks);
	cr_assert_eq(n_blocks, n_whole);
	cr_expect_eq(memcmp(whole, blocks, n_whole * 4), 0);
	for (size_t p = 0; p + PIECE <= n_blocks; p += PIECE)
		cr_expect_eq(dominant_hz(blocks + 2 * p, PIECE, 2, 44100), 440.0,
			"piece at frame %zu", p);
}
