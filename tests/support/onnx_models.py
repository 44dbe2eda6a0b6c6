"""Tiny ONNX models built with onnx.helper, for the ONNX model runner's tests.

The detection model finds the brightest pixel of its (resized) input with ArgMax and answers a
box of 8 model pixels around it, scored with that pixel's value, plus a fixed low-score box
(-10, -10)-(5, 5) that overhangs the top-left corner. The density model turns the mean of its
min-max normalised input into 4 probabilities peaked at a (mean 0.125), b (0.375), c (0.625) and
d (0.875).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

ROWS, COLS = 512, 384  # images
H, W = 128, 64  # model input: a quarter of the image rows, a sixth of its columns
SY, SX = ROWS / H, COLS / W
HALF = 4.0  # half side of the detection box, model pixels


def _const(name: str, values: Any, dtype: int = TensorProto.FLOAT) -> onnx.NodeProto:
    array = np.asarray(values)
    tensor = helper.make_tensor(name, dtype, array.shape, array.flatten().tolist())
    return helper.make_node("Constant", [], [name], value=tensor)


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def detection_graph() -> onnx.GraphProto:
    nodes = [
        _const("shape", [1, -1], TensorProto.INT64),
        _const("width", [[W]], TensorProto.INT64),
        _const("half_px", [[0.5]]),
        _const("half", [[HALF]]),
        _const("fixed", [[-10.0, -10.0, 5.0, 5.0, 100.0]]),
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("ArgMax", ["flat"], ["idx"], axis=1, keepdims=1),
        helper.make_node("ReduceMax", ["flat"], ["peak"], axes=[1], keepdims=1),
        helper.make_node("Div", ["idx", "width"], ["row"]),
        helper.make_node("Mod", ["idx", "width"], ["col"]),
        helper.make_node("Cast", ["row"], ["rowf"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["col"], ["colf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["colf", "half_px"], ["cx"]),
        helper.make_node("Add", ["rowf", "half_px"], ["cy"]),
        helper.make_node("Sub", ["cx", "half"], ["x0"]),
        helper.make_node("Sub", ["cy", "half"], ["y0"]),
        helper.make_node("Add", ["cx", "half"], ["x1"]),
        helper.make_node("Add", ["cy", "half"], ["y1"]),
        helper.make_node("Concat", ["x0", "y0", "x1", "y1", "peak"], ["box"], axis=1),
        helper.make_node("Concat", ["box", "fixed"], ["boxes"], axis=0),
    ]
    return helper.make_graph(
        nodes,
        "brightest",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, H, W])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [2, 5])],
    )


def density_graph() -> onnx.GraphProto:
    nodes = [
        _const("shape", [1, -1], TensorProto.INT64),
        _const("centres", [[0.125, 0.375, 0.625, 0.875]]),
        _const("gain", [[-50.0]]),
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("ReduceMean", ["flat"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["mean", "centres"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["d2"]),
        helper.make_node("Mul", ["d2", "gain"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    return helper.make_graph(
        nodes,
        "mean_density",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, H, W])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 4])],
    )


DETECTION_MANIFEST = f"""
id = "acme.brightest"
version = "1.0.0"
name = "Brightest spot"
intended_use = "test model"
manufacturer = "ACME"
label = "Investigational device: site validation pending."
modalities = ["MG"]
views = ["CC", "MLO"]
output = "detections"
kind = "mass"
input_size = [{H}, {W}]
normalisation = "none"
score_scale = [0, 4095]
operating_threshold = 1000
"""

DENSITY_MANIFEST = f"""
id = "acme.density"
version = "0.3.0"
name = "Mean density"
intended_use = "test model"
manufacturer = "ACME"
output = "density"
input_size = [{H}, {W}]
normalisation = "minmax"
"""


def model_folder(root: Path, graph: onnx.GraphProto, manifest: str) -> Path:
    folder = root / graph.name
    _save(graph, folder / "model.onnx")
    (folder / "manifest.toml").write_text(manifest, encoding="utf-8")
    return folder
