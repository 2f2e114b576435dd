"""Issue 15: one Adagrad step from the initial weights, per data set, model, seed and learning rate.

For the first training batch of the quick preset: the mean clipped label, the mean output on background
pixels, the fraction of the output convolution's kernel gradients that are positive (1.0: the step
lowers every weight, 0.0: it raises every weight), and the largest output on 8 validation crops before
and after the step (0.0 = dead). Usage, from the repository root::

    python results/mapde/robustness/first_step.py synthetic:he,crchisto,bccd,deepliif,sparse
    python results/mapde/robustness/first_step.py bccd,sparse 100,10000 mapde 0.05

Writes ``first_step.json`` beside this script; with the optional positive weights (default 1000),
models (default both) and learning rates (default 0.05, 0.01, 0.001) it writes
``first_step_pos_weight.json``.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import keras
import numpy as np
import tensorflow as tf
from robustness import _splits

from common.training import set_seed
from mapde.config import MapDeConfig
from mapde.data import mapde_dataset
from mapde.losses import MapDeLoss
from mapde.model import build_mapde, build_micronet

pos_weights = [float(w) for w in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1000.0]
models = sys.argv[3].split(",") if len(sys.argv) > 3 else ["mapde", "micronet"]
lrs = [float(v) for v in sys.argv[4].split(",")] if len(sys.argv) > 4 else [0.05, 0.01, 0.001]
rows = []
for data, pw in ((d, w) for d in sys.argv[1].split(",") for w in pos_weights):
    tr, va = _splits(data, "/tmp/cellrepro_robustness", 8)
    for model_kind in models:
        for seed in range(5):
            cfg = MapDeConfig.quick().with_overrides(seed=seed, model=model_kind, pos_weight=pw,
                                                     locate="deconv" if model_kind == "mapde" else "peak")
            xb, tb = next(iter(mapde_dataset(tr, cfg, training=True, repeat=True)))
            xv = np.concatenate([x for x, _ in
                                 mapde_dataset(va, cfg, training=False).take(2).as_numpy_iterator()])[:8]
            for lr in lrs:
                set_seed(seed)
                m = build_mapde(cfg, 1) if model_kind == "mapde" else build_micronet(cfg, 1)
                loss = MapDeLoss(cfg.pos_weight)
                with tf.GradientTape() as tape:
                    y = m(xb, training=True)
                    loss(tb, y)   # (kept: this forward pass draws a dropout mask, as in the recorded run)
                    t = tf.clip_by_value(tb, 0, 1)
                    bg = tf.reduce_mean((1 - t) * tf.nn.softplus(y))
                    pos = tf.reduce_mean(cfg.pos_weight * t * tf.nn.softplus(-y))
                main = m.get_layer("main")
                tape.gradient([bg, pos], [main.bias])
                with tf.GradientTape() as t2:
                    l2 = loss(tb, m(xb, training=True))
                grads = t2.gradient(l2, m.trainable_variables)
                y0 = m(xv, training=False).numpy()
                opt = keras.optimizers.Adagrad(lr)
                opt.apply_gradients(zip(grads, m.trainable_variables))
                y1 = m(xv, training=False).numpy()
                kg = grads[[v.path for v in m.trainable_variables].index(main.kernel.path)].numpy()
                r = dict(data=data, model=model_kind, seed=seed, lr=lr, pos_weight=pw, mean_t=float(tf.reduce_mean(t)),
                         y_bg_mean=float(tf.reduce_sum(tf.cast(t == 0, "float32") * y)
                                         / tf.reduce_sum(tf.cast(t == 0, "float32"))),
                         loss_bg=float(bg), loss_pos=float(pos),
                         kernel_grad_pos_frac=float(np.mean(kg > 0)),
                         out_max_before=float(y0.max()), out_max_after=float(y1.max()), dead_after=bool(y1.max() <= 0))
                rows.append(r)
                print(json.dumps(r), flush=True)
name = "first_step.json" if len(sys.argv) <= 2 else "first_step_pos_weight.json"
json.dump(rows, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "w"))
