#!/bin/bash
# Runs the VA-API tests on this machine's GPU, or skips (exit 77) saying why.
# On an Intel GPU machine: install intel-media-va-driver, make sure
# /dev/dri/renderD* and /dev/udmabuf are accessible, leave LIBVA_DRIVER_NAME
# unset, then: meson test -C build vaapi-hw
if [ -n "${LIBVA_DRIVER_NAME:-}" ]; then
	echo "SKIP: LIBVA_DRIVER_NAME is set; the hardware test uses the driver libva picks for the GPU" >&2
	exit 77
fi
if ! compgen -G "/dev/dri/renderD*" >/dev/null; then
	echo "SKIP: no /dev/dri/renderD*: the VA-API hardware tests need a GPU (Intel: iHD driver, intel-media-va-driver)" >&2
	exit 77
fi
if [ ! -r /dev/udmabuf ] || [ ! -w /dev/udmabuf ]; then
	echo "SKIP: no usable /dev/udmabuf: the hardware test turns memfds into dma-bufs with it" >&2
	exit 77
fi
ZS_VA_TEST_HW=1 exec "$(dirname "$0")/../criterion-run.sh" "$1" --verbose \
	--filter 'vaapi_hw/*'
