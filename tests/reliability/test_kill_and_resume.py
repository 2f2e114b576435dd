"""A training killed with SIGKILL - at a random moment, during a checkpoint save, or between writing
history.csv and state.json - leaves a consistent run folder, and resuming it reaches the same weights as
an uninterrupted run."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = '''
import os, signal, sys
from common.logs import quiet_tensorflow
quiet_tensorflow()
import common.training as T
from awarenet import AwareNetConfig
from awarenet.train import train_detector
from common.datasets import SampleList
from common.synthetic import make_dataset

run, mode = sys.argv[1], sys.argv[2]
if mode.startswith("save"):          # die after writing the checkpoint's temporary file, before the rename
    k, n = int(mode[4:]), [0]
    orig = T._atomic_keras_save
    def dying(path, save):
        if os.path.basename(path).startswith("last-"):
            n[0] += 1
            if n[0] == k:
                folder, base = os.path.split(os.path.abspath(path))
                save(os.path.join(folder, f".{base}.partial.keras"))
                os.kill(os.getpid(), signal.SIGKILL)
        return orig(path, save)
    T._atomic_keras_save = dying
if mode.startswith("state"):         # die after history.csv has the epoch but before state.json does
    k, n = int(mode[5:]), [0]
    orig_w = T.RunDir.write_json
    def dying_w(self, name, obj):
        if name == "state.json":
            n[0] += 1
            if n[0] == k:
                os.kill(os.getpid(), signal.SIGKILL)
        return orig_w(self, name, obj)
    T.RunDir.write_json = dying_w
tr = SampleList(make_dataset("mihc", 4, 64, seed=11), "train")
va = SampleList(make_dataset("mihc", 2, 64, seed=12), "val")
cfg = AwareNetConfig(input_size=32, base_filters=4, depth=2, batch_size=4, epochs=6, patience=10, steps_per_epoch=8,
                     learning_rate=1e-3)
train_detector(cfg, tr, va, run, verbose=0)
print("finished")
'''


def _child(tmp_path, run, mode="none", kill_after=None):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(run), mode], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is not None:
        # kill at a random moment after the second epoch's state is written, whatever the machine's speed
        state, t0 = run / "state.json", time.time()
        while proc.poll() is None and time.time() - t0 < 240:
            try:
                if json.loads(state.read_text())["epoch"] >= 2:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def _weights(run):
    import keras

    from awarenet.model import AwareNetDetector  # noqa: F401  (registers the class)

    return keras.saving.load_model(run / "model.keras").get_weights()


def _check_consistent(run):
    """Every file with a final name is whole; history never runs ahead of the resumable state."""
    for name in ("config.json", "data.json", "state.json"):
        if (run / name).exists():
            json.loads((run / name).read_text())
    state = json.loads((run / "state.json").read_text()) if (run / "state.json").exists() else None
    if state is not None:
        import keras

        from awarenet.model import AwareNetDetector  # noqa: F401

        keras.saving.load_model(run / state["checkpoint"])   # loadable, never truncated
    assert not (run / "model.keras").exists() or state is not None


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("whole")
    rc, out, err = _child(tmp, tmp / "run")
    assert rc == 0 and "finished" in out, err
    return _weights(tmp / "run")


@pytest.mark.parametrize("mode, kill_after", [("save2", None), ("state3", None),
                                              ("none", random.Random(7).uniform(0.0, 0.6))])
def test_killed_training_resumes_to_the_same_weights(tmp_path, uninterrupted, mode, kill_after):
    run = tmp_path / "run"
    rc, out, err = _child(tmp_path, run, mode, kill_after)
    if rc == 0 and kill_after is not None:
        pytest.skip(f"the run finished within {kill_after:.2f} s of its second epoch (a much faster machine)")
    assert rc == -signal.SIGKILL, err
    _check_consistent(run)
    if mode.startswith("state"):
        rows = (run / "history.csv").read_text().strip().splitlines()
        state = json.loads((run / "state.json").read_text())
        assert len(rows) - 1 == state["epoch"] + 1   # history is one epoch ahead: resume must trim it
    rc, out, err = _child(tmp_path, run)
    assert rc == 0 and "finished" in out, err
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert [float(r.split(",")[0]) for r in rows[1:]] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]   # one row per epoch
    assert [f for f in os.listdir(run) if ".partial" in f or f.startswith("last-")] == ["last-0006.keras"]
    for a, b in zip(uninterrupted, _weights(run)):
        np.testing.assert_array_equal(a, b)
