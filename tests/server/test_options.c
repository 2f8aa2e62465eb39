/* Option parsing: the command-line contract other work builds on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zs-server.h"

#define MAX_ARGS 16

static bool parse(struct zs_options *opts, char *err, size_t err_len,
	const char *const *args)
{
	char *argv[MAX_ARGS + 1] = { "zerospice" };
	int argc = 1;
	for (; args && args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;
	return zs_options_parse(opts, argc, argv, err, err_len);
}

Test(options, defaults_are_testpattern_720p60_on_loopback_5900)
{
	struct zs_options o;
	char err[256] = "";
	cr_assert(parse(&o, err, sizeof(err), NULL), "%s", err);
	cr_expect_eq(o.source, ZS_SOURCE_TESTPATTERN);
	cr_expect_eq(o.width, 1280);
	cr_expect_eq(o.height, 720);
	cr_expect_eq(o.fps, 60);
	cr_expect_str_eq(o.listen_host, "127.0.0.1");
	cr_expect_eq(o.listen_port, 5900);
	cr_expect_null(o.listen_unix);
	cr_expect_eq(o.codec, ZS_CODEC_NONE);
	cr_expect_eq(o.encoder, ZS_ENCODER_AUTO);
	cr_expect_eq(o.bitrate_kbps, 0);
	cr_expect_eq(o.max_fps, 0);
	cr_expect_eq(o.tls_port, -1);
	cr_expect_null(o.x509_dir);
	cr_expect_not(o.tls_only);
	cr_expect(o.clock_fix);
	cr_expect_eq(o.clock_bias_ms, 0);
	zs_options_finish(&o);
}

Test(options, tls_and_clock_options_are_parsed)
{
	struct zs_options o;
	char err[256] = "";
	const char *args[] = { "--tls-port", "5901", "--x509-dir", "/etc/pki",
		"--tls-ciphers", "HIGH:!aNULL", "--tls-only", "--clock-fix", "off",
		"--clock-bias-ms", "20", NULL };
	cr_assert(parse(&o, err, sizeof(err), args), "%s", err);
	cr_expect_eq(o.tls_port, 5901);
	cr_expect_str_eq(o.x509_dir, "/etc/pki");
	cr_expect_str_eq(o.tls_ciphers, "HIGH:!aNULL");
	cr_expect(o.tls_only);
	cr_expect_not(o.clock_fix);
	cr_expect_eq(o.clock_bias_ms, 20);
	zs_options_finish(&o);
	const char *any_port[] = { "--listen", "127.0.0.1:0", "--tls-port", "0",
		"--x509-dir", "/etc/pki", "--clock-fix", "on", NULL };
	cr_assert(parse(&o, err, sizeof(err), any_port), "%s", err);
	cr_expect_eq(o.tls_port, 0);
	cr_expect(o.clock_fix);
	zs_options_finish(&o);
	cr_expect_not_null(strstr(zs_options_usage(), "--clock-fix"));
	cr_expect_not_null(strstr(zs_options_usage(), "--tls-port"));
}

Test(options, refine_still_resync_and_trace_options)
{
	struct zs_options o;
	char err[256] = "";
	cr_assert(parse(&o, err, sizeof(err), NULL), "%s", err);
	cr_expect(o.refine, "refinement is on by default");
	cr_expect_eq(o.still_after, 0);
	cr_expect_eq(o.clock_resync_ms, 1000);
	cr_expect_null(o.trace_stages);
	zs_options_finish(&o);
	const char *args[] = { "--source", "testpattern,still-after=120",
		"--refine", "off", "--clock-resync-ms", "0", "--trace-stages",
		"/tmp/t.txt", NULL };
	cr_assert(parse(&o, err, sizeof(err), args), "%s", err);
	cr_expect_eq(o.still_after, 120);
	cr_expect_not(o.refine);
	cr_expect_eq(o.clock_resync_ms, 0);
	cr_expect_str_eq(o.trace_stages, "/tmp/t.txt");
	zs_options_finish(&o);
	cr_expect_not_null(strstr(zs_options_usage(), "--refine on|off"));
	cr_expect_not_null(strstr(zs_options_usage(), "still-after=N"));
	cr_expect_not_null(strstr(zs_options_usage(), "--clock-resync-ms"));
	cr_expect_not_null(strstr(zs_options_usage(), "--trace-stages"));
}

Test(options, full_command_line_is_parsed)
{
	struct zs_options o;
	char err[256] = "";
	const char *args[] = { "--source", "testpattern,size=1920x1080,fps=30",
		"--listen", "[::1]:5999", "--codec", "vp8", "--encoder",
		"software", "--bitrate", "4000", "--max-fps", "25", NULL };
	cr_assert(parse(&o, err, sizeof(err), args), "%s", err);
	cr_expect_eq(o.width, 1920);
	cr_expect_eq(o.height, 1080);
	cr_expect_eq(o.fps, 30);
	cr_expect_str_eq(o.listen_host, "::1");
	cr_expect_eq(o.listen_port, 5999);
	cr_expect_eq(o.codec, ZS_CODEC_VP8);
	cr_expect_eq(o.encoder, ZS_ENCODER_SOFTWARE);
	cr_expect_eq(o.bitrate_kbps, 4000);
	cr_expect_eq(o.max_fps, 25);
	zs_options_finish(&o);
}

Test(options, vaapi_encoder_and_device)
{
	struct zs_options o;
	char err[256] = "";
	const char *args[] = { "--encoder", "vaapi", "--va-device",
		"/dev/dri/renderD129", NULL };
	cr_assert(parse(&o, err, sizeof(err), args), "%s", err);
	cr_expect_eq(o.encoder, ZS_ENCODER_VAAPI);
	cr_expect_str_eq(o.va_device, "/dev/dri/renderD129");
	zs_options_finish(&o);
	cr_expect_null(o.va_device);
	cr_assert(parse(&o, err, sizeof(err), NULL), "%s", err);
	cr_expect_null(o.va_device, "default: probe the render nodes");
	zs_options_finish(&o);
	cr_expect_not_null(strstr(zs_options_usage(), "--va-device"));
	cr_expect_not_null(strstr(zs_options_usage(), "auto|vaapi|software"));
}

Test(options, unix_listen_and_qemu_source)
{
	struct zs_options o;
	char err[256] = "";
	const char *args[] = { "--listen", "unix:/tmp/zs.sock", "--source",
		"qemu,qmp=/run/qmp.sock", "--console", "1",
		"--insecure-no-auth", NULL };
	cr_assert(parse(&o, err, sizeof(err), args), "%s", err);
	cr_expect_str_eq(o.listen_unix, "/tmp/zs.sock");
	cr_expect_eq(o.source, ZS_SOURCE_QEMU);
	cr_expect_str_eq(o.qemu_qmp_path, "/run/qmp.sock");
	cr_expect_eq(o.console, 1);
	zs_options_finish(&o);
}

Test(options, reconnect_with_a_qmp_socket_or_a_bus)
{
	struct zs_options o;
	char err[256] = "";
	const char *none[] = { "--source", "qemu,qmp=/run/qmp.sock",
		"--ticket-file", "/run/t", NULL };
	cr_assert(parse(&o, err, sizeof(err), none), "%s", err);
	cr_expect_not(o.reconnect, "default: exit when QEMU goes away");
	zs_options_finish(&o);
	const char *qmp[] = { "--source", "qemu,qmp=/run/qmp.sock",
		"--reconnect", "--ticket-file", "/run/t", NULL };
	cr_assert(parse(&o, err, sizeof(err), qmp), "%s", err);
	cr_expect(o.reconnect);
	zs_options_finish(&o);
	const char *bus[] = { "--reconnect", "--source",
		"qemu,bus=unix:path=/run/vm.bus", "--insecure-no-auth", NULL };
	cr_assert(parse(&o, err, sizeof(err), bus), "%s", err);
	cr_expect(o.reconnect);
	cr_expect_str_eq(o.qemu_bus_address, "unix:path=/run/vm.bus");
	zs_options_finish(&o);
	cr_expect_not_null(strstr(zs_options_usage(), "--reconnect"));
}

Test(options, help_and_version_flags)
{
	struct zs_options o;
	char err[256] = "";
	const char *help[] = { "--help", NULL };
	cr_assert(parse(&o, err, sizeof(err), help));
	cr_expect(o.show_help);
	zs_options_finish(&o);
	const char *version[] = { "--version", NULL };
	cr_assert(parse(&o, err, sizeof(err), version));
	cr_expect(o.show_version);
	zs_options_finish(&o);
	cr_expect_not_null(strstr(zs_options_usage(), "--ticket-file"));
}

struct bad_case {
	const char *args[8];
	const char *reason; /* substring of the error */
};

static const struct bad_case bad_cases[] = {
	{ { "--bogus", NULL }, "unknown option" },
	{ { "--codec", NULL }, "needs a value" },
	{ { "--codec", "theora", NULL }, "--codec" },
	{ { "--encoder", "vaapi-ish", NULL }, "--encoder" },
	{ { "--va-device", "", NULL }, "--va-device" },
	{ { "--va-device", NULL }, "needs a value" },
	{ { "--bitrate", "0", NULL }, "--bitrate" },
	{ { "--bitrate", "12abc", NULL }, "--bitrate" },
	{ { "--bitrate", "-5", NULL }, "--bitrate" },
	{ { "--max-fps", "0", NULL }, "--max-fps" },
	{ { "--max-fps", "100000", NULL }, "--max-fps" },
	{ { "--source", "webcam", NULL }, "unknown source" },
	{ { "--source", "testpattern,size=10x10", NULL }, "size" },
	{ { "--source", "testpattern,size=1280", NULL }, "size" },
	{ { "--source", "testpattern,size=99999x720", NULL }, "size" },
	{ { "--source", "testpattern,fps=0", NULL }, "fps" },
	{ { "--source", "testpattern,colour=red", NULL }, "unknown key" },
	{ { "--source", "testpattern,size", NULL }, "KEY=VALUE" },
	{ { "--source", "qemu", NULL }, "exactly one" },
	{ { "--source", "qemu,qmp=/a,bus=unix:path=/b", NULL }, "exactly one" },
	{ { "--source", "qemu,dbus-fd=987654", NULL }, "dbus-fd" },
	{ { "--listen", "5900", NULL }, "HOST:PORT" },
	{ { "--listen", "127.0.0.1:70000", NULL }, "port" },
	{ { "--listen", ":5900", NULL }, "no host" },
	{ { "--listen", "::1:5900", NULL }, "[ADDR]:PORT" },
	{ { "--listen", "unix:", NULL }, "path" },
	{ { "--listen", "0.0.0.0:5900", NULL }, "without a password" },
	{ { "--console", "x", NULL }, "--console" },
	{ { "--reconnect", NULL }, "--reconnect is for --source qemu" },
	{ { "--source", "qemu,dbus-fd=2", "--reconnect", NULL },
		"cannot reopen an inherited dbus-fd" },
	{ { "stray", NULL }, "unexpected argument" },
	{ { "--tls-port", "70000", NULL }, "--tls-port" },
	{ { "--tls-port", "5901", NULL }, "--x509-dir" },
	{ { "--x509-dir", "/etc/pki", NULL }, "needs --tls-port" },
	{ { "--tls-only", NULL }, "needs --tls-port" },
	{ { "--tls-ciphers", "HIGH", NULL }, "needs --tls-port" },
	{ { "--tls-port", "5900", "--x509-dir", "/d", NULL }, "also the plain" },
	{ { "--listen", "unix:/tmp/s", "--tls-port", "1", "--x509-dir", "/d", NULL },
		"not a unix socket" },
	{ { "--clock-fix", "maybe", NULL }, "--clock-fix" },
	{ { "--clock-bias-ms", "1001", NULL }, "--clock-bias-ms" },
	{ { "--clock-bias-ms", "-1", NULL }, "--clock-bias-ms" },
	{ { "--source", "qemu,qmp=/q", NULL }, "VM's keyboard" },
	{ { "--source", "qemu,qmp=/q", "--listen", "unix:/s", NULL },
		"--ticket-file" },
	{ { "--socket-mode", "888", NULL }, "--socket-mode" },
	{ { "--socket-mode", "01000", NULL }, "--socket-mode" },
	{ { "--socket-mode", "", NULL }, "--socket-mode" },
	{ { "--qemu-uid", "nobody", NULL }, "--qemu-uid" },
	{ { "--qemu-uid", "4294967295", NULL }, "--qemu-uid" },
	{ { "--clock-resync-ms", "50", NULL }, "--clock-resync-ms" },
	{ { "--clock-resync-ms", "x", NULL }, "--clock-resync-ms" },
	{ { "--refine", "maybe", NULL }, "--refine" },
	{ { "--trace-stages", "", NULL }, "--trace-stages" },
	{ { "--source", "testpattern,still-after=-1", NULL }, "still-after" },
	{ { "--source", "qemu,qmp=/a,still-after=3", NULL }, "unknown key" },
};

Test(options, vm_source_needs_a_ticket_socket_mode_and_qemu_uid)
{
	struct zs_options o;
	char err[256] = "";
	const char *pattern[] = { "--listen", "unix:/tmp/s", NULL };
	cr_assert(parse(&o, err, sizeof(err), pattern), "%s", err);
	cr_expect_eq(o.socket_mode, 0600, "default: only this user");
	cr_expect_eq(o.qemu_uid, 0);
	zs_options_finish(&o);
	const char *vm[] = { "--source", "qemu,qmp=/q", "--ticket-file", "/t",
		"--socket-mode", "0660", "--qemu-uid", "107", NULL };
	cr_assert(parse(&o, err, sizeof(err), vm), "%s", err);
	cr_expect_eq(o.socket_mode, 0660);
	cr_expect_eq(o.qemu_uid, 107);
	zs_options_finish(&o);
	cr_expect_not_null(strstr(zs_options_usage(), "--socket-mode"));
	cr_expect_not_null(strstr(zs_options_usage(), "--qemu-uid"));
}

Test(options, bad_values_are_refused_with_a_reason)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct zs_options o;
		char err[256] = "";
		bool ok = parse(&o, err, sizeof(err), bad_cases[i].args);
		cr_expect_not(ok, "case %zu (%s) was accepted", i,
			bad_cases[i].args[0]);
		cr_expect_not_null(strstr(err, bad_cases[i].reason),
			"case %zu: error '%s' lacks '%s'", i, err,
			bad_cases[i].reason);
		zs_options_finish(&o);
	}
}

Test(options, non_loopback_needs_ticket_or_explicit_insecure)
{
	struct zs_options o;
	char err[256] = "";
	const char *with_ticket[] = { "--listen", "0.0.0.0:5900",
		"--ticket-file", "/nonexistent", NULL };
	cr_expect(parse(&o, err, sizeof(err), with_ticket), "%s", err);
	zs_options_finish(&o);
	const char *insecure[] = { "--listen", "0.0.0.0:5900",
		"--insecure-no-auth", NULL };
	cr_expect(parse(&o, err, sizeof(err), insecure), "%s", err);
	zs_options_finish(&o);
	const char *localhost[] = { "--listen", "localhost:5900", NULL };
	cr_expect(parse(&o, err, sizeof(err), localhost), "%s", err);
	zs_options_finish(&o);
}

Test(options, loopback_detection)
{
	cr_expect(zs_host_is_loopback("127.0.0.1"));
	cr_expect(zs_host_is_loopback("127.8.9.10"));
	cr_expect(zs_host_is_loopback("::1"));
	cr_expect_not(zs_host_is_loopback("0.0.0.0"));
	cr_expect_not(zs_host_is_loopback("::"));
	cr_expect_not(zs_host_is_loopback("10.0.0.1"));
	cr_expect_not(zs_host_is_loopback("no-such-host.invalid"));
}

Test(options, ticket_off_loopback_with_tls_refuses_plain_by_default)
{
	struct zs_options o;
	char err[256] = "";
	const char *args[] = { "--listen", "192.0.2.1:5900", "--ticket-file",
		"/t", "--tls-port", "5901", "--x509-dir", "/pki", NULL };
	cr_assert(parse(&o, err, sizeof(err), args), "%s", err);
	cr_expect(o.tls_only);
	cr_expect(o.plain_refused_by_default);
	zs_options_finish(&o);

	const char *allow[] = { "--listen", "192.0.2.1:5900", "--ticket-file",
		"/t", "--tls-port", "5901", "--x509-dir", "/pki", "--allow-plain",
		NULL };
	cr_assert(parse(&o, err, sizeof(err), allow), "%s", err);
	cr_expect_not(o.tls_only);
	zs_options_finish(&o);

	/* loopback keeps plain: the keyboard does not leave the host */
	const char *lo[] = { "--listen", "127.0.0.1:5900", "--ticket-file",
		"/t", "--tls-port", "5901", "--x509-dir", "/pki", NULL };
	cr_assert(parse(&o, err, sizeof(err), lo), "%s", err);
	cr_expect_not(o.tls_only);
	zs_options_finish(&o);

	const char *both[] = { "--tls-port", "5901", "--x509-dir", "/pki",
		"--allow-plain", "--tls-only", NULL };
	cr_expect_not(parse(&o, err, sizeof(err), both));
	cr_expect_not_null(strstr(err, "contradict"), "%s", err);
	zs_options_finish(&o);

	const char *no_tls[] = { "--allow-plain", NULL };
	cr_expect_not(parse(&o, err, sizeof(err), no_tls));
	cr_expect_not_null(strstr(err, "--allow-plain needs --tls-port"), "%s",
		err);
	zs_options_finish(&o);
}

Test(options, ticket_expiry_needs_a_ticket_file_and_a_range)
{
	struct zs_options o;
	char err[256] = "";
	const char *ok[] = { "--ticket-file", "/t", "--ticket-expiry", "30",
		NULL };
	cr_assert(parse(&o, err, sizeof(err), ok), "%s", err);
	cr_expect_eq(o.ticket_expiry_s, 30);
	zs_options_finish(&o);
	const char *alone[] = { "--ticket-expiry", "30", NULL };
	cr_expect_not(parse(&o, err, sizeof(err), alone));
	cr_expect_not_null(strstr(err, "needs --ticket-file"), "%s", err);
	zs_options_finish(&o);
	const char *zero[] = { "--ticket-file", "/t", "--ticket-expiry", "0",
		NULL };
	cr_expect_not(parse(&o, err, sizeof(err), zero));
	zs_options_finish(&o);
}

Test(options, metrics_address_defaults_to_loopback)
{
	struct zs_options o;
	char err[256] = "";
	cr_assert(parse(&o, err, sizeof(err), NULL), "%s", err);
	cr_expect_eq(o.metrics_port, -1, "no endpoint unless asked");
	zs_options_finish(&o);

	static const struct {
		const char *arg, *host;
		int port;
	} ok[] = {
		{ "9100", "127.0.0.1", 9100 },
		{ "0", "127.0.0.1", 0 },
		{ "0.0.0.0:9100", "0.0.0.0", 9100 },
		{ "[::1]:9101", "::1", 9101 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *args[] = { "--metrics", ok[i].arg, NULL };
		cr_assert(parse(&o, err, sizeof(err), args), "%s: %s", ok[i].arg,
			err);
		cr_expect_str_eq(o.metrics_host, ok[i].host, "%s", ok[i].arg);
		cr_expect_eq(o.metrics_port, ok[i].port, "%s", ok[i].arg);
		zs_options_finish(&o);
	}

	static const char *const bad[] = { "", "x", "70000", ":9100",
		"::1:9100", "[::1]", "[]:9100", "127.0.0.1:", "-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = { "--metrics", bad[i], NULL };
		err[0] = '\0';
		cr_expect_not(parse(&o, err, sizeof(err), args), "'%s' accepted",
			bad[i]);
		cr_expect_not_null(strstr(err, "--metrics"), "'%s': %s", bad[i],
			err);
		zs_options_finish(&o);
	}
	cr_expect_not_null(strstr(zs_options_usage(), "--metrics"));
}

/* --console: one console or a list; display i is the i-th listed. */
Test(options, console_list_orders_displays_and_refuses_bad_lists)
{
	static const struct {
		const char *arg;
		unsigned n; /* 0: refused */
		uint32_t first, last;
		const char *why;
	} cases[] = {
		{ "0", 1, 0, 0, NULL },
		{ "3", 1, 3, 3, NULL },
		{ "0,1", 2, 0, 1, NULL },
		{ "2,0,1", 3, 2, 1, NULL },
		{ "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14", 15, 0, 14, NULL },
		{ "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", 0, 0, 0, "more than" },
		{ "0,0", 0, 0, 0, "twice" },
		{ "0,", 0, 0, 0, "console number" },
		{ ",1", 0, 0, 0, "console number" },
		{ "", 0, 0, 0, "no console" },
		{ "256", 0, 0, 0, "0..255" },
		{ "-1", 0, 0, 0, "console number" },
		{ "1 ,2", 0, 0, 0, "console number" },
		{ "All", 0, 0, 0, "console number" },
		{ "all,1", 0, 0, 0, "console number" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zs_options o;
		char err[256] = "";
		const char *args[] = { "--source", "qemu,qmp=/run/qmp.sock",
			"--insecure-no-auth", "--console", cases[i].arg, NULL };
		bool ok = parse(&o, err, sizeof(err), args);
		if (!cases[i].n) {
			cr_expect_not(ok, "case %s accepted", cases[i].arg);
			cr_expect(strstr(err, cases[i].why), "case %s: %s",
				cases[i].arg, err);
		} else {
			cr_expect(ok, "case %s: %s", cases[i].arg, err);
			cr_expect_eq(o.n_consoles, cases[i].n, "case %s",
				cases[i].arg);
			cr_expect_eq(o.consoles[0], cases[i].first);
			cr_expect_eq(o.console, cases[i].first);
			cr_expect_eq(o.consoles[o.n_consoles - 1],
				cases[i].last);
			cr_expect_not(o.all_consoles, "case %s",
				cases[i].arg);
		}
		zs_options_finish(&o);
	}
}

/* Like QEMU's own SPICE: every graphic console, console 0 first. */
Test(options, console_defaults_to_all_and_all_can_be_asked_back)
{
	for (int i = 0; i < 2; i++) {
		struct zs_options o;
		char err[256] = "";
		const char *args[] = { "--source", "qemu,qmp=/run/qmp.sock",
			"--insecure-no-auth", "--console", "3", "--console",
			"all", NULL };
		if (i == 0)
			args[3] = NULL; /* no --console at all */
		cr_assert(parse(&o, err, sizeof(err), args), "%s", err);
		cr_expect(o.all_consoles, "case %d", i);
		cr_expect_eq(o.n_consoles, 1);
		cr_expect_eq(o.consoles[0], 0);
		cr_expect_eq(o.console, 0);
		zs_options_finish(&o);
	}
}
