/* convert/progress.c — the progress bar (see progress.h): counters updated by any thread,
 * drawn by whichever thread reports when 100 ms have passed and no other thread is drawing. */
#include "progress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static struct {
    bool quiet, on;
    size_t tensors;
    uint64_t bytes;
    double t0;
    atomic_size_t tensors_done;
    atomic_uint_fast64_t bytes_done;
    _Atomic(const char *) stage;
    _Atomic double last;         /* time of the last draw */
    pthread_mutex_t draw;
    int width;                   /* characters drawn last time */
} bar = {.draw = PTHREAD_MUTEX_INITIALIZER};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *clock_text(double s, char *buf, size_t n)
{
    long v = s < 0 ? 0 : (long)(s + 0.5);
    if (v >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
    else
        snprintf(buf, n, "%ld:%02ld", v / 60, v % 60);
    return buf;
}

static void draw(bool final)
{
    size_t td = atomic_load(&bar.tensors_done);
    uint64_t bd = atomic_load(&bar.bytes_done);
    double t = now() - bar.t0, frac = bar.bytes ? (double)bd / (double)bar.bytes
                                                : bar.tensors ? (double)td / (double)bar.tensors : 1;
    frac = frac > 1 ? 1 : frac;
    char el[16], eta[16], text[160], line[512];
    clock_text(t, el, sizeof el);
    if (frac > 0.01 && frac < 1)
        clock_text(t * (1 - frac) / frac, eta, sizeof eta);
    else
        snprintf(eta, sizeof eta, "%s", frac >= 1 ? "0:00" : "-");
    double unit = bar.bytes >= 1e9 ? 1e9 : 1e6;
    snprintf(text, sizeof text, " %zu/%zu tensors  %.2f/%.2f %s  %s ETA %s",
             td < bar.tensors ? td : bar.tensors, bar.tensors, (double)bd / unit,
             (double)bar.bytes / unit, unit == 1e9 ? "GB" : "MB", el, eta);
    struct winsize ws;
    int cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
    const char *stage = atomic_load(&bar.stage);
    int fixed = 9 + 3 + (int)strlen(text), w = cols - 1 - fixed;
    w = w > 40 ? 40 : w < 10 ? 10 : w;
    int fill = (int)(frac * w + 0.5), n = snprintf(line, sizeof line, "\r%-9.9s[", stage ? stage : "");
    for (int i = 0; i < w; i++)
        line[n++] = i < fill ? '#' : '-';
    n += snprintf(line + n, sizeof line - (size_t)n, "]%s", text);
    int shown = n - 1;
    while (n < (int)sizeof line - 2 && n - 1 < bar.width) /* blank what a longer line left */
        line[n++] = ' ';
    bar.width = shown;
    if (final)
        line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}

static void maybe_draw(void)
{
    double t = now();
    if (t - atomic_load(&bar.last) < 0.1 || pthread_mutex_trylock(&bar.draw))
        return;
    atomic_store(&bar.last, t);
    draw(false);
    pthread_mutex_unlock(&bar.draw);
}

static void on_stage(const char *stage)
{
    const char *old = atomic_exchange(&bar.stage, stage);
    if (!old || strcmp(old, stage))
        maybe_draw();
}

static void on_done(size_t tensors, uint64_t bytes)
{
    atomic_fetch_add(&bar.tensors_done, tensors);
    atomic_fetch_add(&bar.bytes_done, bytes);
    maybe_draw();
}

static const wg_progress_sink sink = {on_stage, on_done};

void wg_bar_quiet(bool quiet) { bar.quiet = quiet; }

void wg_bar_begin(const wg_model *m)
{
    if (bar.on || bar.quiet || !isatty(2))
        return;
    bar.tensors = m->n_tensors;
    for (size_t i = 0; i < m->n_tensors; i++)
        bar.bytes += m->tensors[i].nbytes;
    bar.t0 = now();
    atomic_store(&bar.last, 0.0);
    bar.on = true;
    wg_progress_install(&sink);
}

void wg_bar_end(void)
{
    if (!bar.on)
        return;
    wg_progress_install(NULL);
    pthread_mutex_lock(&bar.draw);
    draw(true);
    pthread_mutex_unlock(&bar.draw);
    bar.on = false;
}
