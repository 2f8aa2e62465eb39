/* zerospice — a fake VA-API driver for machines without a GPU.
 *
 * Loaded by the real libva (LIBVA_DRIVERS_PATH + LIBVA_DRIVER_NAME=zsfake).
 * Imports surfaces from fds by mmap (memfds stand in for dma-bufs),
 * converts RGB to NV12 in software for VPP, and "encodes" H.264 by writing
 * I_PCM macroblocks, HEVC by writing PCM coding units (CABAC-coded CU
 * syntax around raw samples), after the application's packed headers: a
 * valid, lossless stream any decoder reads. It checks the parameter
 * buffers it is given and fails loudly (stderr, "fake-va: FAIL") on a
 * mismatch.
 *
 * Knobs (environment, read when used):
 *   ZS_FAKE_VA_PROFILES     profiles offered: cb,main,high (H.264), hevc
 *                           (HEVC Main); default cb
 *   ZS_FAKE_VA_ENTRYPOINTS  lp,slice (default both)
 *   ZS_FAKE_VA_RC           cbr,vbr,cqp (default all three)
 *   ZS_FAKE_VA_MAX_SIZE     WxH, largest encode size (default 4096x4096)
 *   ZS_FAKE_VA_NO_PRIME2    1: no DRM_PRIME_2 import (legacy DRM_PRIME only)
 *   ZS_FAKE_VA_REFUSE_IMPORT 1: every fd import fails
 *   ZS_FAKE_VA_FAIL_AFTER   N: encodes after the N-th fail (device lost)
 *   ZS_FAKE_VA_HEVC_BLOCKS  CTB,MINCB in luma samples that
 *                           VAConfigAttribEncHEVCBlockSizes reports
 *                           (default 32,8; CB 8..32), or "none"
 *   ZS_FAKE_VA_HEVC_LOW_DELAY_B 1: no P slices (B lists may not be
 *                           empty), as some Intel low-power encoders
 * HEVC always requires PCM (VAConfigAttribEncHEVCFeatures pcm = 2).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <va/va.h>
#include <va/va_backend.h>

/* Counters for tests, found with dlsym(RTLD_DEFAULT, "zs_fake_va_stats")
 * (libva loads drivers RTLD_GLOBAL and never unloads them). */
struct zs_fake_va_stats {
	uint64_t imports_prime2, imports_prime, imports_refused;
	uint64_t imported_live;  /* imported surfaces not yet destroyed */
	uint64_t vpp_frames, encoded_frames, idr_frames;
	uint64_t check_failures; /* parameter mismatches found */
	uint32_t last_entrypoint, last_rc_mode;
	uint32_t last_profile;
	uint32_t last_slice_type; /* HEVC: 0 B, 1 P, 2 I */
};

enum object_kind {
	OBJ_CONFIG = 1,
	OBJ_CONTEXT,
	OBJ_SURFACE,
	OBJ_BUFFER,
	OBJ_IMAGE,
};

struct fake_config {
	VAProfile profile;
	VAEntrypoint entrypoint;
	uint32_t rc_mode, packed_headers;
};

struct fake_surface {
	uint32_t width, height;
	/* NV12 in our memory, padded to whole macroblocks */
	uint8_t *nv12;
	uint32_t nv12_pitch, nv12_height;
	/* or an imported RGB buffer (mapping keeps it alive) */
	bool imported;
	uint8_t *map;
	size_t map_len;
	uint32_t offset, pitch, drm_format;
	uint64_t modifier;
};

struct fake_buffer {
	VABufferType type;
	uint8_t *data;
	size_t size;
	/* coded buffers: segments into data */
	VACodedBufferSegment segments[8];
};

struct fake_picture_buffer {
	VABufferType type;
	uint8_t *data; /* a copy made at vaRenderPicture */
	size_t size;
};

struct fake_context {
	VAConfigID config;
	uint32_t width, height;
	VASurfaceID target;
	bool in_picture;
	struct fake_picture_buffer *bufs;
	size_t n_bufs;
	/* encode state */
	bool have_sequence;
	VAEncSequenceParameterBufferH264 seq;
	uint64_t pictures;
	VASurfaceID last_recon;
	unsigned log2_max_frame_num;
	bool sps_seen;
	bool pps_cabac;
	/* HEVC: the last sequence parameters and what our packed SPS/PPS
	 * said */
	VAEncSequenceParameterBufferHEVC hevc_seq;
	struct fake_hevc_sps {
		unsigned width, height, log2_min_cb, log2_ctb;
		unsigned log2_max_poc_lsb;
		bool pcm, amp, sao;
		unsigned pcm_depth_luma, pcm_depth_chroma;
		unsigned log2_min_pcm, log2_max_pcm;
		bool pcm_loop_filter_disabled;
	} hevc_sps;
	bool hevc_pps_seen;
	int hevc_init_qp;
};

struct fake_object {
	enum object_kind kind;
	union {
		struct fake_config config;
		struct fake_context context;
		struct fake_surface surface;
		struct fake_buffer buffer;
	};
};

struct fake_driver {
	struct fake_object **objects; /* id - 1 indexes this */
	size_t n_objects;
};

/* Object table (fake-va.c). */
void *fake_lookup(VADriverContextP ctx, uint32_t id, enum object_kind kind);

/* fake-va.c: the driver's error reporting. */
void fake_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fake_info(VADriverContextP ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool fake_env_flag(const char *name);
extern struct zs_fake_va_stats zs_fake_va_stats;

/* fake-vpp.c */
VAStatus fake_vpp_run(VADriverContextP ctx, struct fake_context *c);
/* Reads pixel (x, y) of an imported RGB surface as R, G, B. */
void fake_surface_rgb(const struct fake_surface *s, uint32_t x, uint32_t y,
	uint8_t rgb[3]);

/* fake-bits.c: our packed headers read back, the coded buffer written */
struct reader {
	const uint8_t *data;
	size_t bits, pos;
	bool overrun;
};
uint32_t read_bits(struct reader *r, unsigned n);
uint32_t read_ue(struct reader *r);
int32_t read_se(struct reader *r);
/* Start code length (3 or 4 bytes) of a packed NAL, 0 when absent. */
size_t start_code_len(const uint8_t *d, size_t len);
/* Removes emulation prevention bytes; returns the new length. */
size_t unescape(const uint8_t *in, size_t len, uint8_t *out);

struct packed {
	uint32_t type; /* VAEncPackedHeaderType */
	const uint8_t *data;
	size_t bits;
	bool has_emulation_bytes;
};

struct output {
	struct fake_buffer *coded;
	size_t used;
	int n_segments;
	bool overflow;
};
/* Appends one NAL unit to the coded buffer as its own segment. */
void emit(struct output *o, const uint8_t *bytes, size_t len);

/* A failed check: logged, counted, and the picture refused. */
#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fake_fail(__VA_ARGS__); \
		return VA_STATUS_ERROR_INVALID_PARAMETER; \
	} } while (0)

/* fake-h264.c */
VAStatus fake_h264_encode(VADriverContextP ctx, struct fake_context *c,
	const struct fake_config *cfg);

/* fake-h265.c */
VAStatus fake_h265_encode(VADriverContextP ctx, struct fake_context *c,
	const struct fake_config *cfg);
/* What the driver says about HEVC, from the knobs above. */
uint32_t fake_h265_block_sizes(void);
uint32_t fake_h265_features(void);
uint32_t fake_h265_prediction_direction(void);
