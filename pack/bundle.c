/* pack/bundle.c — write a bundle: quantize tensor by tensor into layer-bounded shards, hash and
 * name them, transport copies, manifest, CDN headers, then swap the directory into place. */
#define _GNU_SOURCE
#include "pack_internal.h"
#include "../program/program.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

void wg_rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_file(const char *dir, const char *name, const void *data, size_t n, wg_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return wg_fail(err, WG_EIO, path, "cannot create: %s", strerror(errno));
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return wg_fail(err, WG_EIO, path, "write failed: %s", strerror(e));
        }
        p += w;
        n -= (size_t)w;
    }
    if (close(fd)) /* durability: one syncfs() over the whole staged bundle before the swap */
        return wg_fail(err, WG_EIO, path, "cannot finish: %s", strerror(errno));
    return 0;
}

/* "sha256-<base64>": the Subresource Integrity string browsers check with fetch(..., {integrity}) */
void wg_sri_sha256(const void *data, size_t n, char out[64])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    unsigned char b64[64];
    EVP_EncodeBlock(b64, md, (int)len);
    snprintf(out, 64, "sha256-%s", b64);
}

static json_t *metrics_json(const wg_qmetrics *m)
{
    double sq = wg_qm_sqnr_db(m);
    return json_pack("{s:o, s:f, s:f, s:f, s:f}", "sqnr_db", isfinite(sq) ? json_real(sq) : json_null(),
                     "rel_rmse", wg_qm_rel_rmse(m), "cosine", wg_qm_cosine(m), "max_abs_err",
                     m->max_abs, "clipped_frac", wg_qm_clipped_frac(m));
}

static const char *basename_of(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    const char *s = p + n;
    while (s > p && s[-1] != '/')
        s--;
    return s;
}

/* xxh3 of a whole source file in 64 MiB steps, dropping each step's pages afterwards, so that
 * hashing a model does not make it resident */
static uint64_t source_hash(const wg_source *src)
{
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    const uint64_t step = 64u << 20;
    long page = sysconf(_SC_PAGESIZE);
    for (uint64_t off = 0; off < src->size; off += step) {
        uint64_t n = src->size - off < step ? src->size - off : step;
        XXH3_64bits_update(st, src->map + off, (size_t)n);
        uint64_t a = off / (uint64_t)page * (uint64_t)page;
        madvise((void *)(src->map + a), (size_t)(off + n - a), MADV_DONTNEED);
    }
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

/* ------------------------------------------------------------------ manifest pieces */

static json_t *depends_on(const char *c, const wg_layout_t *L)
{
    json_t *d = json_array();
    if (strcmp(c, "decoder") && strcmp(c, "head"))
        return d; /* only these depend on others: no quadratic walk over many components */
    for (size_t i = 0; i < L->ncomps; i++) {
        const char *o = L->comps[i];
        bool dep = false;
        if (!strcmp(c, "decoder"))
            dep = !strcmp(o, "embeddings") || strstr(o, "encoder");
        else if (!strcmp(c, "head"))
            dep = !strcmp(o, "decoder") || (!strstr(c, "encoder") && strstr(o, "encoder") &&
                                             !json_array_size(d));
        if (dep && strcmp(o, c))
            json_array_append_new(d, json_string(o));
    }
    return d;
}

static int comp_priority(const char *c)
{
    if (strstr(c, "encoder"))
        return 0;
    if (!strcmp(c, "embeddings"))
        return 1;
    if (!strcmp(c, "head"))
        return 2; /* small, needed by every step: early */
    if (!strcmp(c, "decoder"))
        return 3;
    return 4;
}

static json_t *progressive_plan(const wg_layout_t *L)
{
    json_t *groups = json_array();
    for (int pri = 0; pri <= 4; pri++)
        for (size_t c = 0; c < L->ncomps; c++) {
            if (comp_priority(L->comps[c]) != pri)
                continue;
            json_t *g = NULL;
            int glayer = -3;
            for (size_t s = L->shard0[c]; s < L->shard0[c + 1]; s++) {
                const wg_shard_t *sh = &L->shards[s];
                if (!g || sh->layer != glayer) {
                    char name[96];
                    if (sh->layer < 0)
                        snprintf(name, sizeof name, "%s", sh->component);
                    else
                        snprintf(name, sizeof name, "%s.layer%d", sh->component, sh->layer);
                    g = json_pack("{s:i, s:s, s:s, s:[], s:I}", "priority",
                                  (int)json_array_size(groups), "name", name, "component",
                                  sh->component, "shards", "bytes", (json_int_t)0);
                    json_array_append_new(groups, g);
                    glayer = sh->layer;
                }
                json_array_append_new(json_object_get(g, "shards"), json_string(sh->file));
                json_object_set_new(g, "bytes", json_integer(json_integer_value(json_object_get(g, "bytes")) +
                                                             (json_int_t)sh->size));
            }
        }
    return groups;
}

/* Tabs a greedy fill needs when no tab may exceed cap (pre on the first, post on the last):
 * the fewest possible for contiguous ranges; INT_MAX if one layer alone exceeds cap. */
static int tabs_needed(const uint64_t *lb, int nl, uint64_t pre, uint64_t post, uint64_t cap)
{
    uint64_t cur = pre;
    int used = 1;
    if (pre > cap || post > cap)
        return INT_MAX;
    for (int i = 0; i < nl; i++) {
        if (lb[i] > cap)
            return INT_MAX;
        if (cur + lb[i] > cap) {
            used++;
            cur = lb[i];
        } else
            cur += lb[i];
    }
    return cur + post > cap ? used + 1 : used;
}

/* smallest cap that `want` contiguous tabs can keep (binary search on the cap) */
static uint64_t min_cap(const uint64_t *lb, int nl, uint64_t pre, uint64_t post, int want)
{
    uint64_t lo = 0, hi = pre + post;
    for (int i = 0; i < nl; i++)
        hi += lb[i];
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (tabs_needed(lb, nl, pre, post, mid) <= want)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* the component with the most layers carries the pipeline (first such in component order) */
static const char *main_component(const wg_layout_t *L, int *maxl)
{
    const char *main = NULL;
    *maxl = -1;
    for (size_t s = 0; s < L->nshards; s++) /* shards are grouped by component, in order */
        if (L->shards[s].layer > *maxl) {
            *maxl = L->shards[s].layer;
            main = L->shards[s].component;
        }
    return main;
}

/* the tabs as JSON ranges [first, last] of layers whose bytes fit best_cap; tab_of[layer] */
static json_t *tab_ranges(const uint64_t *lb, int nl, uint64_t pre, uint64_t post, int tabs,
                          uint64_t best_cap, const char *main, int *tab_of)
{
    json_t *arr = json_array();
    int first = 0, t = 0;
    uint64_t cur = pre;
    for (int i = 0; i <= nl; i++) {
        bool last = i == nl;
        if (!last && (cur + lb[i] <= best_cap || (i == first && t == tabs - 1))) {
            cur += lb[i];
            tab_of[i] = t;
            continue;
        }
        json_array_append_new(arr, json_pack("{s:i, s:[i,i], s:s, s:[], s:I}", "tab", t,
                                             "layers", first, i - 1, "component", main,
                                             "shards", "bytes",
                                             (json_int_t)(cur + (last ? post : 0))));
        t++;
        first = i;
        cur = last ? 0 : lb[i];
        if (!last)
            tab_of[i] = t;
    }
    return arr;
}

/* each shard to its tab: the main component's layers by range, encoders/embeddings/globals
 * to the first tab, the head and the rest to the last */
static void tab_shards(const wg_layout_t *L, const char *main, const int *tab_of, json_t *arr)
{
    size_t nt = json_array_size(arr);
    for (size_t s = 0; s < L->nshards; s++) {
        const wg_shard_t *x = &L->shards[s];
        bool is_main = !strcmp(x->component, main);
        size_t k = is_main && x->layer >= 0 ? (size_t)tab_of[x->layer]
                   : comp_priority(x->component) <= 1 || is_main ? 0 : nt - 1;
        json_array_append_new(json_object_get(json_array_get(arr, k), "shards"),
                              json_string(x->file));
    }
}

/* Contiguous layer ranges of the main layered component over `tabs` tabs, minimising the
 * largest tab; with --tab-memory, the fewest tabs that keep each within it. O(layers x 64). */
static int tab_plan(const wg_model *m, const wg_layout_t *L, const wg_pack_opts *o, json_t **out,
                    wg_error *err)
{
    *out = json_null();
    if (!o->tabs && !o->tab_memory)
        return 0;
    int maxl;
    const char *main = main_component(L, &maxl);
    if (!main)
        return wg_fail(err, WG_EUSAGE, m->path, "a multi-tab plan needs a model with numbered "
                       "layers");
    int nl = maxl + 1; /* layers are capped by the tensors present (formats/model.h) */
    uint64_t *lb = calloc((size_t)nl, sizeof *lb), pre = 0, post = 0;
    int *tab_of = calloc((size_t)nl, sizeof *tab_of);
    if (!lb || !tab_of) {
        free(lb);
        free(tab_of);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    for (size_t s = 0; s < L->nshards; s++) {
        const wg_shard_t *sh = &L->shards[s];
        if (!strcmp(sh->component, main) && sh->layer >= 0)
            lb[sh->layer] += sh->size;
        else if (comp_priority(sh->component) <= 1 || (sh->layer < 0 && !strcmp(sh->component, main)))
            pre += sh->size; /* encoders, embeddings, the component's globals: first tab */
        else
            post += sh->size; /* head and the rest: last tab */
    }
    int tabs = o->tabs ? (o->tabs < nl ? o->tabs : nl)
                       : tabs_needed(lb, nl, pre, post, o->tab_memory);
    if (tabs > nl) {
        free(lb);
        free(tab_of);
        return wg_fail(err, WG_EBUDGET, m->path, "no split into contiguous layer ranges keeps "
                       "every tab within %llu bytes (a single layer needs more)",
                       (unsigned long long)o->tab_memory);
    }
    uint64_t best_cap = min_cap(lb, nl, pre, post, tabs);
    json_t *arr = tab_ranges(lb, nl, pre, post, tabs, best_cap, main, tab_of);
    free(lb);
    tab_shards(L, main, tab_of, arr);
    free(tab_of);
    size_t nt = json_array_size(arr);
    for (size_t k = 0; k < nt; k++) {
        json_t *tab = json_array_get(arr, k);
        int b = (int)json_integer_value(json_array_get(json_object_get(tab, "layers"), 1));
        json_object_set_new(tab, "budget_bytes", o->tab_memory ? json_integer((json_int_t)o->tab_memory) : json_null());
        json_object_set_new(tab, "within_budget", o->tab_memory ? json_boolean((uint64_t)json_integer_value(json_object_get(tab, "bytes")) <= o->tab_memory) : json_null());
        if (k + 1 < nt) {
            json_t *shape = json_array();
            json_array_append_new(shape, json_string("sequence"));
            json_array_append_new(shape, m->config.hidden_size ? json_integer(m->config.hidden_size) : json_null());
            json_object_set_new(tab, "sends", json_pack("{s:s, s:i, s:i, s:o, s:s}", "activation",
                                                        "hidden_states", "after_layer", b,
                                                        "to_tab", (int)k + 1, "shape", shape, "dtype", "f32"));
        }
    }
    *out = json_pack("{s:i, s:s, s:o}", "tabs", (int)nt, "component", main, "partition", arr);
    return 0;
}

/* KV-cache sizes from config.json facts (validated in formats/hfconfig.c); every product is
 * checked, and one that overflows is recorded as null rather than wrapped */
static json_t *checked_mul(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t x;
    if (__builtin_mul_overflow(a, b, &x) || __builtin_mul_overflow(x, c, &x) ||
        __builtin_mul_overflow(x, d, &x) || x > ((int64_t)1 << 53))
        return json_null();
    return json_integer(x);
}

static json_t *runtime_hints(const wg_model *m, uint64_t bundle_bytes)
{
    const wg_hfconfig *c = &m->config;
    if (!c->present || !c->num_layers || !c->head_dim)
        return json_null();
    int64_t kv = c->num_kv_heads ? c->num_kv_heads : c->num_heads;
    int64_t layers = c->decoder_layers ? c->decoder_layers : c->num_layers;
    int64_t positions = c->max_positions;
    if (c->sliding_window && c->sliding_window < positions)
        positions = c->sliding_window;
    json_t *per_tok = checked_mul(4, layers, kv, c->head_dim); /* K and V, fp16 */
    json_t *at_max = json_is_integer(per_tok) ? checked_mul(json_integer_value(per_tok), positions, 1, 1)
                                              : json_null();
    json_t *kvj = json_pack("{s:I, s:I, s:I, s:I, s:o, s:o}", "layers", (json_int_t)layers,
                            "kv_heads", (json_int_t)kv, "head_dim", (json_int_t)c->head_dim,
                            "max_positions", (json_int_t)c->max_positions,
                            "bytes_per_token_f16", per_tok, "bytes_at_max_positions_f16", at_max);
    json_object_set_new(kvj, "sliding_window", c->sliding_window ? json_integer(c->sliding_window) : json_null());
    /* int8 KV halves the cache: recommended once the fp16 cache at full length rivals the
     * weights themselves */
    bool big = !json_is_integer(at_max) ||
               (uint64_t)json_integer_value(at_max) > bundle_bytes / 2;
    json_object_set_new(kvj, "recommended_dtype", json_string(big ? "int8" : "f16"));
    return json_pack("{s:o}", "kv_cache", kvj);
}

/* ------------------------------------------------------------------ build */

/* Every entry of dir/sub is a name the manifest lists (top-level kernels/ and wasm/ real
 * directories, everything else regular files): then the directory is a bundle and nothing
 * else, and replacing it loses nothing. */
static bool only_listed(const char *dir, const char *sub, const wg_name_index *names)
{
    char path[4200], rel[600];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return *sub && errno == ENOENT;
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(rel, sizeof rel, "%s%s", sub, e->d_name);
        size_t v;
        struct stat st;
        ok = wg_name_index_get(names, rel, &v) && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
             (v ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
    }
    closedir(d);
    return ok;
}

static bool is_our_bundle(const char *dir)
{
    wg_manifest man;
    wg_error e = {0};
    if (wg_manifest_read(dir, &man, &e))
        return false;
    wg_name_index names = {0};
    bool ok = wg_name_index_put(&names, "manifest.json", 0) >= 0 &&
              wg_name_index_put(&names, "_headers", 0) >= 0 &&
              wg_name_index_put(&names, "kernels", 1) >= 0 && wg_name_index_put(&names, "wasm", 1) >= 0 &&
              wg_name_index_put(&names, "text", 1) >= 0;
    for (size_t i = 0; ok && i < man.nshards; i++)
        ok = wg_name_index_put(&names, man.shards[i].f.file, 0) >= 0 &&
             (!man.shards[i].has_zst || wg_name_index_put(&names, man.shards[i].zst.file, 0) >= 0);
    for (size_t i = 0; ok && i < man.nkernels; i++)
        ok = wg_name_index_put(&names, man.kernels[i].file, 0) >= 0;
    if (ok && man.has_wasm)
        ok = wg_name_index_put(&names, man.wasm.file, 0) >= 0;
    for (size_t i = 0; ok && i < man.ntext; i++)
        ok = wg_name_index_put(&names, man.text[i].file, 0) >= 0;
    ok = ok && only_listed(dir, "", &names) && only_listed(dir, "kernels/", &names) &&
         only_listed(dir, "wasm/", &names) && only_listed(dir, "text/", &names);
    wg_name_index_free(&names);
    wg_manifest_free(&man);
    return ok;
}

static int check_target(const char *dir, bool force, bool *exists, wg_error *err)
{
    struct stat st;
    *exists = false;
    if (lstat(dir, &st) < 0)
        return errno == ENOENT ? 0 : wg_fail(err, WG_EIO, dir, "%s", strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return wg_fail(err, WG_EUSAGE, dir, "output exists and is not a directory");
    *exists = true;
    if (force || is_our_bundle(dir))
        return 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    if (n)
        return wg_fail(err, WG_EUSAGE, dir, "output directory is not empty and is not a wgpack "
                       "bundle and nothing else (use --force to replace it)");
    return 0;
}

/* The swap replaces the target and everything in it: never when a file of the model lives
 * there (`-o MODEL_DIR --force` would delete the input). */
static int input_outside(const wg_model *m, const char *dir, wg_error *err)
{
    char rd[4096], rs[4096];
    if (!realpath(dir, rd))
        return 0; /* does not exist yet */
    size_t dl = strlen(rd);
    for (size_t i = 0; i < m->n_sources; i++)
        if (realpath(m->sources[i].path, rs) && !strncmp(rs, rd, dl) &&
            (rs[dl] == '/' || dl == 1))
            return wg_fail(err, WG_EUSAGE, dir, "the output directory holds the input model "
                           "(%s): choose another -o", m->sources[i].path);
    return 0;
}

/* The build's lock on its target: ".<base>.lock" beside it, flock()ed for the whole build
 * (released by the kernel when a build dies, so it never goes stale); it holds the pid of the
 * holder for the message of the build that finds it taken. */
static int lock_target(wg_bundle_stage *st, int dl, const char *base, wg_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%.*s.%s.lock", dl, st->out_dir, base);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return wg_fail(err, WG_EIO, st->out_dir, "cannot create the build lock %s: %s", path,
                       strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        char pid[32] = "";
        ssize_t k = pread(fd, pid, sizeof pid - 1, 0);
        pid[k > 0 ? k : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        if (e == EWOULDBLOCK)
            return wg_fail(err, WG_EIO, st->out_dir, "another build into this directory is "
                           "running (pid %s, lock %s): try again when it has finished",
                           *pid ? pid : "?", path);
        return wg_fail(err, WG_EIO, st->out_dir, "cannot lock %s: %s", path, strerror(e));
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return wg_fail(err, WG_EIO, st->out_dir, "cannot write the build lock %s: %s", path,
                       strerror(e));
    }
    st->lock_fd = fd;
    return 0;
}

/* ".<base><suffix>.tmp.XXXXXX": what a build into this target makes beside it */
static bool our_temporary(const char *name, const char *base)
{
    static const char *const suffix[] = {"", ".tar", ".tar.zst", ".zip"};
    size_t bl = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, bl))
        return false;
    const char *r = name + 1 + bl;
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        size_t sl = strlen(suffix[i]);
        if (!strncmp(r, suffix[i], sl) && !strncmp(r + sl, ".tmp.", 5) && strlen(r + sl + 5) == 6)
            return true;
    }
    return false;
}

/* under the lock: what killed builds into this target left beside it */
static void remove_stale(const wg_bundle_stage *st, int dl, const char *base)
{
    char dir[4200], path[4600];
    snprintf(dir, sizeof dir, "%.*s", dl, st->out_dir);
    DIR *d = opendir(dl ? dir : ".");
    for (struct dirent *e; d && (e = readdir(d));)
        if (our_temporary(e->d_name, base)) {
            snprintf(path, sizeof path, "%s%s", dir, e->d_name);
            wg_rm_rf(path);
        }
    if (d)
        closedir(d);
}

/* normalise the target, check it is ours to replace, make the temporary directory beside it */
static int prepare_target(const wg_model *m, const wg_pack_opts *o, wg_bundle_stage *st,
                          wg_error *err)
{
    memset(st, 0, sizeof *st);
    st->lock_fd = -1;
    size_t n = strlen(o->out_dir);
    while (n > 1 && o->out_dir[n - 1] == '/') /* `-o out/` is `-o out` */
        n--;
    if (!n || n >= sizeof st->out_dir - 32)
        return wg_fail(err, WG_EUSAGE, o->out_dir, "not a usable output directory name");
    snprintf(st->out_dir, sizeof st->out_dir, "%.*s", (int)n, o->out_dir);
    if (!strcmp(st->out_dir, "/") || !strcmp(basename_of(st->out_dir), ".") ||
        !strcmp(basename_of(st->out_dir), ".."))
        return wg_fail(err, WG_EUSAGE, o->out_dir, "not a usable output directory name");
    const char *base = basename_of(st->out_dir);
    int dl = (int)(base - st->out_dir);
    /* like mkdir -p for the parent: `-o out/model` works on a fresh checkout */
    snprintf(st->tmp, sizeof st->tmp, "%.*s", dl, st->out_dir);
    wg_mkdir_p(st->tmp);
    st->tmp[0] = 0;
    /* the target is looked at, and everything beside it written, under the lock */
    int rc = lock_target(st, dl, base, err);
    if (rc || (rc = check_target(st->out_dir, o->force, &st->exists, err)) ||
        (rc = input_outside(m, st->out_dir, err)))
        return rc;
    remove_stale(st, dl, base);
    snprintf(st->tmp, sizeof st->tmp, "%.*s.%s.tmp.XXXXXX", dl, st->out_dir, base);
    if (!mkdtemp(st->tmp)) {
        st->tmp[0] = 0;
        return wg_fail(err, WG_EIO, st->out_dir, "cannot create a temporary directory beside "
                       "it: %s", strerror(errno));
    }
    return 0;
}

int wg_bundle_flush(wg_bundle_stage *st, wg_error *err)
{
    /* durable before visible: everything staged reaches the disk before any rename */
    int fd = open(st->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return wg_fail(err, WG_EIO, st->out_dir, "cannot flush the new bundle: %s", strerror(e));
    }
    close(fd);
    chmod(st->tmp, 0755); /* mkdtemp made it private */
    return 0;
}

int wg_bundle_commit(wg_bundle_stage *st, wg_error *err)
{
    int rc = wg_bundle_flush(st, err);
    if (rc)
        return rc;
    /* the target holds the old bundle or the new one, never a mix */
    if (st->exists) {
        if (renameat2(AT_FDCWD, st->tmp, AT_FDCWD, st->out_dir, RENAME_EXCHANGE))
            return wg_fail(err, WG_EIO, st->out_dir, "cannot swap the new bundle into place: %s",
                           strerror(errno));
        wg_rm_rf(st->tmp); /* now the previous bundle */
    } else if (rename(st->tmp, st->out_dir))
        return wg_fail(err, WG_EIO, st->out_dir, "cannot move the bundle into place: %s",
                       strerror(errno));
    st->tmp[0] = 0;
    return 0;
}

void wg_bundle_discard(wg_bundle_stage *st)
{
    if (st->tmp[0])
        wg_rm_rf(st->tmp);
    st->tmp[0] = 0;
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* the lock file stays: removing it would race a waiting build */
    st->lock_fd = -1;
}

int wg_bundle_build(const wg_model *m, const wg_plan_entry *plan, const wg_pack_opts *o,
                    wg_bundle_result *res, wg_error *err)
{
    wg_bundle_stage st;
    int rc = wg_bundle_stage_build(m, plan, o, res, &st, err);
    if (!rc && (rc = wg_bundle_commit(&st, err))) {
        json_decref(res->manifest);
        res->manifest = NULL;
    }
    wg_bundle_discard(&st);
    return rc;
}

int wg_bundle_stage_build(const wg_model *m, const wg_plan_entry *plan, const wg_pack_opts *o,
                          wg_bundle_result *res, wg_bundle_stage *st, wg_error *err)
{
    memset(res, 0, sizeof *res);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wg_layout_t L;
    int rc = prepare_target(m, o, st, err);
    if (rc)
        return rc;
    if ((rc = wg_layout(m, plan, o->shard_size, &L, err))) {
        wg_layout_free(&L);
        wg_bundle_discard(st);
        return rc;
    }
    const char *tmp = st->tmp;
    json_t *text = NULL; /* the tokenizer and generation files, checked first: fail before the work */
    if ((rc = wg_text_bundle_model(m, o->text_dir, tmp, &text, err))) {
        wg_layout_free(&L);
        wg_bundle_discard(st);
        return rc;
    }
    uint8_t *shard = malloc(L.largest ? L.largest : 1), *qbuf = NULL;
    wg_qmetrics *met = calloc(m->n_tensors + 1, sizeof *met);
    ZSTD_CCtx *zc = o->compress ? ZSTD_createCCtx() : NULL;
    void *zbuf = NULL;
    json_t *manifest = NULL;
    if (!shard || !met || (o->compress && !zc)) {
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        goto fail;
    }
    if (zc) {
        ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, o->zstd_level);
        ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1);
        /* any nbWorkers >= 1 gives the same bytes; 0 would differ, so never use 0 */
        ZSTD_CCtx_setParameter(zc, ZSTD_c_nbWorkers, o->threads > 1 ? o->threads : 1);
        zbuf = malloc(ZSTD_compressBound(L.largest));
        if (!zbuf) {
            rc = wg_fail(err, WG_EIO, NULL, "out of memory");
            goto fail;
        }
    }
    wg_qopts qo = {.search = o->search, .threads = o->threads, .model = m};
    size_t cur_t = (size_t)-1, pi = 0, done_t = 0;
    uint64_t qcap = 0;
    for (size_t s = 0; s < L.nshards; s++) {
        wg_shard_t *sh = &L.shards[s];
        wg_progress_stage("quantize");
        memset(shard, 0, sh->size);
        for (; pi < L.nparts && L.parts[pi].shard == s; pi++) {
            const wg_part_t *p = &L.parts[pi];
            const wg_tensor *t = &m->tensors[p->tensor];
            const wg_plan_entry *e = &plan[p->tensor];
            if (p->tensor != cur_t) {
                if (cur_t != (size_t)-1)
                    wg_tensor_release(m, &m->tensors[cur_t]);
                if (e->bytes > qcap) {
                    free(qbuf);
                    qcap = e->bytes;
                    if (!(qbuf = malloc(qcap))) {
                        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
                        goto fail;
                    }
                }
                if ((rc = wg_quantize_tensor(t, e, &qo, qbuf, &met[p->tensor], err)))
                    goto fail;
                cur_t = p->tensor;
                done_t++;
                if (o->progress) {
                    clock_gettime(CLOCK_MONOTONIC, &t1);
                    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
                    fprintf(stderr, "\r%zu/%zu tensors, %.1f MB/s   ", done_t, m->n_tensors,
                            secs > 0 ? (double)res->input_bytes / 1e6 / secs : 0.0);
                }
                res->input_bytes += t->nbytes;
            }
            uint64_t rb[3];
            int64_t rows;
            wg_row_bytes(t, e, rb, &rows);
            uint64_t plane_base[3] = {0, rb[0] * (uint64_t)rows, (rb[0] + rb[1]) * (uint64_t)rows};
            for (int q = 0; q < 3; q++)
                if (p->bytes[q])
                    memcpy(shard + p->off[q], qbuf + plane_base[q] + rb[q] * (uint64_t)p->row0,
                           p->bytes[q]);
        }
        wg_progress_stage("hash");
        sh->xxh3 = XXH3_64bits(shard, sh->size);
        wg_sri_sha256(shard, sh->size, sh->sri);
        char idx[32];
        if (sh->layer < 0)
            snprintf(idx, sizeof idx, "g");
        else
            snprintf(idx, sizeof idx, "%03d", sh->layer);
        if (sh->unit_index)
            snprintf(idx + strlen(idx), sizeof idx - strlen(idx), ".%d", sh->unit_index);
        char comp[64]; /* file names are built from sanitised text only */
        wg_safe_name(comp, sizeof comp, sh->component);
        snprintf(sh->file, sizeof sh->file, "%s-%s-%016llx.bin", comp, idx,
                 (unsigned long long)sh->xxh3);
        wg_progress_stage("write");
        if ((rc = write_file(tmp, sh->file, shard, sh->size, err)))
            goto fail;
        res->bundle_bytes += sh->size;
        if (zc) {
            wg_progress_stage("compress");
            size_t z = ZSTD_compress2(zc, zbuf, ZSTD_compressBound(L.largest), shard, sh->size);
            if (ZSTD_isError(z)) {
                rc = wg_fail(err, WG_EIO, NULL, "zstd: %s", ZSTD_getErrorName(z));
                goto fail;
            }
            char zn[200];
            snprintf(zn, sizeof zn, "%s.zst", sh->file);
            if ((rc = write_file(tmp, zn, zbuf, z, err)))
                goto fail;
            sh->zst_size = z;
            res->compressed_bytes += z;
        }
    }
    if (cur_t != (size_t)-1)
        wg_tensor_release(m, &m->tensors[cur_t]);
    if (o->progress)
        fprintf(stderr, "\n");

    /* ---- manifest ---- */
    json_t *shards = json_array(), *tensors = json_array(), *comps = json_array();
    for (size_t s = 0; s < L.nshards; s++) {
        const wg_shard_t *sh = &L.shards[s];
        char hx[20];
        snprintf(hx, sizeof hx, "%016llx", (unsigned long long)sh->xxh3);
        json_t *js = json_pack("{s:s, s:s, s:i, s:I, s:s, s:s}", "file", sh->file, "component",
                               sh->component, "layer", sh->layer, "bytes", (json_int_t)sh->size,
                               "xxh3", hx, "integrity", sh->sri);
        if (o->compress) {
            char zn[200];
            snprintf(zn, sizeof zn, "%s.zst", sh->file);
            json_object_set_new(js, "zst", json_pack("{s:s, s:I}", "file", zn, "bytes",
                                                     (json_int_t)sh->zst_size));
        }
        json_array_append_new(shards, js);
    }
    uint64_t largest_binding = 0, largest_shard = 0, params = 0;
    for (size_t s = 0; s < L.nshards; s++)
        largest_shard = L.shards[s].size > largest_shard ? L.shards[s].size : largest_shard;
    for (size_t k = 0, p = 0; k < m->n_tensors; k++) {
        size_t ti = L.order[k];
        const wg_tensor *t = &m->tensors[ti];
        const wg_plan_entry *e = &plan[ti];
        params += t->numel;
        char fn[32];
        wg_qformat_name(&e->fmt, fn, sizeof fn);
        json_t *shape = json_array(), *parts = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        for (; p < L.nparts && L.parts[p].tensor == ti; p++) {
            const wg_part_t *pp = &L.parts[p];
            json_t *jp = json_pack("{s:i, s:I, s:I, s:{s:I, s:I}}", "shard", (int)pp->shard,
                                   "row0", (json_int_t)pp->row0, "rows", (json_int_t)pp->nrows,
                                   "data", "offset", (json_int_t)pp->off[0], "bytes",
                                   (json_int_t)pp->bytes[0]);
            if (pp->bytes[1])
                json_object_set_new(jp, "scales", json_pack("{s:I, s:I}", "offset", (json_int_t)pp->off[1],
                                                            "bytes", (json_int_t)pp->bytes[1]));
            if (pp->bytes[2])
                json_object_set_new(jp, "zeros", json_pack("{s:I, s:I}", "offset", (json_int_t)pp->off[2],
                                                           "bytes", (json_int_t)pp->bytes[2]));
            for (int q = 0; q < 3; q++)
                largest_binding = pp->bytes[q] > largest_binding ? pp->bytes[q] : largest_binding;
            json_array_append_new(parts, jp);
        }
        json_t *jt = json_pack("{s:s, s:s, s:s, s:i, s:o, s:s}", "name", t->name, "role",
                               wg_role_name(t->role), "component", t->component, "layer", t->layer,
                               "shape", shape, "source_dtype", wg_dtype_name(t->dtype));
        if (e->fmt.kind == WG_Q_RAW) {
            json_object_set_new(jt, "format", json_string("raw"));
            json_object_set_new(jt, "dtype", json_string(wg_dtype_name(t->dtype)));
        } else {
            json_object_set_new(jt, "format", json_string(fn));
            json_object_set_new(jt, "rows", json_integer(e->rows));
            json_object_set_new(jt, "K", json_integer(e->K));
            json_object_set_new(jt, "transposed_from_source", json_boolean(t->in_dim_first && t->ndim == 2));
            if (e->fmt.kind == WG_Q_INT) {
                wg_qlayout l;
                wg_qformat_layout(&e->fmt, e->rows, e->K, &l);
                json_object_set_new(jt, "bits", json_integer(e->fmt.bits));
                json_object_set_new(jt, "group_size", json_integer(l.group));
                json_object_set_new(jt, "padded_K", json_integer(l.Kp));
                json_object_set_new(jt, "symmetric", json_boolean(e->fmt.sym));
                json_object_set_new(jt, "scale_dtype", json_string(e->fmt.scale_f32 ? "f32" : "f16"));
            }
            json_object_set_new(jt, "metrics", metrics_json(&met[ti]));
        }
        json_object_set_new(jt, "bytes", json_integer((json_int_t)e->bytes));
        json_object_set_new(jt, "parts", parts);
        json_array_append_new(tensors, jt);
    }
    for (size_t c = 0; c < L.ncomps; c++) {
        json_t *names = json_array(), *files = json_array();
        uint64_t bytes = 0;
        for (size_t k = L.tensor0[c]; k < L.tensor0[c + 1]; k++)
            json_array_append_new(names, json_string(m->tensors[L.order[k]].name));
        for (size_t s = L.shard0[c]; s < L.shard0[c + 1]; s++) {
            json_array_append_new(files, json_string(L.shards[s].file));
            bytes += L.shards[s].size;
        }
        json_array_append_new(comps, json_pack("{s:s, s:I, s:o, s:o, s:o}", "name", L.comps[c],
                                               "bytes", (json_int_t)bytes, "depends_on",
                                               depends_on(L.comps[c], &L), "shards", files,
                                               "tensors", names));
    }
    json_t *tabs;
    if ((rc = tab_plan(m, &L, o, &tabs, err))) {
        json_decref(shards);
        json_decref(tensors);
        json_decref(comps);
        goto fail;
    }
    json_t *kernels;
    if ((rc = wg_bundle_kernels(m, plan, tmp, &kernels, err))) {
        json_decref(shards);
        json_decref(tensors);
        json_decref(comps);
        json_decref(tabs);
        goto fail;
    }
    json_t *wasm = NULL;
    if ((rc = wg_bundle_wasm(tmp, &wasm, err))) {
        json_decref(shards);
        json_decref(tensors);
        json_decref(comps);
        json_decref(tabs);
        json_decref(kernels);
        goto fail;
    }
    json_t *profs = json_array();
    int np;
    const wg_profile *pf = wg_profiles(&np);
    for (int i = 0; i < np; i++)
        json_array_append_new(profs, json_pack(
            "{s:s, s:I, s:I, s:I, s:b, s:b, s:I, s:I, s:b, s:b}", "name", pf[i].name,
            "max_storage_binding_assumed", (json_int_t)pf[i].max_binding, "max_buffer_assumed",
            (json_int_t)pf[i].max_buffer, "memory_budget_assumed", (json_int_t)pf[i].memory_budget,
            "shader_f16", pf[i].shader_f16, "subgroups", pf[i].subgroups, "largest_binding",
            (json_int_t)largest_binding, "largest_shard", (json_int_t)largest_shard,
            "fits_limits", largest_binding <= pf[i].max_binding && largest_shard <= pf[i].max_buffer,
            "fits_memory", res->bundle_bytes <= pf[i].memory_budget));
    json_t *srcs = json_array();
    for (size_t i = 0; i < m->n_sources; i++) {
        char hx[20];
        snprintf(hx, sizeof hx, "%016llx", (unsigned long long)source_hash(&m->sources[i]));
        json_array_append_new(srcs, json_pack("{s:s, s:I, s:s}", "file", basename_of(m->sources[i].path),
                                              "bytes", (json_int_t)m->sources[i].size, "xxh3", hx));
    }
    char mname[256];
    wg_model_name(m, mname, sizeof mname);
    json_t *model = json_pack("{s:s, s:s, s:s, s:I, s:o}", "name", mname, "family",
                              m->family, "input", m->kind == WG_IN_ONNX ? "onnx" : "safetensors",
                              "parameters", (json_int_t)params, "sources", srcs);
    if (m->config.present)
        json_object_set_new(model, "config", json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
            "model_type", m->config.model_type, "architecture", m->config.architecture,
            "num_layers", (json_int_t)m->config.num_layers, "hidden_size", (json_int_t)m->config.hidden_size,
            "num_heads", (json_int_t)m->config.num_heads, "num_kv_heads", (json_int_t)m->config.num_kv_heads,
            "vocab_size", (json_int_t)m->config.vocab_size));
    manifest = json_pack("{s:i, s:{s:s, s:s}, s:o, s:O, s:{s:I, s:I, s:I, s:i, s:i}, s:o, s:o, s:o, s:{s:o, s:o}, s:o, s:o}",
        "format_version", WG_BUNDLE_FORMAT_VERSION, "generator", "name", "wgpack", "version", o->version,
        "model", model, "options", o->options ? o->options : json_null(),
        "totals", "input_bytes", (json_int_t)res->input_bytes, "bundle_bytes", (json_int_t)res->bundle_bytes,
        "compressed_bytes", (json_int_t)res->compressed_bytes, "shards", (int)L.nshards, "tensors", (int)m->n_tensors,
        "components", comps, "shards", shards, "tensors", tensors,
        "plans", "progressive", progressive_plan(&L), "tabs", tabs,
        "profiles", profs, "runtime", runtime_hints(m, res->bundle_bytes));
    if (manifest) {
        json_object_set_new(manifest, "kernels", kernels);
        json_object_set_new(manifest, "wasm", wasm);
        char why[WG_ERRLEN] = "";
        wg_prog *prog = wg_prog_build(m, why, sizeof why);
        if (prog)
            json_object_set_new(manifest, "program", wg_prog_to_json(prog));
        else
            json_object_set_new(manifest, "program_missing", json_string(why));
        wg_prog_free(prog);
        if (text)
            json_object_set_new(manifest, "text", text);
        text = NULL;
    } else {
        json_decref(kernels);
        json_decref(wasm);
    }
    if (!manifest) {
        rc = wg_fail(err, WG_EIO, NULL, "cannot build the manifest");
        goto fail;
    }
    char *txt = json_dumps(manifest, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    rc = write_file(tmp, "manifest.json", txt, strlen(txt), err);
    free(txt);
    static const char headers[] =
        "# CDN headers (Netlify / Cloudflare Pages format). Shard names are content hashes:\n"
        "# cache them forever. The manifest changes between builds: revalidate it.\n"
        "/*.bin\n  Cache-Control: public, max-age=31536000, immutable\n"
        "  Content-Type: application/octet-stream\n"
        "/*.bin.zst\n  Cache-Control: public, max-age=31536000, immutable\n"
        "  Content-Type: application/zstd\n"
        "/text/*.json\n  Cache-Control: public, max-age=31536000, immutable\n"
        "/manifest.json\n  Cache-Control: public, max-age=60, must-revalidate\n"
        "  Content-Type: application/json\n";
    if (!rc)
        rc = write_file(tmp, "_headers", headers, sizeof headers - 1, err);
    if (rc)
        goto fail;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    res->shards = (int)L.nshards;
    res->tensors = (int)m->n_tensors;
    res->components = (int)L.ncomps;
    res->manifest = manifest;
    manifest = NULL;
    goto done;
fail:
    wg_bundle_discard(st);
done:
    json_decref(text);
    json_decref(manifest);
    free(shard);
    free(qbuf);
    free(met);
    free(zbuf);
    ZSTD_freeCCtx(zc);
    wg_layout_free(&L);
    return rc;
}
