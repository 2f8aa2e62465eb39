/* zerospice — the GStreamer encoder backend's start: GStreamer's
 * initialisation, its plugins (one by one when the registry is off), which
 * element encodes each codec here, and making elements. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <gst/gst.h>

#include "encoder-private.h"
#include "gst-probe.h"

/* Candidates per codec, best first. */
const char *const zs_gst_candidates[ZS_CODEC_COUNT][3] = {
	[ZS_CODEC_H264] = { "x264enc", "openh264enc", NULL },
	[ZS_CODEC_VP8] = { "vp8enc", NULL },
	[ZS_CODEC_VP9] = { "vp9enc", NULL },
	[ZS_CODEC_H265] = { "x265enc", NULL },
	[ZS_CODEC_MJPEG] = { "jpegenc", NULL },
};

/* Elements every pipeline needs, and the parser some codecs need. */
static const char *const common_elements[] = {
	"appsrc", "appsink", "videoconvert", "videoflip", "capsfilter",
};
const char *const zs_gst_parser_for[ZS_CODEC_COUNT] = {
	[ZS_CODEC_H264] = "h264parse",
	[ZS_CODEC_H265] = "h265parse",
};

/* ---- initialisation and probing ---- */

/* The plugin (file libgst<name>.so) each element we create comes from.
 * videoconvert moved from "videoconvert" to "videoconvertscale" in 1.22. */
static const struct {
	const char *element;
	const char *plugin[2];
} plugin_of[] = {
	{ "appsrc", { "app" } },
	{ "appsink", { "app" } },
	{ "capsfilter", { "coreelements" } },
	{ "videoconvert", { "videoconvertscale", "videoconvert" } },
	{ "videoflip", { "videofilter" } },
	{ "h264parse", { "videoparsersbad" } },
	{ "h265parse", { "videoparsersbad" } },
	{ "x264enc", { "x264" } },
	{ "openh264enc", { "openh264" } },
	{ "vp8enc", { "vpx" } },
	{ "vp9enc", { "vpx" } },
	{ "x265enc", { "x265" } },
	{ "jpegenc", { "jpeg" } },
};

/* True when zs_encoder_preinit() turned GStreamer's registry off: plugins
 * are then loaded one by one, by file, when an element is first made. */
static bool minimal_plugins;

static const char *const gst_env[] = {
	"GST_PLUGIN_PATH", "GST_PLUGIN_PATH_1_0", "GST_PLUGIN_SYSTEM_PATH",
	"GST_PLUGIN_SYSTEM_PATH_1_0", "GST_REGISTRY", "GST_REGISTRY_1_0",
	"GST_REGISTRY_DISABLE",
};

static char *plugin_file(const char *plugin)
{
	char *path = g_strdup_printf("%s/libgst%s.so", ZS_GST_PLUGINS_DIR, plugin);
	if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
		return path;
	g_free(path);
	return NULL;
}

void zs_encoder_preinit(void)
{
	/* GStreamer's registry describes every installed plugin (259 on a
	 * desktop Debian): reading it at gst_init() costs ~2.2 MiB of heap
	 * per process, for the ~6 plugins a session uses. Anyone steering
	 * GStreamer's plugin search keeps the normal registry. */
	for (size_t i = 0; i < G_N_ELEMENTS(gst_env); i++) {
		if (getenv(gst_env[i]))
			return;
	}
	char *core = plugin_file("coreelements");
	if (!core)
		return;
	g_free(core);
	if (setenv("GST_REGISTRY_DISABLE", "yes", 1) == 0)
		minimal_plugins = true;
}

/* With the registry off: whether the plugin holding `element` is there
 * (load: loaded, so that the element can be made). */
static bool plugin_for(const char *element, bool load)
{
	for (size_t i = 0; i < G_N_ELEMENTS(plugin_of); i++) {
		if (strcmp(plugin_of[i].element, element) != 0)
			continue;
		for (size_t j = 0; j < G_N_ELEMENTS(plugin_of[i].plugin) &&
			    plugin_of[i].plugin[j]; j++) {
			char *path = plugin_file(plugin_of[i].plugin[j]);
			if (!path)
				continue;
			if (!load) {
				g_free(path);
				return true;
			}
			GError *error = NULL;
			GstPlugin *plugin = gst_plugin_load_file(path, &error);
			if (!plugin) {
				g_warning("gst encoder: cannot load %s: %s", path,
					error ? error->message : "unknown error");
				g_clear_error(&error);
				g_free(path);
				return false;
			}
			gst_object_unref(plugin);
			g_free(path);
			return true;
		}
		return false;
	}
	return false;
}

static gpointer init_gst(gpointer data)
{
	GError *error = NULL;

	/* x264 madvises every buffer of 2 MiB or more (its frames) to
	 * transparent huge pages, which makes each of them wholly resident
	 * in 2 MiB steps: 12-14 MiB of RSS at 720p against ~6 without.
	 * The flag is per process; nothing else here asks for huge pages. */
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
		g_debug("gst encoder: PR_SET_THP_DISABLE: %s", g_strerror(errno));

	if (!gst_init_check(NULL, NULL, &error)) {
		g_warning("gst encoder: cannot initialise GStreamer: %s",
			error ? error->message : "unknown error");
		g_clear_error(&error);
		return GINT_TO_POINTER(FALSE);
	}
	return GINT_TO_POINTER(TRUE);
}

bool zs_gst_ensure_init(void)
{
	static GOnce once = G_ONCE_INIT;
	return GPOINTER_TO_INT(g_once(&once, init_gst, NULL));
}

static bool have_factory(const char *name)
{
	GstElementFactory *factory = gst_element_factory_find(name);
	if (!factory)
		return false;
	gst_object_unref(factory);
	return true;
}

/* Probing does not load a plugin (that would map libvpx, libx265, … into
 * every session): with the registry off, the plugin file stands for it. */
bool zs_gst_have_element(const char *name)
{
	if (have_factory(name))
		return true;
	return minimal_plugins && plugin_for(name, false);
}

struct probe_result {
	uint32_t mask;
	const char *element[ZS_CODEC_COUNT];
};

static gpointer probe_elements(gpointer data)
{
	static struct probe_result result;

	if (!zs_gst_ensure_init())
		return &result;
	for (size_t i = 0; i < G_N_ELEMENTS(common_elements); i++) {
		if (!zs_gst_have_element(common_elements[i])) {
			g_warning("gst encoder: GStreamer element %s is missing; "
				"no software encoding", common_elements[i]);
			return &result;
		}
	}
	for (unsigned codec = 0; codec < ZS_CODEC_COUNT; codec++) {
		if (zs_gst_parser_for[codec] &&
		    !zs_gst_have_element(zs_gst_parser_for[codec]))
			continue;
		for (const char *const *name = zs_gst_candidates[codec]; *name; name++) {
			if (zs_gst_have_element(*name)) {
				result.element[codec] = *name;
				result.mask |= ZS_CODEC_BIT(codec);
				break;
			}
		}
	}
	return &result;
}

static const struct probe_result *probe(void)
{
	static GOnce once = G_ONCE_INIT;
	return g_once(&once, probe_elements, NULL);
}

uint32_t zs_gst_probe(void)
{
	return probe()->mask;
}

const char *zs_gst_element_name(enum zs_codec codec)
{
	if ((unsigned)codec >= ZS_CODEC_COUNT)
		return NULL;
	return probe()->element[codec];
}

GstElement *zs_gst_make(const char *factory, char *err, size_t err_len)
{
	if (minimal_plugins && !have_factory(factory))
		plugin_for(factory, true);
	GstElement *e = gst_element_factory_make(factory, NULL);
	if (!e)
		snprintf(err, err_len, "cannot create GStreamer element %s",
			factory);
	return e;
}
