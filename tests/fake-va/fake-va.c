/* zerospice — fake VA driver: entry point, capabilities, objects, surfaces
 * (fd import) and buffers. See fake-va.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake-va.h"
#include <drm_fourcc.h>
#include <va/va_backend_vpp.h>
#include <va/va_drmcommon.h>
#include <va/va_enc_h264.h>
#include <va/va_vpp.h>


#define EXPORT __attribute__((visibility("default")))

EXPORT struct zs_fake_va_stats zs_fake_va_stats;

#define MAX_PROFILES 5
#define MAX_ENTRYPOINTS 4
#define MAX_ATTRIBUTES 16
#define MIN_SIZE 16
#define VPP_MAX_SIZE 16384

void fake_fail(const char *fmt, ...)
{
	va_list ap;

	zs_fake_va_stats.check_failures++;
	fputs("fake-va: FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void fake_info(VADriverContextP ctx, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->info_callback)
		ctx->info_callback(ctx, msg);
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

bool fake_env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && strcmp(v, "1") == 0;
}

/* True when the comma-separated list in env (or fallback) names word. */
static bool env_lists(const char *name, const char *fallback, const char *word)
{
	const char *list = env_or(name, fallback);
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, word, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

static void max_size(uint32_t *w, uint32_t *h)
{
	unsigned mw = 4096, mh = 4096;
	const char *v = getenv("ZS_FAKE_VA_MAX_SIZE");

	if (v && sscanf(v, "%ux%u", &mw, &mh) != 2) {
		mw = 4096;
		mh = 4096;
	}
	*w = mw;
	*h = mh;
}

/* ---- objects ---- */

static struct fake_driver *drv(VADriverContextP ctx)
{
	return ctx->pDriverData;
}

static uint32_t new_object(VADriverContextP ctx, enum object_kind kind,
	struct fake_object **out)
{
	struct fake_driver *d = drv(ctx);
	struct fake_object *o = calloc(1, sizeof(*o));
	struct fake_object **grown;

	if (!o)
		return VA_INVALID_ID;
	for (size_t i = 0; i < d->n_objects; i++) {
		if (!d->objects[i]) {
			o->kind = kind;
			d->objects[i] = o;
			*out = o;
			return (uint32_t)i + 1;
		}
	}
	grown = realloc(d->objects, (d->n_objects + 1) * sizeof(*grown));
	if (!grown) {
		free(o);
		return VA_INVALID_ID;
	}
	d->objects = grown;
	o->kind = kind;
	d->objects[d->n_objects++] = o;
	*out = o;
	return (uint32_t)d->n_objects;
}

static struct fake_object *lookup_object(VADriverContextP ctx, uint32_t id,
	enum object_kind kind)
{
	struct fake_driver *d = drv(ctx);

	if (id == 0 || id > d->n_objects || !d->objects[id - 1] ||
	    d->objects[id - 1]->kind != kind)
		return NULL;
	return d->objects[id - 1];
}

void *fake_lookup(VADriverContextP ctx, uint32_t id, enum object_kind kind)
{
	struct fake_object *o = lookup_object(ctx, id, kind);

	if (!o)
		return NULL;
	switch (kind) {
	case OBJ_CONFIG: return &o->config;
	case OBJ_CONTEXT: return &o->context;
	case OBJ_SURFACE: return &o->surface;
	case OBJ_BUFFER: return &o->buffer;
	default: return NULL;
	}
}

static void free_picture_buffers(struct fake_context *c)
{
	for (size_t i = 0; i < c->n_bufs; i++)
		free(c->bufs[i].data);
	free(c->bufs);
	c->bufs = NULL;
	c->n_bufs = 0;
}

static void free_object(VADriverContextP ctx, uint32_t id)
{
	struct fake_driver *d = drv(ctx);
	struct fake_object *o = d->objects[id - 1];

	switch (o->kind) {
	case OBJ_SURFACE:
		free(o->surface.nv12);
		if (o->surface.map) {
			munmap(o->surface.map, o->surface.map_len);
			zs_fake_va_stats.imported_live--;
		}
		break;
	case OBJ_BUFFER:
		free(o->buffer.data);
		break;
	case OBJ_CONTEXT:
		free_picture_buffers(&o->context);
		break;
	default:
		break;
	}
	free(o);
	d->objects[id - 1] = NULL;
}

/* ---- capabilities ---- */

static bool profile_offered(VAProfile profile)
{
	switch (profile) {
	case VAProfileH264ConstrainedBaseline:
		return env_lists("ZS_FAKE_VA_PROFILES", "cb", "cb");
	case VAProfileH264Main:
		return env_lists("ZS_FAKE_VA_PROFILES", "cb", "main");
	case VAProfileH264High:
		return env_lists("ZS_FAKE_VA_PROFILES", "cb", "high");
	case VAProfileHEVCMain:
		return env_lists("ZS_FAKE_VA_PROFILES", "cb", "hevc");
	case VAProfileNone:
		return true;
	default:
		return false;
	}
}

static VAStatus query_profiles(VADriverContextP ctx, VAProfile *list,
	int *num)
{
	static const VAProfile all[] = { VAProfileNone,
		VAProfileH264ConstrainedBaseline, VAProfileH264Main,
		VAProfileH264High, VAProfileHEVCMain };
	int n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (profile_offered(all[i]))
			list[n++] = all[i];
	}
	*num = n;
	return VA_STATUS_SUCCESS;
}

static bool entrypoint_offered(VAProfile profile, VAEntrypoint ep)
{
	if (!profile_offered(profile))
		return false;
	if (profile == VAProfileNone)
		return ep == VAEntrypointVideoProc;
	if (ep == VAEntrypointEncSliceLP)
		return env_lists("ZS_FAKE_VA_ENTRYPOINTS", "lp,slice", "lp");
	if (ep == VAEntrypointEncSlice)
		return env_lists("ZS_FAKE_VA_ENTRYPOINTS", "lp,slice", "slice");
	return false;
}

static VAStatus query_entrypoints(VADriverContextP ctx, VAProfile profile,
	VAEntrypoint *list, int *num)
{
	static const VAEntrypoint all[] = { VAEntrypointVideoProc,
		VAEntrypointEncSlice, VAEntrypointEncSliceLP };
	int n = 0;

	if (!profile_offered(profile))
		return VA_STATUS_ERROR_UNSUPPORTED_PROFILE;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (entrypoint_offered(profile, all[i]))
			list[n++] = all[i];
	}
	*num = n;
	return VA_STATUS_SUCCESS;
}

static uint32_t rc_modes(void)
{
	uint32_t m = 0;
	if (env_lists("ZS_FAKE_VA_RC", "cbr,vbr,cqp", "cbr"))
		m |= VA_RC_CBR;
	if (env_lists("ZS_FAKE_VA_RC", "cbr,vbr,cqp", "vbr"))
		m |= VA_RC_VBR;
	if (env_lists("ZS_FAKE_VA_RC", "cbr,vbr,cqp", "cqp"))
		m |= VA_RC_CQP;
	return m;
}

static uint32_t attrib_value(VAProfile profile, VAEntrypoint ep,
	VAConfigAttribType type)
{
	uint32_t w, h;
	bool enc = ep == VAEntrypointEncSlice || ep == VAEntrypointEncSliceLP;

	max_size(&w, &h);
	switch (type) {
	case VAConfigAttribRTFormat:
		return enc ? VA_RT_FORMAT_YUV420 :
			VA_RT_FORMAT_YUV420 | VA_RT_FORMAT_RGB32;
	case VAConfigAttribRateControl:
		return enc ? rc_modes() : VA_ATTRIB_NOT_SUPPORTED;
	case VAConfigAttribEncPackedHeaders:
		return enc ? VA_ENC_PACKED_HEADER_SEQUENCE |
			VA_ENC_PACKED_HEADER_PICTURE | VA_ENC_PACKED_HEADER_SLICE :
			VA_ATTRIB_NOT_SUPPORTED;
	case VAConfigAttribMaxPictureWidth:
		return enc ? w : VPP_MAX_SIZE;
	case VAConfigAttribMaxPictureHeight:
		return enc ? h : VPP_MAX_SIZE;
	case VAConfigAttribEncQualityRange:
		return enc ? 7 : VA_ATTRIB_NOT_SUPPORTED;
	case VAConfigAttribEncMaxRefFrames:
		return enc ? 1 : VA_ATTRIB_NOT_SUPPORTED;
	case VAConfigAttribEncMaxSlices:
		return enc ? 1 : VA_ATTRIB_NOT_SUPPORTED;
	case VAConfigAttribPredictionDirection:
		return enc && profile == VAProfileHEVCMain ?
			fake_h265_prediction_direction() : VA_ATTRIB_NOT_SUPPORTED;
	case VAConfigAttribEncHEVCFeatures:
		return enc && profile == VAProfileHEVCMain ?
			fake_h265_features() : VA_ATTRIB_NOT_SUPPORTED;
	case VAConfigAttribEncHEVCBlockSizes:
		return enc && profile == VAProfileHEVCMain ?
			fake_h265_block_sizes() : VA_ATTRIB_NOT_SUPPORTED;
	default:
		return VA_ATTRIB_NOT_SUPPORTED;
	}
}

static VAStatus get_config_attributes(VADriverContextP ctx, VAProfile profile,
	VAEntrypoint ep, VAConfigAttrib *list, int num)
{
	if (!entrypoint_offered(profile, ep))
		return profile_offered(profile) ?
			VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT :
			VA_STATUS_ERROR_UNSUPPORTED_PROFILE;
	for (int i = 0; i < num; i++)
		list[i].value = attrib_value(profile, ep, list[i].type);
	return VA_STATUS_SUCCESS;
}

static VAStatus create_config(VADriverContextP ctx, VAProfile profile,
	VAEntrypoint ep, VAConfigAttrib *attribs, int num, VAConfigID *id)
{
	struct fake_object *o;
	struct fake_config cfg = { .profile = profile, .entrypoint = ep };
	bool enc = ep != VAEntrypointVideoProc;

	if (!entrypoint_offered(profile, ep))
		return profile_offered(profile) ?
			VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT :
			VA_STATUS_ERROR_UNSUPPORTED_PROFILE;
	for (int i = 0; i < num; i++) {
		uint32_t supported = attrib_value(profile, ep, attribs[i].type);
		uint32_t v = attribs[i].value;
		switch (attribs[i].type) {
		case VAConfigAttribRTFormat:
			if (!(v & supported))
				return VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT;
			break;
		case VAConfigAttribRateControl:
			/* exactly one mode, and one we offer */
			if (!enc || v == 0 || (v & (v - 1)) || !(v & supported))
				return VA_STATUS_ERROR_INVALID_VALUE;
			cfg.rc_mode = v;
			break;
		case VAConfigAttribEncPackedHeaders:
			if (!enc || (v & ~supported))
				return VA_STATUS_ERROR_INVALID_VALUE;
			cfg.packed_headers = v;
			break;
		default:
			if (supported == VA_ATTRIB_NOT_SUPPORTED)
				return VA_STATUS_ERROR_ATTR_NOT_SUPPORTED;
			break;
		}
	}
	if (enc && cfg.rc_mode == 0)
		cfg.rc_mode = VA_RC_CQP;
	*id = new_object(ctx, OBJ_CONFIG, &o);
	if (*id == VA_INVALID_ID)
		return VA_STATUS_ERROR_ALLOCATION_FAILED;
	o->config = cfg;
	return VA_STATUS_SUCCESS;
}

static VAStatus destroy_config(VADriverContextP ctx, VAConfigID id)
{
	if (!lookup_object(ctx, id, OBJ_CONFIG))
		return VA_STATUS_ERROR_INVALID_CONFIG;
	free_object(ctx, id);
	return VA_STATUS_SUCCESS;
}

static VAStatus query_config_attributes(VADriverContextP ctx, VAConfigID id,
	VAProfile *profile, VAEntrypoint *ep, VAConfigAttrib *list, int *num)
{
	struct fake_config *cfg = fake_lookup(ctx, id, OBJ_CONFIG);

	if (!cfg)
		return VA_STATUS_ERROR_INVALID_CONFIG;
	*profile = cfg->profile;
	*ep = cfg->entrypoint;
	list[0].type = VAConfigAttribRTFormat;
	list[0].value = attrib_value(cfg->profile, cfg->entrypoint,
		VAConfigAttribRTFormat);
	*num = 1;
	if (cfg->entrypoint != VAEntrypointVideoProc) {
		list[1].type = VAConfigAttribRateControl;
		list[1].value = cfg->rc_mode;
		*num = 2;
	}
	return VA_STATUS_SUCCESS;
}

static VAStatus query_surface_attributes(VADriverContextP ctx, VAConfigID id,
	VASurfaceAttrib *list, unsigned *num)
{
	struct fake_config *cfg = fake_lookup(ctx, id, OBJ_CONFIG);
	VASurfaceAttrib attrs[16];
	unsigned n = 0;
	uint32_t mem = VA_SURFACE_ATTRIB_MEM_TYPE_VA |
		VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME;

	if (!cfg)
		return VA_STATUS_ERROR_INVALID_CONFIG;
	if (!fake_env_flag("ZS_FAKE_VA_NO_PRIME2"))
		mem |= VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2;
#define ADD(t, f, v) do { \
	attrs[n].type = (t); attrs[n].flags = (f); \
	attrs[n].value.type = VAGenericValueTypeInteger; \
	attrs[n].value.value.i = (int)(v); n++; } while (0)
	ADD(VASurfaceAttribMemoryType, VA_SURFACE_ATTRIB_GETTABLE |
		VA_SURFACE_ATTRIB_SETTABLE, mem);
	ADD(VASurfaceAttribMinWidth, VA_SURFACE_ATTRIB_GETTABLE, MIN_SIZE);
	ADD(VASurfaceAttribMinHeight, VA_SURFACE_ATTRIB_GETTABLE, MIN_SIZE);
	ADD(VASurfaceAttribMaxWidth, VA_SURFACE_ATTRIB_GETTABLE, VPP_MAX_SIZE);
	ADD(VASurfaceAttribMaxHeight, VA_SURFACE_ATTRIB_GETTABLE, VPP_MAX_SIZE);
	ADD(VASurfaceAttribPixelFormat, VA_SURFACE_ATTRIB_GETTABLE |
		VA_SURFACE_ATTRIB_SETTABLE, VA_FOURCC_NV12);
	if (cfg->entrypoint == VAEntrypointVideoProc) {
		ADD(VASurfaceAttribPixelFormat, VA_SURFACE_ATTRIB_SETTABLE,
			VA_FOURCC_BGRX);
		ADD(VASurfaceAttribPixelFormat, VA_SURFACE_ATTRIB_SETTABLE,
			VA_FOURCC_BGRA);
		ADD(VASurfaceAttribPixelFormat, VA_SURFACE_ATTRIB_SETTABLE,
			VA_FOURCC_RGBX);
		ADD(VASurfaceAttribPixelFormat, VA_SURFACE_ATTRIB_SETTABLE,
			VA_FOURCC_RGBA);
	}
#undef ADD
	if (!list) {
		*num = n;
		return VA_STATUS_SUCCESS;
	}
	if (*num < n) {
		*num = n;
		return VA_STATUS_ERROR_MAX_NUM_EXCEEDED;
	}
	memcpy(list, attrs, n * sizeof(*list));
	*num = n;
	return VA_STATUS_SUCCESS;
}

/* ---- surfaces ---- */

static uint32_t drm_for_va_fourcc(uint32_t va)
{
	switch (va) {
	case VA_FOURCC_BGRX: return DRM_FORMAT_XRGB8888;
	case VA_FOURCC_BGRA: return DRM_FORMAT_ARGB8888;
	case VA_FOURCC_RGBX: return DRM_FORMAT_XBGR8888;
	case VA_FOURCC_RGBA: return DRM_FORMAT_ABGR8888;
	default: return 0;
	}
}

#define X_TILE_WIDTH 512u  /* bytes */
#define X_TILE_HEIGHT 8u   /* rows */

/* What a driver checks before it touches an imported buffer: every
 * number is untrusted. Returns NULL when fine, else the reason. */
static const char *check_rgb_plane(uint32_t width, uint32_t height,
	uint64_t modifier, uint32_t offset, uint32_t pitch, uint64_t obj_size,
	uint64_t fd_size)
{
	uint64_t rows = height, need;

	if (width < MIN_SIZE || height < MIN_SIZE || width > VPP_MAX_SIZE ||
	    height > VPP_MAX_SIZE)
		return "size out of range";
	if (modifier == I915_FORMAT_MOD_X_TILED) {
		if (pitch % X_TILE_WIDTH || offset % 4096)
			return "X-tiled pitch/offset not tile-aligned";
		rows = (rows + X_TILE_HEIGHT - 1) / X_TILE_HEIGHT * X_TILE_HEIGHT;
	} else if (modifier != DRM_FORMAT_MOD_LINEAR) {
		return "unsupported modifier";
	}
	if ((uint64_t)pitch < (uint64_t)width * 4 || pitch % 4)
		return "pitch too small or unaligned";
	need = (uint64_t)offset + (uint64_t)pitch * rows;
	if (obj_size == 0 || need > obj_size)
		return "plane does not fit the object";
	if (obj_size > fd_size)
		return "object larger than the buffer behind the fd";
	return NULL;
}

static uint64_t fd_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	return end < 0 ? 0 : (uint64_t)end;
}

static VAStatus import_rgb(VADriverContextP ctx, struct fake_surface *s,
	int fd, uint64_t obj_size, uint32_t width, uint32_t height,
	uint32_t drm_format, uint64_t modifier, uint32_t offset, uint32_t pitch)
{
	const char *why;
	void *map;

	if (fake_env_flag("ZS_FAKE_VA_REFUSE_IMPORT")) {
		zs_fake_va_stats.imports_refused++;
		fake_info(ctx, "fake-va: import refused (ZS_FAKE_VA_REFUSE_IMPORT)");
		return VA_STATUS_ERROR_ALLOCATION_FAILED;
	}
	if (fd < 0) {
		why = "bad fd";
	} else if (!drm_format) {
		why = "unsupported format";
	} else {
		why = check_rgb_plane(width, height, modifier, offset, pitch,
			obj_size, fd_size(fd));
	}
	if (why) {
		zs_fake_va_stats.imports_refused++;
		fake_info(ctx, "fake-va: import refused: %s", why);
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	map = mmap(NULL, (size_t)obj_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		zs_fake_va_stats.imports_refused++;
		fake_info(ctx, "fake-va: mmap: %s", strerror(errno));
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	s->imported = true;
	s->map = map;
	s->map_len = (size_t)obj_size;
	s->width = width;
	s->height = height;
	s->drm_format = drm_format;
	s->modifier = modifier;
	s->offset = offset;
	s->pitch = pitch;
	zs_fake_va_stats.imported_live++;
	return VA_STATUS_SUCCESS;
}

static VAStatus import_prime2(VADriverContextP ctx, struct fake_surface *s,
	uint32_t width, uint32_t height, const VADRMPRIMESurfaceDescriptor *d)
{
	uint32_t obj;
	VAStatus st;

	if (!d || d->num_objects < 1 || d->num_objects > 4 ||
	    d->num_layers != 1 || d->layers[0].num_planes != 1 ||
	    d->width != width || d->height != height)
		goto bad;
	obj = d->layers[0].object_index[0];
	if (obj >= d->num_objects ||
	    d->layers[0].drm_format != drm_for_va_fourcc(d->fourcc))
		goto bad;
	st = import_rgb(ctx, s, d->objects[obj].fd, d->objects[obj].size,
		width, height, d->layers[0].drm_format,
		d->objects[obj].drm_format_modifier, d->layers[0].offset[0],
		d->layers[0].pitch[0]);
	if (st == VA_STATUS_SUCCESS)
		zs_fake_va_stats.imports_prime2++;
	return st;
bad:
	zs_fake_va_stats.imports_refused++;
	fake_info(ctx, "fake-va: import refused: bad PRIME_2 descriptor");
	return VA_STATUS_ERROR_INVALID_PARAMETER;
}

static VAStatus import_prime(VADriverContextP ctx, struct fake_surface *s,
	uint32_t width, uint32_t height, const VASurfaceAttribExternalBuffers *eb)
{
	VAStatus st;

	if (!eb || eb->num_planes != 1 || eb->num_buffers != 1 ||
	    !eb->buffers || eb->width != width || eb->height != height ||
	    eb->buffers[0] > (uintptr_t)INT32_MAX)
		goto bad;
	st = import_rgb(ctx, s, (int)eb->buffers[0], eb->data_size, width,
		height, drm_for_va_fourcc(eb->pixel_format),
		DRM_FORMAT_MOD_LINEAR, eb->offsets[0], eb->pitches[0]);
	if (st == VA_STATUS_SUCCESS)
		zs_fake_va_stats.imports_prime++;
	return st;
bad:
	zs_fake_va_stats.imports_refused++;
	fake_info(ctx, "fake-va: import refused: bad external buffer");
	return VA_STATUS_ERROR_INVALID_PARAMETER;
}

static VAStatus alloc_nv12(struct fake_surface *s, uint32_t width,
	uint32_t height)
{
	size_t luma;

	if (width < MIN_SIZE || height < MIN_SIZE || width > VPP_MAX_SIZE ||
	    height > VPP_MAX_SIZE)
		return VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED;
	s->width = width;
	s->height = height;
	/* whole macroblocks, so the encoder reads no further checks */
	s->nv12_pitch = (width + 15) & ~15u;
	s->nv12_height = (height + 15) & ~15u;
	luma = (size_t)s->nv12_pitch * s->nv12_height;
	s->nv12 = malloc(luma + luma / 2);
	if (!s->nv12)
		return VA_STATUS_ERROR_ALLOCATION_FAILED;
	memset(s->nv12, 16, luma);
	memset(s->nv12 + luma, 128, luma / 2);
	return VA_STATUS_SUCCESS;
}

static VAStatus create_surfaces2(VADriverContextP ctx, unsigned format,
	unsigned width, unsigned height, VASurfaceID *surfaces, unsigned num,
	VASurfaceAttrib *attribs, unsigned num_attribs)
{
	uint32_t mem = VA_SURFACE_ATTRIB_MEM_TYPE_VA;
	void *desc = NULL;

	for (unsigned i = 0; i < num_attribs; i++) {
		if (!(attribs[i].flags & VA_SURFACE_ATTRIB_SETTABLE))
			continue;
		if (attribs[i].type == VASurfaceAttribMemoryType)
			mem = (uint32_t)attribs[i].value.value.i;
		else if (attribs[i].type == VASurfaceAttribExternalBufferDescriptor)
			desc = attribs[i].value.value.p;
	}
	if (mem == VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2 &&
	    fake_env_flag("ZS_FAKE_VA_NO_PRIME2"))
		return VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE;
	if (mem != VA_SURFACE_ATTRIB_MEM_TYPE_VA &&
	    mem != VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME &&
	    mem != VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2)
		return VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE;
	if (mem != VA_SURFACE_ATTRIB_MEM_TYPE_VA &&
	    (num != 1 || format != VA_RT_FORMAT_RGB32))
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	if (mem == VA_SURFACE_ATTRIB_MEM_TYPE_VA && format != VA_RT_FORMAT_YUV420)
		return VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT;

	for (unsigned i = 0; i < num; i++) {
		struct fake_object *o;
		VAStatus st;

		surfaces[i] = new_object(ctx, OBJ_SURFACE, &o);
		if (surfaces[i] == VA_INVALID_ID) {
			st = VA_STATUS_ERROR_ALLOCATION_FAILED;
		} else if (mem == VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2) {
			st = import_prime2(ctx, &o->surface, width, height, desc);
		} else if (mem == VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME) {
			st = import_prime(ctx, &o->surface, width, height, desc);
		} else {
			st = alloc_nv12(&o->surface, width, height);
		}
		if (st != VA_STATUS_SUCCESS) {
			if (surfaces[i] != VA_INVALID_ID)
				free_object(ctx, surfaces[i]);
			for (unsigned j = 0; j < i; j++)
				free_object(ctx, surfaces[j]);
			for (unsigned j = 0; j < num; j++)
				surfaces[j] = VA_INVALID_SURFACE;
			return st;
		}
	}
	return VA_STATUS_SUCCESS;
}

static VAStatus create_surfaces(VADriverContextP ctx, int width, int height,
	int format, int num, VASurfaceID *surfaces)
{
	if (width <= 0 || height <= 0 || num <= 0)
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	return create_surfaces2(ctx, (unsigned)format, (unsigned)width,
		(unsigned)height, surfaces, (unsigned)num, NULL, 0);
}

static VAStatus destroy_surfaces(VADriverContextP ctx, VASurfaceID *list,
	int num)
{
	for (int i = 0; i < num; i++) {
		if (!lookup_object(ctx, list[i], OBJ_SURFACE))
			return VA_STATUS_ERROR_INVALID_SURFACE;
	}
	for (int i = 0; i < num; i++)
		free_object(ctx, list[i]);
	return VA_STATUS_SUCCESS;
}

/* ---- contexts and pictures ---- */

static VAStatus create_context(VADriverContextP ctx, VAConfigID config,
	int width, int height, int flag, VASurfaceID *targets, int num_targets,
	VAContextID *id)
{
	struct fake_config *cfg = fake_lookup(ctx, config, OBJ_CONFIG);
	struct fake_object *o;
	uint32_t mw = VPP_MAX_SIZE, mh = VPP_MAX_SIZE;

	if (!cfg)
		return VA_STATUS_ERROR_INVALID_CONFIG;
	if (cfg->entrypoint != VAEntrypointVideoProc)
		max_size(&mw, &mh);
	if (width < MIN_SIZE || height < MIN_SIZE || (uint32_t)width > mw ||
	    (uint32_t)height > mh)
		return VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED;
	for (int i = 0; i < num_targets; i++) {
		if (!fake_lookup(ctx, targets[i], OBJ_SURFACE))
			return VA_STATUS_ERROR_INVALID_SURFACE;
	}
	*id = new_object(ctx, OBJ_CONTEXT, &o);
	if (*id == VA_INVALID_ID)
		return VA_STATUS_ERROR_ALLOCATION_FAILED;
	o->context.config = config;
	o->context.width = (uint32_t)width;
	o->context.height = (uint32_t)height;
	o->context.last_recon = VA_INVALID_SURFACE;
	return VA_STATUS_SUCCESS;
}

static VAStatus destroy_context(VADriverContextP ctx, VAContextID id)
{
	if (!lookup_object(ctx, id, OBJ_CONTEXT))
		return VA_STATUS_ERROR_INVALID_CONTEXT;
	free_object(ctx, id);
	return VA_STATUS_SUCCESS;
}

static VAStatus create_buffer(VADriverContextP ctx, VAContextID context,
	VABufferType type, unsigned size, unsigned num, void *data,
	VABufferID *id)
{
	struct fake_object *o;
	uint64_t total = (uint64_t)size * num;

	if (!lookup_object(ctx, context, OBJ_CONTEXT))
		return VA_STATUS_ERROR_INVALID_CONTEXT;
	if (total == 0 || total > (256u << 20))
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	*id = new_object(ctx, OBJ_BUFFER, &o);
	if (*id == VA_INVALID_ID)
		return VA_STATUS_ERROR_ALLOCATION_FAILED;
	o->buffer.type = type;
	o->buffer.size = (size_t)total;
	o->buffer.data = calloc(1, (size_t)total);
	if (!o->buffer.data) {
		free_object(ctx, *id);
		return VA_STATUS_ERROR_ALLOCATION_FAILED;
	}
	if (data && type != VAEncCodedBufferType)
		memcpy(o->buffer.data, data, (size_t)total);
	return VA_STATUS_SUCCESS;
}

static VAStatus buffer_set_num_elements(VADriverContextP ctx, VABufferID id,
	unsigned num)
{
	return VA_STATUS_ERROR_UNIMPLEMENTED;
}

static VAStatus map_buffer(VADriverContextP ctx, VABufferID id, void **p)
{
	struct fake_buffer *b = fake_lookup(ctx, id, OBJ_BUFFER);

	if (!b)
		return VA_STATUS_ERROR_INVALID_BUFFER;
	*p = b->type == VAEncCodedBufferType ? (void *)&b->segments[0] :
		(void *)b->data;
	return VA_STATUS_SUCCESS;
}

static VAStatus unmap_buffer(VADriverContextP ctx, VABufferID id)
{
	return fake_lookup(ctx, id, OBJ_BUFFER) ? VA_STATUS_SUCCESS :
		VA_STATUS_ERROR_INVALID_BUFFER;
}

static VAStatus destroy_buffer(VADriverContextP ctx, VABufferID id)
{
	if (!lookup_object(ctx, id, OBJ_BUFFER))
		return VA_STATUS_ERROR_INVALID_BUFFER;
	free_object(ctx, id);
	return VA_STATUS_SUCCESS;
}

static VAStatus begin_picture(VADriverContextP ctx, VAContextID id,
	VASurfaceID target)
{
	struct fake_context *c = fake_lookup(ctx, id, OBJ_CONTEXT);
	struct fake_surface *s = fake_lookup(ctx, target, OBJ_SURFACE);

	if (!c)
		return VA_STATUS_ERROR_INVALID_CONTEXT;
	if (!s)
		return VA_STATUS_ERROR_INVALID_SURFACE;
	if (c->in_picture) {
		fake_fail("vaBeginPicture inside a picture");
		return VA_STATUS_ERROR_OPERATION_FAILED;
	}
	free_picture_buffers(c);
	c->target = target;
	c->in_picture = true;
	return VA_STATUS_SUCCESS;
}

static VAStatus render_picture(VADriverContextP ctx, VAContextID id,
	VABufferID *buffers, int num)
{
	struct fake_context *c = fake_lookup(ctx, id, OBJ_CONTEXT);
	struct fake_picture_buffer *grown;

	if (!c)
		return VA_STATUS_ERROR_INVALID_CONTEXT;
	if (!c->in_picture) {
		fake_fail("vaRenderPicture outside a picture");
		return VA_STATUS_ERROR_OPERATION_FAILED;
	}
	for (int i = 0; i < num; i++) {
		struct fake_buffer *b = fake_lookup(ctx, buffers[i], OBJ_BUFFER);
		if (!b)
			return VA_STATUS_ERROR_INVALID_BUFFER;
		grown = realloc(c->bufs, (c->n_bufs + 1) * sizeof(*grown));
		if (!grown)
			return VA_STATUS_ERROR_ALLOCATION_FAILED;
		c->bufs = grown;
		/* copied: the application may destroy it right away */
		grown[c->n_bufs].type = b->type;
		grown[c->n_bufs].size = b->size;
		grown[c->n_bufs].data = malloc(b->size);
		if (!grown[c->n_bufs].data)
			return VA_STATUS_ERROR_ALLOCATION_FAILED;
		memcpy(grown[c->n_bufs].data, b->data, b->size);
		c->n_bufs++;
	}
	return VA_STATUS_SUCCESS;
}

static VAStatus end_picture(VADriverContextP ctx, VAContextID id)
{
	struct fake_context *c = fake_lookup(ctx, id, OBJ_CONTEXT);
	struct fake_config *cfg;
	VAStatus st;

	if (!c)
		return VA_STATUS_ERROR_INVALID_CONTEXT;
	if (!c->in_picture) {
		fake_fail("vaEndPicture outside a picture");
		return VA_STATUS_ERROR_OPERATION_FAILED;
	}
	c->in_picture = false;
	cfg = fake_lookup(ctx, c->config, OBJ_CONFIG);
	if (!cfg) {
		fake_fail("context's config was destroyed");
		return VA_STATUS_ERROR_INVALID_CONFIG;
	}
	if (cfg->entrypoint == VAEntrypointVideoProc)
		st = fake_vpp_run(ctx, c);
	else if (cfg->profile == VAProfileHEVCMain)
		st = fake_h265_encode(ctx, c, cfg);
	else
		st = fake_h264_encode(ctx, c, cfg);
	free_picture_buffers(c);
	return st;
}

static VAStatus sync_surface(VADriverContextP ctx, VASurfaceID id)
{
	return fake_lookup(ctx, id, OBJ_SURFACE) ? VA_STATUS_SUCCESS :
		VA_STATUS_ERROR_INVALID_SURFACE;
}

static VAStatus query_surface_status(VADriverContextP ctx, VASurfaceID id,
	VASurfaceStatus *status)
{
	if (!fake_lookup(ctx, id, OBJ_SURFACE))
		return VA_STATUS_ERROR_INVALID_SURFACE;
	*status = VASurfaceReady;
	return VA_STATUS_SUCCESS;
}

static VAStatus query_image_formats(VADriverContextP ctx, VAImageFormat *list,
	int *num)
{
	list[0] = (VAImageFormat){ .fourcc = VA_FOURCC_NV12,
		.byte_order = VA_LSB_FIRST, .bits_per_pixel = 12 };
	*num = 1;
	return VA_STATUS_SUCCESS;
}

static VAStatus query_subpicture_formats(VADriverContextP ctx,
	VAImageFormat *list, unsigned *flags, unsigned *num)
{
	*num = 0;
	return VA_STATUS_SUCCESS;
}

static VAStatus query_display_attributes(VADriverContextP ctx,
	VADisplayAttribute *list, int *num)
{
	*num = 0;
	return VA_STATUS_SUCCESS;
}

/* ---- VPP capabilities ---- */

static VAStatus query_vpp_filters(VADriverContextP ctx, VAContextID context,
	VAProcFilterType *filters, unsigned *num)
{
	*num = 0;
	return VA_STATUS_SUCCESS;
}

static VAStatus query_vpp_filter_caps(VADriverContextP ctx,
	VAContextID context, VAProcFilterType type, void *caps, unsigned *num)
{
	return VA_STATUS_ERROR_UNSUPPORTED_FILTER;
}

static VAStatus query_vpp_pipeline_caps(VADriverContextP ctx,
	VAContextID context, VABufferID *filters, unsigned num_filters,
	VAProcPipelineCaps *caps)
{
	static VAProcColorStandardType in_std[] = { VAProcColorStandardBT709,
		VAProcColorStandardSRGB };
	static VAProcColorStandardType out_std[] = { VAProcColorStandardBT709,
		VAProcColorStandardBT601 };
	static uint32_t in_fourccs[] = { VA_FOURCC_BGRX, VA_FOURCC_BGRA,
		VA_FOURCC_RGBX, VA_FOURCC_RGBA };
	static uint32_t out_fourccs[] = { VA_FOURCC_NV12 };

	if (!lookup_object(ctx, context, OBJ_CONTEXT))
		return VA_STATUS_ERROR_INVALID_CONTEXT;
	memset(caps, 0, sizeof(*caps));
	caps->input_color_standards = in_std;
	caps->num_input_color_standards = 2;
	caps->output_color_standards = out_std;
	caps->num_output_color_standards = 2;
	caps->input_pixel_format = in_fourccs;
	caps->num_input_pixel_formats = 4;
	caps->output_pixel_format = out_fourccs;
	caps->num_output_pixel_formats = 1;
	caps->mirror_flags = VA_MIRROR_VERTICAL;
	caps->max_input_width = VPP_MAX_SIZE;
	caps->max_input_height = VPP_MAX_SIZE;
	caps->min_input_width = MIN_SIZE;
	caps->min_input_height = MIN_SIZE;
	caps->max_output_width = VPP_MAX_SIZE;
	caps->max_output_height = VPP_MAX_SIZE;
	caps->min_output_width = MIN_SIZE;
	caps->min_output_height = MIN_SIZE;
	return VA_STATUS_SUCCESS;
}

/* ---- the rest of the vtable: not needed by an encoder ---- */

static VAStatus unimplemented(void)
{
	return VA_STATUS_ERROR_UNIMPLEMENTED;
}

static VAStatus terminate(VADriverContextP ctx)
{
	struct fake_driver *d = drv(ctx);

	for (size_t i = 0; i < d->n_objects; i++) {
		if (d->objects[i])
			free_object(ctx, (uint32_t)i + 1);
	}
	free(d->objects);
	free(d);
	ctx->pDriverData = NULL;
	return VA_STATUS_SUCCESS;
}

#define STUB(field) vt->field = (__typeof__(vt->field))(void (*)(void))unimplemented

EXPORT VAStatus __vaDriverInit_1_0(VADriverContextP ctx);
EXPORT VAStatus __vaDriverInit_1_0(VADriverContextP ctx)
{
	struct VADriverVTable *vt = ctx->vtable;
	struct VADriverVTableVPP *vpp = ctx->vtable_vpp;
	struct fake_driver *d = calloc(1, sizeof(*d));

	if (!d)
		return VA_STATUS_ERROR_ALLOCATION_FAILED;
	ctx->pDriverData = d;
	ctx->version_major = VA_MAJOR_VERSION;
	ctx->version_minor = VA_MINOR_VERSION;
	ctx->max_profiles = MAX_PROFILES;
	ctx->max_entrypoints = MAX_ENTRYPOINTS;
	ctx->max_attributes = MAX_ATTRIBUTES;
	ctx->max_image_formats = 1;
	ctx->max_subpic_formats = 1;
	ctx->max_display_attributes = 1;
	ctx->str_vendor = "zerospice fake VA driver";

	vt->vaTerminate = terminate;
	vt->vaQueryConfigProfiles = query_profiles;
	vt->vaQueryConfigEntrypoints = query_entrypoints;
	vt->vaGetConfigAttributes = get_config_attributes;
	vt->vaCreateConfig = create_config;
	vt->vaDestroyConfig = destroy_config;
	vt->vaQueryConfigAttributes = query_config_attributes;
	vt->vaCreateSurfaces = create_surfaces;
	vt->vaCreateSurfaces2 = create_surfaces2;
	vt->vaQuerySurfaceAttributes = query_surface_attributes;
	vt->vaDestroySurfaces = destroy_surfaces;
	vt->vaCreateContext = create_context;
	vt->vaDestroyContext = destroy_context;
	vt->vaCreateBuffer = create_buffer;
	vt->vaBufferSetNumElements = buffer_set_num_elements;
	vt->vaMapBuffer = map_buffer;
	vt->vaUnmapBuffer = unmap_buffer;
	vt->vaDestroyBuffer = destroy_buffer;
	vt->vaBeginPicture = begin_picture;
	vt->vaRenderPicture = render_picture;
	vt->vaEndPicture = end_picture;
	vt->vaSyncSurface = sync_surface;
	vt->vaQuerySurfaceStatus = query_surface_status;
	vt->vaQueryImageFormats = query_image_formats;
	vt->vaQuerySubpictureFormats = query_subpicture_formats;
	vt->vaQueryDisplayAttributes = query_display_attributes;
	STUB(vaPutSurface);
	STUB(vaCreateImage);
	STUB(vaDeriveImage);
	STUB(vaDestroyImage);
	STUB(vaSetImagePalette);
	STUB(vaGetImage);
	STUB(vaPutImage);
	STUB(vaCreateSubpicture);
	STUB(vaDestroySubpicture);
	STUB(vaSetSubpictureImage);
	STUB(vaSetSubpictureChromakey);
	STUB(vaSetSubpictureGlobalAlpha);
	STUB(vaAssociateSubpicture);
	STUB(vaDeassociateSubpicture);
	STUB(vaGetDisplayAttributes);
	STUB(vaSetDisplayAttributes);
	STUB(vaBufferInfo);
	STUB(vaLockSurface);
	STUB(vaUnlockSurface);

	vpp->vaQueryVideoProcFilters = query_vpp_filters;
	vpp->vaQueryVideoProcFilterCaps = query_vpp_filter_caps;
	vpp->vaQueryVideoProcPipelineCaps = query_vpp_pipeline_caps;
	return VA_STATUS_SUCCESS;
}
