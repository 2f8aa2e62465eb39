/* Binary PPM (P6) reader for screenshots handed to the stamp search. */
#include "zs-stamp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PPM_MAX_DIM 16384

static int fail(char *err, size_t err_len, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_len, int code, const char *fmt, ...)
{
	if (err && err_len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Skips whitespace and '#' comments (which run to the end of the line). */
static int skip_space(FILE *f)
{
	int c;
	for (;;) {
		c = getc(f);
		if (c == '#') {
			while (c != '\n' && c != '\r' && c != EOF)
				c = getc(f);
			if (c == EOF)
				return EOF;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\v' || c == '\f')
			continue;
		return c;
	}
}

/* Reads one decimal header field; false on a missing or oversized value. */
static bool read_uint(FILE *f, uint32_t *out, bool last)
{
	int c = skip_space(f);
	if (c < '0' || c > '9')
		return false;
	uint64_t v = 0;
	while (c >= '0' && c <= '9') {
		v = v * 10 + (uint64_t)(c - '0');
		if (v > UINT32_MAX)
			return false;
		c = getc(f);
	}
	/* Exactly one whitespace byte ends the field (the one before the raster
	 * matters; comments are not allowed there). */
	if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' &&
	    c != '\f' && c != '#')
		return false;
	if (c == '#') {
		if (last)
			return false;
		ungetc(c, f);
	}
	*out = (uint32_t)v;
	return true;
}

/* Bytes left to read in f when it is a regular file; UINT64_MAX when
 * unknown (a pipe, a memory stream). */
static uint64_t bytes_left(FILE *f)
{
	struct stat st;
	int fd = fileno(f);
	long pos = ftell(f);

	if (fd < 0 || pos < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return UINT64_MAX;
	return st.st_size > pos ? (uint64_t)(st.st_size - pos) : 0;
}

int zs_image_load_ppm(const char *path, struct zs_image *img, char *err,
	size_t err_len)
{
	memset(img, 0, sizeof(*img));
	FILE *f = fopen(path, "rbe");
	if (!f) {
		int e = errno;
		return fail(err, err_len, -e, "%s: %s", path, strerror(e));
	}
	int ret = zs_image_read_ppm(f, path, img, err, err_len);
	fclose(f);
	return ret;
}

int zs_image_read_ppm(FILE *f, const char *path, struct zs_image *img,
	char *err, size_t err_len)
{
	int ret;

	memset(img, 0, sizeof(*img));
	uint32_t width, height, maxval;
	if (getc(f) != 'P' || getc(f) != '6') {
		ret = fail(err, err_len, -EINVAL, "%s: not a binary PPM (P6)", path);
		goto err;
	}
	if (!read_uint(f, &width, false) || !read_uint(f, &height, false) ||
	    !read_uint(f, &maxval, true)) {
		ret = fail(err, err_len, -EINVAL, "%s: bad PPM header", path);
		goto err;
	}
	if (width == 0 || height == 0 || width > PPM_MAX_DIM ||
	    height > PPM_MAX_DIM) {
		ret = fail(err, err_len, -EFBIG,
			"%s: unsupported size %ux%u (1..%d per side)", path, width,
			height, PPM_MAX_DIM);
		goto err;
	}
	if (maxval == 0 || maxval > 65535) {
		ret = fail(err, err_len, -EINVAL, "%s: bad maxval %u", path, maxval);
		goto err;
	}

	/* 16-bit samples (maxval > 255, as ImageMagick often writes) are two
	 * bytes, big-endian; every depth is scaled to 8 bits. */
	size_t sample_bytes = maxval > 255 ? 2 : 1;
	size_t stride = (size_t)width * 3;
	size_t size = stride * height;
	size_t file_bytes = size * sample_bytes;
	/* A header that promises more than the file holds must not cost a
	 * gigabyte of memory. */
	if (bytes_left(f) < file_bytes) {
		ret = fail(err, err_len, -EINVAL, "%s: truncated pixel data "
			"(%ux%u needs %zu bytes)", path, width, height,
			file_bytes);
		goto err;
	}
	uint8_t *pixels = malloc(file_bytes);
	if (!pixels) {
		ret = fail(err, err_len, -ENOMEM, "%s: out of memory for %ux%u",
			path, width, height);
		goto err;
	}
	size_t got = fread(pixels, 1, file_bytes, f);
	if (got != file_bytes) {
		ret = fail(err, err_len, ferror(f) ? -EIO : -EINVAL,
			"%s: truncated pixel data (%zu of %zu bytes)", path, got,
			file_bytes);
		goto err_free;
	}
	if (maxval != 255) {
		for (size_t i = 0; i < size; i++) {
			uint32_t v = sample_bytes == 2 ?
					     (uint32_t)pixels[2 * i] << 8 | pixels[2 * i + 1] :
					     pixels[i];
			if (v > maxval)
				v = maxval;
			pixels[i] = (uint8_t)((v * 255 + maxval / 2) / maxval);
		}
		if (sample_bytes == 2) {
			uint8_t *shrunk = realloc(pixels, size);
			if (shrunk)
				pixels = shrunk;
		}
	}

	img->pixels = pixels;
	img->width = width;
	img->height = height;
	img->stride = (uint32_t)stride;
	img->bytes_per_pixel = 3;
	return 0;

err_free:
	free(pixels);
err:
	return ret;
}

void zs_image_free(struct zs_image *img)
{
	if (!img)
		return;
	free((void *)img->pixels);
	memset(img, 0, sizeof(*img));
}
