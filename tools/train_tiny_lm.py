#!/usr/bin/env python3
"""Train the small real models wgpack ships as test fixtures (run on the device machine).

Byte-level language models (vocab 256) trained on the Python standard library's source
text found on the machine. Writes, under OUT:
  tinyllama/   Llama-architecture, fp16, sharded safetensors + index + config.json
  tinyllama-onnx/...  a first ONNX export; the one committed in models/ is made instead by
               tools/export_onnx_ref.py from the saved checkpoint (this script's export cast
               the rotary inverse frequencies to fp16 along with the weights)
  tinygpt2/    GPT-2 architecture, fp32, single model.safetensors + config.json
  train.json   losses measured on held-out text
"""
import glob, json, os, sys, time, math
import numpy as np, torch
from transformers import LlamaConfig, LlamaForCausalLM, GPT2Config, GPT2LMHeadModel

OUT = sys.argv[1]
torch.manual_seed(0)
dev = 'cuda'
files = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), '**', '*.py'), recursive=True))
data = b''.join(open(f, 'rb').read() for f in files)
data = np.frombuffer(data, dtype=np.uint8)
split = int(len(data) * 0.99)
train, held = torch.tensor(data[:split].astype(np.int64)), torch.tensor(data[split:].astype(np.int64))
print('corpus bytes', len(data), 'files', len(files), flush=True)
SEQ = 256

def batch(src, bs):
    ix = torch.randint(0, len(src) - SEQ - 1, (bs,))
    x = torch.stack([src[i:i + SEQ] for i in ix]).to(dev)
    return x

def train_model(model, steps, lr):
    model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    t = time.time()
    for s in range(steps):
        x = batch(train, 64)
        with torch.autocast('cuda', dtype=torch.bfloat16):
            loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step()
        if s % 500 == 0:
            print(s, float(loss), round(time.time() - t, 1), flush=True)
    model.eval()
    g = torch.Generator().manual_seed(1)
    losses = []
    with torch.no_grad():
        for _ in range(20):
            ix = torch.randint(0, len(held) - SEQ - 1, (16,), generator=g)
            x = torch.stack([held[i:i + SEQ] for i in ix]).to(dev)
            losses.append(float(model(input_ids=x, labels=x).loss))
    return sum(losses) / len(losses)

report = {'corpus_bytes': int(len(data)), 'corpus': 'python stdlib *.py of the training machine'}
# --- Llama-family
lcfg = LlamaConfig(vocab_size=256, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                   tie_word_embeddings=False, rms_norm_eps=1e-5, bos_token_id=None, eos_token_id=None,
                   pad_token_id=None)
llama = LlamaForCausalLM(lcfg)
report['tinyllama_heldout_nll_nats_per_byte'] = train_model(llama, 4000, 3e-3)
llama = llama.float().cpu().half()
os.makedirs(f'{OUT}/tinyllama', exist_ok=True)
llama.save_pretrained(f'{OUT}/tinyllama', max_shard_size='3MB')
# ONNX export of the fp16-rounded weights in fp32, external data
llama = llama.float().eval()
class Wrap(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, ids): return s.m(input_ids=ids, use_cache=False).logits
ids = held[:64].unsqueeze(0)
os.makedirs(f'{OUT}/tinyllama-onnx', exist_ok=True)
tmp = f'/tmp/tl.onnx'
try:
    torch.onnx.export(Wrap(llama), (ids,), tmp, input_names=['input_ids'], output_names=['logits'],
                      dynamic_axes={'input_ids': {1: 'seq'}, 'logits': {1: 'seq'}}, opset_version=17, dynamo=False)
except Exception as e:
    print('legacy export failed', e, flush=True)
    torch.onnx.export(Wrap(llama), (ids,), tmp, input_names=['input_ids'], output_names=['logits'],
                      dynamic_shapes={'ids': {1: torch.export.Dim('seq', max=512)}}, opset_version=18, dynamo=True)
import onnx, onnxruntime as ort
m = onnx.load(tmp)
onnx.save_model(m, f'{OUT}/tinyllama-onnx/model.onnx', save_as_external_data=True, all_tensors_to_one_file=True,
                location='model.onnx.data', size_threshold=1024)
sess = ort.InferenceSession(f'{OUT}/tinyllama-onnx/model.onnx', providers=['CPUExecutionProvider'])
ref = sess.run(None, {'input_ids': ids.numpy()})[0]
with torch.no_grad():
    tl = Wrap(llama)(ids).numpy()
report['tinyllama_onnx_vs_torch_maxabs'] = float(np.abs(ref - tl).max())
ids.numpy().astype(np.int64).tofile(f'{OUT}/tinyllama-onnx/ref_tokens.i64')
ref.astype(np.float32).tofile(f'{OUT}/tinyllama-onnx/ref_logits.f32')
# --- GPT-2 family
gcfg = GPT2Config(vocab_size=256, n_positions=256, n_embd=128, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)
gpt = GPT2LMHeadModel(gcfg)
report['tinygpt2_heldout_nll_nats_per_byte'] = train_model(gpt, 2000, 3e-3)
os.makedirs(f'{OUT}/tinygpt2', exist_ok=True)
gpt.float().cpu().save_pretrained(f'{OUT}/tinygpt2')
json.dump(report, open(f'{OUT}/train.json', 'w'), indent=1)
print(json.dumps(report), flush=True)
for r, d, fs in os.walk(OUT):
    for f in fs: print(os.path.join(r, f), os.path.getsize(os.path.join(r, f)))
