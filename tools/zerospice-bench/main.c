/* zerospice-bench: what a thin client gets from a SPICE server — delivered
 * fps, one-way and input-to-display latency, bandwidth, CPU — measured
 * through spice-client-glib, the library remote-viewer uses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "bench.h"
#include "zs-config.h"

static const char summary[] =
	"Connects N headless spice-client-glib clients to a SPICE server and\n"
	"measures, per client: delivered fps (distinct frames shown per second),\n"
	"frames dropped, one-way latency (the frame stamp's capture time to the\n"
	"decoded frame in the client surface; server on this host), spice-gtk's\n"
	"scheduling delay (decoded -> shown), display-channel bandwidth; and\n"
	"input-to-display latency (a key or click through the inputs channel\n"
	"until the input stamp changes), server CPU (/proc) and own CPU.\n"
	"\n"
	"Exit status: 0 done, 1 no picture / runtime failure, 2 bad options.";

/* Host and TCP port of a spice:// URI (spice://H:P, spice://H?port=P,
 * spice://[v6]:P); false for unix sockets or no plain port. */
static bool uri_host_port(const char *uri, char *host, size_t host_len,
	int *port)
{
	const char *p;
	if (g_str_has_prefix(uri, "spice://"))
		p = uri + strlen("spice://");
	else
		return false;
	const char *end;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return false;
		snprintf(host, host_len, "%.*s", (int)(end - p - 1), p + 1);
		end++;
	} else {
		end = p + strcspn(p, ":?/");
		snprintf(host, host_len, "%.*s", (int)(end - p), p);
	}
	*port = 0;
	if (*end == ':')
		*port = atoi(end + 1);
	const char *q = strstr(end, "port=");
	if (q && (q[-1] == '?' || q[-1] == '&'))
		*port = atoi(q + strlen("port="));
	return *port > 0 && *port < 65536;
}

static bool read_ticket(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		g_printerr("zerospice-bench: %s: %s\n", path, strerror(errno));
		return false;
	}
	bool ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	if (!ok) {
		g_printerr("zerospice-bench: %s: empty ticket file\n", path);
		return false;
	}
	out[strcspn(out, "\r\n")] = '\0';
	return true;
}

/* The exit status of the client process; a client process that died of a
 * signal is a failed run (1), said once with the signal. */
static int wait_clients(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR) {
			g_printerr("zerospice-bench: waitpid: %s\n",
				g_strerror(errno));
			return 1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	g_printerr("zerospice-bench: the clients died of signal %d (%s): "
		"spice-gtk aborts like this on a corrupted stream; the run "
		"failed, no results\n", sig, sig ? strsignal(sig) : "?");
	return 1;
}

int main(int argc, char **argv)
{
	static struct zb_bench bench;
	struct zb_bench *b = &bench;
	struct zb_options *o = &b->opt;
	o->clients = 1;
	o->duration_s = 20;
	o->warmup_s = 2;
	o->probe_gap_ms = 100;
	char *probe = NULL, *av_box = NULL;
	o->av_delay_ms = 20;
	o->av_box_x = 136;
	o->av_box_y = 300;
	gboolean version = FALSE;
	GOptionEntry entries[] = {
		{ "connect", 'c', 0, G_OPTION_ARG_STRING, &o->uri,
		  "server URI, spice://HOST:PORT", "URI" },
		{ "ticket-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ticket_file,
		  "file whose first line is the SPICE password", "F" },
		{ "clients", 'n', 0, G_OPTION_ARG_INT, &o->clients,
		  "concurrent clients (default 1); the server must allow them",
		  "N" },
		{ "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &o->duration_s,
		  "measured seconds (default 20)", "S" },
		{ "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &o->warmup_s,
		  "seconds after the last client shows a frame before measuring "
		  "(default 2)", "S" },
		{ "json", 'j', 0, G_OPTION_ARG_FILENAME, &o->json_path,
		  "write the results as JSON", "OUT.json" },
		{ "plot", 'p', 0, G_OPTION_ARG_FILENAME, &o->plot_path,
		  "write a plot (latency CDF and histogram, fps and bandwidth "
		  "over time); .png needs rsvg-convert or ImageMagick",
		  "OUT.svg|OUT.png" },
		{ "label", 'l', 0, G_OPTION_ARG_STRING, &o->label,
		  "name of this run in the JSON and the plot", "TEXT" },
		{ "server-pid", 0, 0, G_OPTION_ARG_INT, &o->server_pid,
		  "server process for CPU and memory (default: the process "
		  "listening on the URI's port)", "PID" },
		{ "also-pid", 0, 0, G_OPTION_ARG_INT, &o->also_pid,
		  "another process to report CPU and memory for (e.g. the QEMU "
		  "behind zerospice)", "PID" },
		{ "probe", 0, 0, G_OPTION_ARG_STRING, &probe,
		  "input-to-display probe: key (default), click, both or none",
		  "KIND" },
		{ "probe-gap-ms", 0, 0, G_OPTION_ARG_DOUBLE, &o->probe_gap_ms,
		  "mean pause between probes (default 100)", "MS" },
		{ "audio", 0, 0, G_OPTION_ARG_NONE, &o->audio,
		  "enable the playback channel (changes spice-gtk's clock)", NULL },
		{ "no-margins", 0, 0, G_OPTION_ARG_NONE, &o->no_margins,
		  "do not turn on spice-gtk debug logging to read its video margins",
		  NULL },
		{ "psnr", 0, 0, G_OPTION_ARG_NONE, &o->psnr,
		  "zerospice's test pattern only: PSNR of client 0's picture "
		  "against the source picture over time, and the frames and "
		  "bytes received after the picture went still", NULL },
		{ "trace-stages", 0, 0, G_OPTION_ARG_FILENAME, &o->trace_path,
		  "zerospice's --trace-stages file (same host): join it with "
		  "what client 0 saw into a latency budget per stage", "FILE" },
		{ "av-sync", 0, 0, G_OPTION_ARG_NONE, &o->av_sync,
		  "audio/video offset against the benchmark guest's zsg.avsync: "
		  "when client 0 shows the box turn white against when the "
		  "tone that started in the same guest frame is heard", NULL },
		{ "av-sink-delay-ms", 0, 0, G_OPTION_ARG_DOUBLE, &o->av_delay_ms,
		  "with --av-sync: the audio output latency the bench reports to "
		  "spice-gtk as its sink's (default 20)", "MS" },
		{ "av-box", 0, 0, G_OPTION_ARG_STRING, &av_box,
		  "with --av-sync: the pixel watched (default 136,300, the "
		  "benchmark guest's box)", "X,Y" },
		{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet,
		  "no progress line", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version",
		  NULL },
		{ NULL },
	};
	GOptionContext *ctx = g_option_context_new("- SPICE thin-client benchmark");
	g_option_context_set_summary(ctx, summary);
	g_option_context_add_main_entries(ctx, entries, NULL);
	GError *err = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		g_printerr("zerospice-bench: %s\n", err->message);
		g_error_free(err);
		g_option_context_free(ctx);
		return 2;
	}
	g_option_context_free(ctx);
	if (version) {
		printf("zerospice-bench %s\n", ZS_VERSION);
		return 0;
	}
	const char *bad = NULL;
	if (!o->uri)
		bad = "--connect spice://HOST:PORT is required";
	else if (o->clients < 1 || o->clients > 64)
		bad = "--clients must be 1..64";
	else if (!(o->duration_s > 0 && o->duration_s <= 86400))
		bad = "--duration must be > 0";
	else if (!(o->warmup_s >= 0 && o->warmup_s <= 3600))
		bad = "--warmup must be >= 0";
	else if (!(o->probe_gap_ms >= 0 && o->probe_gap_ms <= 60000))
		bad = "--probe-gap-ms must be 0..60000";
	else if (!(o->av_delay_ms >= 0 && o->av_delay_ms <= 2000))
		bad = "--av-sink-delay-ms must be 0..2000";
	else if (av_box && (sscanf(av_box, "%d,%d", &o->av_box_x,
				    &o->av_box_y) != 2 || o->av_box_x < 0 ||
			       o->av_box_y < 0))
		bad = "--av-box must be X,Y";
	else if (argc > 1)
		bad = "unexpected arguments";
	if (!bad && probe) {
		if (!strcmp(probe, "key"))
			o->probe = ZB_PROBE_KEY;
		else if (!strcmp(probe, "click"))
			o->probe = ZB_PROBE_CLICK;
		else if (!strcmp(probe, "both"))
			o->probe = ZB_PROBE_BOTH;
		else if (!strcmp(probe, "none"))
			o->probe = ZB_PROBE_NONE;
		else
			bad = "--probe must be key, click, both or none";
	}
	if (!bad && o->plot_path && !g_str_has_suffix(o->plot_path, ".svg") &&
	    !g_str_has_suffix(o->plot_path, ".png"))
		bad = "--plot must end in .svg or .png";
	if (bad) {
		g_printerr("zerospice-bench: %s (see --help)\n", bad);
		return 2;
	}
	g_free(probe);
	g_free(av_box);
	if (o->ticket_file && !read_ticket(o->ticket_file, b->password,
				      sizeof(b->password)))
		return 1;

	if (uri_host_port(o->uri, b->host, sizeof(b->host), &b->port) &&
	    !o->server_pid)
		b->server_pid = zb_proc_find_listener((uint16_t)b->port);
	if (o->server_pid)
		b->server_pid = o->server_pid;
	if (b->server_pid && !zb_proc_name(b->server_pid, b->server_name,
				     sizeof(b->server_name)))
		b->server_pid = 0;
	if (o->also_pid && !zb_proc_name(o->also_pid, b->also_name,
				     sizeof(b->also_name))) {
		g_printerr("zerospice-bench: --also-pid %d: no such process\n",
			o->also_pid);
		return 2;
	}
	if (!o->quiet)
		g_printerr("zerospice-bench: %s, %d client(s), %.0f s after %.0f s "
			   "warm-up; server process: %s (%d)\n", o->uri, o->clients,
			o->duration_s, o->warmup_s,
			b->server_pid ? b->server_name : "not found", (int)b->server_pid);

	/* spice-gtk aborts the whole process on some corrupted streams
	 * (SIGTRAP from a g_error, e.g. an allocation of a nonsense message
	 * size): the clients run in a child, so such a run is reported as a
	 * failure instead of killing the harness. Nothing has started a
	 * thread yet. */
	fflush(stdout);
	fflush(stderr);
	pid_t child = fork();
	if (child < 0) {
		g_printerr("zerospice-bench: fork: %s\n", g_strerror(errno));
		return 1;
	}
	if (child > 0)
		return wait_clients(child);

	int rc = zb_run(b);
	if (rc == 0) {
		char msg[512];
		if (!zb_budget_join(b, msg, sizeof(msg))) {
			g_printerr("zerospice-bench: %s\n", msg);
			rc = 1;
		}
		zb_print_summary(b, stdout);
		if (o->json_path && !zb_write_json(b, o->json_path, msg, sizeof(msg))) {
			g_printerr("zerospice-bench: %s\n", msg);
			rc = 1;
		}
		if (o->plot_path && !zb_write_plot(b, o->plot_path, msg, sizeof(msg))) {
			g_printerr("zerospice-bench: %s\n", msg);
			rc = 1;
		}
	}
	fflush(stdout);
	_exit(rc);
}
