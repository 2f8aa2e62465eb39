/* The broker contract's pure pieces: ticket expiry strings, .vv files,
 * --dbus-address and --config against the command line. */
#include <criterion/criterion.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "process.h"
#include "zs-client-proto.h"
#include "zs-server.h"

#define NOW 1700000000

static const struct {
	const char *in;
	bool ok;
	int64_t expires;
} expiry_cases[] = {
	{ "never", true, 0 },
	{ "now", true, -1 },
	{ "+30", true, NOW + 30 },
	{ "+7200", true, NOW + 7200 },
	{ "+0", true, -1 },
	{ "1700000100", true, 1700000100 },
	{ "1000", true, -1 },           /* absolute, in the past */
	{ "0", true, -1 },
	{ "", false, 0 },
	{ "+", false, 0 },
	{ "-5", false, 0 },
	{ "+5s", false, 0 },
	{ "soon", false, 0 },
	{ "99999999999999999999999", false, 0 },
	{ "+ 5", false, 0 },
};

Test(broker, ticket_expiry_strings_follow_qemu_vnc)
{
	for (size_t i = 0; i < G_N_ELEMENTS(expiry_cases); i++) {
		int64_t at = 12345;
		bool ok = zs_control_parse_expiry(expiry_cases[i].in, NOW, &at);
		cr_expect_eq(ok, expiry_cases[i].ok, "'%s' parsed %d",
			expiry_cases[i].in, ok);
		if (ok && expiry_cases[i].ok)
			cr_expect_eq(at, expiry_cases[i].expires, "'%s' → %lld",
				expiry_cases[i].in, (long long)at);
	}
	int64_t at;
	cr_expect_not(zs_control_parse_expiry(NULL, NOW, &at));
}

Test(broker, vv_file_escapes_the_ca_and_reads_back)
{
	const char *pem = "-----BEGIN CERTIFICATE-----\nMIIB\\x\n"
		"-----END CERTIFICATE-----\n";
	struct zs_vv vv = {
		.host = "node1.example",
		.port = 5900,
		.tls_port = 5901,
		.password = "s3cret",
		.ca_pem = pem,
		.host_subject = "C=FR,O=Example\\, Inc,CN=node1",
		.title = " vm one \t",
		.proxy = "http://node1.example:3128",
		.delete_this_file = true,
	};
	char *text = zs_vv_format(&vv);
	cr_assert_not_null(text);
	/* one line per key: no raw newline inside a value */
	cr_expect_not_null(strstr(text, "ca=-----BEGIN CERTIFICATE-----\\nMIIB"
		"\\\\x\\n-----END CERTIFICATE-----\\n\n"), "%s", text);
	GKeyFile *kf = g_key_file_new();
	cr_assert(g_key_file_load_from_data(kf, text, strlen(text), 0, NULL));
	char *ca = g_key_file_get_string(kf, "virt-viewer", "ca", NULL);
	cr_expect_str_eq(ca, pem);
	char *title = g_key_file_get_string(kf, "virt-viewer", "title", NULL);
	cr_expect_str_eq(title, " vm one \t");
	char *subj = g_key_file_get_string(kf, "virt-viewer", "host-subject", NULL);
	cr_expect_str_eq(subj, "C=FR,O=Example\\, Inc,CN=node1");
	cr_expect_eq(g_key_file_get_integer(kf, "virt-viewer", "tls-port", NULL),
		5901);
	char *type = g_key_file_get_string(kf, "virt-viewer", "type", NULL);
	cr_expect_str_eq(type, "spice");
	cr_expect_eq(g_key_file_get_integer(kf, "virt-viewer", "delete-this-file",
		NULL), 1);
	g_free(ca);
	g_free(title);
	g_free(subj);
	g_free(type);
	g_key_file_free(kf);
	free(text);
}

Test(broker, vv_file_needs_a_host_and_a_port)
{
	struct zs_vv vv = { .host = "h" };
	cr_expect_null(zs_vv_format(&vv));
	vv.tls_port = 5901;
	char *text = zs_vv_format(&vv);
	cr_assert_not_null(text);
	cr_expect_null(strstr(text, "\nport="));
	cr_expect_null(strstr(text, "password="));
	free(text);
	struct zs_vv none = { .port = 5900 };
	cr_expect_null(zs_vv_format(&none));
}

static bool parse_args(struct zs_options *o, char *err, size_t len,
	const char *const *args)
{
	char *argv[24] = { "zerospice" };
	int argc = 1;
	for (; args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	return zs_options_parse(o, argc, argv, err, len);
}

Test(broker, dbus_address_is_the_qemu_source_unless_another_is_named)
{
	struct zs_options o;
	char err[256] = "";
	const char *a1[] = { "--dbus-address", "unix:path=/run/vm.bus", NULL };
	cr_assert(parse_args(&o, err, sizeof(err), a1), "%s", err);
	cr_expect_eq(o.source, ZS_SOURCE_QEMU);
	cr_expect_str_eq(o.qemu_bus_address, "unix:path=/run/vm.bus");
	zs_options_finish(&o);

	const char *a2[] = { "--source", "testpattern", "--dbus-address",
		"unix:path=/run/vm.bus", NULL };
	cr_assert(parse_args(&o, err, sizeof(err), a2), "%s", err);
	cr_expect_eq(o.source, ZS_SOURCE_TESTPATTERN);
	cr_expect_str_eq(o.dbus_address, "unix:path=/run/vm.bus");
	zs_options_finish(&o);

	/* the old spelling and the new one, naming the same bus */
	const char *a3[] = { "--source", "qemu,bus=unix:path=/run/vm.bus",
		"--dbus-address", "unix:path=/run/vm.bus", NULL };
	cr_assert(parse_args(&o, err, sizeof(err), a3), "%s", err);
	zs_options_finish(&o);

	const char *a4[] = { "--source", "qemu", "--dbus-address",
		"unix:path=/run/vm.bus", "--reconnect", NULL };
	cr_assert(parse_args(&o, err, sizeof(err), a4), "%s", err);
	cr_expect_str_eq(o.qemu_bus_address, "unix:path=/run/vm.bus");
	cr_expect(o.reconnect);
	zs_options_finish(&o);

	const char *bad[] = { "--source", "qemu,bus=unix:path=/a",
		"--dbus-address", "unix:path=/b", NULL };
	cr_expect_not(parse_args(&o, err, sizeof(err), bad));
	cr_expect_not_null(strstr(err, "two buses"), "%s", err);
	zs_options_finish(&o);
}

Test(broker, a_control_api_allows_a_public_address_without_a_ticket_file)
{
	struct zs_options o;
	char err[256] = "";
	const char *a[] = { "--listen", "0.0.0.0:5900", "--control",
		"unix:/run/zs.ctl", NULL };
	cr_assert(parse_args(&o, err, sizeof(err), a), "%s", err);
	cr_expect_str_eq(o.control_path, "/run/zs.ctl");
	zs_options_finish(&o);
	const char *bad[] = { "--control", "/run/zs.ctl", NULL };
	cr_expect_not(parse_args(&o, err, sizeof(err), bad));
	cr_expect_not_null(strstr(err, "unix:PATH"), "%s", err);
	zs_options_finish(&o);
	const char *bad2[] = { "--control-name", ":1.5", NULL };
	cr_expect_not(parse_args(&o, err, sizeof(err), bad2));
	zs_options_finish(&o);
	const char *bad3[] = { "--log-format", "xml", NULL };
	cr_expect_not(parse_args(&o, err, sizeof(err), bad3));
	zs_options_finish(&o);
}

Test(broker, config_file_comes_first_and_the_command_line_wins)
{
	char path[] = "/tmp/zs-test-config.XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	const char conf[] = "[zerospice]\ncodec=vp8\nbitrate=3000\n"
		"tls-only=false\nclock-fix=off\nlisten=127.0.0.1:6000\n";
	cr_assert_eq(write(fd, conf, sizeof(conf) - 1), (ssize_t)sizeof(conf) - 1);
	close(fd);
	char *argv[] = { "zerospice", "--config", path, "--codec", "h264", NULL };
	char err[256] = "";
	char **merged = zs_options_merge_config(5, argv, err, sizeof(err));
	cr_assert_not_null(merged, "%s", err);
	struct zs_options o;
	cr_assert(zs_options_parse(&o, (int)g_strv_length(merged), merged, err,
		sizeof(err)), "%s", err);
	cr_expect_eq(o.codec, ZS_CODEC_H264);   /* command line */
	cr_expect_eq(o.bitrate_kbps, 3000);     /* file */
	cr_expect_not(o.clock_fix);             /* file */
	cr_expect_not(o.tls_only);              /* false: not set */
	cr_expect_eq(o.listen_port, 6000);
	zs_options_finish(&o);
	g_strfreev(merged);

	FILE *f = fopen(path, "w");
	fputs("[zerospice]\nhelp=true\n", f);
	fclose(f);
	cr_expect_null(zs_options_merge_config(3, argv, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "unknown key 'help'"), "%s", err);
	f = fopen(path, "w");
	fputs("[other]\ncodec=vp8\n", f);
	fclose(f);
	cr_expect_null(zs_options_merge_config(3, argv, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "unknown group"), "%s", err);
	f = fopen(path, "w");
	fputs("[zerospice]\ntls-only=perhaps\n", f);
	fclose(f);
	cr_expect_null(zs_options_merge_config(3, argv, err, sizeof(err)));
	unlink(path);
	char *noconf[] = { "zerospice", "--codec", "vp9", NULL };
	merged = zs_options_merge_config(3, noconf, err, sizeof(err));
	cr_assert_not_null(merged);
	cr_expect_eq(g_strv_length(merged), 3);
	g_strfreev(merged);
}
