/* Sound for the benchmark guest's /init (scene.c): a tone on the PC
 * speaker, and a microphone check recording from ALSA with raw ioctls (no
 * alsa-lib in the initramfs). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <sound/asound.h>

#include "sound.h"

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("zs-guest: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* PIT channel 2 as a square wave of hz, gated to the PC speaker (port
 * 0x61 bits 0 and 1). */
void zsg_speaker_tone(uint32_t hz)
{
	if (ioperm(0x40, 4, 1) || ioperm(0x61, 1, 1)) {
		say("ioperm: %s: no tone", strerror(errno));
		return;
	}
	uint32_t div = 1193182u / hz;
	outb(0xb6, 0x43); /* channel 2, lobyte/hibyte, mode 3 (square) */
	outb((uint8_t)div, 0x42);
	outb((uint8_t)(div >> 8), 0x42);
	outb((uint8_t)(inb(0x61) | 3), 0x61);
	say("PC speaker: %u Hz", 1193182u / div);
}

void zsg_speaker_gate(bool on)
{
	uint8_t v = inb(0x61);
	outb(on ? (uint8_t)(v | 3) : (uint8_t)(v & ~3u), 0x61);
}

static struct snd_mask *hw_mask(struct snd_pcm_hw_params *p, int n)
{
	return &p->masks[n - SNDRV_PCM_HW_PARAM_FIRST_MASK];
}

static struct snd_interval *hw_interval(struct snd_pcm_hw_params *p, int n)
{
	return &p->intervals[n - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}

static void hw_set_mask(struct snd_pcm_hw_params *p, int n, unsigned bit)
{
	struct snd_mask *m = hw_mask(p, n);
	memset(m, 0, sizeof(*m));
	m->bits[bit / 32] = 1u << (bit % 32);
}

static void hw_set_int(struct snd_pcm_hw_params *p, int n, unsigned v)
{
	struct snd_interval *i = hw_interval(p, n);
	memset(i, 0, sizeof(*i));
	i->min = i->max = v;
	i->integer = 1;
}

/* 8 kHz: an emulated AC97 under TCG keeps up with it better than with
 * 48 kHz (fewer DMA periods to serve), and 440 Hz fits well */
#define MIC_RATE 8000

static double tone_power(const int16_t *x, size_t n, double hz)
{
	double w = 2 * M_PI * hz / MIC_RATE, c = 2 * cos(w), s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = x[2 * i] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - c * s1 * s2;
}

/* Runs in a child: records 1 s at a time and says what it heard. */
void zsg_mic_loop(void)
{
	int fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = open("/dev/snd/pcmC0D0c", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			usleep(100000);
	}
	if (fd < 0) {
		say("mic: no /dev/snd/pcmC0D0c: %s", strerror(errno));
		_exit(1);
	}
	struct snd_pcm_hw_params p;
	memset(&p, 0, sizeof(p));
	for (int n = SNDRV_PCM_HW_PARAM_FIRST_MASK; n <= SNDRV_PCM_HW_PARAM_LAST_MASK; n++)
		memset(hw_mask(&p, n), 0xff, sizeof(struct snd_mask));
	for (int n = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; n <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; n++) {
		hw_interval(&p, n)->min = 0;
		hw_interval(&p, n)->max = ~0u;
	}
	p.rmask = ~0u;
	hw_set_mask(&p, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
	hw_set_mask(&p, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
	hw_set_mask(&p, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
	hw_set_int(&p, SNDRV_PCM_HW_PARAM_CHANNELS, 2);
	hw_set_int(&p, SNDRV_PCM_HW_PARAM_RATE, MIC_RATE);
	if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &p)) {
		say("mic: HW_PARAMS: %s", strerror(errno));
		_exit(1);
	}
	if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE)) {
		say("mic: PREPARE: %s", strerror(errno));
		_exit(1);
	}
	say("mic: recording %d Hz stereo", MIC_RATE);
	enum { N = MIC_RATE, SUB = MIC_RATE / 10 };
	static int16_t buf[2 * N];
	for (;;) {
		size_t got = 0;
		while (got < N) {
			struct snd_xferi x = { .buf = buf + 2 * got,
				.frames = (snd_pcm_uframes_t)(N - got) };
			if (ioctl(fd, SNDRV_PCM_IOCTL_READI_FRAMES, &x)) {
				/* overrun, or no data for long (EIO): again */
				if (errno != EPIPE && errno != EIO) {
					say("mic: READI: %s", strerror(errno));
					_exit(1);
				}
				if (errno == EIO)
					say("mic: no data (EIO): starting again");
				ioctl(fd, SNDRV_PCM_IOCTL_DROP);
				ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
				continue;
			}
			got += (size_t)x.result;
		}
		double rms = 0, best = -1, best_hz = 0;
		for (size_t i = 0; i < N; i++)
			rms += (double)buf[2 * i] * buf[2 * i];
		for (double hz = 100; hz <= 2000; hz += 5) {
			double pw = tone_power(buf, N, hz);
			if (pw > best) {
				best = pw;
				best_hz = hz;
			}
		}
		/* the pitch of the sound itself: the median of the dominant
		 * frequencies of the 100 ms pieces that hold sound (a capture
		 * that drops or repeats blocks under load breaks the phase
		 * over 1 s, not within most pieces) */
		double piece_hz[N / SUB];
		int n_pieces = 0;
		for (size_t p0 = 0; p0 + SUB <= N; p0 += SUB) {
			double e = 0;
			for (size_t i = p0; i < p0 + SUB; i++)
				e += (double)buf[2 * i] * buf[2 * i];
			if (sqrt(e / SUB) < 300)
				continue;
			double pb = -1, ph = 0;
			for (double hz = 100; hz <= 2000; hz += 10) {
				double pw = tone_power(buf + 2 * p0, SUB, hz);
				if (pw > pb) {
					pb = pw;
					ph = hz;
				}
			}
			double coarse = ph;
			for (double hz = coarse - 9; hz <= coarse + 9; hz += 1) {
				double pw = tone_power(buf + 2 * p0, SUB, hz);
				if (pw > pb) {
					pb = pw;
					ph = hz;
				}
			}
			piece_hz[n_pieces++] = ph;
		}
		for (int i = 1; i < n_pieces; i++)
			for (int j = i; j > 0 && piece_hz[j - 1] > piece_hz[j]; j--) {
				double t = piece_hz[j];
				piece_hz[j] = piece_hz[j - 1];
				piece_hz[j - 1] = t;
			}
		say("mic: %d frames, rms %.0f, dominant %.0f Hz, pitch %.0f Hz "
			"in %d of %d pieces", N, sqrt(rms / N), best_hz,
			n_pieces ? piece_hz[n_pieces / 2] : 0.0, n_pieces,
			N / SUB);
	}
}

