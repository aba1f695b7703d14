"""How long must chapter 5 fine-tune the course MAE checkpoint? (book profile, seed 0)

``python benchmarks/bench_mae_finetune.py`` fine-tunes ``encoder_to_classifier(zoo.load("mae_vit_ch5"))``
on SynthHAR's 1,600 training images at 64 px with the chapter's recipe (``experiments.recipe(P,
"transformer")``: AdamW, one warm-up epoch, cosine) at a few rates and lengths, and prints the
test accuracy (1,600 test images, chance 6.25 %).

Measured 2026-12-03 on the 2-core build machine (one thread, the machine otherwise idle):

=====  ======  =============  ===============
lr     epochs  test accuracy  fine-tuning (s)
=====  ======  =============  ===============
1e-4   5       17.1 %         14
3e-4   5       16.6 %         14
1e-3   5       26.0 %         12
3e-3   5       28.4 %         12
1e-3   10      33.3 %         23
=====  ======  =============  ===============

The linear probe on the same frozen encoder reaches 27.7 % (chapter 5's book build). At 5 epochs
the fine-tuned ViT is still learning, and a lower rate only slows it, so chapter 5 fine-tunes for 10
epochs at the recipe's rate.
"""
import os
import sys
import time

os.environ.setdefault("HARLEARN_PROFILE", "book")
from harlearn import experiments, zoo  # noqa: E402
from harlearn.data import cached_datasets  # noqa: E402
from harlearn.train import evaluate, fit, seed_everything  # noqa: E402
from harlearn.transformers import encoder_to_classifier  # noqa: E402

SETTINGS = eval(sys.argv[1]) if len(sys.argv) > 1 else [(1e-4, 5), (3e-4, 5), (1e-3, 5), (3e-3, 5), (1e-3, 10)]
P, device = experiments.setup("bench_mae_finetune", quiet=True)
IMG, VIT = experiments.course_vit(P)
train_set, test_set = cached_datasets(P, IMG, eval_keys=("image", "label"))
for lr, epochs in SETTINGS:
    seed_everything(0)
    model = encoder_to_classifier(zoo.load("mae_vit_ch5").eval(), len(train_set.classes), global_pool="avg")
    start = time.perf_counter()
    fit(model, train_set, None, experiments.recipe(P, "transformer", epochs=epochs, seed=0, lr=lr), device=device)
    accuracy = evaluate(model, test_set, device=device, batch_size=P.batch_size)["accuracy"]
    print(f"lr {lr:g}, {epochs} epochs: test accuracy {100 * accuracy:.1f} % ({time.perf_counter() - start:.0f} s)")
