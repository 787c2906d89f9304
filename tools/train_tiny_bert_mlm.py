#!/usr/bin/env python3
"""Train the small BERT-family model wgpack's transformers.js test uses (run on the device
machine: needs torch, transformers, onnx, onnxruntime).

A byte-level masked LM (vocab 256 bytes + [PAD] [CLS] [SEP] [MASK]; 2 layers, hidden 128,
2 heads, FFN 512, 128 positions) trained on the Python standard library's source text found on
the machine, exported by the torch dynamo exporter as is (its node metadata included: that is
what `export-onnx --strip-metadata` is for). Writes, under OUT/tinybert:
  config.json          the HF config (model_type bert), read by transformers.js
  onnx/model.onnx      inputs input_ids, attention_mask, token_type_ids; output logits
  train.json           held-out masked-token loss, and ORT vs torch on one batch
Usage: train_tiny_bert.py OUT [STEPS]"""
import glob, json, os, sys, time
import numpy as np, torch, onnxruntime as ort
from transformers import BertConfig, BertForMaskedLM

OUT = os.path.join(sys.argv[1], 'tinybert')
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
torch.manual_seed(0)
dev = 'cuda'
PAD, CLS, SEP, MASK = 256, 257, 258, 259
files = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), '**', '*.py'), recursive=True))
data = np.frombuffer(b''.join(open(f, 'rb').read() for f in files), dtype=np.uint8)
split = int(len(data) * 0.99)
train, held = torch.tensor(data[:split].astype(np.int64)), torch.tensor(data[split:].astype(np.int64))
SEQ = 126  # + [CLS] ... [SEP] = 128 positions


def batch(src, bs, g=None):
    ix = torch.randint(0, len(src) - SEQ - 1, (bs,), generator=g)
    x = torch.stack([src[i:i + SEQ] for i in ix])
    x = torch.cat([torch.full((bs, 1), CLS), x, torch.full((bs, 1), SEP)], 1)
    labels = x.clone()
    pick = torch.rand(x.shape, generator=g) < 0.15
    pick[:, 0] = pick[:, -1] = False
    labels[~pick] = -100
    r = torch.rand(x.shape, generator=g)
    x = torch.where(pick & (r < 0.8), torch.full_like(x, MASK), x)
    x = torch.where(pick & (r >= 0.8) & (r < 0.9), torch.randint(0, 256, x.shape, generator=g), x)
    return x.to(dev), labels.to(dev)


cfg = BertConfig(vocab_size=260, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=512, max_position_embeddings=128, type_vocab_size=2,
                 pad_token_id=PAD, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
model = BertForMaskedLM(cfg).to(dev).train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=STEPS, pct_start=0.05)
t = time.time()
for s in range(STEPS):
    x, y = batch(train, 128)
    with torch.autocast('cuda', dtype=torch.bfloat16):
        loss = model(input_ids=x, labels=y).loss
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step(); sched.step()
    if s % 500 == 0:
        print(s, float(loss), round(time.time() - t, 1), flush=True)
model = model.float().eval()
g = torch.Generator().manual_seed(1)
with torch.no_grad():
    held_loss = float(np.mean([float(model(input_ids=x, labels=y).loss)
                               for x, y in (batch(held, 32, g) for _ in range(20))]))
model = model.cpu()
os.makedirs(os.path.join(OUT, 'onnx'), exist_ok=True)
model.config.to_json_file(os.path.join(OUT, 'config.json'))


class Wrap(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, input_ids, attention_mask, token_type_ids):
        return s.m(input_ids=input_ids, attention_mask=attention_mask,
                   token_type_ids=token_type_ids).logits


x, _ = batch(held, 2, g)
x = x.cpu()
am, tt = torch.ones_like(x), torch.zeros_like(x)
seq = torch.export.Dim('seq', max=128)
bat = torch.export.Dim('batch', max=64)
path = os.path.join(OUT, 'onnx', 'model.onnx')
torch.onnx.export(Wrap(model), (x, am, tt), path, dynamo=True, opset_version=18,
                  input_names=['input_ids', 'attention_mask', 'token_type_ids'],
                  output_names=['logits'],
                  dynamic_shapes={'input_ids': {0: bat, 1: seq}, 'attention_mask': {0: bat, 1: seq},
                                  'token_type_ids': {0: bat, 1: seq}}, external_data=False)
sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
ref = sess.run(None, {'input_ids': x.numpy(), 'attention_mask': am.numpy(),
                      'token_type_ids': tt.numpy()})[0]
with torch.no_grad():
    tl = Wrap(model)(x, am, tt).numpy()
rep = {'steps': STEPS, 'heldout_masked_nll_nats': held_loss, 'ort_vs_torch_maxabs':
       float(np.abs(ref - tl).max()), 'onnx_bytes': os.path.getsize(path),
       'torch': torch.__version__}
json.dump(rep, open(os.path.join(OUT, 'train.json'), 'w'), indent=1)
print(json.dumps(rep))
