/* Codec negotiation: which codec to put in FORMAT given what every connected
 * client decodes (START_STOP) and what our encoders produce. spice-server
 * does not check FORMAT's codec against the clients, so this is the check. */
#include <spice/enums.h>

#include "zs-client-proto.h"

_Static_assert((int)ZS_CODEC_MJPEG == (int)SPICE_VIDEO_CODEC_TYPE_MJPEG &&
	(int)ZS_CODEC_VP8 == (int)SPICE_VIDEO_CODEC_TYPE_VP8 &&
	(int)ZS_CODEC_H264 == (int)SPICE_VIDEO_CODEC_TYPE_H264 &&
	(int)ZS_CODEC_VP9 == (int)SPICE_VIDEO_CODEC_TYPE_VP9 &&
	(int)ZS_CODEC_H265 == (int)SPICE_VIDEO_CODEC_TYPE_H265,
	"enum zs_codec must match SpiceVideoCodecType");

/* Best compression per bit first; MJPEG last (every client has it). */
static const enum zs_codec preference[] = {
	ZS_CODEC_H264, ZS_CODEC_VP8, ZS_CODEC_VP9, ZS_CODEC_H265, ZS_CODEC_MJPEG,
};

enum zs_codec zs_codec_choose(uint32_t client_mask, uint32_t available_mask,
	enum zs_codec forced)
{
	uint32_t usable = client_mask & available_mask;

	if (forced != ZS_CODEC_NONE) {
		if ((unsigned)forced >= ZS_CODEC_COUNT)
			return ZS_CODEC_NONE;
		return (usable & ZS_CODEC_BIT(forced)) ? forced : ZS_CODEC_NONE;
	}
	for (size_t i = 0; i < sizeof(preference) / sizeof(preference[0]); i++) {
		if (usable & ZS_CODEC_BIT(preference[i]))
			return preference[i];
	}
	return ZS_CODEC_NONE;
}
