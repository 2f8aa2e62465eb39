/* zerospice — video encoders behind one interface. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zs_frame;

/* Codecs. The numeric values match SpiceVideoCodecType on purpose, but the
 * encoder does not depend on SPICE. */
enum zs_codec {
	ZS_CODEC_NONE = 0,
	ZS_CODEC_MJPEG = 1,
	ZS_CODEC_VP8 = 2,
	ZS_CODEC_H264 = 3,
	ZS_CODEC_VP9 = 4,
	ZS_CODEC_H265 = 5,
};
#define ZS_CODEC_COUNT 6
#define ZS_CODEC_BIT(c) (1u << (c))

/* "h264", "vp8", … ; "none" for ZS_CODEC_NONE. */
const char *zs_codec_name(enum zs_codec codec);
/* Parses a codec name; false when unknown. "auto" is not a codec. */
bool zs_codec_from_name(const char *name, enum zs_codec *codec);

enum zs_encoder_backend {
	ZS_ENCODER_AUTO = 0,
	ZS_ENCODER_SOFTWARE,
	ZS_ENCODER_VAAPI,
};

/* The VA-API device (a DRM render node) for every later VA-API probe and
 * encoder; NULL or "" restores the default, the first /dev/dri/renderD*
 * whose driver can encode H.264. A path that is not a DRM node works only
 * with LIBVA_DRIVER_NAME set (tests: the fake driver). Thread-safe; call
 * it before creating encoders. */
void zs_encoder_set_va_device(const char *path);

struct zs_encoder_config {
	enum zs_codec codec;
	uint32_t width, height;
	uint32_t fourcc;       /* DRM fourcc of the frames that will be fed */
	uint32_t bitrate_kbps; /* target; 0 = backend default (scales with
	                        * pixels and fps) */
	uint32_t fps;          /* expected frame rate, for rate control;
	                        * 0 = 30 */
};

/* One encoded frame: a whole access unit (H.264/H.265 in Annex-B byte
 * stream with parameter sets before each keyframe; VP8/VP9 frames; JPEG). */
struct zs_access_unit {
	uint8_t *data;
	size_t size;
	bool keyframe;
	uint64_t frame_id;
	uint64_t capture_us;    /* copied from the frame */
	uint64_t encode_start_us, encode_end_us; /* CLOCK_MONOTONIC */
	enum zs_codec codec;
	uint32_t width, height;
};
void zs_access_unit_free(struct zs_access_unit *au);

/* Call first in main(), before any thread starts (it may set an
 * environment variable): unless the environment steers GStreamer's plugin
 * search (GST_PLUGIN_PATH, GST_PLUGIN_SYSTEM_PATH, GST_REGISTRY, …), the
 * software encoder then skips GStreamer's registry of every installed
 * plugin and loads the few plugins it uses from GStreamer's plugin
 * directory when it first needs them. Optional: without it the registry
 * is used as usual. */
void zs_encoder_preinit(void);

/* Which codecs the backend can produce on this machine (bitmask of
 * ZS_CODEC_BIT). Probes once per process and caches; thread-safe. */
uint32_t zs_encoder_probe(enum zs_encoder_backend backend);
/* Name of what would encode `codec` with `backend` ("x264enc", …), NULL if
 * nothing can. */
const char *zs_encoder_element_name(enum zs_encoder_backend backend,
	enum zs_codec codec);

struct zs_encoder;

/* Creates an encoder for one codec and size. Returns NULL and a message in
 * err when the combination is not available. */
struct zs_encoder *zs_encoder_create(enum zs_encoder_backend backend,
	const struct zs_encoder_config *config, char *err, size_t err_len);
void zs_encoder_destroy(struct zs_encoder *enc);

/* Encodes one frame (borrowed: mapped for reading, not released; nothing
 * touches it once the call returns) and returns its access unit in *out.
 * One frame in flight: the call blocks until the picture is encoded.
 * force_keyframe makes the output a keyframe (IDR). Returns 0 or a negative
 * errno: -EINVAL for a frame whose size, format, plane layout or modifier
 * the encoder cannot take; -EIO or -ETIMEDOUT when the encoder itself failed
 * (it stays broken: destroy it and create a new one); other errors (from
 * mapping the frame) concern that frame only. Called from one thread at a
 * time. */
int zs_encoder_encode(struct zs_encoder *enc, const struct zs_frame *frame,
	bool force_keyframe, struct zs_access_unit **out);

/* Refinement of a still picture: the quality of the frames that follow.
 * 0 leaves every choice to the rate control (the default); 1 ..
 * ZS_ENCODER_REFINE_MAX ask for a sharper picture at a higher bit cost:
 * each level spends about four times the bits of the one below (x264,
 * VP8/VP9: a higher bitrate target for those frames) or caps the QP lower
 * (VA-API: a per-picture QP in CQP, a QP ceiling and a higher target under
 * CBR/VBR). Encoding the same picture again at rising levels refines it
 * toward near-lossless through the P frames' residual. Returns 0, or
 * -ENOTSUP when the backend has no such control (frames then come at the
 * normal quality). Same thread rules as zs_encoder_encode(). */
#define ZS_ENCODER_REFINE_MAX 6
int zs_encoder_set_refine(struct zs_encoder *enc, unsigned level);
/* A new bitrate target from the next frame on, without a new encoder or
 * a keyframe (link rate control): the ceiling of x264's capped CRF, the
 * VA rate control's bits per second, vp8/vp9's target. -ENOTSUP where the
 * encoder cannot (jpegenc). Same thread rules as zs_encoder_encode(). */
int zs_encoder_set_bitrate(struct zs_encoder *enc, uint32_t kbps);
/* The bitrate target in use (the configured one, or the default chosen
 * for size and rate). */
uint32_t zs_encoder_bitrate_kbps(const struct zs_encoder *enc);
/* The refine level zs_encoder_set_refine() last set. */
unsigned zs_encoder_refine_level(const struct zs_encoder *enc);

/* "gst:x264enc h264 1280x720 @ 6082 kbps", for logs. */
const char *zs_encoder_describe(const struct zs_encoder *enc);

/* Pixel bytes the CPU read or wrote for the last frame (copies, colour
 * conversion done on the CPU); 0 on a zero-copy path. */
uint64_t zs_encoder_cpu_pixel_bytes(const struct zs_encoder *enc);
