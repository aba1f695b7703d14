"""Which learning rate fine-tunes a course checkpoint in the book's few steps? (experiments.RECIPES["finetune"])

``python benchmarks/bench_finetune_rate.py '[("zoo", "zoo", "finetune", 1e-4), ("scratch", False, "cnn", None)]'``

Chapter 7's book setting: SynthHAR's Stanford40 layout (1,600 training images) at 80 px, ResNet-50
of base width 8, 2 epochs of batches of 64 (50 steps), flips only, gradient clipping at 5; test
accuracy on the 1,600 test images, seed 0. Each entry: (label, pretrained, recipe family, lr or
None for the family's).

Measured 2026-12-02 on the 2-core build machine (one thread; the zoo build ran beside it), with
``resnet50_w8`` from ``make zoo`` (15 epochs on the pretraining corpus, validation mAP 0.765 against 0.316 by chance):

=====================  =======  =============
start                  lr       test accuracy
=====================  =======  =============
course checkpoint      1e-4     6.6 %
course checkpoint      3e-4     22.4 %
course checkpoint      1e-3     53.1 %
course checkpoint      3e-3     68.4 %
random (from scratch)  3e-3     10.6 %
=====================  =======  =============

(chance: 6.25 %). In 50 steps a tenth of the from-scratch rate barely moves the new head, so the
course checkpoints are fine-tuned at the profile's from-scratch rate; ImageNet weights in
``full`` (30 epochs) keep the usual tenth.
"""
import copy, sys, time
import torch
from harlearn import experiments, profiles, metrics
from harlearn.data import course_datasets, transforms as T
from harlearn.data.cache import InMemory
from harlearn.models import resnet50
from harlearn.train import fit, predict, seed_everything

P = profiles.get("book")  # the rate probed is the book's
experiments._STATE["profile"] = P
S = 80
raw_train, raw_test = course_datasets(P, layout="stanford40")
tr = copy.copy(raw_train); tr.transform = T.eval_transform(S)
te = copy.copy(raw_test); te.transform = T.eval_transform(S)
train = InMemory(tr, augment=T.FlipShift(max_shift=0.0)); test = InMemory(te)
K = len(raw_train.classes)
for name, pre, fam, lr in [(a) for a in eval(sys.argv[1])]:
    for seed in (0,):
        seed_everything(seed)
        m = resnet50(K, pretrained=pre, base_width=8, zero_init_residual=True)
        cfg = experiments.recipe(P, fam, epochs=2, batch_size=64, seed=seed, grad_clip=5.0, **({"lr": lr} if lr else {}))
        t = time.perf_counter()
        fit(m, train, None, cfg, device=torch.device("cpu"))
        out = predict(m, test, device=torch.device("cpu"), batch_size=64)
        acc = (out["logits"].argmax(1) == torch.tensor(raw_test.targets).numpy()).mean()
        print(f"{name:24s} lr {cfg.lr:.0e} seed {seed}: acc {100*acc:.1f}  ({time.perf_counter()-t:.0f} s)", flush=True)
