/* zerospice — the VA-API encoder object, shared by vaapi.c (setup,
 * import, VPP, fallback) and vaapi-h264.c (one H.264 picture). Private to
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
	uint64_t frames_since_idr;
	uint16_t idr_pic_id;
	int cur_recon;
	bool have_ref;

	/* after a driver failure: the software encoder takes over */
	struct zs_encoder *fallback;
};

/* Logs a failed VA call with what it concerned; true on success. */
bool zs_va_ok(struct zs_va_encoder *v, VAStatus status, const char *what);

/* Encodes v->input (NV12, already converted) as one H.264 picture, an IDR
 * when idr, and returns the access unit: our packed SPS/PPS before an IDR,
 * then the slice, all coded-buffer segments concatenated. */
bool zs_va_encode_h264(struct zs_va_encoder *v, bool idr,
	struct zs_access_unit **out);
