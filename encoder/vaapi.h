/* zerospice — VA-API backend internals: capability selection, dma-buf
 * import descriptors, the imported-surface cache and the display. Private
 * to encoder/; the pure parts are unit-tested in tests/vaapi/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <va/va.h>
#include <va/va_drmcommon.h>

#include "zs-dmabuf.h"

/* ---- capabilities and choices ---- */

/* One (profile, entrypoint) pair the driver offers for encoding, with the
 * attributes we asked about (0 where the driver did not say). */
struct zs_va_candidate {
	VAProfile profile;
	VAEntrypoint entrypoint;
	uint32_t rt_formats;     /* VA_RT_FORMAT_* */
	uint32_t rc_modes;       /* VA_RC_* */
	uint32_t packed_headers; /* VA_ENC_PACKED_HEADER_* */
	uint32_t max_width, max_height;
	uint32_t quality_range;  /* highest quality level; 0 = none */
	uint32_t prediction_direction; /* VA_PREDICTION_DIRECTION_* */
	/* VAConfigAttribValEncHEVCFeatures / …BlockSizes; 0 = not said */
	uint32_t hevc_features, hevc_block_sizes;
};

#define ZS_VA_MAX_CANDIDATES 16

struct zs_va_choice {
	VAProfile profile;
	VAEntrypoint entrypoint;
	uint32_t rc_mode;        /* exactly one of VA_RC_CBR/VBR/CQP */
	uint32_t packed_headers; /* what we will send */
	uint32_t quality_level;  /* 0 = driver default */
	uint8_t profile_idc;     /* 66 (Constrained Baseline), 77, 100 */
	bool cabac;
	/* HEVC: coding tools, block sizes (log2 of luma samples) and the
	 * slice type of inter pictures, from what the driver says */
	struct zs_va_hevc_choice {
		uint8_t log2_ctb, log2_min_cb, log2_min_tb, log2_max_tb;
		uint8_t depth_inter, depth_intra;
		bool pcm; /* the driver requires PCM */
		uint8_t log2_min_pcm, log2_max_pcm;
		bool amp, sao, temporal_mvp, cu_qp_delta, strong_intra_smoothing;
		bool low_delay_b; /* no P slices: B with both lists the same */
	} hevc;
};

/* Picks how to encode H.264 at width x height from what the driver
 * offers: VAEntrypointEncSliceLP before VAEntrypointEncSlice, then High,
 * Main, Constrained Baseline; CBR, else VBR, else CQP. Needs packed
 * sequence and picture headers (we write SPS/PPS ourselves). width or
 * height 0 skips the size check. False with the reason in why. */
bool zs_va_select_h264(const struct zs_va_candidate *candidates, size_t n,
	uint32_t width, uint32_t height, struct zs_va_choice *choice,
	char *why, size_t why_len);

/* The same for HEVC Main (VAProfileHEVCMain, LP before Slice). Coding
 * tools follow VAConfigAttribEncHEVCFeatures (PCM, AMP, SAO only where
 * required; temporal MVP unless unsupported; CU QP deltas for rate
 * control), block sizes VAConfigAttribEncHEVCBlockSizes (largest CTB),
 * else CTB 32 and coding blocks of 16; low-delay B where the driver's
 * VAConfigAttribPredictionDirection says B lists may not be empty. */
bool zs_va_select_h265(const struct zs_va_candidate *candidates, size_t n,
	uint32_t width, uint32_t height, struct zs_va_choice *choice,
	char *why, size_t why_len);

/* "cb", "main", "high", "hevc-main"; "lp", "slice"; "cbr", "vbr",
 * "cqp". */
const char *zs_va_profile_name(VAProfile profile);
const char *zs_va_entrypoint_name(VAEntrypoint ep);
const char *zs_va_rc_name(uint32_t rc_mode);

/* ---- dma-buf import ---- */

/* VA fourcc for a packed 32-bit RGB DRM fourcc (XRGB8888 → BGRX, …);
 * 0 for formats we do not import. */
uint32_t zs_va_fourcc_for_drm(uint32_t drm_fourcc);

/* Fills a DRM_PRIME_2 descriptor for frame. object_sizes[i] is the size
 * of the buffer behind frame->planes[i].fd (planes sharing an fd share an
 * object). Borrows the fds: the descriptor only names them. Returns 0 or
 * -EINVAL for frames no driver could import (bad plane count, fd, format,
 * stride or offsets past the object). */
int zs_va_build_prime2(const struct zs_frame *frame,
	const uint64_t object_sizes[ZS_FRAME_MAX_PLANES],
	VADRMPRIMESurfaceDescriptor *desc);

/* Legacy DRM_PRIME (VASurfaceAttribExternalBuffers): linear or implicit
 * modifier only, every plane in one fd. *fd_slot receives the fd and
 * eb->buffers points at it. Returns 0 or -EINVAL. */
int zs_va_build_prime_legacy(const struct zs_frame *frame,
	uint64_t object_size, VASurfaceAttribExternalBuffers *eb,
	uintptr_t *fd_slot);

/* ---- imported-surface cache ---- */

/* What identifies one source buffer: the file behind the fd (a dma-buf or
 * memfd inode stays unique while a driver holds an import of it) and the
 * layout we imported it with. */
struct zs_va_buffer_key {
	dev_t dev;
	ino_t ino;
	uint32_t width, height, fourcc;
	uint64_t modifier;
	uint32_t offset[ZS_FRAME_MAX_PLANES], stride[ZS_FRAME_MAX_PLANES];
	int n_planes;
};

/* Fills key from frame (fstat of plane 0's fd). Returns 0 or -errno. */
int zs_va_buffer_key_init(struct zs_va_buffer_key *key,
	const struct zs_frame *frame);

/* QEMU and the test pattern cycle through a few buffers; more than this
 * in use at once means buffers are being replaced. */
#define ZS_VA_CACHE_SIZE 8
/* An entry not used for this many frames belongs to a buffer the source
 * has dropped: release it so the buffer can be freed. */
#define ZS_VA_CACHE_MAX_AGE 32

struct zs_va_surface_cache {
	struct {
		bool used;
		struct zs_va_buffer_key key;
		VASurfaceID surface;
		uint64_t last_used;
	} entries[ZS_VA_CACHE_SIZE];
	uint64_t clock; /* frames seen */
};

void zs_va_surface_cache_init(struct zs_va_surface_cache *cache);
/* Counts one frame; returns the cached surface for key or
 * VA_INVALID_SURFACE. */
VASurfaceID zs_va_surface_cache_lookup(struct zs_va_surface_cache *cache,
	const struct zs_va_buffer_key *key);
/* Adds key → surface (after a miss). When the cache is full the least
 * recently used entry goes: its surface is returned for the caller to
 * destroy, else VA_INVALID_SURFACE. */
VASurfaceID zs_va_surface_cache_insert(struct zs_va_surface_cache *cache,
	const struct zs_va_buffer_key *key, VASurfaceID surface);
/* Removes one entry that is older than max_age frames (or any entry when
 * max_age is 0) and returns its surface; VA_INVALID_SURFACE when none is
 * left. Call in a loop. */
VASurfaceID zs_va_surface_cache_evict(struct zs_va_surface_cache *cache,
	uint64_t max_age);
size_t zs_va_surface_cache_count(const struct zs_va_surface_cache *cache);

/* ---- the display ---- */

struct zs_va_device {
	int fd;              /* owned; -1 when closed */
	VADisplay display;   /* NULL when closed */
	bool headless;       /* not a DRM node: see zs_va_device_open */
	char path[256];
	const char *vendor;  /* the driver's vendor string */
};

/* Opens path and initialises VA-API on it. A DRM node goes through
 * vaGetDisplayDRM. Any other file (tests: /dev/null, a memfd path) is
 * accepted only with LIBVA_DRIVER_NAME set: libva's DRM display refuses
 * fds that are not DRM devices, so we build a bare display that loads the
 * named driver and hands it the fd. Writes the reason to err. */
bool zs_va_device_open(struct zs_va_device *dev, const char *path,
	char *err, size_t err_len);
void zs_va_device_close(struct zs_va_device *dev);

/* Lists the H.264 and HEVC Main encode candidates and whether VPP
 * (VideoProc) exists. */
bool zs_va_device_probe(struct zs_va_device *dev,
	struct zs_va_candidate *candidates, size_t *n, bool *has_vpp,
	char *err, size_t err_len);

/* The device path to use: the one set with zs_encoder_set_va_device(),
 * else the first /dev/dri/renderD* whose driver can encode H.264. Writes
 * it to path; false with the reason in err. */
bool zs_va_default_device(char *path, size_t path_len, char *err,
	size_t err_len);
