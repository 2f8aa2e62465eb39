/* zerospice — VA-API backend: opening a device and probing what it can
 * encode. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <va/va_backend.h>
#include <va/va_drm.h>

#include "encoder-private.h"
#include "vaapi.h"

/* ---- a display for files that are not DRM nodes ----
 * vaGetDisplayDRM() rejects any fd that drmGetNodeTypeFromFd() does not
 * recognise (libva 2.17 va_drm.c), before LIBVA_DRIVER_NAME is even
 * looked at. Tests run where no DRM node exists, so for them we build the
 * display the way libva's own back ends do, from the public structures in
 * va_backend.h, and let LIBVA_DRIVER_NAME name the driver. */

struct headless_display {
	struct VADisplayContext display;
	struct VADriverContext driver;
	struct drm_state drm;
};

static int headless_is_valid(VADisplayContextP dctx)
{
	return dctx->pDriverContext != NULL;
}

static void headless_destroy(VADisplayContextP dctx)
{
	free(container_of(dctx, struct headless_display, display));
}

static VAStatus headless_driver_name(VADisplayContextP dctx, char **name,
	int index)
{
	const char *env = getenv("LIBVA_DRIVER_NAME");

	if (index != 0 || !env || !*env)
		return VA_STATUS_ERROR_UNKNOWN;
	*name = strdup(env);
	return *name ? VA_STATUS_SUCCESS : VA_STATUS_ERROR_ALLOCATION_FAILED;
}

static void forward_error(VADriverContextP ctx, const char *message)
{
	VADisplayContextP dctx = ctx->pDisplayContext;
	if (dctx && dctx->error_callback)
		dctx->error_callback(dctx->error_callback_user_context, message);
}

static void forward_info(VADriverContextP ctx, const char *message)
{
	VADisplayContextP dctx = ctx->pDisplayContext;
	if (dctx && dctx->info_callback)
		dctx->info_callback(dctx->info_callback_user_context, message);
}

static VADisplay headless_display_new(int fd)
{
	struct headless_display *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->drm.fd = fd;
	h->drm.auth_type = VA_DRM_AUTH_CUSTOM;
	h->driver.pDisplayContext = &h->display;
	h->driver.display_type = VA_DISPLAY_DRM_RENDERNODES;
	h->driver.drm_state = &h->drm;
	h->driver.error_callback = forward_error;
	h->driver.info_callback = forward_info;
	h->display.vadpy_magic = VA_DISPLAY_MAGIC;
	h->display.pDriverContext = &h->driver;
	h->display.vaIsValid = headless_is_valid;
	h->display.vaDestroy = headless_destroy;
	h->display.vaGetDriverNameByIndex = headless_driver_name;
	return &h->display;
}

/* libva's messages: errors are worth a line in our log, the rest only
 * with debugging on. */
static void va_error_message(void *data, const char *message)
{
	g_message("vaapi: libva: %.*s", (int)strcspn(message, "\n"), message);
}

static void va_info_message(void *data, const char *message)
{
	g_debug("vaapi: libva: %.*s", (int)strcspn(message, "\n"), message);
}

bool zs_va_device_open(struct zs_va_device *dev, const char *path,
	char *err, size_t err_len)
{
	struct stat st;
	const char *driver_env = getenv("LIBVA_DRIVER_NAME");
	int major, minor;
	VAStatus status;

	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	snprintf(dev->path, sizeof(dev->path), "%s", path);
	dev->fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev->fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", path,
			strerror(errno));
		return false;
	}
	if (fstat(dev->fd, &st) == 0 && S_ISCHR(st.st_mode))
		dev->display = vaGetDisplayDRM(dev->fd);
	if (!dev->display) {
		if (!driver_env || !*driver_env) {
			snprintf(err, err_len, "%s is not a DRM render node "
				"(set LIBVA_DRIVER_NAME to use a test driver "
				"with it)", path);
			goto err_fd;
		}
		dev->display = headless_display_new(dev->fd);
		dev->headless = true;
		if (!dev->display) {
			snprintf(err, err_len, "out of memory");
			goto err_fd;
		}
	}
	vaSetErrorCallback(dev->display, va_error_message, NULL);
	vaSetInfoCallback(dev->display, va_info_message, NULL);
	status = vaInitialize(dev->display, &major, &minor);
	if (status != VA_STATUS_SUCCESS) {
		snprintf(err, err_len, "vaInitialize on %s: %s", path,
			vaErrorStr(status));
		/* vaTerminate frees the display (and ours through vaDestroy) */
		vaTerminate(dev->display);
		dev->display = NULL;
		goto err_fd;
	}
	dev->vendor = vaQueryVendorString(dev->display);
	g_debug("vaapi: %s: VA-API %d.%d, %s%s", path, major, minor,
		dev->vendor ? dev->vendor : "unknown driver",
		dev->headless ? " (no DRM node)" : "");
	return true;

err_fd:
	close(dev->fd);
	dev->fd = -1;
	return false;
}

void zs_va_device_close(struct zs_va_device *dev)
{
	if (dev->display)
		vaTerminate(dev->display);
	dev->display = NULL;
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

bool zs_va_device_probe(struct zs_va_device *dev,
	struct zs_va_candidate *candidates, size_t *n, bool *has_vpp,
	char *err, size_t err_len)
{
	static const VAProfile wanted[] = { VAProfileH264High,
		VAProfileH264Main, VAProfileH264ConstrainedBaseline,
		VAProfileHEVCMain };
	int max_profiles = vaMaxNumProfiles(dev->display);
	int max_eps = vaMaxNumEntrypoints(dev->display);
	VAProfile *profiles = NULL;
	VAEntrypoint *eps = NULL;
	int n_profiles = 0;
	VAStatus status;

	*n = 0;
	*has_vpp = false;
	if (max_profiles <= 0 || max_eps <= 0) {
		snprintf(err, err_len, "driver reports no profiles");
		return false;
	}
	profiles = calloc((size_t)max_profiles, sizeof(*profiles));
	eps = calloc((size_t)max_eps, sizeof(*eps));
	if (!profiles || !eps) {
		snprintf(err, err_len, "out of memory");
		goto err;
	}
	status = vaQueryConfigProfiles(dev->display, profiles, &n_profiles);
	if (status != VA_STATUS_SUCCESS) {
		snprintf(err, err_len, "vaQueryConfigProfiles: %s",
			vaErrorStr(status));
		goto err;
	}
	if (n_profiles > max_profiles)
		n_profiles = max_profiles;
	for (int i = 0; i < n_profiles; i++) {
		bool want = profiles[i] == VAProfileNone;
		int n_eps = 0;

		for (size_t w = 0; w < G_N_ELEMENTS(wanted); w++)
			want |= profiles[i] == wanted[w];
		if (!want)
			continue;
		status = vaQueryConfigEntrypoints(dev->display, profiles[i], eps,
			&n_eps);
		if (status != VA_STATUS_SUCCESS)
			continue;
		if (n_eps > max_eps)
			n_eps = max_eps;
		for (int e = 0; e < n_eps; e++) {
			VAConfigAttrib attrs[] = {
				{ .type = VAConfigAttribRTFormat },
				{ .type = VAConfigAttribRateControl },
				{ .type = VAConfigAttribEncPackedHeaders },
				{ .type = VAConfigAttribMaxPictureWidth },
				{ .type = VAConfigAttribMaxPictureHeight },
				{ .type = VAConfigAttribEncQualityRange },
				{ .type = VAConfigAttribPredictionDirection },
#if VA_CHECK_VERSION(1, 13, 0)
				{ .type = VAConfigAttribEncHEVCFeatures },
				{ .type = VAConfigAttribEncHEVCBlockSizes },
#endif
			};
			struct zs_va_candidate *c;

			if (profiles[i] == VAProfileNone) {
				if (eps[e] == VAEntrypointVideoProc)
					*has_vpp = true;
				continue;
			}
			if ((eps[e] != VAEntrypointEncSlice &&
			     eps[e] != VAEntrypointEncSliceLP) ||
			    *n >= ZS_VA_MAX_CANDIDATES)
				continue;
			status = vaGetConfigAttributes(dev->display, profiles[i],
				eps[e], attrs, (int)G_N_ELEMENTS(attrs));
			if (status != VA_STATUS_SUCCESS)
				continue;
			c = &candidates[(*n)++];
			*c = (struct zs_va_candidate){ .profile = profiles[i],
				.entrypoint = eps[e] };
#define VALUE(i) (attrs[i].value == VA_ATTRIB_NOT_SUPPORTED ? 0 : attrs[i].value)
			c->rt_formats = VALUE(0);
			c->rc_modes = VALUE(1);
			c->packed_headers = VALUE(2);
			c->max_width = VALUE(3);
			c->max_height = VALUE(4);
			c->quality_range = VALUE(5);
			c->prediction_direction = VALUE(6);
#if VA_CHECK_VERSION(1, 13, 0)
			c->hevc_features = VALUE(7);
			c->hevc_block_sizes = VALUE(8);
#endif
#undef VALUE
		}
	}
	free(profiles);
	free(eps);
	return true;

err:
	free(profiles);
	free(eps);
	return false;
}

bool zs_va_default_device(char *path, size_t path_len, char *err,
	size_t err_len)
{
	glob_t g;
	bool found = false;

	if (glob("/dev/dri/renderD*", 0, NULL, &g) != 0) {
		snprintf(err, err_len, "no /dev/dri/renderD* device");
		return false;
	}
	snprintf(err, err_len, "no /dev/dri/renderD* driver can encode H.264");
	for (size_t i = 0; i < g.gl_pathc && !found; i++) {
		struct zs_va_candidate cands[ZS_VA_MAX_CANDIDATES];
		struct zs_va_choice choice;
		struct zs_va_device dev;
		char why[160];
		size_t n;
		bool vpp;

		if (!zs_va_device_open(&dev, g.gl_pathv[i], why, sizeof(why))) {
			g_debug("vaapi: %s", why);
			continue;
		}
		if (zs_va_device_probe(&dev, cands, &n, &vpp, why, sizeof(why)) &&
		    zs_va_select_h264(cands, n, 0, 0, &choice, why, sizeof(why))) {
			snprintf(path, path_len, "%s", g.gl_pathv[i]);
			found = true;
		} else {
			g_debug("vaapi: %s: %s", g.gl_pathv[i], why);
		}
		zs_va_device_close(&dev);
	}
	globfree(&g);
	return found;
}
