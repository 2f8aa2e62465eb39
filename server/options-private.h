/* Shared by the option parsers (options.c, options-source.c); not for the
 * rest of server/. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zs-server.h"

#define MAX_FPS 240

static inline bool fail(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline bool fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return false;
}

/* Strict unsigned decimal in [min, max]. */
static inline bool parse_u32(const char *s, uint32_t min, uint32_t max,
	uint32_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static inline bool replace_str(char **dst, const char *src)
{
	free(*dst);
	*dst = strdup(src);
	return *dst != NULL;
}

/* --source KIND[,KEY=VALUE]...: the testpattern or the QEMU to reach. */
bool zs_options_parse_source(struct zs_options *opts, const char *arg,
	char *err, size_t err_len);
/* After every option: --dbus-address and --source qemu agree, and qemu
 * has exactly one way to reach QEMU. */
bool zs_options_check_source(struct zs_options *opts, char *err,
	size_t err_len);
