/* zerospice — VA-API backend: choices from probed capabilities, dma-buf
 * import descriptors and the imported-surface cache. No VA calls here. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <drm_fourcc.h>

#include "vaapi.h"

#include <va/va_enc_hevc.h>

const char *zs_va_profile_name(VAProfile profile)
{
	switch (profile) {
	case VAProfileH264ConstrainedBaseline: return "cb";
	case VAProfileH264Main: return "main";
	case VAProfileH264High: return "high";
	case VAProfileHEVCMain: return "hevc-main";
	default: return "?";
	}
}

const char *zs_va_entrypoint_name(VAEntrypoint ep)
{
	switch (ep) {
	case VAEntrypointEncSliceLP: return "lp";
	case VAEntrypointEncSlice: return "slice";
	case VAEntrypointVideoProc: return "vpp";
	default: return "?";
	}
}

const char *zs_va_rc_name(uint32_t rc_mode)
{
	switch (rc_mode) {
	case VA_RC_CBR: return "cbr";
	case VA_RC_VBR: return "vbr";
	case VA_RC_CQP: return "cqp";
	default: return "?";
	}
}

bool zs_va_select_h264(const struct zs_va_candidate *candidates, size_t n,
	uint32_t width, uint32_t height, struct zs_va_choice *choice,
	char *why, size_t why_len)
{
	static const VAEntrypoint entrypoints[] = { VAEntrypointEncSliceLP,
		VAEntrypointEncSlice };
	static const struct {
		VAProfile profile;
		uint8_t idc;
		bool cabac;
	} profiles[] = {
		{ VAProfileH264High, 100, true },
		{ VAProfileH264Main, 77, true },
		{ VAProfileH264ConstrainedBaseline, 66, false },
	};
	static const uint32_t rc_order[] = { VA_RC_CBR, VA_RC_VBR, VA_RC_CQP };
	const uint32_t need_packed = VA_ENC_PACKED_HEADER_SEQUENCE |
		VA_ENC_PACKED_HEADER_PICTURE;
	bool any = false;

	snprintf(why, why_len, "the driver offers no H.264 encoding");
	for (size_t e = 0; e < sizeof(entrypoints) / sizeof(entrypoints[0]); e++) {
		for (size_t p = 0; p < sizeof(profiles) / sizeof(profiles[0]); p++) {
			for (size_t i = 0; i < n; i++) {
				const struct zs_va_candidate *c = &candidates[i];
				uint32_t rc = 0;

				if (c->profile != profiles[p].profile ||
				    c->entrypoint != entrypoints[e])
					continue;
				if (!(c->rt_formats & VA_RT_FORMAT_YUV420)) {
					if (!any)
						snprintf(why, why_len, "H.264 %s/%s "
							"has no 4:2:0 input",
							zs_va_profile_name(c->profile),
							zs_va_entrypoint_name(c->entrypoint));
					continue;
				}
				if ((c->packed_headers & need_packed) != need_packed) {
					if (!any)
						snprintf(why, why_len, "H.264 %s/%s "
							"takes no packed SPS/PPS",
							zs_va_profile_name(c->profile),
							zs_va_entrypoint_name(c->entrypoint));
					continue;
				}
				for (size_t r = 0; r < 3 && !rc; r++) {
					if (c->rc_modes & rc_order[r])
						rc = rc_order[r];
				}
				if (!rc) {
					if (!any)
						snprintf(why, why_len, "H.264 %s/%s "
							"has no CBR, VBR or CQP",
							zs_va_profile_name(c->profile),
							zs_va_entrypoint_name(c->entrypoint));
					continue;
				}
				if (width && height &&
				    ((c->max_width && width > c->max_width) ||
				     (c->max_height && height > c->max_height))) {
					snprintf(why, why_len, "%ux%u is larger than "
						"the driver's H.264 maximum %ux%u",
						width, height, c->max_width,
						c->max_height);
					any = true;
					continue;
				}
				*choice = (struct zs_va_choice){
					.profile = c->profile,
					.entrypoint = c->entrypoint,
					.rc_mode = rc,
					.packed_headers = c->packed_headers &
						(need_packed | VA_ENC_PACKED_HEADER_SLICE),
					/* the speed end: real-time, many streams
					 * per engine */
					.quality_level = c->quality_range,
					.profile_idc = profiles[p].idc,
					.cabac = profiles[p].cabac,
				};
				why[0] = '\0';
				return true;
			}
		}
	}
	return false;
}

static uint8_t clamp_u8(int v, int lo, int hi)
{
	return (uint8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* Block sizes and coding tools for HEVC from what the driver says about
 * them. False when the driver requires PCM at sizes no SPS can have. */
static bool hevc_tools(const struct zs_va_candidate *c, uint32_t rc,
	struct zs_va_hevc_choice *h)
{
	uint8_t min_pcm_attr = 3, max_pcm_attr = 5;

	/* ffmpeg's and GStreamer's defaults when the driver does not say */
	*h = (struct zs_va_hevc_choice){
		.log2_ctb = 5, .log2_min_cb = 4, .log2_min_tb = 2,
		.log2_max_tb = 5, .depth_inter = 3, .depth_intra = 3,
		.temporal_mvp = true, .cu_qp_delta = rc != VA_RC_CQP,
	};
#if VA_CHECK_VERSION(1, 13, 0)
	if (c->hevc_block_sizes) {
		VAConfigAttribValEncHEVCBlockSizes bs = {
			.value = c->hevc_block_sizes };
		h->log2_ctb = clamp_u8(
			bs.bits.log2_max_coding_tree_block_size_minus3 + 3, 4, 6);
		h->log2_min_cb = clamp_u8(
			bs.bits.log2_min_luma_coding_block_size_minus3 + 3, 3,
			h->log2_ctb);
		h->log2_min_tb = clamp_u8(
			bs.bits.log2_min_luma_transform_block_size_minus2 + 2, 2,
			h->log2_min_cb - 1);
		h->log2_max_tb = clamp_u8(
			bs.bits.log2_max_luma_transform_block_size_minus2 + 2,
			h->log2_min_tb, h->log2_ctb < 5 ? h->log2_ctb : 5);
		h->depth_inter = clamp_u8(
			bs.bits.max_max_transform_hierarchy_depth_inter, 0,
			h->log2_ctb - h->log2_min_tb);
		h->depth_intra = clamp_u8(
			bs.bits.max_max_transform_hierarchy_depth_intra, 0,
			h->log2_ctb - h->log2_min_tb);
		min_pcm_attr = (uint8_t)
			(bs.bits.log2_min_pcm_coding_block_size_minus3 + 3);
		max_pcm_attr = (uint8_t)
			(bs.bits.log2_max_pcm_coding_block_size_minus3 + 3);
	}
	if (c->hevc_features) {
		/* 0 (all unsupported) cannot be told from "not said": real
		 * drivers support something */
		VAConfigAttribValEncHEVCFeatures f = { .value = c->hevc_features };
		h->pcm = f.bits.pcm == VA_FEATURE_REQUIRED;
		h->amp = f.bits.amp == VA_FEATURE_REQUIRED;
		h->sao = f.bits.sao == VA_FEATURE_REQUIRED;
		h->strong_intra_smoothing =
			f.bits.strong_intra_smoothing == VA_FEATURE_REQUIRED;
		h->temporal_mvp = f.bits.temporal_mvp != VA_FEATURE_NOT_SUPPORTED;
		h->cu_qp_delta = f.bits.cu_qp_delta == VA_FEATURE_REQUIRED ||
			(f.bits.cu_qp_delta != VA_FEATURE_NOT_SUPPORTED &&
			 rc != VA_RC_CQP);
	}
#endif
	if (c->prediction_direction & VA_PREDICTION_DIRECTION_BI_NOT_EMPTY)
		h->low_delay_b = true;
	if (h->pcm) {
		/* 7.4.3.2.1: Min(MinCbLog2SizeY, 5) <= Log2MinIpcmCbSizeY,
		 * Log2MaxIpcmCbSizeY <= Min(CtbLog2SizeY, 5) */
		uint8_t lo = h->log2_min_cb < 5 ? h->log2_min_cb : 5;
		uint8_t hi = h->log2_ctb < 5 ? h->log2_ctb : 5;
		h->log2_min_pcm = min_pcm_attr > lo ? min_pcm_attr : lo;
		h->log2_max_pcm = max_pcm_attr < hi ? max_pcm_attr : hi;
		if (h->log2_min_pcm > h->log2_max_pcm)
			return false;
	}
	return true;
}

bool zs_va_select_h265(const struct zs_va_candidate *candidates, size_t n,
	uint32_t width, uint32_t height, struct zs_va_choice *choice,
	char *why, size_t why_len)
{
	static const VAEntrypoint entrypoints[] = { VAEntrypointEncSliceLP,
		VAEntrypointEncSlice };
	static const uint32_t rc_order[] = { VA_RC_CBR, VA_RC_VBR, VA_RC_CQP };
	const uint32_t need_packed = VA_ENC_PACKED_HEADER_SEQUENCE |
		VA_ENC_PACKED_HEADER_PICTURE;
	bool any = false;

	snprintf(why, why_len, "the driver offers no HEVC Main encoding");
	for (size_t e = 0; e < sizeof(entrypoints) / sizeof(entrypoints[0]); e++) {
		for (size_t i = 0; i < n; i++) {
			const struct zs_va_candidate *c = &candidates[i];
			const char *ep = zs_va_entrypoint_name(c->entrypoint);
			struct zs_va_hevc_choice hevc;
			uint32_t rc = 0;

			if (c->profile != VAProfileHEVCMain ||
			    c->entrypoint != entrypoints[e])
				continue;
			if (!(c->rt_formats & VA_RT_FORMAT_YUV420)) {
				if (!any)
					snprintf(why, why_len, "HEVC Main/%s has no "
						"4:2:0 input", ep);
				continue;
			}
			if ((c->packed_headers & need_packed) != need_packed) {
				if (!any)
					snprintf(why, why_len, "HEVC Main/%s takes no "
						"packed VPS/SPS/PPS", ep);
				continue;
			}
			for (size_t r = 0; r < 3 && !rc; r++) {
				if (c->rc_modes & rc_order[r])
					rc = rc_order[r];
			}
			if (!rc) {
				if (!any)
					snprintf(why, why_len, "HEVC Main/%s has no "
						"CBR, VBR or CQP", ep);
				continue;
			}
			if (!hevc_tools(c, rc, &hevc)) {
				if (!any)
					snprintf(why, why_len, "HEVC Main/%s requires "
						"PCM at block sizes an SPS cannot have",
						ep);
				continue;
			}
			if (width && height &&
			    ((c->max_width && width > c->max_width) ||
			     (c->max_height && height > c->max_height))) {
				snprintf(why, why_len, "%ux%u is larger than the "
					"driver's HEVC maximum %ux%u", width, height,
					c->max_width, c->max_height);
				any = true;
				continue;
			}
			*choice = (struct zs_va_choice){
				.profile = c->profile,
				.entrypoint = c->entrypoint,
				.rc_mode = rc,
				.packed_headers = c->packed_headers &
					(need_packed | VA_ENC_PACKED_HEADER_SLICE),
				.quality_level = c->quality_range,
				.hevc = hevc,
			};
			why[0] = '\0';
			return true;
		}
	}
	return false;
}

/* ---- import descriptors ---- */

uint32_t zs_va_fourcc_for_drm(uint32_t drm_fourcc)
{
	/* DRM names the 32-bit word MSB first, VA the bytes in memory. */
	switch (drm_fourcc) {
	case DRM_FORMAT_XRGB8888: return VA_FOURCC_BGRX;
	case DRM_FORMAT_ARGB8888: return VA_FOURCC_BGRA;
	case DRM_FORMAT_XBGR8888: return VA_FOURCC_RGBX;
	case DRM_FORMAT_ABGR8888: return VA_FOURCC_RGBA;
	default: return 0;
	}
}

/* Checks what does not depend on the descriptor kind. */
static int check_frame(const struct zs_frame *frame,
	const uint64_t object_sizes[ZS_FRAME_MAX_PLANES])
{
	if (frame->n_planes < 1 || frame->n_planes > ZS_FRAME_MAX_PLANES ||
	    frame->width == 0 || frame->height == 0 ||
	    frame->width > UINT32_MAX / 4 ||
	    zs_va_fourcc_for_drm(frame->fourcc) == 0)
		return -EINVAL;
	/* plane 0 holds the pixels; later planes (compression metadata of
	 * tiled modifiers) have layouts only the driver knows */
	if (frame->planes[0].stride < frame->width * 4)
		return -EINVAL;
	for (int i = 0; i < frame->n_planes; i++) {
		const struct zs_plane *p = &frame->planes[i];
		if (p->fd < 0 || p->stride == 0 || object_sizes[i] == 0 ||
		    object_sizes[i] > UINT32_MAX || p->offset >= object_sizes[i])
			return -EINVAL;
	}
	/* The first plane must fit whole in its object. */
	if ((uint64_t)frame->planes[0].offset +
	    (uint64_t)frame->planes[0].stride * (frame->height - 1) +
	    (uint64_t)frame->width * 4 > object_sizes[0])
		return -EINVAL;
	return 0;
}

int zs_va_build_prime2(const struct zs_frame *frame,
	const uint64_t object_sizes[ZS_FRAME_MAX_PLANES],
	VADRMPRIMESurfaceDescriptor *desc)
{
	int ret = check_frame(frame, object_sizes);

	memset(desc, 0, sizeof(*desc));
	if (ret < 0)
		return ret;
	desc->fourcc = zs_va_fourcc_for_drm(frame->fourcc);
	desc->width = frame->width;
	desc->height = frame->height;
	desc->num_layers = 1;
	desc->layers[0].drm_format = frame->fourcc;
	desc->layers[0].num_planes = (uint32_t)frame->n_planes;
	for (int i = 0; i < frame->n_planes; i++) {
		uint32_t obj = desc->num_objects;

		for (uint32_t o = 0; o < desc->num_objects; o++) {
			if (desc->objects[o].fd == frame->planes[i].fd) {
				obj = o;
				break;
			}
		}
		if (obj == desc->num_objects) {
			desc->objects[obj].fd = frame->planes[i].fd;
			desc->objects[obj].size = (uint32_t)object_sizes[i];
			desc->objects[obj].drm_format_modifier = frame->modifier;
			desc->num_objects++;
		}
		desc->layers[0].object_index[i] = obj;
		desc->layers[0].offset[i] = frame->planes[i].offset;
		desc->layers[0].pitch[i] = frame->planes[i].stride;
	}
	return 0;
}

int zs_va_build_prime_legacy(const struct zs_frame *frame,
	uint64_t object_size, VASurfaceAttribExternalBuffers *eb,
	uintptr_t *fd_slot)
{
	uint64_t sizes[ZS_FRAME_MAX_PLANES];
	int ret;

	memset(eb, 0, sizeof(*eb));
	for (int i = 0; i < ZS_FRAME_MAX_PLANES; i++)
		sizes[i] = object_size;
	ret = check_frame(frame, sizes);
	if (ret < 0)
		return ret;
	if (frame->modifier != DRM_FORMAT_MOD_LINEAR &&
	    frame->modifier != DRM_FORMAT_MOD_INVALID)
		return -EINVAL;
	for (int i = 1; i < frame->n_planes; i++) {
		if (frame->planes[i].fd != frame->planes[0].fd)
			return -EINVAL;
	}
	*fd_slot = (uintptr_t)frame->planes[0].fd;
	eb->pixel_format = zs_va_fourcc_for_drm(frame->fourcc);
	eb->width = frame->width;
	eb->height = frame->height;
	eb->data_size = (uint32_t)object_size;
	eb->num_planes = (uint32_t)frame->n_planes;
	for (int i = 0; i < frame->n_planes; i++) {
		eb->pitches[i] = frame->planes[i].stride;
		eb->offsets[i] = frame->planes[i].offset;
	}
	eb->buffers = fd_slot;
	eb->num_buffers = 1;
	return 0;
}

/* ---- the cache ---- */

int zs_va_buffer_key_init(struct zs_va_buffer_key *key,
	const struct zs_frame *frame)
{
	struct stat st;

	memset(key, 0, sizeof(*key));
	if (frame->n_planes < 1 || frame->n_planes > ZS_FRAME_MAX_PLANES)
		return -EINVAL;
	if (fstat(frame->planes[0].fd, &st) < 0)
		return -errno;
	key->dev = st.st_dev;
	key->ino = st.st_ino;
	key->width = frame->width;
	key->height = frame->height;
	key->fourcc = frame->fourcc;
	key->modifier = frame->modifier;
	key->n_planes = frame->n_planes;
	for (int i = 0; i < frame->n_planes; i++) {
		key->offset[i] = frame->planes[i].offset;
		key->stride[i] = frame->planes[i].stride;
	}
	return 0;
}

static bool key_equal(const struct zs_va_buffer_key *a,
	const struct zs_va_buffer_key *b)
{
	/* the struct was zeroed before it was filled: no padding garbage */
	return memcmp(a, b, sizeof(*a)) == 0;
}

void zs_va_surface_cache_init(struct zs_va_surface_cache *cache)
{
	memset(cache, 0, sizeof(*cache));
}

VASurfaceID zs_va_surface_cache_lookup(struct zs_va_surface_cache *cache,
	const struct zs_va_buffer_key *key)
{
	cache->clock++;
	for (size_t i = 0; i < ZS_VA_CACHE_SIZE; i++) {
		if (cache->entries[i].used &&
		    key_equal(&cache->entries[i].key, key)) {
			cache->entries[i].last_used = cache->clock;
			return cache->entries[i].surface;
		}
	}
	return VA_INVALID_SURFACE;
}

VASurfaceID zs_va_surface_cache_insert(struct zs_va_surface_cache *cache,
	const struct zs_va_buffer_key *key, VASurfaceID surface)
{
	size_t slot = 0;
	VASurfaceID evicted = VA_INVALID_SURFACE;

	for (size_t i = 0; i < ZS_VA_CACHE_SIZE; i++) {
		if (!cache->entries[i].used) {
			slot = i;
			goto put;
		}
		if (cache->entries[i].last_used <
		    cache->entries[slot].last_used)
			slot = i;
	}
	evicted = cache->entries[slot].surface;
put:
	cache->entries[slot].used = true;
	cache->entries[slot].key = *key;
	cache->entries[slot].surface = surface;
	cache->entries[slot].last_used = cache->clock;
	return evicted;
}

VASurfaceID zs_va_surface_cache_evict(struct zs_va_surface_cache *cache,
	uint64_t max_age)
{
	for (size_t i = 0; i < ZS_VA_CACHE_SIZE; i++) {
		if (cache->entries[i].used && (max_age == 0 ||
		    cache->clock - cache->entries[i].last_used > max_age)) {
			cache->entries[i].used = false;
			return cache->entries[i].surface;
		}
	}
	return VA_INVALID_SURFACE;
}

size_t zs_va_surface_cache_count(const struct zs_va_surface_cache *cache)
{
	size_t n = 0;
	for (size_t i = 0; i < ZS_VA_CACHE_SIZE; i++)
		n += cache->entries[i].used;
	return n;
}
