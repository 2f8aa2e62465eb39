/* VA-API backend, the parts that need no driver: choosing profile,
 * entrypoint and rate control from probed capabilities; import
 * descriptors for linear and tiled buffers; the imported-surface cache. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <criterion/criterion.h>
#include <drm_fourcc.h>

#include "vaapi.h"

#include <va/va_enc_hevc.h>

/* ---- selection ---- */

#define ALL_PACKED (VA_ENC_PACKED_HEADER_SEQUENCE | \
	VA_ENC_PACKED_HEADER_PICTURE | VA_ENC_PACKED_HEADER_SLICE)
#define CAND(p, e, rc, packed, w, h) { .profile = (p), .entrypoint = (e), \
	.rt_formats = VA_RT_FORMAT_YUV420, .rc_modes = (rc), \
	.packed_headers = (packed), .max_width = (w), .max_height = (h), \
	.quality_range = 7 }

struct select_case {
	const char *name;
	struct zs_va_candidate cands[4];
	size_t n;
	uint32_t width, height;
	bool ok;
	VAProfile profile;
	VAEntrypoint entrypoint;
	uint32_t rc;
	uint8_t idc;
	bool cabac;
	const char *why; /* substring of the reason when !ok */
};

static const struct select_case select_cases[] = {
	{ "lp before slice, high before cb",
	  { CAND(VAProfileH264ConstrainedBaseline, VAEntrypointEncSlice,
		VA_RC_CBR, ALL_PACKED, 4096, 4096),
	    CAND(VAProfileH264High, VAEntrypointEncSliceLP,
		VA_RC_CBR | VA_RC_VBR, ALL_PACKED, 4096, 4096),
	    CAND(VAProfileH264High, VAEntrypointEncSlice,
		VA_RC_CBR, ALL_PACKED, 4096, 4096) }, 3,
	  1920, 1080, true, VAProfileH264High, VAEntrypointEncSliceLP,
	  VA_RC_CBR, 100, true },
	{ "lp wins over a better profile on slice",
	  { CAND(VAProfileH264High, VAEntrypointEncSlice,
		VA_RC_CBR, ALL_PACKED, 4096, 4096),
	    CAND(VAProfileH264ConstrainedBaseline, VAEntrypointEncSliceLP,
		VA_RC_CBR, ALL_PACKED, 4096, 4096) }, 2,
	  1280, 720, true, VAProfileH264ConstrainedBaseline,
	  VAEntrypointEncSliceLP, VA_RC_CBR, 66, false },
	{ "vbr when no cbr",
	  { CAND(VAProfileH264Main, VAEntrypointEncSlice,
		VA_RC_VBR | VA_RC_CQP, ALL_PACKED, 4096, 4096) }, 1,
	  1280, 720, true, VAProfileH264Main, VAEntrypointEncSlice,
	  VA_RC_VBR, 77, true },
	{ "cqp when nothing else",
	  { CAND(VAProfileH264Main, VAEntrypointEncSlice,
		VA_RC_CQP, ALL_PACKED, 4096, 4096) }, 1,
	  1280, 720, true, VAProfileH264Main, VAEntrypointEncSlice,
	  VA_RC_CQP, 77, true },
	{ "too large for lp, fits slice",
	  { CAND(VAProfileH264High, VAEntrypointEncSliceLP,
		VA_RC_CBR, ALL_PACKED, 1920, 1080),
	    CAND(VAProfileH264Main, VAEntrypointEncSlice,
		VA_RC_CBR, ALL_PACKED, 4096, 2304) }, 2,
	  2560, 1440, true, VAProfileH264Main, VAEntrypointEncSlice,
	  VA_RC_CBR, 77, true },
	{ "too large everywhere",
	  { CAND(VAProfileH264High, VAEntrypointEncSliceLP,
		VA_RC_CBR, ALL_PACKED, 1920, 1080) }, 1,
	  3840, 2160, false, .why = "larger than" },
	{ "no packed headers",
	  { CAND(VAProfileH264High, VAEntrypointEncSliceLP,
		VA_RC_CBR, 0, 4096, 4096) }, 1,
	  1280, 720, false, .why = "packed" },
	{ "packed SPS/PPS without slice is enough",
	  { CAND(VAProfileH264High, VAEntrypointEncSlice, VA_RC_CBR,
		VA_ENC_PACKED_HEADER_SEQUENCE | VA_ENC_PACKED_HEADER_PICTURE,
		0, 0) }, 1,
	  1280, 720, true, VAProfileH264High, VAEntrypointEncSlice,
	  VA_RC_CBR, 100, true },
	{ "no rate control mode we use",
	  { CAND(VAProfileH264High, VAEntrypointEncSlice, VA_RC_ICQ,
		ALL_PACKED, 4096, 4096) }, 1,
	  1280, 720, false, .why = "CBR" },
	{ "decode-only profile list", { { 0 } }, 0,
	  1280, 720, false, .why = "no H.264" },
};

Test(vaapi_select, picks_entrypoint_profile_and_rate_control)
{
	for (size_t i = 0; i < sizeof(select_cases) / sizeof(select_cases[0]); i++) {
		const struct select_case *c = &select_cases[i];
		struct zs_va_choice choice;
		char why[200];
		bool ok = zs_va_select_h264(c->cands, c->n, c->width, c->height,
			&choice, why, sizeof(why));

		cr_expect_eq(ok, c->ok, "%s: %s", c->name, why);
		if (!ok || !c->ok) {
			if (!c->ok)
				cr_expect(strstr(why, c->why), "%s: reason '%s'",
					c->name, why);
			continue;
		}
		cr_expect_eq(choice.profile, c->profile, "%s: profile %s",
			c->name, zs_va_profile_name(choice.profile));
		cr_expect_eq(choice.entrypoint, c->entrypoint, "%s: entrypoint",
			c->name);
		cr_expect_eq(choice.rc_mode, c->rc, "%s: rc %s", c->name,
			zs_va_rc_name(choice.rc_mode));
		cr_expect_eq(choice.profile_idc, c->idc, "%s", c->name);
		cr_expect_eq(choice.cabac, c->cabac, "%s", c->name);
		cr_expect_eq(choice.quality_level, 7, "%s", c->name);
		cr_expect(choice.packed_headers & VA_ENC_PACKED_HEADER_SEQUENCE,
			"%s", c->name);
	}
}

/* HEVC: the coding tools follow what the driver says it needs. */
static uint32_t hevc_features(unsigned pcm, unsigned amp, unsigned sao,
	unsigned tmvp, unsigned cu_qp_delta)
{
	VAConfigAttribValEncHEVCFeatures f = { .value = 0 };

	f.bits.pcm = pcm;
	f.bits.amp = amp;
	f.bits.sao = sao;
	f.bits.temporal_mvp = tmvp;
	f.bits.cu_qp_delta = cu_qp_delta;
	f.bits.deblocking_filter_disable = VA_FEATURE_SUPPORTED;
	return f.value;
}

static uint32_t hevc_blocks(unsigned log2_ctb, unsigned log2_min_cb,
	unsigned log2_min_pcm, unsigned log2_max_pcm)
{
	VAConfigAttribValEncHEVCBlockSizes b = { .value = 0 };

	b.bits.log2_max_coding_tree_block_size_minus3 = log2_ctb - 3;
	b.bits.log2_min_coding_tree_block_size_minus3 = 1;
	b.bits.log2_min_luma_coding_block_size_minus3 = log2_min_cb - 3;
	b.bits.log2_max_luma_transform_block_size_minus2 = 3;
	b.bits.log2_min_luma_transform_block_size_minus2 = 0;
	b.bits.max_max_transform_hierarchy_depth_inter = 2;
	b.bits.max_max_transform_hierarchy_depth_intra = 1;
	b.bits.log2_max_pcm_coding_block_size_minus3 = log2_max_pcm - 3;
	b.bits.log2_min_pcm_coding_block_size_minus3 = log2_min_pcm - 3;
	return b.value;
}

Test(vaapi_select, hevc_follows_the_drivers_features_and_block_sizes)
{
	struct zs_va_candidate c[3] = {
		CAND(VAProfileH264High, VAEntrypointEncSliceLP, VA_RC_CBR,
			ALL_PACKED, 4096, 4096),
		CAND(VAProfileHEVCMain, VAEntrypointEncSlice, VA_RC_CBR,
			ALL_PACKED, 4096, 4096),
		CAND(VAProfileHEVCMain, VAEntrypointEncSliceLP,
			VA_RC_VBR | VA_RC_CQP, ALL_PACKED, 4096, 4096),
	};
	struct zs_va_choice ch;
	char why[200];

	/* LP first; nothing said: CTB 32, CB 16, temporal MVP, no PCM */
	cr_assert(zs_va_select_h265(c, 3, 1920, 1080, &ch, why, sizeof(why)),
		"%s", why);
	cr_expect_eq(ch.profile, VAProfileHEVCMain);
	cr_expect_eq(ch.entrypoint, VAEntrypointEncSliceLP);
	cr_expect_eq(ch.rc_mode, VA_RC_VBR);
	cr_expect_eq(ch.hevc.log2_ctb, 5);
	cr_expect_eq(ch.hevc.log2_min_cb, 4);
	cr_expect(ch.hevc.temporal_mvp);
	cr_expect(ch.hevc.cu_qp_delta, "CU QP deltas for rate control");
	cr_expect_not(ch.hevc.pcm || ch.hevc.amp || ch.hevc.sao);
	cr_expect_not(ch.hevc.low_delay_b);

	/* a driver that needs PCM and codes no P slices (the fake one) */
	c[2].hevc_features = hevc_features(VA_FEATURE_REQUIRED,
		VA_FEATURE_NOT_SUPPORTED, VA_FEATURE_SUPPORTED,
		VA_FEATURE_NOT_SUPPORTED, VA_FEATURE_SUPPORTED);
	c[2].hevc_block_sizes = hevc_blocks(5, 3, 3, 5);
	c[2].prediction_direction = VA_PREDICTION_DIRECTION_PREVIOUS |
		VA_PREDICTION_DIRECTION_BI_NOT_EMPTY;
	cr_assert(zs_va_select_h265(c, 3, 1920, 1080, &ch, why, sizeof(why)),
		"%s", why);
	cr_expect_eq(ch.hevc.log2_ctb, 5);
	cr_expect_eq(ch.hevc.log2_min_cb, 3);
	cr_expect_eq(ch.hevc.log2_max_tb, 5);
	cr_expect_eq(ch.hevc.depth_inter, 2);
	cr_expect_eq(ch.hevc.depth_intra, 1);
	cr_expect(ch.hevc.pcm);
	cr_expect_eq(ch.hevc.log2_min_pcm, 3);
	cr_expect_eq(ch.hevc.log2_max_pcm, 5);
	cr_expect_not(ch.hevc.sao, "SAO supported is not SAO required");
	cr_expect_not(ch.hevc.temporal_mvp);
	cr_expect(ch.hevc.cu_qp_delta);
	cr_expect(ch.hevc.low_delay_b);

	/* PCM required but only at sizes an SPS with CB 32 cannot have */
	c[2].hevc_block_sizes = hevc_blocks(6, 5, 3, 4);
	c[1].profile = VAProfileH264Main;
	cr_expect_not(zs_va_select_h265(c, 3, 1920, 1080, &ch, why,
		sizeof(why)));
	cr_expect(strstr(why, "PCM"), "reason '%s'", why);

	/* too large, and no HEVC at all */
	c[2].hevc_block_sizes = 0;
	c[2].max_width = 1280;
	cr_expect_not(zs_va_select_h265(c, 3, 1920, 1080, &ch, why,
		sizeof(why)));
	cr_expect(strstr(why, "larger than"), "reason '%s'", why);
	cr_expect_not(zs_va_select_h265(c, 1, 1920, 1080, &ch, why,
		sizeof(why)));
	cr_expect(strstr(why, "no HEVC"), "reason '%s'", why);
}

/* ---- descriptors ---- */

static struct zs_frame frame_of(uint32_t w, uint32_t h, uint32_t fourcc,
	uint64_t modifier, int fd, uint32_t offset, uint32_t stride)
{
	struct zs_frame f = {
		.width = w, .height = h, .fourcc = fourcc, .modifier = modifier,
		.y0_top = true, .n_planes = 1,
	};
	f.planes[0] = (struct zs_plane){ .fd = fd, .offset = offset,
		.stride = stride };
	return f;
}

Test(vaapi_descriptor, linear_prime2)
{
	struct zs_frame f = frame_of(640, 480, DRM_FORMAT_XRGB8888,
		DRM_FORMAT_MOD_LINEAR, 7, 4096, 2560);
	uint64_t sizes[ZS_FRAME_MAX_PLANES] = { 4096 + 2560 * 480 };
	VADRMPRIMESurfaceDescriptor d;

	cr_assert_eq(zs_va_build_prime2(&f, sizes, &d), 0);
	cr_expect_eq(d.fourcc, VA_FOURCC_BGRX);
	cr_expect_eq(d.width, 640);
	cr_expect_eq(d.height, 480);
	cr_expect_eq(d.num_objects, 1);
	cr_expect_eq(d.objects[0].fd, 7);
	cr_expect_eq(d.objects[0].size, 4096 + 2560 * 480);
	cr_expect_eq(d.objects[0].drm_format_modifier, DRM_FORMAT_MOD_LINEAR);
	cr_expect_eq(d.num_layers, 1);
	cr_expect_eq(d.layers[0].drm_format, DRM_FORMAT_XRGB8888);
	cr_expect_eq(d.layers[0].num_planes, 1);
	cr_expect_eq(d.layers[0].object_index[0], 0);
	cr_expect_eq(d.layers[0].offset[0], 4096);
	cr_expect_eq(d.layers[0].pitch[0], 2560);
}

Test(vaapi_descriptor, tiled_prime2_with_a_ccs_plane)
{
	/* Y-tiled with compression: main surface and CCS in one object,
	 * the modifier on the object. */
	struct zs_frame f = frame_of(1920, 1080, DRM_FORMAT_ARGB8888,
		I915_FORMAT_MOD_Y_TILED_CCS, 9, 0, 7680);
	uint64_t sizes[ZS_FRAME_MAX_PLANES] = { 9 << 20, 9 << 20 };
	VADRMPRIMESurfaceDescriptor d;

	f.n_planes = 2;
	f.planes[1] = (struct zs_plane){ .fd = 9, .offset = 8355840,
		.stride = 512 };
	cr_assert_eq(zs_va_build_prime2(&f, sizes, &d), 0);
	cr_expect_eq(d.fourcc, VA_FOURCC_BGRA);
	cr_expect_eq(d.num_objects, 1, "planes sharing an fd share an object");
	cr_expect_eq(d.objects[0].drm_format_modifier,
		I915_FORMAT_MOD_Y_TILED_CCS);
	cr_expect_eq(d.layers[0].num_planes, 2);
	cr_expect_eq(d.layers[0].object_index[1], 0);
	cr_expect_eq(d.layers[0].offset[1], 8355840);
	cr_expect_eq(d.layers[0].pitch[1], 512);

	/* the same with the CCS in its own fd: two objects */
	f.planes[1].fd = 10;
	cr_assert_eq(zs_va_build_prime2(&f, sizes, &d), 0);
	cr_expect_eq(d.num_objects, 2);
	cr_expect_eq(d.objects[1].fd, 10);
	cr_expect_eq(d.layers[0].object_index[1], 1);
}

Test(vaapi_descriptor, legacy_prime_only_for_linear)
{
	struct zs_frame f = frame_of(800, 600, DRM_FORMAT_XBGR8888,
		DRM_FORMAT_MOD_LINEAR, 5, 0, 3200);
	VASurfaceAttribExternalBuffers eb;
	uintptr_t slot = 0;

	cr_assert_eq(zs_va_build_prime_legacy(&f, 3200 * 600, &eb, &slot), 0);
	cr_expect_eq(eb.pixel_format, VA_FOURCC_RGBX);
	cr_expect_eq(eb.num_buffers, 1);
	cr_expect_eq(eb.buffers, &slot);
	cr_expect_eq(slot, 5);
	cr_expect_eq(eb.pitches[0], 3200);
	cr_expect_eq(eb.data_size, 3200 * 600);
	f.modifier = DRM_FORMAT_MOD_INVALID; /* implicit: the kernel knows */
	cr_expect_eq(zs_va_build_prime_legacy(&f, 3200 * 600, &eb, &slot), 0);
	f.modifier = I915_FORMAT_MOD_X_TILED;
	cr_expect_eq(zs_va_build_prime_legacy(&f, 3200 * 600, &eb, &slot),
		-EINVAL);
}

Test(vaapi_descriptor, refuses_bad_values_without_crashing)
{
	static const struct {
		const char *name;
		uint32_t w, h, fourcc;
		int fd, n_planes;
		uint32_t offset, stride;
		uint64_t size;
	} bad[] = {
		{ "no planes", 64, 64, DRM_FORMAT_XRGB8888, 3, 0, 0, 256, 1 << 20 },
		{ "five planes", 64, 64, DRM_FORMAT_XRGB8888, 3, 5, 0, 256, 1 << 20 },
		{ "negative fd", 64, 64, DRM_FORMAT_XRGB8888, -1, 1, 0, 256, 1 << 20 },
		{ "NV12 source", 64, 64, DRM_FORMAT_NV12, 3, 1, 0, 256, 1 << 20 },
		{ "stride below width", 64, 64, DRM_FORMAT_XRGB8888, 3, 1, 0, 255, 1 << 20 },
		{ "zero size object", 64, 64, DRM_FORMAT_XRGB8888, 3, 1, 0, 256, 0 },
		{ "rows past the end", 64, 64, DRM_FORMAT_XRGB8888, 3, 1, 0, 256, 256 * 63 },
		{ "offset past the end", 64, 64, DRM_FORMAT_XRGB8888, 3, 1,
		  UINT32_MAX, 256, 1 << 20 },
		{ "huge stride overflows", 64, 64, DRM_FORMAT_XRGB8888, 3, 1, 0,
		  UINT32_MAX, 1u << 31 },
		{ "object over 4 GiB", 64, 64, DRM_FORMAT_XRGB8888, 3, 1, 0, 256,
		  1ull << 33 },
		{ "zero width", 0, 64, DRM_FORMAT_XRGB8888, 3, 1, 0, 256, 1 << 20 },
		{ "width * 4 overflows", UINT32_MAX, 1, DRM_FORMAT_XRGB8888, 3, 1,
		  0, UINT32_MAX, 1u << 31 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct zs_frame f = frame_of(bad[i].w, bad[i].h, bad[i].fourcc,
			DRM_FORMAT_MOD_LINEAR, bad[i].fd, bad[i].offset,
			bad[i].stride);
		uint64_t sizes[ZS_FRAME_MAX_PLANES] = { bad[i].size, bad[i].size,
			bad[i].size, bad[i].size };
		VADRMPRIMESurfaceDescriptor d;
		VASurfaceAttribExternalBuffers eb;
		uintptr_t slot;

		f.n_planes = bad[i].n_planes;
		for (int p = 1; p < ZS_FRAME_MAX_PLANES; p++)
			f.planes[p] = f.planes[0];
		cr_expect_eq(zs_va_build_prime2(&f, sizes, &d), -EINVAL,
			"prime2: %s", bad[i].name);
		cr_expect_eq(zs_va_build_prime_legacy(&f, bad[i].size, &eb,
			&slot), -EINVAL, "legacy: %s", bad[i].name);
	}
}

/* ---- the surface cache ---- */

static struct zs_va_buffer_key key_for(int fd, uint32_t stride)
{
	struct zs_frame f = frame_of(64, 64, DRM_FORMAT_XRGB8888,
		DRM_FORMAT_MOD_LINEAR, fd, 0, stride);
	struct zs_va_buffer_key k;

	cr_assert_eq(zs_va_buffer_key_init(&k, &f), 0);
	return k;
}

Test(vaapi_cache, reuses_surfaces_per_buffer_not_per_fd_number)
{
	struct zs_va_surface_cache cache;
	int a = memfd_create("a", MFD_CLOEXEC), b = memfd_create("b", MFD_CLOEXEC);
	int a_dup = dup(a);
	struct zs_va_buffer_key ka = key_for(a, 256), kb = key_for(b, 256);

	zs_va_surface_cache_init(&cache);
	cr_expect_eq(zs_va_surface_cache_lookup(&cache, &ka), VA_INVALID_SURFACE);
	cr_expect_eq(zs_va_surface_cache_insert(&cache, &ka, 100),
		VA_INVALID_SURFACE);
	cr_expect_eq(zs_va_surface_cache_lookup(&cache, &kb), VA_INVALID_SURFACE);
	zs_va_surface_cache_insert(&cache, &kb, 200);
	/* another fd number for the same buffer hits */
	struct zs_va_buffer_key ka2 = key_for(a_dup, 256);
	cr_expect_eq(zs_va_surface_cache_lookup(&cache, &ka2), 100);
	cr_expect_eq(zs_va_surface_cache_lookup(&cache, &kb), 200);
	/* the same buffer with another layout is another surface */
	struct zs_va_buffer_key ka3 = key_for(a, 512);
	cr_expect_eq(zs_va_surface_cache_lookup(&cache, &ka3),
		VA_INVALID_SURFACE);
	cr_expect_eq(zs_va_surface_cache_count(&cache), 2);
	close(a);
	close(b);
	close(a_dup);
}

Test(vaapi_cache, evicts_least_recently_used_and_stale_buffers)
{
	struct zs_va_surface_cache cache;
	int fds[ZS_VA_CACHE_SIZE + 1];
	struct zs_va_buffer_key keys[ZS_VA_CACHE_SIZE + 1];

	zs_va_surface_cache_init(&cache);
	for (int i = 0; i <= ZS_VA_CACHE_SIZE; i++) {
		fds[i] = memfd_create("k", MFD_CLOEXEC);
		keys[i] = key_for(fds[i], 256);
	}
	for (int i = 0; i < ZS_VA_CACHE_SIZE; i++) {
		zs_va_surface_cache_lookup(&cache, &keys[i]);
		cr_expect_eq(zs_va_surface_cache_insert(&cache, &keys[i],
			(VASurfaceID)(10 + i)), VA_INVALID_SURFACE);
	}
	/* touch all but entry 3: it becomes the least recently used */
	for (int i = 0; i < ZS_VA_CACHE_SIZE; i++) {
		if (i != 3)
			cr_expect_eq(zs_va_surface_cache_lookup(&cache, &keys[i]),
				(VASurfaceID)(10 + i));
	}
	zs_va_surface_cache_lookup(&cache, &keys[ZS_VA_CACHE_SIZE]);
	cr_expect_eq(zs_va_surface_cache_insert(&cache,
		&keys[ZS_VA_CACHE_SIZE], 99), 13, "LRU entry handed back");
	cr_expect_eq(zs_va_surface_cache_count(&cache), ZS_VA_CACHE_SIZE);

	/* a source that drops buffers: only buffer 0 keeps coming */
	for (int frame = 0; frame <= ZS_VA_CACHE_MAX_AGE; frame++)
		zs_va_surface_cache_lookup(&cache, &keys[0]);
	int evicted = 0;
	while (zs_va_surface_cache_evict(&cache, ZS_VA_CACHE_MAX_AGE) !=
	       VA_INVALID_SURFACE)
		evicted++;
	cr_expect_eq(evicted, ZS_VA_CACHE_SIZE - 1);
	cr_expect_eq(zs_va_surface_cache_count(&cache), 1);
	cr_expect_eq(zs_va_surface_cache_lookup(&cache, &keys[0]), 10);
	cr_expect_eq(zs_va_surface_cache_evict(&cache, 0), 10, "evict all");
	cr_expect_eq(zs_va_surface_cache_count(&cache), 0);
	for (int i = 0; i <= ZS_VA_CACHE_SIZE; i++)
		close(fds[i]);
}
