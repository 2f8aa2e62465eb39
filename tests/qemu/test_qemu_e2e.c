/* zerospice tests — the QEMU source against a real QEMU (TCG, VGA,
 * -display dbus,p2p=yes): frames compared with QEMU's own screendump, keys
 * reaching the guest, QEMU exiting. Skips when QEMU or its D-Bus display
 * module is missing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <glib.h>

#include "helpers.h"
#include "zs-qemu.h"

#define QEMU "qemu-system-x86_64"
#define FIRST_FRAME_TIMEOUT_MS 30000

struct vm {
	char *dir;
	char *zs_qmp, *test_qmp, *log;
	GPid pid;
	int qmp; /* the test's own QMP connection */
};

static void skip_without_qemu(void)
{
	char *out = NULL;
	char *argv[] = { QEMU, "-display", "help", NULL };

	char *path = g_find_program_in_path(QEMU);

	if (!path) {
		printf("SKIP: %s not installed\n", QEMU);
		cr_skip_test("%s not installed", QEMU);
	}
	g_free(path);
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
			G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
			NULL, NULL) || !out || !strstr(out, "dbus")) {
		g_free(out);
		printf("SKIP: %s has no D-Bus display\n", QEMU);
		cr_skip_test("%s has no D-Bus display", QEMU);
	}
	g_free(out);
}

static void vm_paths(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->dir = g_dir_make_tmp("zs-qemu-e2e-XXXXXX", NULL);
	cr_assert_not_null(vm->dir);
	vm->zs_qmp = g_build_filename(vm->dir, "zs.qmp", NULL);
	vm->test_qmp = g_build_filename(vm->dir, "test.qmp", NULL);
	vm->log = g_build_filename(vm->dir, "qemu.log", NULL);
	vm->pid = 0;
	vm->qmp = -1;
}

/* A failed assertion ends the test process without vm_stop(): QEMU must
 * not outlive it. */
static void die_with_parent(gpointer data)
{
	(void)data;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void vm_start_display(struct vm *vm, const char *boot,
	const char *display)
{
	char *zs = g_strdup_printf("unix:%s,server=on,wait=off", vm->zs_qmp);
	char *test = g_strdup_printf("unix:%s,server=on,wait=off", vm->test_qmp);
	char *argv[] = { QEMU, "-machine", "pc,accel=tcg", "-nodefaults",
		"-device", "VGA", "-display", (char *)display, "-m", "64",
		"-qmp", zs, "-qmp", test, "-boot", (char *)boot, NULL };
	GError *error = NULL;
	int log_fd = open(vm->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		0644);

	cr_assert(log_fd >= 0);
	gboolean ok = g_spawn_async_with_fds(NULL, argv, NULL,
		G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
		die_with_parent, NULL,
		&vm->pid, -1, log_fd, log_fd, &error);
	close(log_fd);
	cr_assert(ok, "spawning QEMU: %s", error ? error->message : "");
	vm->qmp = qmp_test_open(vm->test_qmp, 10000);
	cr_assert(vm->qmp >= 0, "QEMU's QMP socket did not come up");
	g_free(zs);
	g_free(test);
}

static void vm_start(struct vm *vm, const char *boot)
{
	vm_start_display(vm, boot, "dbus,p2p=yes");
}

static bool vm_exited(struct vm *vm, int timeout_ms)
{
	int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;

	while (g_get_monotonic_time() < deadline) {
		pid_t r = waitpid(vm->pid, NULL, WNOHANG);
		if (r == vm->pid || (r < 0 && errno == ECHILD)) {
			vm->pid = 0;
			return true;
		}
		g_usleep(10 * 1000);
	}
	return false;
}

static void vm_stop(struct vm *vm)
{
	if (vm->qmp >= 0)
		close(vm->qmp);
	if (vm->pid > 0) {
		kill(vm->pid, SIGTERM);
		if (!vm_exited(vm, 5000)) {
			kill(vm->pid, SIGKILL);
			vm_exited(vm, 5000);
		}
	}
	if (vm->dir) {
		char *cmd = g_strdup_printf("rm -rf '%s'", vm->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", vm->dir);
		g_free(cmd);
	}
	g_free(vm->dir);
	g_free(vm->zs_qmp);
	g_free(vm->test_qmp);
	g_free(vm->log);
}

static uint8_t *vm_screendump(struct vm *vm, uint32_t *w, uint32_t *h)
{
	char *path = g_build_filename(vm->dir, "dump.ppm", NULL);
	char *cmd = g_strdup_printf("{\"execute\": \"screendump\", "
		"\"arguments\": {\"filename\": \"%s\"}}", path);
	uint8_t *rgb = NULL;

	unlink(path);
	if (qmp_test_cmd(vm->qmp, cmd, 10000))
		rgb = ppm_read(path, w, h);
	g_free(cmd);
	g_free(path);
	return rgb;
}

static void save_ppm(const char *name, const uint8_t *rgb, uint32_t w,
	uint32_t h)
{
	char *path = g_build_filename(g_getenv("ZS_TEST_SAVE_DIR"), name, NULL);
	char *hdr = g_strdup_printf("P6\n%u %u\n255\n", w, h);
	GString *s = g_string_new(hdr);

	g_string_append_len(s, (const char *)rgb, (gssize)w * h * 3);
	g_file_set_contents(path, s->str, (gssize)s->len, NULL);
	g_string_free(s, TRUE);
	g_free(hdr);
	g_free(path);
}

struct started {
	struct zs_source *src;
	struct rec *rec;
};

static bool has_frame(void *data)
{
	struct started *s = data;

	return s->rec->closed ||
		(zs_qemu_source_is_running(s->src) && s->rec->n_frames > 0);
}

static bool is_closed(void *data)
{
	return ((struct rec *)data)->closed;
}

/* PSNR of our newest frame against QEMU's screendump taken while the screen
 * is quiet; the best of a few tries (the guest may draw in between). */
static double compare_with_screendump(struct vm *vm, struct rec *rec,
	uint8_t **dump_out)
{
	double best = 0;

	for (int attempt = 0; attempt < 8 && best < 30; attempt++) {
		uint32_t dw = 0, dh = 0;
		loop_for(400);
		uint8_t *dump = vm_screendump(vm, &dw, &dh);
		cr_assert_not_null(dump, "screendump failed");
		loop_for(200);
		struct zs_frame *f = rec_newest(rec);
		cr_assert_not_null(f);
		cr_assert_eq(f->width, dw, "frame %ux%u, screendump %ux%u",
			f->width, f->height, dw, dh);
		cr_assert_eq(f->height, dh);
		uint8_t *ours = frame_to_rgb(f);
		cr_assert_not_null(ours);
		double p = psnr_rgb(ours, dump, (size_t)dw * dh * 3);
		printf("attempt %d: %ux%u PSNR %.1f dB\n", attempt, dw, dh, p);
		g_free(ours);
		if (p > best) {
			best = p;
			if (dump_out) {
				g_free(*dump_out);
				*dump_out = g_memdup2(dump, (size_t)dw * dh * 3);
			}
		}
		g_free(dump);
	}
	return best;
}

Test(qemu_e2e, frames_match_screendump_and_qemu_exit_closes, .timeout = 180)
{
	struct vm vm;
	struct rec rec;
	char err[256] = "";

	skip_without_qemu();
	vm_paths(&vm);
	rec_init(&rec, true);

	/* The source starts before QEMU listens: it retries. */
	struct zs_qemu_options opts = { .qmp_path = vm.zs_qmp, .dbus_fd = -1 };
	struct zs_source *src = zs_qemu_source_create(&opts, &rec_events, &rec,
		err, sizeof(err));
	cr_assert_not_null(src, "%s", err);
	loop_for(300);
	vm_start(&vm, "menu=off");

	struct started s = { src, &rec };
	cr_assert(loop_until(has_frame, &s, FIRST_FRAME_TIMEOUT_MS),
		"no frame from QEMU (closed: %s)", rec.reason);
	cr_assert(!rec.closed, "closed: %s", rec.reason);
	struct zs_frame *f = rec_newest(&rec);
	char fcc[5] = { 0 };
	memcpy(fcc, &f->fourcc, 4);
	printf("first frame: %ux%u %s stride %u modifier 0x%" G_GINT64_MODIFIER
		"x n_damage %d\n", f->width, f->height, fcc,
		f->planes[0].stride, f->modifier, f->n_damage);
	cr_assert_eq(f->fourcc, DRM_FORMAT_XRGB8888);
	cr_assert_eq(f->n_planes, 1);

	double psnr = compare_with_screendump(&vm, &rec, NULL);
	cr_assert(psnr >= 30.0, "PSNR %.1f dB against QEMU's screendump", psnr);
	printf("frames received: %d\n", rec.n_frames);

	/* QEMU exits: the source reports closed. */
	kill(vm.pid, SIGKILL);
	cr_assert(vm_exited(&vm, 5000));
	cr_assert(loop_until(is_closed, &rec, 5000), "no closed event");
	printf("closed: %s\n", rec.reason);
	cr_assert(strlen(rec.reason) > 0);
	cr_assert(!zs_qemu_source_is_running(src));

	/* Frames may outlive both QEMU and the source. */
	zs_source_destroy(src);
	rec_finish(&rec);
	loop_for(50);
	vm_stop(&vm);
}

Test(qemu_e2e, escape_opens_the_seabios_boot_menu, .timeout = 180)
{
	struct vm vm;
	struct rec rec;
	char err[256] = "";

	skip_without_qemu();
	vm_paths(&vm);
	rec_init(&rec, true);
	vm_start(&vm, "menu=on,splash-time=60000");

	struct zs_qemu_options opts = { .qmp_path = vm.zs_qmp, .dbus_fd = -1 };
	struct zs_source *src = zs_qemu_source_create(&opts, &rec_events, &rec,
		err, sizeof(err));
	cr_assert_not_null(src, "%s", err);
	struct started s = { src, &rec };
	cr_assert(loop_until(has_frame, &s, FIRST_FRAME_TIMEOUT_MS),
		"no frame from QEMU (closed: %s)", rec.reason);

	/* Wait for "Press ESC for boot menu" to settle: two screendumps in a
	 * row that agree. */
	uint8_t *before = NULL;
	uint32_t w = 0, h = 0;
	for (int i = 0; i < 40; i++) {
		uint32_t w2, h2;
		loop_for(500);
		uint8_t *now = vm_screendump(&vm, &w2, &h2);
		cr_assert_not_null(now);
		bool same = before && w == w2 && h == h2 &&
			psnr_rgb(before, now, (size_t)w * h * 3) > 40;
		g_free(before);
		before = now;
		w = w2;
		h = h2;
		if (same && i >= 2)
			break;
	}
	double psnr = compare_with_screendump(&vm, &rec, NULL);
	cr_assert(psnr >= 30.0, "before ESC: PSNR %.1f dB", psnr);

	/* ESC (scancode 0x01) down and up. */
	zs_source_key(src, 0x01, true);
	loop_for(100);
	zs_source_key(src, 0x01, false);

	/* The menu is a few lines of text: count changed pixels (a blinking
	 * text cursor alone changes a few dozen). */
	uint8_t *after = NULL;
	uint32_t aw = 0, ah = 0;
	size_t changed = 0;
	for (int i = 0; i < 20 && changed < 400; i++) {
		loop_for(500);
		g_free(after);
		after = vm_screendump(&vm, &aw, &ah);
		cr_assert_not_null(after);
		changed = aw == w && ah == h ?
			pixels_differing(before, after, (size_t)w * h) :
			(size_t)aw * ah;
	}
	printf("pixels changed by ESC: %zu\n", changed);
	if (g_getenv("ZS_TEST_SAVE_DIR")) {
		save_ppm("before-esc.ppm", before, w, h);
		save_ppm("after-esc.ppm", after, aw, ah);
	}
	cr_assert(changed >= 400, "ESC did not change the guest's screen "
		"(%zu pixels)", changed);
	/* And our frames followed. */
	psnr = compare_with_screendump(&vm, &rec, NULL);
	cr_assert(psnr >= 30.0, "after ESC: PSNR %.1f dB", psnr);

	g_free(before);
	g_free(after);
	zs_source_destroy(src);
	rec_finish(&rec);
	vm_stop(&vm);
}

Test(qemu_e2e, qmp_socket_never_listening_reports_closed, .timeout = 60)
{
	struct rec rec;
	char err[256] = "";
	char *dir = g_dir_make_tmp("zs-qemu-e2e-XXXXXX", NULL);
	char *path = g_build_filename(dir, "nobody.qmp", NULL);

	rec_init(&rec, true);
	struct zs_qemu_options opts = { .qmp_path = path, .dbus_fd = -1,
		.connect_timeout_ms = 500 };
	struct zs_source *src = zs_qemu_source_create(&opts, &rec_events, &rec,
		err, sizeof(err));
	cr_assert_not_null(src, "%s", err);
	int64_t t0 = g_get_monotonic_time();
	cr_assert(loop_until(is_closed, &rec, 5000));
	int64_t waited_ms = (g_get_monotonic_time() - t0) / 1000;
	printf("closed after %" G_GINT64_FORMAT " ms: %s\n", waited_ms,
		rec.reason);
	cr_assert(strstr(rec.reason, "not listening"), "%s", rec.reason);
	cr_assert(waited_ms >= 400, "gave up after %" G_GINT64_FORMAT " ms",
		waited_ms);
	zs_source_destroy(src);
	rec_finish(&rec);
	rmdir(dir);
	g_free(path);
	g_free(dir);
}

static bool has_two_frames(void *data)
{
	return ((struct rec *)data)->n_frames >= 2;
}

Test(qemu_e2e, waiting_for_qemu_has_no_bound_and_shows_black, .timeout = 60)
{
	struct rec rec;
	char err[256] = "";
	char *dir = g_dir_make_tmp("zs-qemu-e2e-XXXXXX", NULL);
	char *path = g_build_filename(dir, "later.qmp", NULL);

	/* As zerospice --reconnect makes it: no QEMU yet, the last picture
	 * was 640x480. */
	rec_init(&rec, true);
	struct zs_qemu_options opts = { .qmp_path = path, .dbus_fd = -1,
		.connect_timeout_ms = 300, .wait_for_qemu = true,
		.blank_width = 640, .blank_height = 480 };
	struct zs_source *src = zs_qemu_source_create(&opts, &rec_events, &rec,
		err, sizeof(err));
	cr_assert_not_null(src, "%s", err);
	/* Black at once, and again while waiting (clients that join). */
	cr_assert(loop_until(has_two_frames, &rec, 3000), "%d black frames",
		rec.n_frames);
	struct zs_frame *f = rec_newest(&rec);
	cr_assert_eq(f->width, 640);
	cr_assert_eq(f->height, 480);
	uint8_t *rgb = frame_to_rgb(f);
	uint8_t *black = g_malloc0(640 * 480 * 3);
	cr_assert_eq(pixels_differing(rgb, black, 640 * 480), 0);
	g_free(black);
	g_free(rgb);
	/* Well past connect_timeout_ms: still waiting. */
	loop_for(1000);
	cr_assert_not(rec.closed, "gave up: %s", rec.reason);
	cr_assert_not(zs_qemu_source_is_running(src));
	zs_source_destroy(src);
	rec_finish(&rec);
	rmdir(dir);
	g_free(path);
	g_free(dir);
}

Test(qemu_e2e, private_bus_mode_frames_and_exit, .timeout = 180)
{
	struct vm vm;
	struct rec rec;
	char err[256] = "";
	char *daemon = g_find_program_in_path("dbus-daemon");

	skip_without_qemu();
	if (!daemon) {
		printf("SKIP: dbus-daemon not installed\n");
		cr_skip_test("dbus-daemon not installed");
	}
	vm_paths(&vm);
	rec_init(&rec, true);

	/* A private bus; QEMU owns org.qemu on it (no guid in the address:
	 * QEMU's option parser splits on commas). */
	char *bus_path = g_build_filename(vm.dir, "bus", NULL);
	char *address = g_strdup_printf("unix:path=%s", bus_path);
	char *addr_opt = g_strdup_printf("--address=%s", address);
	char *dargv[] = { daemon, "--session", "--nofork", addr_opt, NULL };
	GPid dpid;
	cr_assert(g_spawn_async(NULL, dargv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
		G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
		NULL, &dpid, NULL));
	for (int i = 0; i < 100 && !g_file_test(bus_path, G_FILE_TEST_EXISTS);
	     i++)
		g_usleep(20 * 1000);
	cr_assert(g_file_test(bus_path, G_FILE_TEST_EXISTS));
	/* The source joins the bus before QEMU takes its name: it waits. */
	struct zs_qemu_options opts = { .bus_address = address, .dbus_fd = -1 };
	struct zs_source *src = zs_qemu_source_create(&opts, &rec_events, &rec,
		err, sizeof(err));
	cr_assert_not_null(src, "%s", err);
	loop_for(300);
	char *display = g_strdup_printf("dbus,addr=%s", address);
	vm_start_display(&vm, "menu=off", display);
	struct started s = { src, &rec };
	loop_until(has_frame, &s, FIRST_FRAME_TIMEOUT_MS);
	cr_assert(has_frame(&s) && !rec.closed, "no frame (closed: %s)",
		rec.reason);
	double psnr = compare_with_screendump(&vm, &rec, NULL);
	cr_assert(psnr >= 30.0, "PSNR %.1f dB", psnr);

	kill(vm.pid, SIGKILL);
	cr_assert(vm_exited(&vm, 5000));
	cr_assert(loop_until(is_closed, &rec, 5000), "no closed event");
	printf("closed: %s\n", rec.reason);

	zs_source_destroy(src);
	rec_finish(&rec);
	kill(dpid, SIGTERM);
	waitpid(dpid, NULL, 0);
	g_spawn_close_pid(dpid);
	vm_stop(&vm);
	g_free(display);
	g_free(addr_opt);
	g_free(address);
	g_free(bus_path);
	g_free(daemon);
}
