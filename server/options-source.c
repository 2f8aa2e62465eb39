/* The options that say what to show: --source (the test pattern or the QEMU
 * to reach) and --console, and the check that they agree once every option
 * is read. */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "options-private.h"
#include "zs-dmabuf.h"
#include "zs-server.h"

bool zs_parse_console_list(const char *arg, uint32_t *consoles,
	unsigned *n_consoles, char *err, size_t err_len)
{
	char **parts = g_strsplit(arg ? arg : "", ",", -1);
	unsigned n = 0;
	bool ok = false;

	for (char **p = parts; *p; p++) {
		uint32_t v;
		if (n == ZS_MAX_CONSOLES) {
			fail(err, err_len, "--console: more than %u consoles in "
				"'%s'", ZS_MAX_CONSOLES, arg);
			goto out;
		}
		if (!parse_u32(*p, 0, 255, &v)) {
			fail(err, err_len, "--console: '%s' is not a console "
				"number 0..255 (nor a list of them: 0,1)", *p);
			goto out;
		}
		for (unsigned i = 0; i < n; i++)
			if (consoles[i] == v) {
				fail(err, err_len, "--console: console %u is "
					"listed twice", v);
				goto out;
			}
		consoles[n++] = v;
	}
	if (n == 0) {
		fail(err, err_len, "--console: no console given");
		goto out;
	}
	*n_consoles = n;
	ok = true;
out:
	g_strfreev(parts);
	return ok;
}

static bool parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	const char *x = strchr(s, 'x');
	if (!x)
		return false;
	char wbuf[16];
	size_t wlen = (size_t)(x - s);
	if (wlen == 0 || wlen >= sizeof(wbuf))
		return false;
	memcpy(wbuf, s, wlen);
	wbuf[wlen] = '\0';
	return parse_u32(wbuf, ZS_TESTPATTERN_MIN_WIDTH, ZS_TESTPATTERN_MAX_DIM, w) &&
		parse_u32(x + 1, ZS_TESTPATTERN_MIN_HEIGHT, ZS_TESTPATTERN_MAX_DIM, h);
}

bool zs_options_parse_source(struct zs_options *opts, const char *arg,
	char *err, size_t err_len)
{
	char *copy = strdup(arg);
	if (!copy)
		return fail(err, err_len, "out of memory");
	bool ok = true;
	char *save = NULL;
	char *kind = strtok_r(copy, ",", &save);
	if (!kind) {
		ok = fail(err, err_len, "--source: empty value");
		goto out;
	}
	if (strcmp(kind, "testpattern") == 0) {
		opts->source = ZS_SOURCE_TESTPATTERN;
	} else if (strcmp(kind, "qemu") == 0) {
		opts->source = ZS_SOURCE_QEMU;
	} else {
		ok = fail(err, err_len,
			"--source: unknown source '%s' (expected testpattern or qemu)",
			kind);
		goto out;
	}

	opts->source_given = true;
	opts->qemu_targets = 0;
	int qemu_targets = 0;
	for (char *kv; ok && (kv = strtok_r(NULL, ",", &save));) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			ok = fail(err, err_len, "--source: '%s' is not KEY=VALUE", kv);
			break;
		}
		*eq = '\0';
		const char *key = kv, *val = eq + 1;
		if (opts->source == ZS_SOURCE_TESTPATTERN && strcmp(key, "size") == 0) {
			if (!parse_size(val, &opts->width, &opts->height))
				ok = fail(err, err_len,
					"--source: size '%s' is not WxH within %ux%u..%ux%u",
					val, ZS_TESTPATTERN_MIN_WIDTH,
					ZS_TESTPATTERN_MIN_HEIGHT, ZS_TESTPATTERN_MAX_DIM,
					ZS_TESTPATTERN_MAX_DIM);
		} else if (opts->source == ZS_SOURCE_TESTPATTERN &&
			strcmp(key, "fps") == 0) {
			if (!parse_u32(val, 1, MAX_FPS, &opts->fps))
				ok = fail(err, err_len,
					"--source: fps '%s' is not 1..%u", val, MAX_FPS);
		} else if (opts->source == ZS_SOURCE_TESTPATTERN &&
			strcmp(key, "still-after") == 0) {
			if (!parse_u32(val, 0, UINT32_MAX, &opts->still_after))
				ok = fail(err, err_len,
					"--source: still-after '%s' is not a frame count",
					val);
		} else if (opts->source == ZS_SOURCE_QEMU && strcmp(key, "qmp") == 0) {
			qemu_targets++;
			if (!*val || !replace_str(&opts->qemu_qmp_path, val))
				ok = fail(err, err_len, "--source: qmp needs a path");
		} else if (opts->source == ZS_SOURCE_QEMU &&
			strcmp(key, "dbus-fd") == 0) {
			uint32_t fd;
			qemu_targets++;
			if (!parse_u32(val, 0, INT_MAX, &fd) ||
				fcntl((int)fd, F_GETFD) < 0)
				ok = fail(err, err_len,
					"--source: dbus-fd '%s' is not an open file descriptor",
					val);
			else
				opts->qemu_dbus_fd = (int)fd;
		} else if (opts->source == ZS_SOURCE_QEMU && strcmp(key, "bus") == 0) {
			qemu_targets++;
			if (!*val || !replace_str(&opts->qemu_bus_address, val))
				ok = fail(err, err_len, "--source: bus needs an address");
		} else {
			ok = fail(err, err_len, "--source: unknown key '%s' for %s",
				key, kind);
		}
	}
	opts->qemu_targets = qemu_targets;
out:
	free(copy);
	return ok;
}

/* After every option: --dbus-address and --source qemu agree, and qemu
 * has exactly one way to reach QEMU. */
bool zs_options_check_source(struct zs_options *opts, char *err,
	size_t err_len)
{
	if (opts->dbus_address && !opts->source_given) {
		opts->source = ZS_SOURCE_QEMU;
		opts->qemu_targets = 0;
	}
	if (opts->source != ZS_SOURCE_QEMU)
		return true;
	if (opts->dbus_address && !opts->qemu_qmp_path &&
		opts->qemu_dbus_fd < 0) {
		if (opts->qemu_bus_address &&
			strcmp(opts->qemu_bus_address, opts->dbus_address) != 0)
			return fail(err, err_len,
				"--source qemu,bus=%s and --dbus-address %s name two "
				"buses", opts->qemu_bus_address, opts->dbus_address);
		if (!opts->qemu_bus_address) {
			if (!replace_str(&opts->qemu_bus_address,
				    opts->dbus_address))
				return fail(err, err_len, "out of memory");
			opts->qemu_targets++;
		}
	}
	if (opts->qemu_targets != 1)
		return fail(err, err_len,
			"--source qemu needs exactly one of qmp=PATH, dbus-fd=N, "
			"bus=ADDRESS (or --dbus-address ADDRESS)");
	return true;
}
