#!/usr/bin/env python3
"""Train the small real BERT-family model wgpack ships as a test fixture (run on the device).

A byte-level BertForMaskedLM (vocab: bytes 0..255, then [PAD]=256 [CLS]=257 [SEP]=258
[MASK]=259) trained with masked-LM on the Python standard library's source text found on the
machine (the same corpus as tools/train_tiny_lm.py). Usage: train_tiny_bert.py OUT REF_TEXT
Writes, under OUT:
  tinybert/        fp16 model.safetensors (encoder + MLM head, HF names), config.json,
                   train.json (held-out MLM loss), and torch's reference for the C forward pass:
                   ref_ids.i32 / ref_mask.i32 ([2][66] int32: the first 64 bytes of REF_TEXT
                   and the first 40 wrapped in [CLS]..[SEP], the second padded with [PAD] and
                   attention mask 0) and ref_hidden.f32 ([2][66][hidden] f32: the encoder's
                   last_hidden_state computed in fp32 from the saved fp16 weights)
  tinybert-onnx/   model.onnx: the same encoder (fp16 weights held in fp32), inputs input_ids and
                   attention_mask [batch][seq] int64, output last_hidden_state; ref_hidden.f32
                   is ONNX Runtime's output on the same inputs
"""
import glob, json, os, sys, time
import numpy as np, torch
from transformers import BertConfig, BertForMaskedLM
from safetensors.torch import load_file

OUT, REF_TEXT = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
dev = 'cuda'
PAD, CLS, SEP, MASK = 256, 257, 258, 259
SEQ = 128          # [CLS] + 126 bytes + [SEP]
TRAIN_SECONDS = float(os.environ.get('TRAIN_SECONDS', '200'))
STEPS = 8000

files = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), '**', '*.py'), recursive=True))
data = np.frombuffer(b''.join(open(f, 'rb').read() for f in files), dtype=np.uint8)
split = int(len(data) * 0.99)
train, held = torch.tensor(data[:split].astype(np.int64)), torch.tensor(data[split:].astype(np.int64))
print('corpus bytes', len(data), 'files', len(files), flush=True)

cfg = BertConfig(vocab_size=260, hidden_size=128, num_hidden_layers=3, num_attention_heads=4,
                 intermediate_size=512, max_position_embeddings=SEQ, type_vocab_size=2,
                 hidden_act='gelu', layer_norm_eps=1e-12, pad_token_id=PAD,
                 hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


def make_batch(src, bs, g=None):
    """Random windows wrapped in [CLS]..[SEP]; a third are cut short and padded, so the model
    sees attention masks. MLM: 15% of real bytes chosen, 80% -> [MASK], 10% random, 10% kept."""
    ix = torch.randint(0, len(src) - SEQ, (bs,), generator=g)
    body = torch.stack([src[i:i + SEQ - 2] for i in ix])
    ids = torch.cat([torch.full((bs, 1), CLS), body, torch.full((bs, 1), SEP)], 1)
    lens = torch.full((bs,), SEQ)
    short = torch.rand(bs, generator=g) < 1 / 3
    lens[short] = torch.randint(8, SEQ, (int(short.sum()),), generator=g)
    pos = torch.arange(SEQ).unsqueeze(0)
    mask = (pos < lens.unsqueeze(1)).long()
    ids = torch.where(pos == (lens - 1).unsqueeze(1), torch.full_like(ids, SEP), ids)
    ids = torch.where(mask.bool(), ids, torch.full_like(ids, PAD))
    real = (ids < 256)
    chosen = real & (torch.rand(ids.shape, generator=g) < 0.15)
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=g)
    inp = torch.where(chosen & (r < 0.8), torch.full_like(ids, MASK), ids)
    inp = torch.where(chosen & (r >= 0.8) & (r < 0.9), torch.randint(0, 256, ids.shape, generator=g), inp)
    return inp.to(dev), mask.to(dev), labels.to(dev)


def heldout_loss(model):
    model.eval()
    g = torch.Generator().manual_seed(1)
    tot, cnt = 0.0, 0
    with torch.no_grad():
        for _ in range(40):
            x, m, y = make_batch(held, 64, g)
            logits = model(input_ids=x, attention_mask=m).logits.float()
            l = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1),
                                                  ignore_index=-100, reduction='sum')
            tot += float(l); cnt += int((y != -100).sum())
    return tot / cnt


model = BertForMaskedLM(cfg).to(dev).train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=STEPS, pct_start=0.05)
t0 = time.time()
steps = 0
for s in range(STEPS):
    x, m, y = make_batch(train, 128)
    with torch.autocast('cuda', dtype=torch.bfloat16):
        loss = model(input_ids=x, attention_mask=m, labels=y).loss
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step(); sched.step()
    steps = s + 1
    if s % 500 == 0:
        print(s, float(loss), round(time.time() - t0, 1), flush=True)
    if time.time() - t0 > TRAIN_SECONDS:
        break
train_s = time.time() - t0
report = {'corpus': 'python stdlib *.py of the training machine', 'corpus_bytes': int(len(data)),
          'steps': steps, 'batch': 128, 'seq': SEQ, 'train_seconds': round(train_s, 1),
          'mask_rate': 0.15,
          'heldout_mlm_loss_nats_per_masked_byte': heldout_loss(model)}
print(report, flush=True)

# ---- save fp16
d = f'{OUT}/tinybert'
os.makedirs(d, exist_ok=True)
half = model.float().cpu().half()
try:
    half.save_pretrained(d, safe_serialization=True)
except TypeError:  # newer transformers: safetensors is the only format
    half.save_pretrained(d)
sd = {k: v for k, v in load_file(f'{d}/model.safetensors').items()}
report['tensors'] = {k: [str(v.dtype), list(v.shape)] for k, v in sd.items()}

# ---- fp32 model rebuilt from the saved fp16 weights
ref = BertForMaskedLM(cfg).float().eval()
try:
    ref.set_attn_implementation('eager')
except Exception as e:
    print('eager attention not set:', e, flush=True)
missing, unexpected = ref.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
print('missing', missing, 'unexpected', unexpected, flush=True)
assert not unexpected and all('decoder' in k for k in missing), (missing, unexpected)
ref.tie_weights()
report['heldout_mlm_loss_fp16_weights'] = heldout_loss(ref.to(dev))
ref = ref.cpu()

text = open(REF_TEXT, 'rb').read()
n = 66
a = [CLS] + list(text[:64]) + [SEP]
b = [CLS] + list(text[:40]) + [SEP]
ids = torch.tensor([a, b + [PAD] * (n - len(b))], dtype=torch.int64)
mask = torch.tensor([[1] * n, [1] * len(b) + [0] * (n - len(b))], dtype=torch.int64)
with torch.no_grad():
    hid = ref.bert(input_ids=ids, attention_mask=mask).last_hidden_state.float().numpy()
ids.numpy().astype(np.int32).tofile(f'{d}/ref_ids.i32')
mask.numpy().astype(np.int32).tofile(f'{d}/ref_mask.i32')
hid.astype(np.float32).tofile(f'{d}/ref_hidden.f32')
report['reference'] = {'ids': 'ref_ids.i32 [2][66] int32', 'mask': 'ref_mask.i32 [2][66] int32',
                       'last_hidden_state': 'ref_hidden.f32 [2][66][128] f32',
                       'absmax': float(np.abs(hid).max()), 'text': os.path.basename(REF_TEXT)}

# ---- ONNX export of the encoder (fp32 holding the fp16 values)
class Enc(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.bert = m  # initializers named bert.*
    def forward(s, input_ids, attention_mask):
        return s.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

od = f'{OUT}/tinybert-onnx'
os.makedirs(od, exist_ok=True)
tmp = '/tmp/tb.onnx'
enc = Enc(ref.bert).eval()
try:
    torch.onnx.export(enc, (ids, mask), tmp, input_names=['input_ids', 'attention_mask'],
                      output_names=['last_hidden_state'],
                      dynamic_axes={'input_ids': {0: 'batch', 1: 'seq'}, 'attention_mask': {0: 'batch', 1: 'seq'},
                                    'last_hidden_state': {0: 'batch', 1: 'seq'}},
                      opset_version=17, dynamo=False)
    report['onnx_export'] = 'torch.onnx legacy exporter, opset 17'
except Exception as e:
    print('legacy export failed', e, flush=True)
    B, S = torch.export.Dim('batch', max=64), torch.export.Dim('seq', max=SEQ)
    torch.onnx.export(enc, (ids, mask), tmp, input_names=['input_ids', 'attention_mask'],
                      output_names=['last_hidden_state'],
                      dynamic_shapes={'input_ids': {0: B, 1: S}, 'attention_mask': {0: B, 1: S}},
                      opset_version=18, dynamo=True)
    report['onnx_export'] = 'torch.onnx dynamo exporter, opset 18'
import onnx, onnxruntime as ort
om = onnx.load(tmp)
onnx.save_model(om, f'{od}/model.onnx', save_as_external_data=False)
sess = ort.InferenceSession(f'{od}/model.onnx', providers=['CPUExecutionProvider'])
oh = sess.run(None, {'input_ids': ids.numpy(), 'attention_mask': mask.numpy()})[0]
oh.astype(np.float32).tofile(f'{od}/ref_hidden.f32')
report['onnx_vs_torch_maxabs'] = float(np.abs(oh - hid).max())
report['onnx_initializers'] = [(i.name, list(i.dims)) for i in om.graph.initializer]
json.dump(report, open(f'{d}/train.json', 'w'), indent=1)
print(json.dumps(report), flush=True)
for r, _, fs in os.walk(OUT):
    for f in fs:
        print(os.path.join(r, f), os.path.getsize(os.path.join(r, f)))
