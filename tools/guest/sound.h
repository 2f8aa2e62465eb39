/* Sound for the benchmark guest (sound.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* PIT channel 2 as a square wave of hz on the PC speaker, from now on. */
void zsg_speaker_tone(uint32_t hz);
/* The speaker on (the tone set last) or off; zsg_speaker_tone first. */
void zsg_speaker_gate(bool on);
/* Never returns: records 1 s windows from the first ALSA capture device
 * (8 kHz stereo S16) and prints each one's level, dominant frequency and pitch;
 * exits on a device it cannot use. Run it in a child process. */
void zsg_mic_loop(void) __attribute__((noreturn));
