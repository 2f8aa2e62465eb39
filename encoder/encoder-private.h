/* zerospice — encoder internals shared by the dispatcher and the backends.
 * Not a public header: only the encoder sources include it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zs-encoder.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

/* Limits checked before any backend sees a config. */
#define ZS_ENCODER_MAX_DIM 16384u
#define ZS_ENCODER_DEFAULT_FPS 30u

struct zs_encoder;

/* One encoder instance's operations. Backends embed struct zs_encoder in
 * their own struct and downcast with container_of after checking impl. */
struct zs_encoder_impl {
	const char *name; /* "gst", "vaapi" */
	/* Frame already checked against the config (size, fourcc, planes). */
	int (*encode)(struct zs_encoder *enc, const struct zs_frame *frame,
		bool force_keyframe, struct zs_access_unit **out);
	void (*destroy)(struct zs_encoder *enc);
	/* Optional: applies enc->refine_level (already set, within
	 * 0..ZS_ENCODER_REFINE_MAX) to the frames that follow. NULL: the
	 * backend reads refine_level in encode, or cannot refine. */
	int (*set_refine)(struct zs_encoder *enc);
	/* true when encode honours refine_level without a set_refine hook */
	bool reads_refine_level;
};

/* au-end.c: what ends an H.264/H.265 access unit for a client's parser */
struct zs_au_end {
	uint8_t pps[128]; /* the stream's PPS, with a 4-byte start code */
	size_t pps_len;   /* 0: none seen yet */
};
/* Appends an access unit delimiter and the stream's PPS to an H.264/H.265
 * access unit once a PPS was seen; other codecs are left alone. -1 when
 * out of memory (the access unit is unchanged). */
int zs_au_end_mark(struct zs_au_end *e, struct zs_access_unit *au);

struct zs_encoder {
	const struct zs_encoder_impl *impl;
	/* Normalised: fps and bitrate_kbps are never 0 here. */
	struct zs_encoder_config config;
	char description[128];
	/* Set by the backend after each encode. */
	uint64_t cpu_pixel_bytes;
	/* zs_encoder_set_refine()'s level */
	unsigned refine_level;
	struct zs_au_end au_end;
};

/* Bit budget factor of a refine level: 4^level. */
static inline uint32_t zs_encoder_refine_factor(unsigned level)
{
	return 1u << (2 * (level > ZS_ENCODER_REFINE_MAX ?
		ZS_ENCODER_REFINE_MAX : level));
}

/* A backend as the dispatcher sees it (one per enum zs_encoder_backend
 * value other than AUTO). */
struct zs_encoder_backend_ops {
	const char *name;
	/* Bitmask of ZS_CODEC_BIT; cached by the backend, thread-safe. */
	uint32_t (*probe)(void);
	const char *(*element_name)(enum zs_codec codec);
	/* config is validated and normalised. Writes a message to err on
	 * failure. */
	struct zs_encoder *(*create)(const struct zs_encoder_config *config,
		char *err, size_t err_len);
};

extern const struct zs_encoder_backend_ops zs_encoder_gst_backend;
extern const struct zs_encoder_backend_ops zs_encoder_vaapi_backend;

/* The GStreamer backend with a given candidate element rather than the
 * best one, so that tests reach every candidate (openh264enc is never
 * picked where x264enc exists). config must be normalised
 * (zs_encoder_normalise_config). */
struct zs_encoder *zs_encoder_gst_create_element(
	const struct zs_encoder_config *config, const char *element, char *err,
	size_t err_len);

/* Checks a config and fills in the defaults (fps, bitrate). false with a
 * message in err when it is unusable. */
bool zs_encoder_normalise_config(struct zs_encoder_config *config, char *err,
	size_t err_len);

/* Default target for a codec at a size and rate, in kbit/s. */
uint32_t zs_encoder_default_bitrate_kbps(enum zs_codec codec, uint32_t width,
	uint32_t height, uint32_t fps);

/* Like zs_fourcc_str() ("XR24"), local so that logging needs no dmabuf
 * code. Returns buf. */
const char *zs_encoder_fourcc_str(uint32_t fourcc, char buf[5]);
