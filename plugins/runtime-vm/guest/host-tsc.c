/*
 * The host's TSC frequency in kHz, measured (built with the guest assets as skiff-vm-tsc).
 *
 * Under TCG a guest's TSC is the host's own counter (qemu reads it for the guest's rdtsc). The guest
 * kernel would calibrate it against the emulated PIT in a few milliseconds of early boot; on a busy
 * host that goes wrong (the vCPU thread is descheduled mid-way), and the guest's clock then runs up
 * to ten times too fast for the VM's whole life: `sleep 600` ends in a minute, `nc -w 3` gives up at
 * once. The host measures the rate against CLOCK_MONOTONIC_RAW instead and the guest is told it
 * (`tsc_early_khz=`). Prints nothing and exits 1 where the TSC is not invariant, or not x86.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A TSC reading and when it was taken: between two clock reads at most 5 µs apart. */
static int sample(uint64_t *tsc, int64_t *ns) {
  for (int i = 0; i < 1000; i++) {
    int64_t before = now_ns();
    uint64_t c = rdtsc();
    int64_t after = now_ns();
    if (after - before < 5000) {
      *tsc = c;
      *ns = before + (after - before) / 2;
      return 0;
    }
  }
  return -1;
}

int main(void) {
  unsigned a, b, c, d;
  /* CPUID 0x80000007 EDX bit 8: the TSC ticks at one rate in every P- and C-state. */
  if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8))) return 1;
  double khz[3];
  for (int r = 0; r < 3; r++) {
    uint64_t c0, c1;
    int64_t t0, t1;
    struct timespec span = {0, 50 * 1000 * 1000};
    if (sample(&c0, &t0) != 0) return 1;
    nanosleep(&span, NULL);
    if (sample(&c1, &t1) != 0 || t1 <= t0) return 1;
    khz[r] = (double)(c1 - c0) * 1e6 / (double)(t1 - t0);
  }
  /* The median of three: one run stretched by a preemption between its reads does not count. */
  double lo = khz[0] < khz[1] ? khz[0] : khz[1], hi = khz[0] < khz[1] ? khz[1] : khz[0];
  double median = khz[2] < lo ? lo : khz[2] > hi ? hi : khz[2];
  printf("%.0f\n", median);
  return 0;
}
#else
int main(void) { return 1; }
#endif
