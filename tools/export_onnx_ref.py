#!/usr/bin/env python3
"""Export models/tinyllama (the committed fp16 safetensors) to ONNX with external data and
record ONNX Runtime reference logits (run on the device machine: needs torch, transformers,
onnx, onnxruntime). The model is rebuilt from config.json in fp32, so every buffer (the rotary
inverse frequencies included) is what HF computes at load time; only the weights come from the
checkpoint (fp16 values, exact in fp32).
Usage: export_onnx_ref.py MODEL_DIR OUT_DIR TOKENS_TEXT_FILE"""
import sys, os, numpy as np, torch, onnx, onnxruntime as ort
from transformers import LlamaConfig, LlamaForCausalLM
from safetensors.torch import load_file
import json, glob

src, out, text = sys.argv[1:4]
cfg = LlamaConfig.from_pretrained(src)
model = LlamaForCausalLM(cfg).float().eval()
sd = {}
for f in sorted(glob.glob(os.path.join(src, '*.safetensors'))):
    sd.update({k: v.float() for k, v in load_file(f).items()})
missing, unexpected = model.load_state_dict(sd, strict=False)
assert not unexpected and all('rotary' in m for m in missing), (missing, unexpected)

class Wrap(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, ids): return s.m(input_ids=ids, use_cache=False).logits

ids = torch.tensor(list(open(text, 'rb').read()[:128]), dtype=torch.int64).unsqueeze(0)
os.makedirs(out, exist_ok=True)
tmp = '/tmp/export.onnx'
torch.onnx.export(Wrap(model), (ids,), tmp, input_names=['input_ids'], output_names=['logits'],
                  dynamic_shapes={'ids': {1: torch.export.Dim('seq', max=512)}}, opset_version=18, dynamo=True)
m = onnx.load(tmp)
onnx.save_model(m, f'{out}/model.onnx', save_as_external_data=True, all_tensors_to_one_file=True,
                location='model.onnx.data', size_threshold=1024)
sess = ort.InferenceSession(f'{out}/model.onnx', providers=['CPUExecutionProvider'])
ref = sess.run(None, {'input_ids': ids.numpy()})[0]
with torch.no_grad():
    tl = Wrap(model)(ids).numpy()
ids.numpy().astype(np.int64).tofile(f'{out}/ref_tokens.i64')
ref.astype(np.float32).tofile(f'{out}/ref_logits.f32')
print(json.dumps({'tokens': ids.shape[1], 'ort_vs_torch_maxabs': float(np.abs(ref - tl).max()),
                  'logit_absmax': float(np.abs(ref).max())}))
