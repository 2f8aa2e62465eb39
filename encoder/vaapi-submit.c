/* zerospice — VA-API backend: what every codec's picture needs. Parameter
 * buffers collected in a render list, the rate control buffers that go
 * with each sequence, and one encode run on the media engine with the
 * coded buffer's segments concatenated into one access unit. */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <va/va.h>

#include "vaapi-encoder.h"

void zs_va_add_buffer(struct zs_va_encoder *v, struct zs_va_render_list *list,
	VABufferType type, const void *data, size_t size)
{
	VAStatus st;

	if (list->failed)
		return;
	if (list->n >= ZS_VA_MAX_RENDER_BUFFERS) {
		list->failed = true;
		return;
	}
	st = vaCreateBuffer(v->dev.display, v->enc_ctx, type, (unsigned)size, 1,
		(void *)data, &list->ids[list->n]);
	if (!zs_va_ok(v, st, "vaCreateBuffer"))
		list->failed = true;
	else
		list->n++;
}

void zs_va_add_misc(struct zs_va_encoder *v, struct zs_va_render_list *list,
	VAEncMiscParameterType type, const void *payload, size_t size)
{
	uint8_t buf[sizeof(VAEncMiscParameterBuffer) + 256];
	VAEncMiscParameterBuffer *misc = (void *)buf;

	g_assert(size <= 256);
	memset(buf, 0, sizeof(buf));
	misc->type = type;
	memcpy(misc->data, payload, size);
	zs_va_add_buffer(v, list, VAEncMiscParameterBufferType, buf,
		sizeof(*misc) + size);
}

void zs_va_add_packed(struct zs_va_encoder *v, struct zs_va_render_list *list,
	uint32_t type, const struct zs_bitwriter *bw, bool escaped)
{
	VAEncPackedHeaderParameterBuffer param = {
		.type = type,
		.bit_length = (uint32_t)bw->bits,
		.has_emulation_bytes = escaped,
	};

	zs_va_add_buffer(v, list, VAEncPackedHeaderParameterBufferType, &param,
		sizeof(param));
	zs_va_add_buffer(v, list, VAEncPackedHeaderDataBufferType, bw->data,
		zs_bitwriter_bytes(bw));
}

/* QP ceilings of the refine levels (level 0: the rate control's own). */
static const uint8_t refine_qp[ZS_ENCODER_REFINE_MAX + 1] = {
	0, 28, 24, 20, 16, 14, 12,
};

static void add_rc_params(struct zs_va_encoder *v,
	struct zs_va_render_list *list)
{
	const struct zs_encoder_config *cfg = &v->base.config;
	unsigned level = v->base.refine_level;
	/* One frame of VBV: the rate controller may not spread a burst
	 * over later frames, which would be latency. A refined still
	 * picture gets a bigger budget and a QP ceiling. */
	uint64_t bps64 = (uint64_t)cfg->bitrate_kbps * 1000u *
		zs_encoder_refine_factor(level);
	uint32_t bps = (uint32_t)MIN(bps64, (uint64_t)UINT32_MAX);
	VAEncMiscParameterRateControl rc = {
		.bits_per_second = bps,
		.target_percentage = v->choice.rc_mode == VA_RC_CBR ? 100 : 90,
		.window_size = (1000u + cfg->fps - 1) / cfg->fps,
		.rc_flags.bits.disable_frame_skip = 1,
		.max_qp = level ? refine_qp[level] : 0,
	};
	VAEncMiscParameterHRD hrd = {
		.buffer_size = bps / cfg->fps,
		.initial_buffer_fullness = bps / cfg->fps,
	};
	zs_va_add_misc(v, list, VAEncMiscParameterTypeRateControl, &rc,
		sizeof(rc));
	zs_va_add_misc(v, list, VAEncMiscParameterTypeHRD, &hrd, sizeof(hrd));
	v->rc_refine_level = level;
	v->rc_kbps = cfg->bitrate_kbps;
}

void zs_va_add_rate_control(struct zs_va_encoder *v,
	struct zs_va_render_list *list)
{
	const struct zs_encoder_config *cfg = &v->base.config;

	if (v->choice.rc_mode != VA_RC_CQP)
		add_rc_params(v, list);
	VAEncMiscParameterFrameRate fr = { .framerate = cfg->fps };
	zs_va_add_misc(v, list, VAEncMiscParameterTypeFrameRate, &fr, sizeof(fr));
	if (v->choice.quality_level) {
		VAEncMiscParameterBufferQualityLevel q = {
			.quality_level = v->choice.quality_level,
		};
		zs_va_add_misc(v, list, VAEncMiscParameterTypeQualityLevel, &q,
			sizeof(q));
	}
}

void zs_va_add_refine(struct zs_va_encoder *v, struct zs_va_render_list *list)
{
	if (v->choice.rc_mode != VA_RC_CQP &&
	    (v->base.refine_level != v->rc_refine_level ||
	     v->base.config.bitrate_kbps != v->rc_kbps))
		add_rc_params(v, list);
}

int zs_va_refine_qp_delta(const struct zs_va_encoder *v, int pic_init_qp)
{
	unsigned level = v->base.refine_level;
	if (v->choice.rc_mode != VA_RC_CQP || !level)
		return 0;
	int qp = MIN(CQP_QP, (int)refine_qp[MIN(level, ZS_ENCODER_REFINE_MAX)]);
	return qp - pic_init_qp;
}

void zs_va_render_list_release(struct zs_va_encoder *v,
	struct zs_va_render_list *list)
{
	for (int i = 0; i < list->n; i++)
		vaDestroyBuffer(v->dev.display, list->ids[i]);
	list->n = 0;
}

bool zs_va_submit(struct zs_va_encoder *v, struct zs_va_render_list *list,
	bool keyframe, struct zs_access_unit **out)
{
	VACodedBufferSegment *seg = NULL;
	struct zs_access_unit *au = NULL;
	uint32_t total = 0;
	bool ok = false;

	if (list->failed)
		return false;
	if (!zs_va_ok(v, vaBeginPicture(v->dev.display, v->enc_ctx, v->input),
		"vaBeginPicture(encode)") ||
	    !zs_va_ok(v, vaRenderPicture(v->dev.display, v->enc_ctx, list->ids,
		list->n), "vaRenderPicture(encode)") ||
	    !zs_va_ok(v, vaEndPicture(v->dev.display, v->enc_ctx),
		"vaEndPicture(encode)") ||
	    !zs_va_ok(v, vaSyncSurface(v->dev.display, v->input),
		"vaSyncSurface") ||
	    !zs_va_ok(v, vaMapBuffer(v->dev.display, v->coded_buf, (void **)&seg),
		"vaMapBuffer(coded)"))
		return false;

	/* Some drivers return one segment per NAL unit: concatenate. */
	for (VACodedBufferSegment *s = seg; s; s = s->next) {
		if (s->status & VA_CODED_BUF_STATUS_SLICE_OVERFLOW_MASK) {
			g_warning("%s: coded buffer overflow", v->base.description);
			goto out;
		}
		if (s->size > UINT32_MAX - total) {
			g_warning("%s: coded segments too large",
				v->base.description);
			goto out;
		}
		total += s->size;
	}
	au = calloc(1, sizeof(*au));
	if (!au || (total && !(au->data = malloc(total)))) {
		g_warning("%s: out of memory for %u bytes", v->base.description,
			total);
		goto out;
	}
	for (VACodedBufferSegment *s = seg; s; s = s->next) {
		if (s->size == 0)
			continue;
		memcpy(au->data + au->size, s->buf, s->size);
		au->size += s->size;
	}
	au->keyframe = keyframe;
	*out = au;
	au = NULL;
	ok = true;

out:
	vaUnmapBuffer(v->dev.display, v->coded_buf);
	zs_access_unit_free(au);
	return ok;
}
