/* pack/textfiles.c — the text side of a bundle (contract in pack.h, "the text side"): the
 * tokenizer, chat template, generation defaults and sentence-transformers pooling files a page
 * needs to turn text into ids and back, checked and copied into DIR/text/ under content-hashed
 * names. The files are copied byte for byte: the runtime hands them to Hugging Face's own
 * tokenizer library, so what is checked here is only what would make that go wrong silently
 * (an id the model's embedding does not have, a special token the tokenizer does not know). */
#define _GNU_SOURCE
#include "pack_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_TEXT_FILE (256u << 20) /* Gemma's tokenizer.json is 33 MiB */
#define MAX_ID ((int64_t)1 << 30)

/* The files, in manifest order: the name Hugging Face gives it (the manifest's key) and the
 * stem of its content-hashed name in the bundle. */
enum { T_TOKENIZER, T_CONFIG, T_SPECIAL, T_GENERATION, T_MODULES, T_POOLING, T_PREPROCESSOR, T_N };
static const struct { const char *name, *stem; } text_files[T_N] = {
    [T_TOKENIZER] = {"tokenizer.json", "tokenizer"},
    [T_CONFIG] = {"tokenizer_config.json", "tokenizer_config"},
    [T_SPECIAL] = {"special_tokens_map.json", "special_tokens_map"},
    [T_GENERATION] = {"generation_config.json", "generation_config"},
    [T_MODULES] = {"modules.json", "modules"},
    [T_POOLING] = {"1_Pooling/config.json", "pooling_config"},
    [T_PREPROCESSOR] = {"preprocessor_config.json", "preprocessor_config"},
};
/* special-token fields of tokenizer_config.json and special_tokens_map.json */
static const char *const token_keys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                         "pad_token", "cls_token", "mask_token", NULL};

typedef struct tfile {
    char path[4200];
    const uint8_t *map;
    size_t size;
    json_t *j;
} tfile;

typedef struct tctx {
    tfile f[T_N];
    int64_t vocab;            /* the model's vocabulary (0: unknown) */
    int64_t tokens;           /* the tokenizer's: its largest id + 1 */
    json_t *tok_vocab;        /* tokenizer.json model.vocab (object, or Unigram's array) */
    json_t *added;            /* tokenizer.json added_tokens */
    wg_error *err;
} tctx;

static int bad(tctx *c, int k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(tctx *c, int k, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return wg_fail(c->err, WG_EINPUT, c->f[k].path, "%s", msg);
}

/* read src/name if it exists: a regular file (HF caches link to blobs: symlinks are followed)
 * of sane size holding JSON. Absent: 0 with map NULL. */
static int load(tctx *c, int k, const char *src, const char *name)
{
    tfile *f = &c->f[k];
    snprintf(f->path, sizeof f->path, "%s/%s", src, name);
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? 0 : bad(c, k, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > MAX_TEXT_FILE || !st.st_size) {
        close(fd);
        return bad(c, k, "not a regular non-empty file of at most 256 MiB");
    }
    f->size = (size_t)st.st_size;
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return bad(c, k, "cannot map: %s", strerror(errno));
    }
    json_error_t je;
    /* numbers as doubles: configs hold integers past int64 (Llama 3's model_max_length 1e30),
     * which jansson refuses as integers; every id checked here is far below 2^53 */
    if (!(f->j = json_loadb((const char *)f->map, f->size, JSON_DECODE_INT_AS_REAL, &je)))
        return bad(c, k, "not JSON: %s (line %d)", je.text, je.line);
    return 0;
}

/* a whole number (files are read with JSON_DECODE_INT_AS_REAL) */
static bool is_int(json_t *v)
{
    double d = json_number_value(v);
    return json_is_number(v) && d == floor(d) && fabs(d) < 9e15;
}
static int64_t int_of(json_t *v)
{
    return (int64_t)json_number_value(v);
}
static bool is_id(json_t *v, int64_t lim)
{
    return is_int(v) && int_of(v) >= 0 && int_of(v) < lim;
}

/* an id the model can embed: below its vocabulary (or, unknown, the tokenizer's) */
static int check_id(tctx *c, int k, json_t *v, const char *what)
{
    int64_t lim = c->vocab ? c->vocab : c->tokens;
    if (!v || json_is_null(v))
        return 0;
    if (!is_int(v))
        return bad(c, k, "%s is not a token id", what);
    if (!is_id(v, lim))
        return bad(c, k, "%s %lld is outside the %s vocabulary (%lld ids)", what,
                   (long long)int_of(v), c->vocab ? "model's" : "tokenizer's",
                   (long long)lim);
    return 0;
}

/* tokenizer.json: a model the library implements, its ids, its added tokens */
static int check_tokenizer(tctx *c)
{
    json_t *j = c->f[T_TOKENIZER].j, *model = json_object_get(j, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    static const char *const types[] = {"BPE", "WordPiece", "Unigram", "WordLevel", NULL};
    if (!json_is_object(j) || !json_is_object(model))
        return bad(c, T_TOKENIZER, "not a tokenizers file (no model object)");
    if (wg_str_index(type, types) < 0)
        return bad(c, T_TOKENIZER, "model.type %s is not BPE, WordPiece, Unigram or WordLevel",
                   type ? type : "(none)");
    json_t *vocab = json_object_get(model, "vocab"), *v;
    int64_t top = -1;
    if (!strcmp(type, "Unigram")) {
        size_t i;
        if (!json_is_array(vocab) || !json_array_size(vocab))
            return bad(c, T_TOKENIZER, "model.vocab is not a list of [piece, score]");
        json_array_foreach(vocab, i, v) {
            if (!json_is_string(json_array_get(v, 0)) || !json_is_number(json_array_get(v, 1)))
                return bad(c, T_TOKENIZER, "model.vocab[%zu] is not [piece, score]", i);
        }
        top = (int64_t)json_array_size(vocab) - 1;
    } else {
        const char *key;
        if (!json_is_object(vocab) || !json_object_size(vocab))
            return bad(c, T_TOKENIZER, "model.vocab is not a map of token to id");
        json_object_foreach(vocab, key, v) {
            if (!is_id(v, MAX_ID))
                return bad(c, T_TOKENIZER, "model.vocab[\"%.60s\"] is not a token id", key);
            top = int_of(v) > top ? int_of(v) : top;
        }
    }
    json_t *added = json_object_get(j, "added_tokens");
    if (added && !json_is_array(added))
        return bad(c, T_TOKENIZER, "added_tokens is not a list");
    size_t i;
    json_array_foreach(added, i, v) {
        json_t *id = json_object_get(v, "id");
        if (!is_id(id, MAX_ID) || !json_is_string(json_object_get(v, "content")))
            return bad(c, T_TOKENIZER, "added_tokens[%zu] has no id or content", i);
        top = int_of(id) > top ? int_of(id) : top;
    }
    c->tokens = top + 1;
    c->tok_vocab = vocab;
    c->added = added;
    if (c->vocab && c->tokens > c->vocab)
        return bad(c, T_TOKENIZER, "token id %lld is outside the model's vocabulary (%lld ids)",
                   (long long)top, (long long)c->vocab);
    /* the post-processor's special tokens (TemplateProcessing: {name: {id, ids, tokens}}) */
    json_t *pp = json_object_get(j, "post_processor"), *procs = json_object_get(pp, "processors");
    size_t np = json_is_array(procs) ? json_array_size(procs) : 1;
    for (size_t p = 0; p < np; p++) {
        json_t *st = json_object_get(json_is_array(procs) ? json_array_get(procs, p) : pp,
                                     "special_tokens");
        const char *name;
        json_object_foreach(st, name, v) {
            json_t *ids = json_object_get(v, "ids"), *id;
            size_t q;
            if (!json_is_array(ids))
                return bad(c, T_TOKENIZER, "post_processor special token %.60s has no ids", name);
            json_array_foreach(ids, q, id) {
                int rc = check_id(c, T_TOKENIZER, id, "post_processor special token id");
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

static bool tokenizer_has(const tctx *c, const char *tok)
{
    json_t *v;
    size_t i;
    if (json_is_object(c->tok_vocab) && json_object_get(c->tok_vocab, tok))
        return true;
    json_array_foreach(c->added, i, v) if (!strcmp(json_string_value(json_object_get(v, "content")), tok))
        return true;
    if (json_is_array(c->tok_vocab))
        json_array_foreach(c->tok_vocab, i, v) if (!strcmp(json_string_value(json_array_get(v, 0)), tok))
            return true;
    return false;
}

/* a special token: a string, {"content": string, ...}, or null; one the tokenizer has */
static int check_token(tctx *c, int k, json_t *v, const char *what)
{
    const char *s = json_is_object(v) ? json_string_value(json_object_get(v, "content"))
                                      : json_string_value(v);
    if (!v || json_is_null(v))
        return 0;
    if (!s)
        return bad(c, k, "%s is not a token (a string or {\"content\": ...})", what);
    if (c->f[T_TOKENIZER].j && !tokenizer_has(c, s))
        return bad(c, k, "%s \"%.60s\" is not a token of tokenizer.json", what, s);
    return 0;
}

static int check_special_tokens(tctx *c, int k)
{
    json_t *j = c->f[k].j, *v;
    if (!json_is_object(j))
        return bad(c, k, "not a JSON object");
    for (int i = 0; token_keys[i]; i++) {
        int rc = check_token(c, k, json_object_get(j, token_keys[i]), token_keys[i]);
        if (rc)
            return rc;
    }
    json_t *extra = json_object_get(j, "additional_special_tokens");
    size_t i;
    if (extra && !json_is_array(extra))
        return bad(c, k, "additional_special_tokens is not a list");
    json_array_foreach(extra, i, v) {
        int rc = check_token(c, k, v, "additional_special_tokens entry");
        if (rc)
            return rc;
    }
    if (k != T_CONFIG)
        return 0;
    json_t *ct = json_object_get(j, "chat_template");
    if (ct && !json_is_string(ct) && !json_is_null(ct)) {
        if (!json_is_array(ct))
            return bad(c, k, "chat_template is not a template or a list of {name, template}");
        json_array_foreach(ct, i, v) if (!json_is_string(json_object_get(v, "name")) ||
                                         !json_is_string(json_object_get(v, "template")))
            return bad(c, k, "chat_template[%zu] is not {name, template}", i);
    }
    json_t *dec = json_object_get(j, "added_tokens_decoder");
    const char *key;
    if (dec && !json_is_object(dec))
        return bad(c, k, "added_tokens_decoder is not a map of id to token");
    json_object_foreach(dec, key, v) {
        char *end;
        errno = 0;
        long long id = strtoll(key, &end, 10);
        int64_t lim = c->vocab ? c->vocab : c->tokens;
        if (!*key || *end || errno || id < 0)
            return bad(c, k, "added_tokens_decoder key \"%.40s\" is not a token id", key);
        if (id >= lim)
            return bad(c, k, "added_tokens_decoder id %lld is outside the %s vocabulary (%lld ids)",
                       id, c->vocab ? "model's" : "tokenizer's", (long long)lim);
        if (!json_is_string(json_object_get(v, "content")))
            return bad(c, k, "added_tokens_decoder[%s] has no content", key);
    }
    return 0;
}

static int check_generation(tctx *c)
{
    json_t *j = c->f[T_GENERATION].j, *v;
    if (!json_is_object(j))
        return bad(c, T_GENERATION, "not a JSON object");
    static const char *const ids[] = {"bos_token_id", "pad_token_id", "decoder_start_token_id", NULL};
    for (int i = 0; ids[i]; i++) {
        int rc = check_id(c, T_GENERATION, json_object_get(j, ids[i]), ids[i]);
        if (rc)
            return rc;
    }
    json_t *eos = json_object_get(j, "eos_token_id");
    size_t i;
    if (json_is_array(eos)) {
        json_array_foreach(eos, i, v) {
            int rc = json_is_null(v) ? bad(c, T_GENERATION, "eos_token_id lists null")
                                     : check_id(c, T_GENERATION, v, "eos_token_id");
            if (rc)
                return rc;
        }
    } else {
        int rc = check_id(c, T_GENERATION, eos, "eos_token_id");
        if (rc)
            return rc;
    }
    static const char *const nums[] = {"temperature", "top_p", "top_k", "repetition_penalty",
                                       "max_new_tokens", "max_length", NULL};
    for (int k = 0; nums[k]; k++)
        if ((v = json_object_get(j, nums[k])) && !json_is_null(v) &&
            (!json_is_number(v) || json_number_value(v) < 0 || !isfinite(json_number_value(v))))
            return bad(c, T_GENERATION, "%s is not a number >= 0", nums[k]);
    if ((v = json_object_get(j, "do_sample")) && !json_is_boolean(v))
        return bad(c, T_GENERATION, "do_sample is not true or false");
    return 0;
}

/* preprocessor_config.json (an image processor's): image_mean / image_std lists of finite
 * numbers (std > 0), rescale_factor a finite number, when given */
static int check_preprocessor(tctx *c)
{
    json_t *j = c->f[T_PREPROCESSOR].j, *v;
    if (!json_is_object(j))
        return bad(c, T_PREPROCESSOR, "not a JSON object");
    static const char *const lists[] = {"image_mean", "image_std"};
    for (int k = 0; k < 2; k++) {
        json_t *a = json_object_get(j, lists[k]);
        size_t i;
        if (!a || json_is_null(a))
            continue;
        if (json_is_number(a) && isfinite(json_number_value(a)) && (k == 0 || json_number_value(a) > 0))
            continue;
        if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > 16)
            return bad(c, T_PREPROCESSOR, "%s is not a list of numbers", lists[k]);
        json_array_foreach(a, i, v) if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
                                        (k == 1 && !(json_number_value(v) > 0)))
            return bad(c, T_PREPROCESSOR, "%s[%zu] is not a %s number", lists[k], i, k ? "positive" : "finite");
    }
    v = json_object_get(j, "rescale_factor");
    if (v && !json_is_null(v) && !(json_is_number(v) && isfinite(json_number_value(v))))
        return bad(c, T_PREPROCESSOR, "rescale_factor is not a number");
    return 0;
}

/* modules.json: sentence-transformers' pipeline; its Pooling module's folder, if any */
static int check_modules(tctx *c, bool *pooling)
{
    json_t *j = c->f[T_MODULES].j, *v;
    size_t i;
    if (!json_is_array(j))
        return bad(c, T_MODULES, "not a list of modules");
    json_array_foreach(j, i, v) {
        const char *type = json_string_value(json_object_get(v, "type")),
                   *path = json_string_value(json_object_get(v, "path"));
        if (!type || !path)
            return bad(c, T_MODULES, "module %zu has no type or path", i);
        if (strstr(type, "Pooling")) {
            if (strcmp(path, "1_Pooling"))
                return bad(c, T_MODULES, "the Pooling module is in %.60s (wgpack reads 1_Pooling)", path);
            *pooling = true;
        }
    }
    return 0;
}

static int check_pooling(tctx *c, int64_t hidden)
{
    json_t *j = c->f[T_POOLING].j, *v;
    if (!json_is_object(j))
        return bad(c, T_POOLING, "not a JSON object");
    v = json_object_get(j, "word_embedding_dimension");
    if (!is_int(v) || int_of(v) < 1)
        return bad(c, T_POOLING, "word_embedding_dimension is missing or not a size");
    if (hidden && int_of(v) != hidden)
        return bad(c, T_POOLING, "word_embedding_dimension %lld is not the model's hidden size %lld",
                   (long long)int_of(v), (long long)hidden);
    static const char *const modes[] = {"pooling_mode_cls_token", "pooling_mode_mean_tokens",
                                        "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                                        "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken", NULL};
    int on = 0;
    for (int k = 0; modes[k]; k++) {
        v = json_object_get(j, modes[k]);
        if (v && !json_is_boolean(v))
            return bad(c, T_POOLING, "%s is not true or false", modes[k]);
        on += json_is_true(v);
    }
    if (!on)
        return bad(c, T_POOLING, "no pooling_mode_* is true");
    return 0;
}

static int write_copy(tctx *c, int k, const char *dir, bool hf_names, json_t *files)
{
    const tfile *f = &c->f[k];
    char hx[20], sri[64], name[200], path[4400];
    snprintf(hx, sizeof hx, "%016llx", (unsigned long long)XXH3_64bits(f->map, f->size));
    wg_sri_sha256(f->map, f->size, sri);
    if (hf_names)
        snprintf(name, sizeof name, "%s", text_files[k].name);
    else
        snprintf(name, sizeof name, "text/%s-%s.json", text_files[k].stem, hx);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return wg_fail(c->err, WG_EIO, path, "cannot create: %s", strerror(errno));
    size_t at = 0;
    while (at < f->size) {
        ssize_t w = write(fd, f->map + at, f->size - at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return wg_fail(c->err, WG_EIO, path, "write failed: %s", strerror(e));
        }
        at += (size_t)w;
    }
    if (close(fd)) /* flushed with the rest of the staged bundle (syncfs) before the swap */
        return wg_fail(c->err, WG_EIO, path, "cannot finish: %s", strerror(errno));
    json_object_set_new(files, text_files[k].name,
                        json_pack("{s:s, s:I, s:s, s:s}", "file", name, "bytes",
                                  (json_int_t)f->size, "xxh3", hx, "integrity", sri));
    return 0;
}

static int text_files_write(const char *src, int64_t vocab, int64_t hidden, const char *dir,
                            bool hf_names, json_t **section, wg_error *err)
{
    tctx c = {.vocab = vocab > 0 ? vocab : 0, .err = err};
    json_t *files = NULL;
    bool pooling = false;
    char spm[4200];
    struct stat st;
    int rc = 0, any = 0;
    *section = NULL;
    for (int k = 0; k < T_N && !rc; k++)
        if (k != T_POOLING)
            rc = load(&c, k, src, text_files[k].name);
    if (!rc && c.f[T_MODULES].j)
        rc = check_modules(&c, &pooling);
    if (!rc)
        rc = load(&c, T_POOLING, src, text_files[T_POOLING].name);
    if (rc)
        goto done;
    snprintf(spm, sizeof spm, "%s/tokenizer.model", src);
    if (!c.f[T_TOKENIZER].j && (c.f[T_CONFIG].j || c.f[T_SPECIAL].j || !stat(spm, &st))) {
        rc = wg_fail(err, WG_EINPUT, c.f[T_CONFIG].j ? c.f[T_CONFIG].path : spm,
                     "the tokenizer has no tokenizer.json (a SentencePiece tokenizer.model or a "
                     "slow tokenizer alone): save it as a fast one (transformers: "
                     "AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR)), or give "
                     "--tokenizer DIR");
        goto done;
    }
    if (c.f[T_TOKENIZER].j && (rc = check_tokenizer(&c)))
        goto done;
    if ((c.f[T_CONFIG].j && (rc = check_special_tokens(&c, T_CONFIG))) ||
        (c.f[T_SPECIAL].j && (rc = check_special_tokens(&c, T_SPECIAL))) ||
        (c.f[T_GENERATION].j && (rc = check_generation(&c))) ||
        (c.f[T_POOLING].j && (rc = check_pooling(&c, hidden))) ||
        (c.f[T_PREPROCESSOR].j && (rc = check_preprocessor(&c))))
        goto done;
    if (pooling && !c.f[T_POOLING].j) {
        rc = bad(&c, T_MODULES, "names a Pooling module whose 1_Pooling/config.json is missing");
        goto done;
    }
    for (int k = 0; k < T_N; k++)
        any += c.f[k].j != NULL;
    if (!any)
        goto done;
    char tdir[4200];
    snprintf(tdir, sizeof tdir, "%s/%s", dir, hf_names ? "1_Pooling" : "text");
    if ((!hf_names || c.f[T_POOLING].j) && mkdir(tdir, 0755)) {
        rc = wg_fail(err, WG_EIO, tdir, "cannot create: %s", strerror(errno));
        goto done;
    }
    files = json_object();
    for (int k = 0; k < T_N && !rc; k++)
        if (c.f[k].j)
            rc = write_copy(&c, k, dir, hf_names, files);
    if (rc)
        goto done;
    *section = json_pack("{s:o}", "files", files);
    files = NULL;
    if (c.f[T_TOKENIZER].j)
        json_object_set_new(*section, "tokenizer", json_pack("{s:s, s:I}", "model",
            json_string_value(json_object_get(json_object_get(c.f[T_TOKENIZER].j, "model"), "type")),
            "tokens", (json_int_t)c.tokens));
done:
    json_decref(files);
    for (int k = 0; k < T_N; k++) {
        json_decref(c.f[k].j);
        if (c.f[k].map)
            munmap((void *)c.f[k].map, c.f[k].size);
    }
    return rc;
}

int wg_text_bundle(const char *src, int64_t vocab, int64_t hidden, const char *dir,
                   json_t **section, wg_error *err)
{
    return text_files_write(src, vocab, hidden, dir, false, section, err);
}

static int text_for_model(const wg_model *m, const char *given, const char *dir, bool hf_names,
                          json_t **section, wg_error *err)
{
    char src[4096];
    struct stat st;
    *section = NULL;
    if (given) {
        if (stat(given, &st) || !S_ISDIR(st.st_mode))
            return wg_fail(err, WG_EINPUT, given, "--tokenizer: not a directory");
        snprintf(src, sizeof src, "%s", given);
    } else if (!stat(m->path, &st) && S_ISDIR(st.st_mode))
        snprintf(src, sizeof src, "%s", m->path);
    else { /* a model file: the files beside it */
        const char *slash = strrchr(m->path, '/');
        snprintf(src, sizeof src, "%.*s", slash ? (int)(slash - m->path) : 1, slash ? m->path : ".");
    }
    const wg_hfconfig *c = &m->config;
    int rc = text_files_write(src, c->present ? c->vocab_size : 0, c->present ? c->hidden_size : 0,
                              dir, hf_names, section, err);
    if (!rc && given && !*section)
        rc = wg_fail(err, WG_EINPUT, given, "--tokenizer: holds no tokenizer.json, "
                     "tokenizer_config.json, generation_config.json or pooling config");
    return rc;
}

int wg_text_bundle_model(const wg_model *m, const char *given, const char *dir, json_t **section,
                         wg_error *err)
{
    return text_for_model(m, given, dir, false, section, err);
}

int wg_text_copy_model(const wg_model *m, const char *given, const char *dir, wg_error *err)
{
    json_t *section = NULL;
    int rc = text_for_model(m, given, dir, true, &section, err);
    json_decref(section);
    return rc;
}
