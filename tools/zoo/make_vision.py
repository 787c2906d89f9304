#!/usr/bin/env python3
"""tools/zoo/make_vision.py — the image encoders' ground truth (tests/zoo/vision.tar.zst).

Tiny random-init ViT and DeiT checkpoints (fp16-rounded weights saved in fp16; square and
non-square images, with and without qkv biases, base models and image classifiers), each with
a preprocessor_config.json (ViTImageProcessor: resize, rescale, normalise) and what transformers
computes, fp32 eager:
  image.rgba     an RGBA image [h][w][4] u8 made here (gradients and a seeded noise), not of the
                 model's size, so that the processor resizes it
  pixel.f32      the processor's pixel_values [3][H][W] of it (transformers 5's ViTImageProcessor,
                 which resizes through torchvision)
  pixel_fast.f32 the same from ViTImageProcessorFast where transformers has one (in 5.17 it is the
                 same class: equal)
  hf_out.f32     the model's output on pixel.f32: logits [1][labels] of a classifier, else the
                 last hidden state [tokens][hidden]
  hf_hidden.f32  the last hidden state on pixel.f32
  hf.json        versions, shapes, and for classifiers transformers' image-classification
                 pipeline on the image (every label's score)
usage: python3 tools/zoo/make_vision.py OUTDIR   (writes OUTDIR/vision.tar; zstd -19 into tests/zoo/)
"""
import json, os, sys

import numpy as np
import torch
import transformers
from zoo_common import randomize_vectors_fp16, write_tar
from PIL import Image
from transformers import AutoConfig, AutoModel, AutoModelForImageClassification, ViTImageProcessor, pipeline

H, I = 64, 96
LABELS = {0: "cat", 1: "dog", 2: "bird"}


def vit(**kw):
    base = dict(hidden_size=H, intermediate_size=I, num_hidden_layers=2, num_attention_heads=4,
                image_size=32, patch_size=8, num_channels=3)
    base.update(kw)
    return base


MODELS = {
    "vit": ("vit", False, vit(), dict(height=32, width=32)),
    "vit-cls": ("vit", True, vit(num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
                                 hidden_act="gelu_new"), dict(height=32, width=32)),
    "vit-wide-nobias": ("vit", False, vit(image_size=[24, 40], qkv_bias=False), dict(height=24, width=40)),
    "deit-cls": ("deit", True, vit(num_labels=2), dict(height=32, width=32)),
}


def image():
    h, w = 45, 37
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], -1).astype(np.int32)
    rgb = np.clip(rgb + rng.integers(-40, 41, rgb.shape), 0, 255).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], -1)
    return rgba


def build(name, mt, cls, kw, size, rgba, root, log):
    torch.manual_seed(sum(map(ord, name)))
    cfg = AutoConfig.for_model(mt, **kw)
    if cls:  # DeiT's auto class is ambiguous (with and without the teacher): say which
        cfg.architectures = [{"vit": "ViTForImageClassification", "deit": "DeiTForImageClassification"}[mt]]
    model = (AutoModelForImageClassification if cls else AutoModel).from_config(cfg, attn_implementation="eager").eval()
    model = randomize_vectors_fp16(model)
    d = os.path.join(root, name)
    model.half().save_pretrained(d, safe_serialization=True)
    model.float()
    proc = ViTImageProcessor(size=size, resample=2, image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3])
    proc.save_pretrained(d)
    img = Image.fromarray(rgba[:, :, :3], "RGB")
    rgba.tofile(os.path.join(d, "image.rgba"))
    pv = proc(images=img, return_tensors="pt")["pixel_values"]
    pv[0].numpy().astype("<f4").tofile(os.path.join(d, "pixel.f32"))
    fast = None
    try:
        from transformers import ViTImageProcessorFast
        fp = ViTImageProcessorFast(size=size, resample=2, image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3])
        pf = fp(images=img, return_tensors="pt")["pixel_values"]
        pf[0].numpy().astype("<f4").tofile(os.path.join(d, "pixel_fast.f32"))
        fast = float((pf - pv).abs().max())
    except Exception as e:  # reported in hf.json
        fast = f"no fast processor: {type(e).__name__}: {e}"
    with torch.no_grad():
        out = model(pixel_values=pv, output_hidden_states=True)
    y = (out.logits if cls else out.last_hidden_state)[0].float().numpy()
    y.astype("<f4").tofile(os.path.join(d, "hf_out.f32"))
    hid = out.hidden_states[-1] if cls else out.last_hidden_state
    if cls:  # the classifier reads the final LayerNorm's output, which hidden_states[-1] precedes
        base = getattr(model, mt)
        hid = base(pixel_values=pv).last_hidden_state
    hid[0].detach().float().numpy().astype("<f4").tofile(os.path.join(d, "hf_hidden.f32"))
    res = None
    if cls:
        ic = pipeline("image-classification", model=model, image_processor=proc, device="cpu")
        res = sorted(ic(img, top_k=None), key=lambda r: r["label"])
    meta = dict(model_type=mt, classifier=cls, architectures=model.config.architectures, shape=list(y.shape),
                image=list(rgba.shape), pixel=list(pv.shape[1:]), fast_vs_slow_max_abs=fast,
                transformers=transformers.__version__, torch=torch.__version__, pipeline=res)
    with open(os.path.join(d, "hf.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log.append(dict(name=name, shape=list(y.shape), fast=fast))
    print(f"{name}: {mt} {y.shape} fast-vs-slow {fast}", flush=True)


def main():
    out = sys.argv[1]
    root = os.path.join(out, "vision", "vision")
    os.makedirs(root, exist_ok=True)
    rgba, log = image(), []
    for name, (mt, cls, kw, size) in MODELS.items():
        try:
            build(name, mt, cls, kw, size, rgba, root, log)
        except Exception as e:
            print(f"{name}: FAILED {type(e).__name__}: {e}", flush=True)
    write_tar(out, "vision")
    print(json.dumps(log))


if __name__ == "__main__":
    main()
