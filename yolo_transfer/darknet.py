"""Darknet ``.weights`` files: reading (``yolov3.weights``, ``darknet53.conv.74``, tiny) and writing.

Format (Darknet ``parser.c``; reference_specs 4b): a header of three int32 (major, minor, revision)
and ``seen`` - an int64 when ``major * 10 + minor >= 2`` and both are below 1000, else an int32 -
then, per ``[convolutional]`` section in cfg order, float32 arrays: with batch norm ``beta``,
``gamma``, ``rolling_mean``, ``rolling_var`` (n each), without it ``bias`` (n); then the kernel of
``n * c * k * k`` values in (out, in, kh, kw) order. Keras stores kernels (kh, kw, in, out) and a
BatchNormalization's weights as [gamma, beta, mean, variance].

The layers are found by name (``conv_NN`` / ``bn_NN``, NN the cfg index; :func:`yolo_transfer.model
.conv_layers`), never by position in the Keras layer list.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from yolo_transfer.model import conv_layers

__all__ = ["read_header", "load_darknet_weights", "save_darknet_weights"]


def read_header(path) -> tuple[tuple[int, int, int, int], int]:
    """``((major, minor, revision, seen), header bytes)`` of a Darknet weights file.

    Raises:
        ValueError: a file shorter than its header.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12:
            raise ValueError(f"{path}: {len(head)} bytes, shorter than a Darknet header (12-20 bytes); truncated?")
        major, minor, revision = struct.unpack("<3i", head)
        wide = (major * 10 + minor) >= 2 and major < 1000 and minor < 1000
        seen_raw = f.read(8 if wide else 4)
        if len(seen_raw) < (8 if wide else 4):
            raise ValueError(f"{path}: the header ends inside the 'seen' counter; truncated?")
        seen = struct.unpack("<q" if wide else "<i", seen_raw)[0]
    return (major, minor, revision, seen), 12 + (8 if wide else 4)


def _sizes(layers) -> list:
    """Floats per convolutional section."""
    out = []
    for _, conv, bn in layers:
        k = int(np.prod(conv.kernel.shape))
        n = conv.kernel.shape[-1]
        out.append(k + (4 * n if bn is not None else n))
    return out


def load_darknet_weights(model, path) -> dict:
    """Loads a Darknet ``.weights`` file into a YOLO model (or its ``darknet`` sub-model).

    What the file holds is read from its size: every convolution of the model; only the backbone
    (``darknet53.conv.74``: Darknet-53's 52 convolutions); or every convolution but with another
    class count in the output convolutions (``yolov3.weights``' 80 COCO classes into a 3-class
    model), which are then read and skipped, as keras-yolo3 does with ``skip_mismatch``. Every byte
    of the file must be consumed.

    Returns:
        ``{"header": (major, minor, revision, seen), "loaded": [conv indices], "skipped": [...],
        "file_classes": C of the file's output convolutions or None}``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated file, bytes left over, or a file of another network.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no Darknet weights file at {path}")
    header, offset = read_header(path)
    size = os.path.getsize(path) - offset
    if size % 4:
        raise ValueError(f"{path}: {size} bytes after the header is not a whole number of float32 values; truncated?")
    n_floats = size // 4
    layers = conv_layers(model)
    if not layers:
        raise ValueError("the model has no Darknet convolutions (layers named conv_NN)")
    sizes = _sizes(layers)
    full = sum(sizes)
    darknet_idx = _backbone_indices(model, layers)
    backbone = sum(s for (i, _, _), s in zip(layers, sizes) if i in darknet_idx)
    outputs = [(k, conv) for k, (_, conv, bn) in enumerate(layers) if bn is None]   # the linear output convolutions
    plan, file_classes = None, None
    if n_floats == full:
        plan = {i: "load" for i, _, _ in layers}
    elif n_floats == backbone and darknet_idx and backbone < full:
        plan = {i: ("load" if i in darknet_idx else "keep") for i, _, _ in layers}
    elif outputs:
        # Another class count: each output conv holds A * (5 + C') * (1 + c_in) floats.
        a = getattr(model, "n_anchors", None) or 3
        rest = n_floats - (full - sum(sizes[k] for k, _ in outputs))
        per = sum(a * (1 + conv.kernel.shape[2]) for _, conv in outputs)
        if rest > 0 and rest % per == 0 and rest // per > 5:
            file_classes = rest // per - 5
            plan = {i: ("skip" if bn is None else "load") for i, _, bn in layers}
    if plan is None:
        what = f"{full} (every convolution)" + (f" or {backbone} (the backbone only)" if darknet_idx else "")
        hint = "truncated?" if n_floats < full else "a file of another network (another cfg or width)?"
        raise ValueError(f"{path}: holds {n_floats} float32 values after its header, this model needs {what}; {hint}")
    data = np.fromfile(path, dtype="<f4", offset=offset)
    pos = 0
    loaded, skipped = [], []
    for (i, conv, bn), n_expected in zip(layers, sizes):
        action = plan[i]
        if action == "keep":
            continue
        n = conv.kernel.shape[-1]
        kh, kw, c_in, _ = conv.kernel.shape
        if action == "skip":
            n_file = a * (5 + file_classes)
            pos += n_file + n_file * c_in * kh * kw
            skipped.append(i)
            continue
        if bn is not None:
            beta, gamma, mean, var = (data[pos + k * n:pos + (k + 1) * n] for k in range(4))
            pos += 4 * n
        else:
            bias = data[pos:pos + n]
            pos += n
        count = n * c_in * kh * kw
        kernel = data[pos:pos + count].reshape(n, c_in, kh, kw).transpose(2, 3, 1, 0)
        pos += count
        if bn is not None:
            conv.set_weights([kernel])
            bn.set_weights([gamma, beta, mean, var])
        else:
            conv.set_weights([kernel, bias])
        loaded.append(i)
    if pos != len(data):   # pragma: no cover - the size check above makes this unreachable
        raise ValueError(f"{path}: {len(data) - pos} float32 values left over after the last convolution")
    return {"header": header, "loaded": loaded, "skipped": skipped, "file_classes": file_classes}


def _backbone_indices(model, layers) -> set:
    """cfg indices of the convolutions inside the ``darknet`` sub-model (empty without one)."""
    try:
        sub = model.get_layer("darknet")
    except ValueError:
        return set()
    return {i for i, _, _ in conv_layers(sub)}


def save_darknet_weights(model, path, seen: int = 0, seen_bits: int = 64, overwrite: bool = False) -> str:
    """Writes a model's convolutions as a Darknet ``.weights`` file, atomically.

    Args:
        seen: images seen (the header's counter).
        seen_bits: 64 (header version 0.2.0, as yolov3.weights) or 32 (version 0.1.0).
        overwrite: replace an existing file.
    """
    from common.io import atomic_path

    path = os.fspath(path)
    if seen_bits not in (32, 64):
        raise ValueError(f"seen_bits must be 32 or 64, got {seen_bits}")
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{path} exists; pass overwrite=True to replace it")
    layers = conv_layers(model)
    if not layers:
        raise ValueError("the model has no Darknet convolutions (layers named conv_NN)")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<3i", 0, 2 if seen_bits == 64 else 1, 0))
            f.write(struct.pack("<q" if seen_bits == 64 else "<i", int(seen)))
            for _, conv, bn in layers:
                w = conv.get_weights()
                if bn is not None:
                    gamma, beta, mean, var = bn.get_weights()
                    parts = [beta, gamma, mean, var]
                else:
                    parts = [w[1]]
                parts.append(w[0].transpose(3, 2, 0, 1))
                for p in parts:
                    np.asarray(p, dtype="<f4").tofile(f)
    return path
