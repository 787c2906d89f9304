#!/usr/bin/env python3
"""tools/zoo/make_heads.py — the encoder task heads' ground truth (tests/zoo/heads.tar.zst).

A WordPiece tokenizer trained here on a few sentences (Hugging Face `tokenizers`, saved as
BertTokenizerFast saves it), and one tiny random-init checkpoint per head and family that
program/models/heads.c builds (masked LM, sequence and token classification; BERT, RoBERTa,
DistilBERT, ELECTRA, MPNet, XLM-RoBERTa, ALBERT), each with the tokenizer beside it and what
transformers computes, fp32 eager, weights rounded to fp16 and saved in fp16:
  hf_out.f32     the head's logits on ids.txt ([1][labels] for a sequence classifier)
  hf_hidden.f32  the last hidden state on the same ids
  pipeline.json  transformers' pipeline() on a few texts: fill-mask's top 5 (token, score) for
                 the masked-LM checkpoints, text-classification's scores of every label for the
                 sequence classifiers (with its function_to_apply), the ids the tokenizer made
usage: python3 tools/zoo/make_heads.py OUTDIR   (writes OUTDIR/heads.tar; zstd -19 into tests/zoo/)
Run where torch, transformers and tokenizers are (the device machine). Deterministic seeds; CPU.
"""
import json, os, sys

import numpy as np
import torch
import transformers
from zoo_common import randomize_vectors_fp16, write_tar
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers, decoders
from transformers import AutoConfig, AutoModel, BertTokenizerFast, pipeline
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoModelForTokenClassification

H, I, P = 64, 96, 64
CORPUS = ["the cat sat on the mat", "a dog ran in the park", "paris is the capital of france",
          "the weather is nice today", "i love this movie", "this film was terrible",
          "we went to the market and bought some fruit", "she reads a book every night",
          "the quick brown fox jumps over the lazy dog", "music makes people happy"] * 3
TEXTS_MASK = ["the cat sat on the [MASK]", "paris is the [MASK] of france", "[MASK] dog ran in the park"]
TEXTS_CLS = ["i love this movie", "this film was terrible", "the weather is nice today"]
LABELS3 = {0: "negative", 1: "neutral", 2: "positive"}


def tokenizer():
    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.decoder = decoders.WordPiece()
    tr = trainers.WordPieceTrainer(vocab_size=120, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    t.train_from_iterator(CORPUS, tr)
    cls, sep = t.token_to_id("[CLS]"), t.token_to_id("[SEP]")
    t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                     special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return BertTokenizerFast(tokenizer_object=t, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                             cls_token="[CLS]", mask_token="[MASK]", model_max_length=P)


def enc(**kw):
    base = dict(hidden_size=H, intermediate_size=I, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=P)
    base.update(kw)
    return base


# name: (model_type, head class, config, texts for the pipeline)
MODELS = {
    "bert-mlm": ("bert", "mlm", enc(), True),
    "bert-mlm-untied": ("bert", "mlm", enc(tie_word_embeddings=False, hidden_act="gelu_new"), True),
    "bert-seq": ("bert", "seq", enc(num_labels=3, id2label=LABELS3, label2id={v: k for k, v in LABELS3.items()}), True),
    "bert-tok": ("bert", "tok", enc(num_labels=5), False),
    "roberta-mlm": ("roberta", "mlm", enc(pad_token_id=1, max_position_embeddings=P + 2), False),
    "roberta-seq-multi": ("roberta", "seq", enc(pad_token_id=1, max_position_embeddings=P + 2, num_labels=4,
                                                problem_type="multi_label_classification"), False),
    "xlm-roberta-tok": ("xlm-roberta", "tok", enc(pad_token_id=1, max_position_embeddings=P + 2, num_labels=3), False),
    "distilbert-mlm": ("distilbert", "mlm", dict(dim=H, hidden_dim=I, n_layers=2, n_heads=4,
                                                 max_position_embeddings=P), True),
    "distilbert-seq": ("distilbert", "seq", dict(dim=H, hidden_dim=I, n_layers=2, n_heads=4,
                                                 max_position_embeddings=P, num_labels=2), True),
    "distilbert-seq-1": ("distilbert", "seq", dict(dim=H, hidden_dim=I, n_layers=2, n_heads=4,
                                                   max_position_embeddings=P, num_labels=1), True),
    "electra-mlm": ("electra", "mlm", enc(embedding_size=H), False),
    "electra-seq": ("electra", "seq", enc(embedding_size=H, num_labels=2), False),
    "mpnet-mlm": ("mpnet", "mlm", enc(max_position_embeddings=P + 2), False),
    "mpnet-seq": ("mpnet", "seq", enc(max_position_embeddings=P + 2, num_labels=3), False),
    "albert-mlm": ("albert", "mlm", enc(embedding_size=32), True),
    "albert-seq": ("albert", "seq", enc(embedding_size=32, num_labels=3, id2label=LABELS3,
                                        label2id={v: k for k, v in LABELS3.items()}), True),
}
CLASSES = {"mlm": AutoModelForMaskedLM, "seq": AutoModelForSequenceClassification,
           "tok": AutoModelForTokenClassification}


def build(name, mt, head, kw, pipe, tok, root, log):
    V = len(tok)
    ids_list = tok("the quick brown fox jumps over the lazy dog and the cat sat on the mat")["input_ids"]
    torch.manual_seed(sum(map(ord, name)))
    cfg = AutoConfig.for_model(mt, vocab_size=V, **kw)
    model = CLASSES[head].from_config(cfg, attn_implementation="eager").eval()
    model = randomize_vectors_fp16(model)
    d = os.path.join(root, name)
    model.half().save_pretrained(d, safe_serialization=True)
    model.float()
    tok.save_pretrained(d)
    ids = torch.tensor([ids_list])
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
    y = out.logits[0].float().numpy()
    y.astype("<f4").tofile(os.path.join(d, "hf_out.f32"))
    out.hidden_states[-1][0].float().numpy().astype("<f4").tofile(os.path.join(d, "hf_hidden.f32"))
    with open(os.path.join(d, "ids.txt"), "w") as f:
        f.write(" ".join(map(str, ids_list)) + "\n")
    res = {}
    if pipe and head == "mlm":
        fm = pipeline("fill-mask", model=model, tokenizer=tok, device="cpu")
        res = {t: {"ids": tok(t)["input_ids"], "top": [{"token": r["token"], "token_str": r["token_str"],
                                                         "score": r["score"], "sequence": r["sequence"]}
                                                        for r in fm(t, top_k=5)]} for t in TEXTS_MASK}
    elif pipe and head == "seq":
        tc = pipeline("text-classification", model=model, tokenizer=tok, device="cpu")
        res = {t: {"ids": tok(t)["input_ids"], "scores": sorted(tc(t, top_k=None), key=lambda r: r["label"])}
               for t in TEXTS_CLS}
    meta = dict(model_type=mt, head=head, architectures=model.config.architectures, shape=list(y.shape),
                transformers=transformers.__version__, torch=torch.__version__, pipeline=res)
    with open(os.path.join(d, "hf.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log.append(dict(name=name, shape=list(y.shape)))
    print(f"{name}: {mt} {head} {y.shape}", flush=True)


def main():
    out = sys.argv[1]
    root = os.path.join(out, "heads", "heads")
    os.makedirs(root, exist_ok=True)
    tok, log = tokenizer(), []
    for name, (mt, head, kw, pipe) in MODELS.items():
        try:
            build(name, mt, head, kw, pipe, tok, root, log)
        except Exception as e:  # reported, the others go on
            print(f"{name}: FAILED {type(e).__name__}: {e}", flush=True)
    write_tar(out, "heads")
    print(json.dumps(log))


if __name__ == "__main__":
    main()
