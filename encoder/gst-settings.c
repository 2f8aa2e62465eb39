/* zerospice — the settings of each GStreamer encoder element: what it is
 * configured with at creation, and the bitrate it takes while playing
 * (refinement, keyframe budget). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gst-settings.h"

/* x264 CRF: near-lossless on desktop content once a still picture had the
 * bits (refinement); moving content stays under the VBV ceiling. */
#define CRF_QUALITY 18
/* A floor on quality: under a one-frame VBV far below what a moving picture
 * needs, x264's sliced threads gave one slice almost nothing, frame after
 * frame (QP 51: a grey band at 10 dB on moving SMPTE bars while the rest had
 * 24 dB; tools/bench/codec-cost). With QP capped at 44 every slice gets
 * bits; such a picture then exceeds the VBV ceiling by what QP 44 costs
 * (measured on full-screen motion at 720p60: 6.4 Mbit/s against a 6.1
 * Mbit/s ceiling, 6.4 against 2), content that fits is unchanged. */
#define X264_QP_MAX 44

void zs_gst_set_enum(GstElement *element, const char *property,
	const char *nick)
{
	/* By nick: enum values are not part of the plugins' API. */
	gst_util_set_object_arg(G_OBJECT(element), property, nick);
}

static unsigned vbv_ms(const struct zs_encoder_config *cfg)
{
	/* About two frames: the rate controller may not smooth over more
	 * than that without adding latency. */
	return (2000 + cfg->fps - 1) / cfg->fps;
}

void zs_gst_configure(GstElement *e, const char *name,
	const struct zs_encoder_config *cfg)
{
	unsigned kbps = cfg->bitrate_kbps;
	int threads = (int)MIN(g_get_num_processors(), 16u);

	if (strcmp(name, "x264enc") == 0) {
		zs_gst_set_enum(e, "tune", "zerolatency");
		zs_gst_set_enum(e, "speed-preset", "ultrafast");
		/* Capped CRF: quality CRF_QUALITY, the bitrate as the VBV
		 * ceiling. x264 cannot change an average-bitrate target after
		 * it started (x264_ratecontrol_init_reconfigure keeps it), but
		 * it takes a new VBV ceiling from the next frame: refinement
		 * and a keyframe's budget raise the ceiling, and CRF decides
		 * how much of it a picture needs (little once it is sharp). */
		zs_gst_set_enum(e, "pass", "qual");
		g_object_set(e, "quantizer", (guint)CRF_QUALITY, NULL);
		/* scenecut=0: otherwise x264 inserts IDRs on moving content and
		 * the GOP is no longer "infinite, IDR on request".
		 * Sliced threads (zerolatency's choice; up to 4): one frame in
		 * flight, each thread codes a slice. An IDR asked for after the
		 * encoder sat idle used to come out with its lower slices at
		 * QP 51 (grey on a busy QEMU screen): x264 splits a one-frame
		 * VBV between the slices by the previous P frame's row costs,
		 * and the upper slice spent it. Measured on the test pattern:
		 * top half 33.8 dB, bottom 26.9 dB (31.1 with one thread). A
		 * requested keyframe now gets a refine level's budget
		 * (gst_encode): 41.3 / 40.6 dB, and frames are coded in
		 * parallel again instead of ~9 ms per 720p frame on one. */
		char opts[80];
		snprintf(opts, sizeof(opts), "scenecut=0:sliced-threads=1:threads=%d"
			":qpmax=%d", MIN(threads, 4), X264_QP_MAX);
		g_object_set(e, "bframes", 0u, "key-int-max", (guint)INFINITE_GOP,
			"byte-stream", TRUE, "aud", FALSE,
			"bitrate", MIN(kbps, 2048000u),
			"vbv-buf-capacity", vbv_ms(cfg),
			"option-string", opts, NULL);
	} else if (strcmp(name, "openh264enc") == 0) {
		zs_gst_set_enum(e, "rate-control", "bitrate");
		zs_gst_set_enum(e, "complexity", "low");
		g_object_set(e, "bitrate", kbps * 1000u,
			"gop-size", (guint)INFINITE_GOP,
			"enable-frame-skip", FALSE,
			"scene-change-detection", FALSE, NULL);
	} else if (strcmp(name, "vp8enc") == 0 || strcmp(name, "vp9enc") == 0) {
		bool vp9 = strcmp(name, "vp9enc") == 0;
		zs_gst_set_enum(e, "end-usage", "cbr");
		zs_gst_set_enum(e, "keyframe-mode", "disabled");
		zs_gst_set_enum(e, "error-resilient", "default");
		/* cpu-used 8: fast in realtime mode for both (VP8 goes to 16
		 * but loses visibly). VP8 gets one thread: its row threads
		 * spin-wait, and on a shared 2-core machine two threads cost
		 * more CPU and wall time than one (measured: 19 vs 13 ms CPU
		 * per 720p frame); VP9's row-mt does not have that problem. */
		g_object_set(e, "deadline", (gint64)1, "lag-in-frames", 0,
			"cpu-used", 8, "keyframe-max-dist", INFINITE_GOP,
			"target-bitrate", (gint)MIN(kbps, (unsigned)G_MAXINT / 1000u) * 1000,
			"dropframe-threshold", 0, "threads", vp9 ? threads : 1,
			"buffer-size", (gint)(2 * vbv_ms(cfg)),
			"buffer-initial-size", (gint)vbv_ms(cfg),
			"buffer-optimal-size", (gint)vbv_ms(cfg), NULL);
		if (vp9)
			g_object_set(e, "row-mt", TRUE, NULL);
	} else if (strcmp(name, "x265enc") == 0) {
		zs_gst_set_enum(e, "tune", "zerolatency");
		zs_gst_set_enum(e, "speed-preset", "ultrafast");
		g_object_set(e, "key-int-max", INFINITE_GOP,
			"bitrate", MIN(kbps, 102400u),
			"option-string", "scenecut=0:bframes=0", NULL);
	} else if (strcmp(name, "jpegenc") == 0) {
		g_object_set(e, "quality", JPEG_QUALITY, NULL);
	}
}

/* Refinement through the rate control's target: x264enc (cbr) and
 * vp8enc/vp9enc take a new bitrate while playing and apply it from the
 * next frame on. */
int zs_gst_set_bitrate(GstElement *e, const char *name, uint64_t kbps)
{
	if (strcmp(name, "x264enc") == 0) {
		g_object_set(e, "bitrate",
			(guint)MIN(kbps, 2048000u), NULL);
		return 0;
	}
	if (strcmp(name, "vp8enc") == 0 || strcmp(name, "vp9enc") == 0) {
		g_object_set(e, "target-bitrate",
			(gint)MIN(kbps, (uint64_t)G_MAXINT / 1000u) * 1000, NULL);
		return 0;
	}
	return -ENOTSUP;
}
