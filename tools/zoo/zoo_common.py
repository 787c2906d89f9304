"""tools/zoo/zoo_common.py — what the ground-truth scripts (make_heads.py, make_vision.py) share:
random norms and biases (so that both count), weights rounded to fp16 (so that wgpack reads
exactly the numbers PyTorch multiplied by), and the deterministic tar of the output folder."""
import os, subprocess

import torch


def randomize_vectors_fp16(model):
    """1-D parameters random around 1 (weights) or 0 (biases); every weight rounded to fp16."""
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2 + (0.0 if "bias" in pname else 1.0))
    return model.half().float()


def write_tar(out, stem):
    """OUT/STEM.tar of the folder OUT/STEM/STEM, byte-identical for the same files."""
    subprocess.run(["tar", "-C", os.path.join(out, stem), "-c", "--sort=name", "--mtime=@0", "--owner=0",
                    "--group=0", "--numeric-owner", "-f", os.path.join(out, stem + ".tar"), stem], check=True)
