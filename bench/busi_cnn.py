"""Train the ultrasound lesion network (a tiny U-Net) on a BUSI-layout folder; out-of-fold maps.

Needs torch (NOT a project dependency; the project only runs the exported ONNX file with
onnxruntime). Made with torch 2.13 (CPU) in its own virtual environment::

    python3.11 -m venv /tmp/uscnn-venv
    /tmp/uscnn-venv/bin/pip install torch numpy pillow scipy scikit-image onnx
    # the folds of bench/busi_us.py, with the project's venv (torch is not needed for this step)
    PYTHONPATH=src:. .venv/bin/python bench/busi_cnn.py --data /work/shared/data/busi-dev \\
        --samples /tmp/uscnn-dev/samples.pkl --save-folds FOLDS
    PYTHONPATH=src:. OMP_NUM_THREADS=1 /tmp/uscnn-venv/bin/python bench/busi_cnn.py \\
        --data /work/shared/data/busi-dev --samples /tmp/uscnn-dev/samples.pkl \\
        --fold-file FOLDS --threads 1 --oof /tmp/uscnn-dev/oofA.pkl --only-fold 0   # ... 1, 2, 3, 4
    PYTHONPATH=src:. OMP_NUM_THREADS=1 /tmp/uscnn-venv/bin/python bench/busi_cnn.py \\
        --data /work/shared/data/busi-dev --samples /tmp/uscnn-dev/samples.pkl --threads 1 \\
        --export src/breastgate/algorithms/us_lesion_cnn.onnx

Without ``--fold-file`` the folds are computed here (:func:`bench.busi_us.folds`, which needs the
project's dependencies in the torch environment).

``--oof``: for each of the benchmark's 5 folds (:func:`bench.busi_us.folds`, near-duplicates in one
fold) a network trained on the other 4 folds predicts the fold's images: the out-of-fold maps
(network grid, :func:`breastgate.algorithms._us_cnn.network_input`) that ``bench/busi_us.py
--cnn-maps`` and ``bench/busi_fit.py --cnn-maps`` rank candidates with (the probability maps are
never those of a network that saw the image). ``--export``: one network trained on all images, as
ONNX (opset 17, input ``image`` [1, 1, H, W] with H, W multiples of 8, output ``probability``).

Network: 3 poolings, ``BASE`` channels doubling per level, BatchNorm (folded by onnxruntime), a
dilated bottleneck; loss BCE + soft Dice; 40 epochs (``--epochs``); augmentation: horizontal
flip, scale 0.8-1.25, gain, offset and a gamma-like curve on the standardised input, smoothed
speckle-like noise, and (``--augment extra``, the default since 1.2.1) height and width scaled apart
by up to ±15 % and a depth gain ramp. Fixed seeds; torch on ``--threads`` threads (one is fastest
on a loaded 2-core machine: about 3 min per fold, 5-8 min for all images; two folds run side by
side with ``--only-fold`` and separate ``--oof`` files, merged by name).

Out of fold with these maps (``bench/busi_us.py --cnn-maps``), version 1.2.1: sensitivity 0.851
(177/208) at 0.48 false regions/image, normals with a shown detection 28/40. Version 1.2.0
(``--epochs 20 --augment base``): 0.841 at 0.50, 30/40; 40 epochs alone (``--augment base``): 0.841
at 0.50, 30/40 (both variants tried on the same folds). The maps alone (p >= 0.5 components): 178
of 206 lesions (network grid) touched at 0.33 components on no lesion per image, median Dice 0.75
(1.2.0: 168, 0.33, 0.69; 40 epochs alone: 171, 0.26, 0.77).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._busi import cases, load, thumbnail
from breastgate.algorithms._us_candidates import prepare
from breastgate.algorithms._us_cnn import MULTIPLE, network_input

BASE = 8
EPOCHS = 40
BATCH = 8
CROP = 64
LEARNING_RATE = 3e-3


@dataclass
class Sample:
    """One image on the network grid: input, lesion mask, unpadded size and working-grid size."""

    name: str
    label: str
    x: np.ndarray
    y: np.ndarray
    shape: tuple[int, int]
    work_shape: tuple[int, int]
    thumb: np.ndarray


def samples(folder: Path) -> list[Sample]:
    """Every image of ``folder`` prepared as the detector prepares it, in ``labels.csv`` order."""
    out = []
    for image, label, masks in cases(folder):
        case = load(folder, image, label, masks)
        work = prepare(case.gray, case.valid, None)
        x, shape = network_input(work)
        truth = np.zeros(case.gray.shape, bool)
        for t in case.truths:
            truth |= t
        zoom = (shape[0] / truth.shape[0], shape[1] / truth.shape[1])
        small = ndi.zoom(truth.astype(float), zoom, order=1, grid_mode=True, mode="nearest")[
            : shape[0], : shape[1]
        ]
        y = np.zeros(x.shape, np.float32)
        y[: shape[0], : shape[1]] = small > 0.5
        work_shape = (int(work.smooth.shape[0]), int(work.smooth.shape[1]))
        out.append(Sample(image, label, x, y, shape, work_shape, thumbnail(case.gray)))
    return out


def build(base: int = BASE):  # type: ignore[no-untyped-def]
    """The tiny U-Net (a torch module)."""
    import torch
    from torch import nn

    def block(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = base
            self.e1, self.e2, self.e3 = block(1, c), block(c, 2 * c), block(2 * c, 4 * c)
            self.bottom = block(4 * c, 8 * c, dilation=2)
            self.d3, self.d2, self.d1 = block(12 * c, 4 * c), block(6 * c, 2 * c), block(3 * c, c)
            self.head = nn.Conv2d(c, 1, 1)
            self.pool = nn.MaxPool2d(2)
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

        def logits(self, x: torch.Tensor) -> torch.Tensor:
            a = self.e1(x)
            b = self.e2(self.pool(a))
            c = self.e3(self.pool(b))
            d = self.bottom(self.pool(c))
            c = self.d3(torch.cat([self.up(d), c], 1))
            b = self.d2(torch.cat([self.up(c), b], 1))
            a = self.d1(torch.cat([self.up(b), a], 1))
            return self.head(a)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.logits(x))

    return UNet()


#: ``--augment extra``: also an aspect change (height and width scaled apart, up to ``ASPECT``) and
#: a depth gain ramp (a time-gain-compensation change, up to ``RAMP`` standard deviations).
EXTRA = {"on": False}
ASPECT = 0.15
RAMP = 0.3


def augment(s: Sample, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random training crop (``CROP`` square) of a sample."""
    x, y = s.x[: s.shape[0], : s.shape[1]], s.y[: s.shape[0], : s.shape[1]]
    f = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    if EXTRA["on"]:
        a = float(np.exp(rng.uniform(-ASPECT, ASPECT)))
        x = x + rng.uniform(-RAMP, RAMP) * np.linspace(-1, 1, x.shape[0])[:, None]
        f = (f * a, f / a)  # type: ignore[assignment]
    x = ndi.zoom(x, f, order=1, mode="nearest")
    y = ndi.zoom(y, f, order=1, mode="nearest") > 0.5
    if rng.random() < 0.5:
        x, y = x[:, ::-1], y[:, ::-1]
    pad = ((0, max(0, CROP - x.shape[0])), (0, max(0, CROP - x.shape[1])))
    x, y = np.pad(x, pad, mode="reflect"), np.pad(y, pad, mode="constant")
    r = int(rng.integers(0, x.shape[0] - CROP + 1))
    c = int(rng.integers(0, x.shape[1] - CROP + 1))
    x, y = x[r : r + CROP, c : c + CROP], y[r : r + CROP, c : c + CROP]
    x = x * rng.uniform(0.8, 1.25) + rng.uniform(-0.3, 0.3) + rng.uniform(-0.1, 0.1) * x * x
    noise = ndi.gaussian_filter(rng.normal(0, 1, x.shape), rng.uniform(0.5, 1.0))
    x = x + noise * rng.uniform(0.0, 0.3)
    return x.astype(np.float32), y.astype(np.float32)


def train(data: list[Sample], seed: int, epochs: int = EPOCHS, log: str = ""):  # type: ignore[no-untyped-def]
    """A network trained on ``data``."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build()
    opt = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
    steps = epochs * int(np.ceil(len(data) / BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LEARNING_RATE, total_steps=steps, pct_start=0.1)
    bce = torch.nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(data))
        total = 0.0
        for i in range(0, len(order), BATCH):
            pairs = [augment(data[j], rng) for j in order[i : i + BATCH]]
            x = torch.from_numpy(np.stack([p[0] for p in pairs])[:, None])
            y = torch.from_numpy(np.stack([p[1] for p in pairs])[:, None])
            z = net.logits(x)
            p = torch.sigmoid(z)
            dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
            loss = bce(z, y) + dice
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(pairs)
        if epoch % 5 == 4 or epoch == epochs - 1:
            print(f"{log} epoch {epoch + 1}: loss {total / len(data):.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    net.eval()
    return net


def predict(net, s: Sample) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Probability map of one sample (network grid, padded), mean of it and its mirror image."""
    import torch

    with torch.no_grad():
        x = torch.from_numpy(s.x[None, None])
        p = net(x) + torch.flip(net(torch.flip(x, [3])), [3])
    return (p[0, 0].numpy() / 2).astype(np.float32)


def export(net, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Write ``net`` as ONNX (dynamic height and width)."""
    import torch

    x = torch.zeros(1, 1, 16 * MULTIPLE, 16 * MULTIPLE)
    torch.onnx.export(
        net, (x,), str(path), input_names=["image"], output_names=["probability"], opset_version=17,
        dynamic_axes={"image": {2: "height", 3: "width"}, "probability": {2: "height", 3: "width"}},
        dynamo=False,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=Path, help="cache of the prepared images")
    parser.add_argument("--oof", type=Path)
    parser.add_argument(
        "--fold-file", type=Path, required=False,
        help="the folds of bench.busi_us.folds saved with numpy.save (that module needs the project's "
        "own dependencies, which the torch environment may lack); computed here when absent",
    )  # fmt: skip
    parser.add_argument("--only-fold", type=int)
    parser.add_argument("--augment", choices=("base", "extra"), default="extra")
    parser.add_argument("--export", type=Path)
    parser.add_argument("--save-folds", type=Path, help="save the folds (numpy.save) and stop")
    args = parser.parse_args()
    if args.samples is not None and args.samples.exists():
        data = pickle.loads(args.samples.read_bytes())
    else:
        data = samples(args.data)
        if args.samples is not None:
            args.samples.write_bytes(pickle.dumps(data))
    if args.save_folds is not None:
        from bench.busi_us import folds

        rows = [SimpleNamespace(thumb=s.thumb, label=s.label) for s in data]
        np.save(args.save_folds, folds(rows, args.folds, args.seed)[0])  # type: ignore[arg-type]
        return
    import torch

    torch.set_num_threads(args.threads)
    EXTRA["on"] = args.augment == "extra"
    if args.oof is not None:
        if args.fold_file is not None:
            fold = np.load(args.fold_file)
        else:
            from bench.busi_us import folds

            rows = [SimpleNamespace(thumb=s.thumb, label=s.label) for s in data]
            fold, _ = folds(rows, args.folds, args.seed)  # type: ignore[arg-type]
        maps = pickle.loads(args.oof.read_bytes()) if args.oof.exists() else {}
        for k in range(args.folds):
            if (args.only_fold is not None and k != args.only_fold) or any(
                data[i].name in maps for i in np.flatnonzero(fold == k)
            ):
                continue
            net = train(
                [s for s, f in zip(data, fold, strict=True) if f != k],
                args.seed + k,
                args.epochs,
                f"fold {k}",
            )
            for i in np.flatnonzero(fold == k):
                maps[data[i].name] = predict(net, data[i])
            args.oof.write_bytes(pickle.dumps(maps))
    if args.export is not None:
        net = train(data, args.seed + 100, args.epochs, "all")
        export(net, args.export)


if __name__ == "__main__":
    main()
