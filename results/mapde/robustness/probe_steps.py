"""Issue 15 probe: MapDe's ReLU layers per training step on one data set (quick preset).

Per step: the running training loss, the fraction of live (> 0) pixels of the ReLU heads fm1-fm3, the
largest and mean pre-activation of the output convolution ``main`` (ReLU) and the largest output on 16
fixed validation crops, and the output bias. Usage, from the repository root::

    python results/mapde/robustness/probe_steps.py DATA SEED STEPS [learning_rate=X] [warm=N] [bias=B]

``warm=N`` ramps the learning rate linearly over N steps (the quick preset's fix: N = 50); the quick
preset's lr is 0.05. Writes ``probe_<data>_<seed>_<options>.json`` beside this script; rows every 20
steps are printed.
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import numpy as np
from keras import ops

from common.datasets import load_splits
from common.training import set_seed
from mapde.config import MapDeConfig
from mapde.data import mapde_dataset, steps_per_epoch
from mapde.losses import MapDeLoss
from mapde.model import build_mapde, build_micronet

data, seed, nsteps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
over = dict(a.split("=", 1) for a in sys.argv[4:])
tag = "_".join(f"{k}{v}" for k, v in over.items())
bias0 = float(over.pop("bias", "nan"))
warm = int(over.pop("warm", "0"))
acc = float(over.pop("acc", "0.1"))
quick = MapDeConfig.quick().with_overrides(warmup_steps=0)   # the probe ramps the rate itself (warm=N)
cfg = quick.with_overrides(data=data, seed=seed, **{k: type(getattr(quick, k))(v) for k, v in over.items()})
tr, va, te = load_splits(data, seed=seed)
steps = steps_per_epoch(tr, 252, cfg.batch_size)
set_seed(seed)
model = build_mapde(cfg, 1) if cfg.model == "mapde" else build_micronet(cfg, 1)
class W(keras.optimizers.schedules.LearningRateSchedule):
    def __call__(self, step):
        s = ops.cast(step, "float32")
        return cfg.learning_rate * ops.minimum(1.0, (s + 1.0) / max(warm, 1))
opt = keras.optimizers.Adagrad(W() if warm else cfg.learning_rate, initial_accumulator_value=acc)
model.compile(optimizer=opt, loss=MapDeLoss(cfg.pos_weight))
if bias0 == bias0:
    model.get_layer("main").bias.assign(np.full((1,), bias0, "float32"))
names = ["fm1", "fm2", "fm3", "fm_concat", "main"]
probe = keras.Model(model.input, [model.get_layer(n).output for n in names] + [model.output])
xv = np.concatenate([x for x, _ in mapde_dataset(va, cfg, training=False).take(4).as_numpy_iterator()])[:16]
main = model.get_layer("main")
rows = []
class P(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.on_train_batch_end(-1, {"loss": float("nan")})
    def on_train_batch_end(self, b, logs=None):
        outs = probe(xv, training=False)
        fc = outs[3]
        pre = ops.conv(fc, main.kernel, padding="valid") + main.bias
        r = dict(step=b + 1, loss=float(logs["loss"]),
                 **{f"{n}_live": float(np.mean(np.asarray(o) > 0)) for n, o in zip(names[:3], outs[:3])},
                 pre_max=float(ops.max(pre)), pre_mean=float(ops.mean(pre)), out_max=float(ops.max(outs[-1])),
                 bias=float(main.bias.numpy()[0]))
        rows.append(r)
        if b < 3 or b % 20 == 0 or b == nsteps - 1:
            print(json.dumps(r), flush=True)
ds = mapde_dataset(tr, cfg, training=True, repeat=True)
t0 = time.time()
model.fit(ds, epochs=1, steps_per_epoch=nsteps, callbacks=[P()], verbose=0)
print("steps/epoch", steps, "time", round(time.time() - t0, 1))
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"probe_{data.replace(':', '_')}_{seed}_{tag}.json")
json.dump(rows, open(out, "w"))
