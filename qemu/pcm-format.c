/* zerospice — which PCM formats from QEMU's audio voices we convert
 * (zs-qemu.h); on its own so that fuzz targets take it without GDBus. */
#include <stdio.h>

#include "zs-qemu.h"

bool zs_pcm_format_check(const struct zs_pcm_format *f, char *why,
	size_t why_len)
{
	if (f->channels == 0 || f->channels > ZS_PCM_MAX_CHANNELS) {
		snprintf(why, why_len, "%u channels (1..%u)", f->channels,
			ZS_PCM_MAX_CHANNELS);
		return false;
	}
	if (f->rate_hz < ZS_PCM_MIN_RATE_HZ || f->rate_hz > ZS_PCM_MAX_RATE_HZ) {
		snprintf(why, why_len, "%u Hz (%u..%u)", f->rate_hz,
			ZS_PCM_MIN_RATE_HZ, ZS_PCM_MAX_RATE_HZ);
		return false;
	}
	if (f->is_float ? f->bits != 32 :
	    (f->bits != 8 && f->bits != 16 && f->bits != 32)) {
		snprintf(why, why_len, "%u-bit %s samples", f->bits,
			f->is_float ? "float" : "integer");
		return false;
	}
	if (f->bytes_per_frame != (uint32_t)f->channels * f->bits / 8) {
		snprintf(why, why_len, "%u bytes per frame for %u channels of "
			"%u bits", f->bytes_per_frame, f->channels, f->bits);
		return false;
	}
	return true;
}
