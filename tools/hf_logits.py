#!/usr/bin/env python3
"""HF transformers' own logits for a Llama-family checkpoint directory (config.json + safetensors)
on the first N bytes of a text file, in fp32: the check that wgpack's C reference (and so the
runtime, which agrees with it) computes what HF computes, rope scaling included. Run on the
device machine (torch, transformers). Writes OUT.f32 [n][vocab].
Usage: hf_logits.py MODEL_DIR TEXT_FILE N OUT.f32"""
import sys, os, glob, torch
from transformers import AutoConfig, AutoModelForCausalLM
from safetensors.torch import load_file

src, text, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cfg = AutoConfig.from_pretrained(src)
model = AutoModelForCausalLM.from_config(cfg).float().eval()
sd = {}
for f in sorted(glob.glob(os.path.join(src, '*.safetensors'))):
    sd.update({k: v.float() for k, v in load_file(f).items()})
missing, unexpected = model.load_state_dict(sd, strict=False)
assert not unexpected and all('rotary' in m for m in missing), (missing, unexpected)
ids = torch.tensor(list(open(text, 'rb').read()[:n]), dtype=torch.int64).unsqueeze(0)
with torch.no_grad():
    logits = model(input_ids=ids, use_cache=False).logits[0].float().numpy()
logits.tofile(out)
print(f"{src}: {logits.shape[0]} x {logits.shape[1]} logits, rope {getattr(cfg, 'rope_scaling', None) or getattr(cfg, 'rope_parameters', None)}")
