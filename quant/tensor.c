/* quant/tensor.c — whole-tensor quantization: fixed row blocks on a thread pool. Each block
 * writes its own rows of the output and its own metrics slot; slots are summed in block order,
 * so the bytes and the metrics are the same for any thread count. */
#include "quant.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_ctx {
    void (*fn)(void *, int64_t, int);
    void *ctx;
    int64_t nblocks;
    atomic_llong next;
} pool_ctx;

typedef struct worker {
    pool_ctx *p;
    int tid;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (;;) {
        int64_t b = atomic_fetch_add(&w->p->next, 1);
        if (b >= w->p->nblocks)
            break;
        w->p->fn(w->p->ctx, b, w->tid);
    }
    return NULL;
}

void wg_parallel_for(int threads, int64_t nblocks, void (*fn)(void *, int64_t, int), void *ctx)
{
    pool_ctx p = {.fn = fn, .ctx = ctx, .nblocks = nblocks};
    atomic_init(&p.next, 0);
    if (threads > 64)
        threads = 64;
    if (threads > nblocks)
        threads = (int)nblocks;
    pthread_t th[64];
    worker ws[64];
    int started = 0;
    for (int i = 1; i < threads; i++) {
        ws[i] = (worker){&p, i};
        if (pthread_create(&th[i], NULL, work, &ws[i]))
            break;
        started = i;
    }
    ws[0] = (worker){&p, 0};
    work(&ws[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(th[i], NULL);
}

#define BLOCK_ROWS 16
#define WAVE_BYTES (16u << 20)

typedef struct qjob {
    const wg_tensor *t;
    const wg_plan_entry *e;
    const wg_qopts *o;
    wg_qlayout l;
    uint8_t *out;
    wg_qmetrics *bm;   /* per block */
    float **scratch;   /* per thread: BLOCK_ROWS * K floats */
    int64_t b0;        /* first block of the current wave */
    atomic_int bad;    /* bit 1: non-finite values, bit 2: other failure; blocks after the
                          first failure are skipped without touching it */
} qjob;

static void qblock(void *ctx, int64_t wb, int tid)
{
    qjob *j = ctx;
    int64_t b = j->b0 + wb, r0 = b * BLOCK_ROWS, n = j->e->rows - r0 < BLOCK_ROWS ? j->e->rows - r0 : BLOCK_ROWS;
    float *x = j->scratch[tid];
    if (atomic_load(&j->bad))
        return;
    if (!wg_read_rows(j->t, r0, n, x)) {
        atomic_fetch_or(&j->bad, 2);
        return;
    }
    wg_qmetrics *m = j->bm ? &j->bm[b] : NULL;
    if (j->e->fmt.kind == WG_Q_INT) {
        int rc = wg_quantize_rows(&j->e->fmt, &j->l, x, r0, n, j->o, j->out, m);
        if (rc)
            atomic_fetch_or(&j->bad, rc > 0 ? 1 : 2);
    } else {
        size_t esz = j->e->fmt.kind == WG_Q_F32 ? 4 : 2;
        uint64_t off = (uint64_t)r0 * (uint64_t)j->e->K;
        if (wg_cast_rows(&j->e->fmt, x, (uint64_t)n * (uint64_t)j->e->K, j->out + off * esz, m))
            atomic_fetch_or(&j->bad, 2);
    }
}

int wg_quantize_tensor(const wg_tensor *t, const wg_plan_entry *e, const wg_qopts *o,
                       uint8_t *out, wg_qmetrics *m, wg_error *err)
{
    if (m)
        memset(m, 0, sizeof *m);
    if (e->fmt.kind == WG_Q_RAW || e->rows == 0 || e->K == 0) {
        if (e->fmt.kind == WG_Q_RAW && t->nbytes)
            memcpy(out, t->data, t->nbytes);
        wg_progress_done(1, t->nbytes);
        return 0;
    }
    qjob j = {.t = t, .e = e, .o = o, .out = out};
    atomic_init(&j.bad, 0);
    if (e->fmt.kind == WG_Q_INT && !wg_qformat_layout(&e->fmt, e->rows, e->K, &j.l))
        return wg_fail(err, WG_EINPUT, t->name, "quantized size overflows");
    if (e->fmt.kind == WG_Q_INT)
        memset(out, 0, e->bytes);
    int threads = o && o->threads > 1 ? o->threads : 1;
    int64_t nblocks = (e->rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    j.bm = m ? calloc((size_t)nblocks, sizeof *j.bm) : NULL;
    j.scratch = calloc((size_t)threads, sizeof *j.scratch);
    int rc = 0;
    if ((m && !j.bm) || !j.scratch) {
        rc = wg_fail(err, WG_EIO, t->name, "out of memory");
        goto out;
    }
    for (int i = 0; i < threads; i++)
        if (!(j.scratch[i] = malloc(sizeof(float) * BLOCK_ROWS * (size_t)e->K))) {
            rc = wg_fail(err, WG_EIO, t->name, "out of memory");
            goto out;
        }
    /* in waves of about WAVE_BYTES of input: a row-major mapped tensor's pages are dropped
     * after each wave, so resident input stays near one wave, not one tensor */
    const wg_tensor *tt = t;
    bool drop = o && o->model && t->source >= 0 && !(t->in_dim_first && t->ndim == 2);
    uint64_t block_bytes = t->nbytes / (uint64_t)e->rows * BLOCK_ROWS;
    int64_t wave = drop ? (int64_t)(WAVE_BYTES / (block_bytes ? block_bytes : 1)) : nblocks;
    uint64_t reported = 0; /* input bytes reported to the progress sink */
    wave = wave < 2 * threads ? 2 * threads : wave;
    for (j.b0 = 0; j.b0 < nblocks && !atomic_load(&j.bad); j.b0 += wave) {
        int64_t nb = nblocks - j.b0 < wave ? nblocks - j.b0 : wave;
        wg_parallel_for(threads, nb, qblock, &j);
        if (drop)
            wg_tensor_release_bytes(o->model, tt, (uint64_t)j.b0 * block_bytes,
                                    (uint64_t)nb * block_bytes);
        uint64_t upto = (uint64_t)((double)t->nbytes * (double)(j.b0 + nb) / (double)nblocks);
        wg_progress_done(j.b0 + nb == nblocks, upto - reported);
        reported = upto;
    }
    if (atomic_load(&j.bad) & 1) /* the input's fault wins over ours: same answer any thread count */
        rc = wg_fail(err, WG_EINPUT, NULL, "tensor '%s' holds NaN or Inf values: integer "
                     "formats cannot represent them (keep it with --set '%s=fp16')", t->name,
                     t->name);
    else if (atomic_load(&j.bad))
        rc = wg_fail(err, WG_EIO, NULL, "tensor '%s': cannot convert %s data", t->name,
                     wg_dtype_name(t->dtype));
    else if (m)
        for (int64_t b = 0; b < nblocks; b++)
            wg_qmetrics_add(m, &j.bm[b]);
out:
    for (int i = 0; j.scratch && i < threads; i++)
        free(j.scratch[i]);
    free(j.scratch);
    free(j.bm);
    return rc;
}

int wg_dequantize_tensor(const wg_plan_entry *e, const uint8_t *in, float *out)
{
    uint64_t n = (uint64_t)e->rows * (uint64_t)e->K;
    switch (e->fmt.kind) {
    case WG_Q_INT: {
        wg_qlayout l;
        if (!wg_qformat_layout(&e->fmt, e->rows, e->K, &l))
            return -1;
        wg_dequantize_rows(&e->fmt, &l, in, 0, e->rows, false, out);
        return 0;
    }
    case WG_Q_F16: case WG_Q_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, in + 2 * i, 2);
            out[i] = e->fmt.kind == WG_Q_F16 ? wg_f16_to_f32(h) : wg_bf16_to_f32(h);
        }
        return 0;
    case WG_Q_F32:
        memcpy(out, in, 4 * n);
        return 0;
    default:
        return -1;
    }
}

/* ------------------------------------------------------------------ streaming */

/* Two output buffers: the sink thread consumes one while the workers fill the other. A tensor
 * whose output is larger than STREAM_SOLO waits for the sink to finish and takes the memory of
 * both, so that peak memory stays near the largest tensor, not twice it. */
#define STREAM_SOLO (64u << 20)

typedef struct stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wg_qsink sink;
    void *ctx;
    size_t next;              /* tensor handed to the sink thread, or SIZE_MAX */
    uint8_t *data;
    uint64_t bytes;
    wg_qmetrics qm;
    bool busy, quit;
    int rc;
    wg_error err;
} stream;

static void *sink_main(void *arg)
{
    stream *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->busy && !s->quit)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->busy)
            break;
        pthread_mutex_unlock(&s->mu);
        int rc = s->rc ? s->rc : s->sink(s->ctx, s->next, s->data, s->bytes, &s->qm, &s->err);
        pthread_mutex_lock(&s->mu);
        s->rc = rc;
        s->busy = false;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* wait until the sink thread is idle; its error, if any */
static int stream_drain(stream *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->busy)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = s->rc;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static bool grow(uint8_t **p, uint64_t *cap, uint64_t want)
{
    if (want <= *cap)
        return true;
    free(*p);
    *cap = 0;
    if (!(*p = malloc(want ? want : 1)))
        return false;
    *cap = want;
    return true;
}

int wg_quantize_stream(const wg_model *m, const wg_plan_entry *plan, const wg_qopts *o,
                       wg_qsink sink, void *ctx, wg_error *err)
{
    stream s = {.sink = sink, .ctx = ctx};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, sink_main, &s)) {
        pthread_mutex_destroy(&s.mu);
        pthread_cond_destroy(&s.cv);
        return wg_fail(err, WG_EIO, NULL, "cannot start a thread");
    }
    wg_qopts qo = o ? *o : (wg_qopts){0};
    qo.model = m;
    uint8_t *buf[2] = {NULL, NULL};
    uint64_t cap[2] = {0, 0};
    int rc = 0;
    for (size_t i = 0; i < m->n_tensors && !rc; i++) {
        int k = (int)(i & 1);
        wg_qmetrics qm;
        if (plan[i].bytes > STREAM_SOLO && (rc = stream_drain(&s)) == 0) {
            free(buf[!k]); /* the sink is done with it: give its memory back */
            buf[!k] = NULL;
            cap[!k] = 0;
        }
        if (rc)
            break;
        if (!grow(&buf[k], &cap[k], plan[i].bytes)) {
            rc = wg_fail(err, WG_EIO, NULL, "out of memory");
            break;
        }
        if ((rc = wg_quantize_tensor(&m->tensors[i], &plan[i], &qo, buf[k], &qm, err)))
            break;
        wg_tensor_release(m, &m->tensors[i]);
        if ((rc = stream_drain(&s)))
            break;
        pthread_mutex_lock(&s.mu);
        s.next = i;
        s.data = buf[k];
        s.bytes = plan[i].bytes;
        s.qm = qm;
        s.busy = true;
        pthread_cond_broadcast(&s.cv);
        pthread_mutex_unlock(&s.mu);
    }
    stream_drain(&s);
    pthread_mutex_lock(&s.mu);
    s.quit = true;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(th, NULL);
    if (s.rc && (!rc || rc == s.rc) && !(err && err->code)) { /* the sink's error */
        rc = s.rc;
        if (err)
            *err = s.err;
    }
    free(buf[0]);
    free(buf[1]);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    return rc;
}
