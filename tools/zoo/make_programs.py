#!/usr/bin/env python3
"""tools/zoo/make_programs.py — the forward programs' ground truth (tests/zoo/programs.tar.zst).

One tiny random-init Hugging Face checkpoint per family the programs implement, each with a
config that switches on the variants its template must get right (biases, q/k norms, soft-caps,
sliding windows shorter than the sequence, partial rotary, multipliers, tied heads), and beside it
what transformers itself computes on fixed token ids, in fp32 with eager attention: logits of a
causal LM, or the last hidden state of an encoder. Weights are rounded to fp16 before the forward
pass and saved in fp16, so that wgpack reads exactly the numbers PyTorch multiplied by.

usage: python3 tools/zoo/make_programs.py OUTDIR [STEM [REGEX]]
  writes OUTDIR/STEM.tar (default STEM "programs"; compress with zstd -19 into tests/zoo/) of the
  checkpoints whose name matches REGEX (default: all). The tests read every
  tests/zoo/programs*.tar.zst, each holding a folder programs/NAME per checkpoint, so a new
  family's ground truth can ship as an archive of its own without remaking the others.
  The mixture-of-experts decoders ship as tests/zoo/programs-moe.tar.zst:
  `make_programs.py OUT programs-moe '^(mixtral|qwen2_moe|olmoe|qwen3_moe)'`; their routers are
  redrawn with a larger spread (MOE_ROUTER_STD) so that tokens choose different experts, and HF
  runs its eager experts loop (the reference, not batched_mm / grouped_mm).
Run where torch and transformers are (the device machine; the shipped archive was made with
transformers 5.17.0, torch 2.11.0). Deterministic seeds; CPU; a minute.
"""
import json, os, re, subprocess, sys

import numpy as np
import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

H, I, V, L, P, N = 64, 96, 96, 3, 64, 24


def dec(**kw):
    base = dict(hidden_size=H, intermediate_size=I, num_hidden_layers=L, num_attention_heads=4,
                num_key_value_heads=2, vocab_size=V, max_position_embeddings=P,
                tie_word_embeddings=False)
    base.update(kw)
    return base


def enc(**kw):
    base = dict(hidden_size=H, intermediate_size=I, num_hidden_layers=2, num_attention_heads=4,
                vocab_size=V, max_position_embeddings=P)
    base.update(kw)
    return base


MODELS = {
    "llama": ("llama", dec()),
    "llama-bias-tied": ("llama", dec(attention_bias=True, mlp_bias=True, tie_word_embeddings=True)),
    "llama-rope-llama3": ("llama", dec(rope_theta=50000.0, rope_scaling=dict(
        rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
        original_max_position_embeddings=16))),
    "mistral-window": ("mistral", dec(sliding_window=5)),
    "qwen2": ("qwen2", dec()),
    "qwen3": ("qwen3", dec(head_dim=16)),
    "granite": ("granite", dec(embedding_multiplier=6.0, residual_multiplier=0.3,
                               attention_multiplier=0.1, logits_scaling=4.0)),
    "gemma": ("gemma", dec(head_dim=16, hidden_activation="gelu_pytorch_tanh")),
    "gemma2": ("gemma2", dec(head_dim=16, sliding_window=6, query_pre_attn_scalar=12,
                             attn_logit_softcapping=5.0, final_logit_softcapping=3.0)),
    "phi3": ("phi3", dec(pad_token_id=0)),
    "olmo2": ("olmo2", dec()),
    "starcoder2": ("starcoder2", dec(sliding_window=7, tie_word_embeddings=True)),
    "stablelm": ("stablelm", dec(num_key_value_heads=4, partial_rotary_factor=0.25, use_qkv_bias=True)),
    "cohere": ("cohere", dec(logit_scale=0.5, tie_word_embeddings=True)),
    "gpt2": ("gpt2", dict(n_embd=H, n_layer=L, n_head=4, vocab_size=V, n_positions=P)),
    "gpt_bigcode": ("gpt_bigcode", dict(n_embd=H, n_layer=L, n_head=4, vocab_size=V, n_positions=P, multi_query=True)),
    "gptj": ("gptj", dict(n_embd=H, n_layer=L, n_head=4, vocab_size=V, n_positions=P, rotary_dim=8, tie_word_embeddings=False)),
    "gpt_neox": ("gpt_neox", dict(hidden_size=H, intermediate_size=I, num_hidden_layers=L, num_attention_heads=4,
                                  vocab_size=V, max_position_embeddings=P, rotary_pct=0.5, tie_word_embeddings=False)),
    "gpt_neox-sequential": ("gpt_neox", dict(hidden_size=H, intermediate_size=I, num_hidden_layers=L, num_attention_heads=4,
                                  vocab_size=V, max_position_embeddings=P, use_parallel_residual=False, tie_word_embeddings=False)),
    "phi": ("phi", dec(num_key_value_heads=4, partial_rotary_factor=0.5)),
    "opt": ("opt", dict(hidden_size=H, ffn_dim=I, num_hidden_layers=L, num_attention_heads=4, vocab_size=V,
                        max_position_embeddings=P, word_embed_proj_dim=H)),
    "olmo": ("olmo", dec(eos_token_id=2)),
    "bloom": ("bloom", dict(hidden_size=H, n_layer=L, n_head=4, vocab_size=V)),
    "bloom-6heads": ("bloom", dict(hidden_size=96, n_layer=2, n_head=6, vocab_size=V)),
    "mpt": ("mpt", dict(d_model=H, n_heads=4, n_layers=L, expansion_ratio=2, max_seq_len=P, vocab_size=V)),
    "mpt-6heads": ("mpt", dict(d_model=96, n_heads=6, n_layers=2, expansion_ratio=2, max_seq_len=P,
                               vocab_size=V)),
    "falcon": ("falcon", dict(hidden_size=H, num_attention_heads=4, num_kv_heads=2, num_hidden_layers=L,
                              vocab_size=V, max_position_embeddings=P, new_decoder_architecture=True,
                              ffn_hidden_size=I, tie_word_embeddings=False)),
    "falcon-mq": ("falcon", dict(hidden_size=H, num_attention_heads=4, num_hidden_layers=L, vocab_size=V,
                                 max_position_embeddings=P, multi_query=True, parallel_attn=True)),
    "falcon-seq": ("falcon", dict(hidden_size=H, num_attention_heads=4, num_hidden_layers=L, vocab_size=V,
                                  max_position_embeddings=P, multi_query=False, parallel_attn=False,
                                  bias=True, rope_theta=500.0)),
    "gpt_neo": ("gpt_neo", dict(hidden_size=H, num_layers=L, num_heads=4, vocab_size=V,
                                max_position_embeddings=P, intermediate_size=I, window_size=5,
                                attention_types=[[["global", "local"], 1], [["local"], 1]],
                                bos_token_id=1, eos_token_id=2)),
    "codegen": ("codegen", dict(n_embd=H, n_layer=L, n_head=4, rotary_dim=8, n_positions=P, n_ctx=P,
                                vocab_size=V, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)),
    "biogpt": ("biogpt", dict(hidden_size=H, intermediate_size=I, num_hidden_layers=L, num_attention_heads=4,
                              vocab_size=V, max_position_embeddings=P)),
    "gemma3": ("gemma3_text", dec(head_dim=16, sliding_window=5, query_pre_attn_scalar=16,
                                  layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                                  rope_parameters={"full_attention": dict(rope_type="default", rope_theta=1e6),
                                                   "sliding_attention": dict(rope_type="default",
                                                                             rope_theta=10000.0)})),
    "bert": ("bert", enc()),
    "roberta": ("roberta", enc(pad_token_id=1)),
    "xlm-roberta": ("xlm-roberta", enc(pad_token_id=1)),
    "camembert": ("camembert", enc(pad_token_id=1)),
    "electra": ("electra", enc(embedding_size=H)),
    "distilbert": ("distilbert", dict(dim=H, hidden_dim=I, n_layers=2, n_heads=4, vocab_size=V,
                                      max_position_embeddings=P)),
    # 3 layers over 2 groups of 2 inner layers: group 0 runs twice (HF: int(i / (L / G)))
    "albert": ("albert", enc(embedding_size=32, num_hidden_layers=3, num_hidden_groups=2, inner_group_num=2)),
    # layers 0 and 3 global, 1 and 2 local (a window of 4 each side, shorter than the sequence)
    "modernbert": ("modernbert", enc(num_hidden_layers=4, global_attn_every_n_layers=3, local_attention=8,
                                     pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1,
                                     sep_token_id=2, rope_parameters={
                                         "full_attention": {"rope_type": "default", "rope_theta": 80000.0},
                                         "sliding_attention": {"rope_type": "default", "rope_theta": 500.0}})),
    "modernbert-bias": ("modernbert", enc(num_hidden_layers=3, global_attn_every_n_layers=2, local_attention=6,
                                          norm_bias=True, attention_bias=True, mlp_bias=True,
                                          hidden_activation="gelu_pytorch_tanh", pad_token_id=0, bos_token_id=1,
                                          eos_token_id=2, cls_token_id=1, sep_token_id=2)),
    # 140 tokens: relative distances past every bucket boundary (16, 32, 64) and past 128
    "mpnet": ("mpnet", enc(max_position_embeddings=160, _tokens=140)),
    # mixture-of-experts decoders (tests/zoo/programs-moe.tar.zst): 4 experts top-2 (8 top-3),
    # routers sharpened (MOE_ROUTER_STD) so that tokens choose different experts
    "mixtral": ("mixtral", dec(num_local_experts=4, num_experts_per_tok=2, sliding_window=6)),
    "mixtral-8x3": ("mixtral", dec(num_local_experts=8, num_experts_per_tok=3, intermediate_size=48,
                                   num_hidden_layers=2, tie_word_embeddings=True)),
    # 64 experts, 8 a token (OLMoE's and Qwen 3's counts): more dispatches a layer than 256
    "mixtral-64x8": ("mixtral", dec(num_local_experts=64, num_experts_per_tok=8, intermediate_size=16,
                                    num_hidden_layers=2)),
    "qwen2_moe": ("qwen2_moe", dec(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=48,
                                   shared_expert_intermediate_size=64, norm_topk_prob=False)),
    # dense layers between the sparse ones: 0 and 2 by decoder_sparse_step 2 (2 named in mlp_only_layers
    # too; qwen3_moe's layer 1 is dense by mlp_only_layers alone)
    "qwen2_moe-sparse-step": ("qwen2_moe", dec(num_hidden_layers=4, num_experts=4, num_experts_per_tok=2,
                                               moe_intermediate_size=48, shared_expert_intermediate_size=64,
                                               norm_topk_prob=True, decoder_sparse_step=2, mlp_only_layers=[2])),
    "olmoe": ("olmoe", dec(num_experts=4, num_experts_per_tok=2, intermediate_size=48, norm_topk_prob=False,
                           eos_token_id=2)),  # eos inside the tiny vocabulary (the logits do not depend on it)
    "qwen3_moe": ("qwen3_moe", dec(head_dim=16, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=48,
                                   norm_topk_prob=True, mlp_only_layers=[1])),
}
MOE = {"mixtral", "qwen2_moe", "olmoe", "qwen3_moe"}
MOE_ROUTER_STD = 0.15
ENCODERS = {"bert", "roberta", "xlm-roberta", "camembert", "electra", "distilbert", "albert", "modernbert",
            "mpnet"}


def build(name, mt, kw, root, log):
    kw = dict(kw)
    n = kw.pop("_tokens", N)  # a longer sequence than the others' N
    ids_list = [(i * 7 + 3) % V for i in range(n)]
    torch.manual_seed(sum(map(ord, name)))
    cfg = AutoConfig.for_model(mt, **kw)
    cfg._attn_implementation = "eager"
    cls = AutoModel if mt in ENCODERS else AutoModelForCausalLM
    model = cls.from_config(cfg, attn_implementation="eager").eval()
    if mt in MOE:  # every expert's loop in Python (transformers' reference), not batched_mm / grouped_mm
        try:
            model.set_experts_implementation("eager")
        except AttributeError:
            model.config._experts_implementation = "eager"
    with torch.no_grad():  # random norms and biases too, so that 1 + w and biases count
        for pname, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2 + (0.0 if "bias" in pname or mt.startswith("gemma") else 1.0))
            elif mt in MOE and re.search(r"(\.gate|shared_expert_gate)\.weight$", pname):
                p.copy_(torch.randn_like(p) * MOE_ROUTER_STD)
        model = model.half().float()
    d = os.path.join(root, name)
    model.half().save_pretrained(d, safe_serialization=True)
    model.float()
    ids = torch.tensor([ids_list])
    with torch.no_grad():
        out = model(input_ids=ids) if mt in ENCODERS else model(input_ids=ids, use_cache=False)
    y = (out.last_hidden_state if mt in ENCODERS else out.logits)[0].float().numpy()
    y.astype("<f4").tofile(os.path.join(d, "hf_out.f32"))
    with open(os.path.join(d, "ids.txt"), "w") as f:
        f.write(" ".join(map(str, ids_list)) + "\n")
    meta = dict(model_type=mt, output="last_hidden_state" if mt in ENCODERS else "logits",
                shape=list(y.shape), transformers=transformers.__version__, torch=torch.__version__)
    if mt in MOE:
        meta["experts_implementation"] = getattr(model.config, "_experts_implementation", None)
    with open(os.path.join(d, "hf.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log.append(dict(name=name, **meta))
    print(f"{name}: {mt} {y.shape}", flush=True)


def main():
    out = sys.argv[1]
    stem = sys.argv[2] if len(sys.argv) > 2 else "programs"
    only = re.compile(sys.argv[3] if len(sys.argv) > 3 else ".")
    root = os.path.join(out, stem, "programs")
    os.makedirs(root, exist_ok=True)
    log = []
    for name, (mt, kw) in MODELS.items():
        if not only.search(name):
            continue
        try:
            build(name, mt, kw, root, log)
        except Exception as e:  # reported, the others go on
            print(f"{name}: FAILED {type(e).__name__}: {e}", flush=True)
    subprocess.run(["tar", "-C", os.path.join(out, stem), "-c", "--sort=name", "--mtime=@0", "--owner=0",
                    "--group=0", "--numeric-owner", "-f", os.path.join(out, stem + ".tar"), "programs"],
                   check=True)
    print(json.dumps(log)[:2000])


if __name__ == "__main__":
    main()
