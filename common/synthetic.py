"""Embedded synthetic datasets with exact ground truth, deterministic per seed.

Images are rendered with a Beer-Lambert stain model: each stain (hematoxylin, eosin, DAB, red and
blue chromogens, ...) has an optical-density colour vector and a concentration map, and the RGB
image is ``255 * exp(-sum_s c_s * v_s)``. What makes the data hard enough for methods to differ:

* touching and overlapping cells (clustered placement with a sub-touching minimum distance);
* per-image stain variation (stain vectors and strengths jitter), uneven illumination;
* unlabelled distractors: negative nuclei in IHC kinds, pale out-of-focus fragments in H&E,
  debris in blood smears; they are drawn but never annotated;
* a faint rare class (lower stain concentration for the rarest class of each kind);
* chromatin texture, blur and sensor noise.

Class labels are allocated over the whole dataset by the requested proportions (largest
remainder), so the class counts of a dataset match the proportions to within one cell per class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from common import _checks

__all__ = ["KINDS", "OBJECT_KINDS", "SHAPE_CLASSES", "KindSpec", "make_dataset", "make_shapes"]

# Optical-density colour vectors (R, G, B absorption), normalised below.
_STAINS = {
    "hematoxylin": (0.65, 0.70, 0.29),
    "eosin": (0.07, 0.99, 0.11),
    "dab": (0.27, 0.57, 0.78),
    "red": (0.09, 0.80, 0.59),      # fast-red-like chromogen (CD8 in AwareNet Fig. 1)
    "blue": (0.83, 0.50, 0.23),     # dark blue / teal chromogen (FOXP3)
    "green": (0.72, 0.12, 0.68),    # magenta-ish absorber: green-looking membrane (PD1)
}
_STAIN_NAMES = list(_STAINS)


@dataclass(frozen=True)
class CellLook:
    """How one class is drawn. Sizes are radii in pixels; amounts are stain concentrations."""

    radius: tuple = (4.0, 5.5)            # nucleus semi-major axis range
    elongation: tuple = (1.0, 1.3)        # major / minor axis ratio range
    nucleus: dict = field(default_factory=lambda: {"hematoxylin": 0.9})
    membrane: dict = field(default_factory=dict)   # stain -> amount on a ring around the nucleus
    cytoplasm: dict = field(default_factory=dict)  # stain -> amount on a disc around the nucleus
    cell_scale: float = 1.6               # membrane/cytoplasm radius relative to the nucleus
    pallor: float = 0.0                   # fraction removed at the centre (vesicular nuclei, RBCs)
    lobes: int = 1                        # >1: several overlapping nuclear lobes (neutrophils)
    irregularity: float = 0.08            # boundary wobble amplitude


@dataclass(frozen=True)
class KindSpec:
    """A synthetic dataset kind: class names, proportions, looks and scene parameters."""

    class_names: tuple
    proportions: tuple
    looks: tuple
    density: float                 # annotated cells per 10,000 px^2
    background: dict               # stain -> mean concentration of the tissue background
    distractor: CellLook | None    # unlabelled objects
    distractor_density: float
    faint_class: int | None        # index of the class drawn at reduced concentration
    faint_factor: float = 0.55
    mpp: float | None = None
    boxes: bool = False
    min_gap: float = 0.8           # minimal centre distance as a fraction of summed radii
    clustering: float = 0.4        # fraction of cells placed next to an existing one
    lumen: bool = False            # white holes in the tissue (H&E glands)


def _ihc_look(membrane: dict | None = None, nucleus: dict | None = None, radius=(3.5, 5.0)) -> CellLook:
    return CellLook(radius=radius, nucleus=nucleus or {"hematoxylin": 0.45}, membrane=membrane or {}, cell_scale=1.55)


KINDS: dict[str, KindSpec] = {
    # AwareNet: CD8+ (red), CD4+/FOXP3- (brown), CD4+/FOXP3+ (dark blue nucleus, brown membrane).
    "mihc": KindSpec(
        class_names=("CD8+", "CD4+FOXP3-", "CD4+FOXP3+"),
        proportions=(2244, 997, 243),
        looks=(
            _ihc_look({"red": 1.0}),
            _ihc_look({"dab": 0.9}),
            _ihc_look({"dab": 0.6}, {"blue": 1.0, "hematoxylin": 0.2}),
        ),
        density=6.0, background={"hematoxylin": 0.05, "eosin": 0.04},
        distractor=_ihc_look(None, {"hematoxylin": 0.55}, radius=(3.5, 5.5)), distractor_density=3.0,
        faint_class=2, mpp=0.442,
        # AwareNet chose r = 4 px so that reference disks never touch (section 3.1): centres here are
        # >= 1.15 x the summed nucleus radii apart (about 9 px; membranes still touch).
        min_gap=1.15, faint_factor=0.35,
    ),
    # S-DRDIN: markers PD1 (green), CD8 (red), CD4 (brown), FOXP3 (blue nucleus); Table 1 training counts.
    "mihc6": KindSpec(
        class_names=("CD8+", "CD4+FOXP3-", "CD4+FOXP3+", "PD1+CD4-CD8-", "PD1+CD4-CD8+", "PD1+CD4+CD8-"),
        proportions=(110, 380, 192, 33, 453, 50),
        looks=(
            _ihc_look({"red": 1.0}),
            _ihc_look({"dab": 0.9}),
            _ihc_look({"dab": 0.6}, {"blue": 1.0, "hematoxylin": 0.2}),
            _ihc_look({"green": 0.9}),
            _ihc_look({"green": 0.55, "red": 0.6}),
            _ihc_look({"green": 0.55, "dab": 0.55}),
        ),
        density=6.0, background={"hematoxylin": 0.05, "eosin": 0.04},
        distractor=_ihc_look(None, {"hematoxylin": 0.55}, radius=(3.5, 5.5)), distractor_density=3.0,
        faint_class=3, mpp=0.44,
    ),
    # H&E nuclei, CRCHistoPhenotypes classes and proportions.
    "he": KindSpec(
        class_names=("epithelial", "inflammatory", "fibroblast", "miscellaneous"),
        proportions=(7722, 6971, 5712, 2039),
        looks=(
            CellLook(radius=(5.5, 7.5), elongation=(1.1, 1.5), nucleus={"hematoxylin": 0.75}, pallor=0.35),
            CellLook(radius=(3.0, 4.0), elongation=(1.0, 1.15), nucleus={"hematoxylin": 1.25}),
            CellLook(radius=(6.0, 8.5), elongation=(2.6, 3.6), nucleus={"hematoxylin": 0.95}),
            CellLook(radius=(4.0, 6.5), elongation=(1.0, 1.8), nucleus={"hematoxylin": 0.8}, irregularity=0.25),
        ),
        density=9.0, background={"eosin": 0.45, "hematoxylin": 0.06},
        distractor=CellLook(radius=(2.5, 5.0), elongation=(1.0, 2.0), nucleus={"hematoxylin": 0.3}),
        distractor_density=2.0, faint_class=3, mpp=0.5, lumen=True,
    ),
    # PD-L1 IHC: tumour (large) / non-tumour (small) cells, PD-L1 membrane DAB positive or not.
    "pdl1": KindSpec(
        class_names=("PD-L1+ tumour", "PD-L1- tumour", "PD-L1+ non-tumour", "PD-L1- non-tumour"),
        proportions=(30, 40, 10, 20),
        looks=(
            CellLook(radius=(5.5, 7.0), elongation=(1.0, 1.4), nucleus={"hematoxylin": 0.6}, membrane={"dab": 1.0},
                     cell_scale=1.5),
            CellLook(radius=(5.5, 7.0), elongation=(1.0, 1.4), nucleus={"hematoxylin": 0.7}),
            CellLook(radius=(3.0, 4.0), nucleus={"hematoxylin": 0.9}, membrane={"dab": 0.9}, cell_scale=1.6),
            CellLook(radius=(3.0, 4.0), nucleus={"hematoxylin": 1.0}),
        ),
        density=8.0, background={"hematoxylin": 0.05, "dab": 0.04},
        distractor=CellLook(radius=(2.0, 3.5), nucleus={"dab": 0.35, "hematoxylin": 0.15}), distractor_density=1.5,
        faint_class=2, mpp=0.25,
    ),
    # Peripheral blood smear: RBC / WBC / platelets, BCCD proportions, with boxes.
    "blood": KindSpec(
        class_names=("RBC", "WBC", "Platelets"),
        proportions=(4155, 372, 361),
        looks=(
            CellLook(radius=(11.0, 14.0), elongation=(1.0, 1.15), nucleus={"eosin": 0.55}, pallor=0.45,
                     irregularity=0.04),
            CellLook(radius=(7.0, 9.0), elongation=(1.0, 1.3), nucleus={"hematoxylin": 1.3}, lobes=3,
                     cytoplasm={"hematoxylin": 0.18, "eosin": 0.1}, cell_scale=2.0),
            CellLook(radius=(2.0, 3.2), elongation=(1.0, 1.5), nucleus={"hematoxylin": 0.9}, irregularity=0.3),
        ),
        density=2.2, background={"eosin": 0.06},
        distractor=CellLook(radius=(1.0, 2.0), nucleus={"hematoxylin": 0.3, "eosin": 0.2}), distractor_density=0.8,
        faint_class=2, faint_factor=0.7, boxes=True, min_gap=0.85, clustering=0.5,
    ),
}


def _allocate(total: int, proportions, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``total`` class labels in the given proportions (largest remainder), shuffled."""
    p = np.asarray(proportions, dtype=np.float64)
    share = p / p.sum() * total
    counts = np.floor(share).astype(np.int64)
    rest = total - counts.sum()
    counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    labels = np.repeat(np.arange(len(p)), counts)
    rng.shuffle(labels)
    return labels


def _smooth_noise(rng, shape, sigma) -> np.ndarray:
    n = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return n / (n.std() + 1e-9)


def _place(rng, radii, h, w, min_gap, clustering, existing=None):
    """Centres for cells of the given radii: clustered, allowed to touch, rarely overlapping."""
    pts = [] if existing is None else list(existing[0])
    rad = [] if existing is None else list(existing[1])
    out = np.zeros((len(radii), 2))
    for k, r in enumerate(radii):
        for attempt in range(60):
            if pts and rng.random() < clustering:
                a = rng.integers(len(pts))
                ang = rng.uniform(0, 2 * np.pi)
                dist = (rad[a] + r) * rng.uniform(min_gap, min_gap + 0.35)
                c = np.array(pts[a]) + dist * np.array([np.cos(ang), np.sin(ang)])
            else:
                c = rng.uniform([0, 0], [w - 1, h - 1])
            if not (0 <= c[0] <= w - 1 and 0 <= c[1] <= h - 1):
                continue
            if pts:
                d = np.hypot(*(np.asarray(pts) - c).T)
                if np.any(d < min_gap * (np.asarray(rad) + r)):
                    continue
            break
        pts.append((float(c[0]), float(c[1])))
        rad.append(float(r))
        out[k] = c
    return out


def _draw_cell(conc, look: CellLook, centre, radius, rng, scale: float, h, w, boxes=None):
    """Adds one cell's stain concentrations to ``conc`` (dict stain -> HxW)."""
    elong = rng.uniform(*look.elongation)
    a, b = radius, radius / elong
    theta = rng.uniform(0, np.pi)
    reach = int(np.ceil(max(a, b) * max(look.cell_scale if (look.membrane or look.cytoplasm) else 1.0, 1.0) + 4))
    cx, cy = centre
    x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 2, w)
    y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 2, h)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    dx, dy = xx - cx, yy - cy
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    ang = np.arctan2(v, u)
    wobble = 1 + look.irregularity * (np.sin(3 * ang + phase[0]) + 0.5 * np.sin(5 * ang + phase[1]))
    rho = np.sqrt((u / a) ** 2 + (v / b) ** 2) / wobble

    if look.lobes > 1:
        body = np.zeros_like(rho)
        for _ in range(look.lobes):
            off = rng.uniform(-0.55, 0.55, size=2) * a
            rl = np.sqrt((dx - off[0]) ** 2 + (dy - off[1]) ** 2) / (0.55 * a)
            body = np.maximum(body, 1 / (1 + np.exp((rl - 1) * 6)))
    else:
        body = 1 / (1 + np.exp((rho - 1) * 6))
    if look.pallor:
        body = body * (1 - look.pallor * np.exp(-(rho / 0.55) ** 2))
    for s, amt in look.nucleus.items():
        conc[s][y0:y1, x0:x1] += amt * scale * body
    if look.membrane or look.cytoplasm:
        rc = rho / look.cell_scale
        ring = np.exp(-((rc - 1) * look.cell_scale * a / 1.3) ** 2)
        disc = 1 / (1 + np.exp((rc - 1) * 6))
        for s, amt in look.membrane.items():
            conc[s][y0:y1, x0:x1] += amt * scale * ring
        for s, amt in look.cytoplasm.items():
            conc[s][y0:y1, x0:x1] += amt * scale * disc
    if boxes is not None:
        extent = a * (look.cell_scale if look.cytoplasm else 1.0)
        ext_b = b * (look.cell_scale if look.cytoplasm else 1.0)
        # Axis-aligned bounding box of the rotated ellipse.
        hx = np.sqrt((extent * np.cos(theta)) ** 2 + (ext_b * np.sin(theta)) ** 2)
        hy = np.sqrt((extent * np.sin(theta)) ** 2 + (ext_b * np.cos(theta)) ** 2)
        boxes.append([max(cx - hx, 0.0), max(cy - hy, 0.0), min(cx + hx, w - 1.0), min(cy + hy, h - 1.0)])


def _render(spec: KindSpec, labels: np.ndarray, h: int, w: int, rng: np.random.Generator):
    """Renders one image; returns (image uint8, points, boxes or None)."""
    conc = {s: np.zeros((h, w)) for s in _STAIN_NAMES}
    # Tissue background with texture.
    tex = _smooth_noise(rng, (h, w), 6.0)
    for s, amt in spec.background.items():
        conc[s] += amt * np.clip(1 + 0.35 * tex, 0.2, None)
    if spec.lumen:
        holes = _smooth_noise(rng, (h, w), 14.0) > 1.3
        for s in conc:
            conc[s][holes] *= 0.1

    radii = np.array([rng.uniform(*spec.looks[c].radius) for c in labels])
    centres = _place(rng, radii, h, w, spec.min_gap, spec.clustering)
    n_distract = rng.poisson(spec.distractor_density * h * w / 1e4) if spec.distractor else 0
    d_radii = np.array([rng.uniform(*spec.distractor.radius) for _ in range(n_distract)]) if n_distract else []
    d_centres = _place(rng, d_radii, h, w, spec.min_gap, 0.2, (list(map(tuple, centres)), list(radii))) \
        if n_distract else np.zeros((0, 2))

    boxes = [] if spec.boxes else None
    for c, centre, r in zip(labels, centres, radii):
        strength = rng.uniform(0.8, 1.2) * (spec.faint_factor if c == spec.faint_class else 1.0)
        _draw_cell(conc, spec.looks[c], centre, r, rng, strength, h, w, boxes)
    for centre, r in zip(d_centres, d_radii):
        _draw_cell(conc, spec.distractor, centre, r, rng, rng.uniform(0.6, 1.1), h, w)

    # Chromatin texture on hematoxylin, then optical blur of the concentrations.
    conc["hematoxylin"] *= np.clip(1 + 0.25 * _smooth_noise(rng, (h, w), 1.2), 0.3, None)
    od = np.zeros((h, w, 3))
    for s in _STAIN_NAMES:
        if not conc[s].any():
            continue
        vec = np.asarray(_STAINS[s]) * (1 + rng.normal(0, 0.08, 3))
        vec = np.clip(vec, 0.02, None)
        vec /= np.linalg.norm(vec)
        od += conc[s][..., None] * vec * rng.uniform(0.8, 1.2)
    blur = rng.uniform(0.6, 1.3)
    od = ndimage.gaussian_filter(od, (blur, blur, 0))
    light = 250 * (1 - 0.06 * np.clip(_smooth_noise(rng, (h, w), 40.0), -2, 2))[..., None]
    img = light * np.exp(-od) + rng.normal(0, rng.uniform(2.0, 5.0), (h, w, 3))
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if boxes is not None else None
    return img, centres, box_arr


def _image_shape(size) -> tuple[int, int]:
    """(height, width) of ``size`` (a side or a pair), at least 32 x 32."""
    h, w = _checks.as_shape((size, size) if np.isscalar(size) else size, "size")
    if h < 32 or w < 32:
        raise ValueError(f"size must be at least 32 x 32 pixels, got {h} x {w}")
    return h, w


def make_dataset(kind: str, n_images: int = 16, size=256, seed: int = 0, faint_factor: float | None = None,
                 boxes: bool | None = None):
    """Makes a deterministic synthetic dataset.

    Args:
        kind: one of ``mihc`` (AwareNet's 3 types, 2244:997:243), ``mihc6`` (S-DRDIN's 6 types,
            Table 1 training proportions), ``he`` (H&E nuclei, 4 CRCHisto classes), ``pdl1``
            (4 PD-L1 IHC classes), ``blood`` (RBC / WBC / platelets with boxes) and ``shapes``
            (generic objects with boxes, not microscopy: :func:`make_shapes`).
        n_images: number of images.
        size: image side, or (height, width).
        seed: random seed; the same arguments always give identical data.
        faint_factor: stain strength of the kind's faint (rare) class relative to the others
            (default: the kind's own, e.g. 0.35 for ``mihc``; 1.0 draws it like every class).
        boxes: give every cell its bounding box (default: the kind's own, True for ``blood``); the
            images are the same either way.

    Returns:
        list of :class:`common.datasets.Sample`, named ``<kind>_<seed>_<index>``.
    """
    from common.datasets import Sample

    if kind in OBJECT_KINDS:
        if faint_factor is not None or boxes is False:
            raise ValueError(f"synthetic:{kind} has no faint class and always has boxes")
        return make_shapes(n_images, size, seed)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS) + list(OBJECT_KINDS)}, got {kind!r}")
    n_images = _checks.positive(n_images, "n_images", integer=True)
    h, w = _image_shape(size)
    spec = KINDS[kind]
    if faint_factor is not None:
        faint_factor = _checks.positive(faint_factor, "faint_factor")
        spec = dataclasses.replace(spec, faint_factor=float(faint_factor))
    if boxes is not None:
        spec = dataclasses.replace(spec, boxes=bool(boxes))
    children = np.random.SeedSequence([int(seed), sum(map(ord, kind))]).spawn(n_images + 1)
    alloc_rng = np.random.default_rng(children[0])
    per_image = alloc_rng.poisson(spec.density * h * w / 1e4, size=n_images)
    per_image = np.maximum(per_image, 1)
    labels = _allocate(int(per_image.sum()), spec.proportions, alloc_rng)
    bounds = np.concatenate([[0], np.cumsum(per_image)])
    samples = []
    for i, child in enumerate(children[1:]):
        rng = np.random.default_rng(child)
        lab = labels[bounds[i]:bounds[i + 1]]
        img, pts, boxes = _render(spec, lab, h, w, rng)
        samples.append(Sample(image=img, points=pts.astype(np.float32), classes=lab.astype(np.int64),
                              class_names=spec.class_names, boxes=boxes, mpp=spec.mpp,
                              name=f"{kind}_{seed}_{i:03d}"))
    return samples


# --- A generic object-detection set (the stand-in for natural-image pre-training) -----------------

SHAPE_CLASSES = ("disc", "ring", "square", "triangle", "ellipse", "cross")
OBJECT_KINDS = ("shapes",)


def _shape_mask(cls: int, centre, half: float, theta: float, h: int, w: int) -> np.ndarray:
    """Anti-aliased coverage (HxW float in [0, 1]) of one shape; ``half`` is its half-extent in px."""
    import cv2

    sub = 4  # fixed-point sub-pixel bits of OpenCV's drawing functions
    canvas = np.zeros((h, w), np.uint8)
    c = np.asarray(centre, dtype=np.float64)

    def poly(vertices):
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        pts = (c + np.asarray(vertices, dtype=np.float64) @ rot.T) * (1 << sub)
        cv2.fillPoly(canvas, [np.rint(pts).astype(np.int32)], 255, cv2.LINE_AA, sub)

    ctr = tuple(int(v) for v in np.rint(c * (1 << sub)))
    if cls == 0:                    # disc
        cv2.circle(canvas, ctr, int(round(half * (1 << sub))), 255, -1, cv2.LINE_AA, sub)
    elif cls == 1:                  # ring
        cv2.circle(canvas, ctr, int(round(half * 0.8 * (1 << sub))), 255,
                   max(2, int(round(half * 0.4))), cv2.LINE_AA, sub)
    elif cls == 2:                  # square
        poly([[-half, -half], [half, -half], [half, half], [-half, half]])
    elif cls == 3:                  # triangle
        poly([[half * np.cos(a), half * np.sin(a)] for a in (-np.pi / 2, np.pi / 6, 5 * np.pi / 6)])
    elif cls == 4:                  # ellipse
        axes = (int(round(half * (1 << sub))), int(round(half * 0.45 * (1 << sub))))
        cv2.ellipse(canvas, ctr, axes, np.degrees(theta), 0, 360, 255, -1, cv2.LINE_AA, sub)
    else:                           # cross
        t = half * 0.3
        poly([[-half, -t], [half, -t], [half, t], [-half, t]])
        poly([[-t, -half], [t, -half], [t, half], [-t, half]])
    return canvas.astype(np.float64) / 255.0


def _render_shapes(n: int, h: int, w: int, rng: np.random.Generator):
    """One image of ``n`` shapes of random class, size, colour and angle on a random smooth background."""
    from common.boxes import box_area, box_intersection

    scale = min(h, w) / 256.0
    bg = rng.uniform(20, 235, size=(2, 3))
    ramp = np.clip(np.linspace(0, 1, w)[None, :] * np.cos(rng.uniform(0, np.pi))
                   + np.linspace(0, 1, h)[:, None] * np.sin(rng.uniform(0, np.pi)), 0, 1)[..., None]
    img = bg[0] * (1 - ramp) + bg[1] * ramp
    img = img + 18 * np.stack([_smooth_noise(rng, (h, w), 8.0) for _ in range(3)], -1)
    # Unannotated clutter: faint streaks and blobs, as natural scenes have.
    for _ in range(rng.poisson(3)):
        m = ndimage.gaussian_filter((rng.random((h, w)) > 0.999).astype(np.float64), rng.uniform(2, 6))
        img = img + rng.uniform(-60, 60, 3) * (m / (m.max() + 1e-9))[..., None]
    classes = rng.integers(0, len(SHAPE_CLASSES), size=n)
    boxes, kept = [], []
    for cls in classes:
        half = float(np.exp(rng.uniform(np.log(5.0), np.log(48.0)))) * scale
        for _ in range(30):
            centre = rng.uniform([half * 0.5, half * 0.5], [w - 1 - half * 0.5, h - 1 - half * 0.5])
            mask = _shape_mask(int(cls), centre, half, float(rng.uniform(0, np.pi)), h, w)
            ys, xs = np.nonzero(mask > 0.5)
            if len(xs) < 6:
                continue
            box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)
            # at most a quarter of the smaller of two boxes may be shared
            if boxes and np.any(box_intersection(boxes, box)[:, 0] > 0.25 * np.minimum(box_area(boxes), box_area(box))):
                continue
            under = img[ys, xs].mean(0)
            colour = rng.uniform(0, 255, 3)
            while np.abs(colour - under).sum() < 120:
                colour = rng.uniform(0, 255, 3)
            shade = 1 + 0.15 * _smooth_noise(rng, (h, w), max(half / 2, 1.0))[..., None]
            img = img * (1 - mask[..., None]) + np.clip(colour * shade, 0, 255) * mask[..., None]
            boxes.append(box)
            kept.append(int(cls))
            break
    img = ndimage.gaussian_filter(img, (rng.uniform(0.4, 1.0),) * 2 + (0,))
    img = np.clip(np.rint(img + rng.normal(0, rng.uniform(2.0, 6.0), img.shape)), 0, 255).astype(np.uint8)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
    return img, centres, np.asarray(kept, dtype=np.int64), boxes


def make_shapes(n_images: int = 16, size=256, seed: int = 0):
    """A generic detection set standing in for natural-image pre-training (COCO, ImageNet).

    Six classes of shapes (``SHAPE_CLASSES``) in any colour, 10-96 px across at 256 px, at any angle,
    on random colour-gradient backgrounds with unannotated clutter: what a network learns from it
    (edges, colour contrast, blobs and rings over a range of sizes) is generic, not microscopy. Every
    object has its tight bounding box; the point is the box centre.

    Args:
        n_images: number of images.
        size: image side, or (height, width).
        seed: random seed; the same arguments always give identical data.

    Returns:
        list of :class:`common.datasets.Sample`, named ``shapes_<seed>_<index>``.
    """
    from common.datasets import Sample

    n_images = _checks.positive(n_images, "n_images", integer=True)
    h, w = _image_shape(size)
    children = np.random.SeedSequence([int(seed), sum(map(ord, "shapes"))]).spawn(n_images)
    samples = []
    for i, child in enumerate(children):
        rng = np.random.default_rng(child)
        n = max(int(rng.poisson(6.0 * h * w / 256 ** 2)), 1)
        img, pts, classes, boxes = _render_shapes(n, h, w, rng)
        samples.append(Sample(image=img, points=pts.astype(np.float32), classes=classes, class_names=SHAPE_CLASSES,
                              boxes=boxes, name=f"shapes_{seed}_{i:03d}"))
    return samples
