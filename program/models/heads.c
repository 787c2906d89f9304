/* program/models/heads.c — the task heads of the BERT-family encoders, as the checkpoint's
 * config.json `architectures` names them (its first entry): the stage "task head" after the
 * encoder, a second output of the program (wg_phead), the last hidden state staying the first.
 *   ...ForMaskedLM / BertForPreTraining: dense, activation, LayerNorm, decoder (tied to the word
 *     embeddings when the checkpoint has no decoder weight) plus the vocabulary bias, per token
 *     (ALBERT's in its embedding width);
 *   ...ForSequenceClassification: on the first token, BERT's pooler (dense, tanh) then the
 *     classifier; RoBERTa's, ELECTRA's and MPNet's classifier.dense (tanh; ELECTRA gelu) then
 *     classifier.out_proj; DistilBERT's pre_classifier (ReLU) then the classifier;
 *   ...ForTokenClassification: the classifier on every token;
 *   ...ForImageClassification (ViT, DeiT): the classifier on the first (CLS) token.
 * Every other architecture (the base model, question answering, ...) has no head here, nor has a
 * checkpoint without the head's first weight: the program is the encoder's, which is what the
 * base model computes; a head with some of its weights missing is refused. Dropout is the identity at
 * inference. Labels from id2label (LABEL_i where absent), the problem type from problem_type
 * ("" where absent: HF's pipeline then takes a sigmoid for one label, a softmax for several). */
#include "models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* which head: 'm' masked LM, 's' sequence, 't' token classification, 0 none; a config without
 * architectures has the masked-LM head when the checkpoint holds its weights */
static char head_kind(wg_pbuild *b, const pb_enc_head *e)
{
    json_t *a = pb_cfg(b, "architectures");
    const char *s = json_is_array(a) && json_is_string(json_array_get(a, 0))
                        ? json_string_value(json_array_get(a, 0)) : "";
    size_t n = strlen(s);
    if (!json_is_array(a)) /* (an ONNX export's renamed head is not recognised: no head) */
        return e->mlm_dense && pb_has(b, "%s.weight", e->mlm_dense) && pb_has(b, "%s.bias", e->mlm_dense) &&
                       pb_has(b, "%s.weight", e->mlm_norm) && pb_has(b, "%s.bias", e->mlm_norm)
                   ? 'm' : 0;
#define ENDS(suf) (n >= sizeof suf - 1 && !strcmp(s + n - (sizeof suf - 1), suf))
    if (ENDS("ForMaskedLM") || !strcmp(s, "BertForPreTraining"))
        return 'm';
    if (ENDS("ForSequenceClassification") || ENDS("ForImageClassification"))
        return 's';
    if (ENDS("ForTokenClassification"))
        return 't';
#undef ENDS
    return 0;
}

/* config.json's id2label ({"0": "NEG", ...}) for n classes, LABEL_i where absent */
static void head_labels(wg_pbuild *b, int64_t n)
{
    wg_phead *h = &b->p->head;
    if (n > WG_HEAD_LABELS) {
        pb_fail(b, "config.json: %lld labels (at most %d are implemented)", (long long)n, WG_HEAD_LABELS);
        return;
    }
    json_t *map = pb_cfg(b, "id2label");
    for (int64_t i = 0; i < n; i++) {
        char key[24], def[32];
        snprintf(key, sizeof key, "%lld", (long long)i);
        snprintf(def, sizeof def, "LABEL_%lld", (long long)i);
        json_t *v = json_is_object(map) ? json_object_get(map, key) : NULL;
        if (json_is_object(map) && !json_is_string(v)) {
            pb_fail(b, "config.json: id2label has no string label for class %lld", (long long)i);
            return;
        }
        if (!(h->labels[i] = strdup(v ? json_string_value(v) : def))) {
            pb_fail(b, "out of memory");
            return;
        }
        h->nlabels++;
    }
    const char *pt = pb_str(b, "problem_type", "");
    if (*pt && strcmp(pt, "single_label_classification") && strcmp(pt, "multi_label_classification") &&
        strcmp(pt, "regression"))
        pb_fail(b, "config.json: problem_type \"%s\" is not implemented", pt);
    snprintf(h->problem, sizeof h->problem, "%s", pt);
}

static void head_describe(wg_pbuild *b, const char *task, int value, bool first)
{
    wg_phead *h = &b->p->head;
    snprintf(h->task, sizeof h->task, "%s", task);
    snprintf(h->name, sizeof h->name, "logits");
    snprintf(h->value, sizeof h->value, "%s", b->p->vals[value].name);
    h->first_row = first;
}

/* the masked-LM head: y = decoder(LN(act(dense(x)))) + bias */
static void head_mlm(wg_pbuild *b, const pb_enc_head *e, int x)
{
    int64_t H = e->H, V = e->V, E = e->E ? e->E : e->H;
    int t = pb_act(b, "head_t", E), u = pb_act(b, "head_u", E), y = pb_act(b, "head_logits", V);
    pb_matmul(b, x, pb_w(b, false, E, H, "%s.weight", e->mlm_dense),
              pb_w(b, false, 1, E, "%s.bias", e->mlm_dense), t);
    pb_bias_act(b, t, -1, e->mlm_act, 1, 1);
    pb_layernorm(b, t, pb_w(b, false, 1, E, "%s.weight", e->mlm_norm),
                 pb_w(b, false, 1, E, "%s.bias", e->mlm_norm), u, e->eps);
    int dec = pb_w(b, true, V, E, "%s.weight", e->mlm_decoder);
    int bias = pb_w(b, true, 1, V, "%s.bias", e->mlm_decoder);
    if (bias < 0)
        bias = pb_w(b, false, 1, V, "%s", e->mlm_bias);
    pb_matmul(b, u, dec >= 0 ? dec : e->word_embeddings, bias, y);
    head_describe(b, "fill-mask", y, false);
}

/* a sequence classifier on the first token: act(pre(x)) then out; or out alone per token */
static void head_classifier(wg_pbuild *b, const pb_enc_head *e, int x, bool sequence)
{
    const char *pre = sequence ? e->seq_pre : NULL, *out = sequence ? e->seq_out : "classifier";
    int w = pb_w(b, false, 0, e->H, "%s.weight", out);
    int64_t C = PB_OK(b) ? b->p->vals[w].rows : 0;
    int y = pb_act(b, "head_logits", C > 0 ? C : 1);
    if (pre) {
        int t = pb_act(b, "head_t", e->H);
        pb_matmul(b, x, pb_w(b, false, e->H, e->H, "%s.weight", pre), pb_w(b, false, 1, e->H, "%s.bias", pre), t);
        pb_bias_act(b, t, -1, e->seq_act, 1, 1);
        x = t;
    }
    pb_matmul(b, x, w, pb_w(b, false, 1, C, "%s.bias", out), y);
    head_labels(b, C);
    head_describe(b, !sequence ? "token-classification" : b->p->img_tokens ? "image-classification"
                                                                           : "text-classification", y, sequence);
}

void pb_encoder_head(wg_pbuild *b, const pb_enc_head *e, int x)
{
    char k = head_kind(b, e);
    if (!k || !PB_OK(b))
        return;
    if (k == 'm' && !e->mlm_dense) {
        pb_fail(b, "config.json: architectures %s: this family's masked-LM head is not implemented",
                json_string_value(json_array_get(pb_cfg(b, "architectures"), 0)));
        return;
    }
    /* a checkpoint without the head's weights is the base model, whatever the config names (an
     * ONNX export of the encoder, a base model saved with its fine-tune's config) */
    if (!pb_has(b, "%s.weight", k == 'm' ? e->mlm_dense : k == 's' ? e->seq_out : "classifier"))
        return;
    pb_stage(b, "task head");
    if (k == 'm')
        head_mlm(b, e, x);
    else
        head_classifier(b, e, x, k == 's');
}
