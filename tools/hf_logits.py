#!/usr/bin/env python3
"""HF transformers' own output for a checkpoint directory (config.json + safetensors), in fp32:
logits [n][vocab] of a causal LM, or the last hidden state [n][hidden] of an encoder (bert,
roberta, xlm-roberta, distilbert), on the first N bytes of a text file or, when TOKENS ends in
.txt and holds whitespace-separated integers, on those ids. The check that wgpack's C reference
(and so the runtime, which agrees with it) computes what HF computes (`wgpack verify MODEL
--ref-logits OUT.f32`). Run on the device machine (torch, transformers).
Usage: hf_logits.py MODEL_DIR TEXT_OR_TOKENS N OUT.f32"""
import sys, os, glob, torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM
from safetensors.torch import load_file

src, text, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cfg = AutoConfig.from_pretrained(src)
encoder = cfg.model_type in ('bert', 'roberta', 'xlm-roberta', 'distilbert')
model = (AutoModel if encoder else AutoModelForCausalLM).from_config(cfg).float().eval()
sd = {}
for f in sorted(glob.glob(os.path.join(src, '*.safetensors'))):
    sd.update({k: v.float() for k, v in load_file(f).items()})
if encoder:  # checkpoints of *ForMaskedLM name the encoder's weights with a prefix
    pre = model.base_model_prefix + '.'
    sd = {k[len(pre):] if k.startswith(pre) else k: v for k, v in sd.items()}
missing, unexpected = model.load_state_dict(sd, strict=False)
left = [m for m in missing if not any(k in m for k in ('rotary', 'position_ids', 'pooler', 'lm_head'))]
if left or unexpected:
    print(f"warning: weights not loaded {left}, not used {unexpected}", file=sys.stderr)
raw = open(text, 'rb').read()
try:
    toks = [int(t) for t in raw.split()] if text.endswith('.txt') else None
except ValueError:
    toks = None
ids = torch.tensor((toks if toks else list(raw))[:n], dtype=torch.int64).unsqueeze(0)
with torch.no_grad():
    logits = (model(input_ids=ids).last_hidden_state if encoder
              else model(input_ids=ids, use_cache=False).logits)[0].float().numpy()
logits.tofile(out)
print(f"{src}: {logits.shape[0]} x {logits.shape[1]} logits, rope {getattr(cfg, 'rope_scaling', None) or getattr(cfg, 'rope_parameters', None)}")
