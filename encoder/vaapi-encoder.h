/* zerospice — the VA-API encoder object, shared by vaapi.c (setup,
 * import, VPP, fallback), vaapi-submit.c (buffers, one encode run) and
 * vaapi-h264.c / vaapi-h265.c (one picture of each codec). Private to
 * encoder/. */
#pragma once

#include <va/va.h>

#include "encoder-private.h"
#include "nal.h"
#include "vaapi.h"

#define N_RECON 2
#define CQP_QP 26

struct zs_va_encoder {
	struct zs_encoder base;
	struct zs_va_device dev;
	struct zs_va_choice choice;

	VAConfigID vpp_config, enc_config;
	VAContextID vpp_ctx, enc_ctx;
	VASurfaceID input;            /* VPP output, encoder input */
	VASurfaceID recon[N_RECON];
	VABufferID coded_buf;
	bool can_mirror;
	bool try_prime2;              /* false once the driver refused it */
	struct zs_va_surface_cache cache;

	struct zs_h264_sps sps;
	struct zs_h264_pps pps;
	struct zs_h265_sps hevc_sps;
	struct zs_h265_pps hevc_pps;
	uint64_t frames_since_idr;
	uint16_t idr_pic_id;
	int cur_recon;
	bool have_ref;
	/* the refine level the driver's rate control last heard of */
	unsigned rc_refine_level;
	uint32_t rc_kbps; /* the bitrate the last RC parameters carried */

	/* after a driver failure: the software encoder takes over */
	struct zs_encoder *fallback;
};

/* Logs a failed VA call with what it concerned; true on success. */
bool zs_va_ok(struct zs_va_encoder *v, VAStatus status, const char *what);

/* The parameter buffers of one picture, created as they are added. */
#define ZS_VA_MAX_RENDER_BUFFERS 16
struct zs_va_render_list {
	VABufferID ids[ZS_VA_MAX_RENDER_BUFFERS];
	int n;
	bool failed; /* a buffer could not be created: do not submit */
};

void zs_va_add_buffer(struct zs_va_encoder *v, struct zs_va_render_list *list,
	VABufferType type, const void *data, size_t size);
void zs_va_add_misc(struct zs_va_encoder *v, struct zs_va_render_list *list,
	VAEncMiscParameterType type, const void *payload, size_t size);
/* A packed header: bw's bits, with emulation prevention already applied
 * when escaped. */
void zs_va_add_packed(struct zs_va_encoder *v, struct zs_va_render_list *list,
	uint32_t type, const struct zs_bitwriter *bw, bool escaped);
/* Rate control, HRD, frame rate and quality level: with every sequence. */
void zs_va_add_rate_control(struct zs_va_encoder *v,
	struct zs_va_render_list *list);
/* A picture's rate control when the refine level changed since the
 * driver last heard (CBR/VBR; nothing under CQP). */
void zs_va_add_refine(struct zs_va_encoder *v, struct zs_va_render_list *list);
/* The slice_qp_delta a refined picture needs under CQP (0 otherwise). */
int zs_va_refine_qp_delta(const struct zs_va_encoder *v, int pic_init_qp);
/* Destroys the list's buffers (after zs_va_submit, or instead of it). */
void zs_va_render_list_release(struct zs_va_encoder *v,
	struct zs_va_render_list *list);
/* Encodes v->input with the list's buffers and returns the coded
 * buffer's segments concatenated as one access unit. False (logged) when
 * the list is incomplete or the driver failed. */
bool zs_va_submit(struct zs_va_encoder *v, struct zs_va_render_list *list,
	bool keyframe, struct zs_access_unit **out);

/* Encodes v->input (NV12, already converted) as one H.264 picture, an IDR
 * when idr, and returns the access unit: our packed SPS/PPS before an IDR,
 * then the slice, all coded-buffer segments concatenated. */
bool zs_va_encode_h264(struct zs_va_encoder *v, bool idr,
	struct zs_access_unit **out);
/* The same for HEVC Main: our packed VPS/SPS/PPS before an IDR (IDR_W_RADL),
 * then the slice segment; later pictures are P (or low-delay B) slices
 * referring to the previous picture. */
bool zs_va_encode_h265(struct zs_va_encoder *v, bool idr,
	struct zs_access_unit **out);
