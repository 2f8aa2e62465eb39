/* Fuzz target: PCM from a QEMU voice. The first bytes pick the voice's
 * format as QEMU's Init would give it (any values), the rest is the PCM of
 * its Writes: formats the check accepts are converted to SPICE's 48 kHz
 * stereo S16 and back; the output buffers are exactly as large as
 * zs_pcm_max_out() says (ASan catches an overrun), and converting whole
 * and in pieces must give the same samples. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "internal.h"

#define FORMAT_BYTES 8

static const struct zs_pcm_format spice = {
	.rate_hz = 48000, .channels = 2, .bits = 16, .is_signed = true,
	.bytes_per_frame = 4,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_fuzz_input in = zs_fuzz_input_split(data, size);
	struct zs_pcm_format f;
	struct zs_pcm_resampler rs;
	char why[128] = "";
	const uint8_t *pcm;
	size_t n_in, max_out, whole, pieces = 0;
	uint8_t *a, *b, *back;

	if (in.stream_len < FORMAT_BYTES)
		return 0;
	f.rate_hz = (uint32_t)in.stream[0] << 16 | (uint32_t)in.stream[1] << 8 |
		in.stream[2];
	f.channels = in.stream[3];
	f.bits = in.stream[4];
	f.is_signed = in.stream[5] & 1;
	f.is_float = in.stream[5] & 2;
	f.big_endian = in.stream[5] & 4;
	f.bytes_per_frame = (uint32_t)in.stream[6] << 8 | in.stream[7];
	if (!zs_pcm_format_check(&f, why, sizeof(why))) {
		if (!why[0])
			abort();
		return 0;
	}
	pcm = in.stream + FORMAT_BYTES;
	n_in = (in.stream_len - FORMAT_BYTES) / f.bytes_per_frame;
	max_out = zs_pcm_max_out(n_in, f.rate_hz, spice.rate_hz);
	a = malloc(max_out * 4 + 1);
	b = malloc(max_out * 4 + 1);
	if (!a || !b)
		abort();

	zs_pcm_resampler_reset(&rs);
	whole = zs_pcm_convert(&rs, &f, pcm, n_in, &spice, a, max_out);
	if (whole > max_out || rs.dropped)
		abort();

	zs_pcm_resampler_reset(&rs);
	for (size_t i = 0, off = 0; off < n_in; i++) {
		size_t k = zs_fuzz_piece_len(&in, i, n_in - off);
		pieces += zs_pcm_convert(&rs, &f, pcm + off * f.bytes_per_frame,
			k, &spice, b + pieces * 4, max_out - pieces);
		off += k;
	}
	if (pieces != whole || memcmp(a, b, whole * 4) != 0 || rs.dropped)
		abort();

	/* and back, as the microphone goes */
	max_out = zs_pcm_max_out(whole, spice.rate_hz, f.rate_hz);
	back = malloc(max_out * f.bytes_per_frame + 1);
	if (!back)
		abort();
	zs_pcm_resampler_reset(&rs);
	if (zs_pcm_convert(&rs, &spice, a, whole, &f, back, max_out) > max_out)
		abort();
	zs_pcm_silence(&f, back, max_out);
	free(back);
	free(a);
	free(b);
	return 0;
}

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	/* 44.1 kHz stereo S16 LE, a few frames */
	ZS_FUZZ_SEED("\x03\x05\x00\x00" "\x00\xac\x44\x02\x10\x01\x00\x04"
		"\x00\x10\x00\xf0\x00\x20\x00\xe0\x00\x30\x00\xd0"),
	/* 8 kHz mono u8 */
	ZS_FUZZ_SEED("\x01\x00\x00\x00" "\x00\x1f\x40\x01\x08\x00\x00\x01"
		"\x80\x90\xa0\xb0\xc0\x70\x60"),
	/* 192 kHz 8-channel float BE */
	ZS_FUZZ_SEED("\x02\x07\x00\x00" "\x02\xee\x00\x08\x20\x06\x00\x20"
		"\x3f\x80\x00\x00\xbf\x80\x00\x00\x7f\xc0\x00\x00\xff\x80\x00\x00"
		"\x00\x00\x00\x00\x3f\x00\x00\x00\x7f\x80\x00\x00\x42\x00\x00\x00"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
