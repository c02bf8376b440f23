"""ONNX graph preparation shared by the converters: a static, folded graph, and older opsets.

The trained models are exported by PyTorch with a dynamic batch axis, and timm's TensorFlow-style
"SAME" padding appears as small shape-computing subgraphs (Shape, Gather, Ceil, Pad). Converters for
other runtimes do better on a plain graph: :func:`static_graph` fixes the batch at 1 and lets ONNX
Runtime's *basic* optimisations (constant folding, Pad-into-Conv fusion, redundant-node removal;
standard ONNX operators only) fold those subgraphs away. What is left is Conv, Clip, Add, a pooling
head (classifier) or the FPN/FCOS head (detector): Reshape, InstanceNormalization, Resize, Transpose,
Concat, Gather, Sigmoid, Sqrt.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper, shape_inference

from .errors import ExportFailed


def static_graph(model_bytes: bytes) -> onnx.ModelProto:
    """The model with batch 1, constants folded and only standard ONNX operators.

    Args:
        model_bytes: ONNX model whose first input is ``[B, 3, H, W]`` with a dynamic ``B``.

    Returns:
        A checked ONNX model with static shapes (shape-inferred).
    """
    model = onnx.load_from_string(model_bytes)
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    with tempfile.TemporaryDirectory(prefix="ownvision-graph-") as tmp:
        options.optimized_model_filepath = str(Path(tmp) / "static.onnx")
        try:
            ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises untyped errors
            raise ExportFailed(f"ONNX Runtime could not load the model: {exc}") from exc
        folded = onnx.load(options.optimized_model_filepath)
    used = {n.domain for n in folded.graph.node}
    keep = [o for o in folded.opset_import if o.domain in ("", "ai.onnx") or o.domain in used]
    del folded.opset_import[:]
    folded.opset_import.extend(keep)
    foreign = sorted(d for d in used if d not in ("", "ai.onnx"))
    if foreign:
        raise ExportFailed(f"the folded graph uses non-standard operator domains {foreign}")
    used_names = {i for node in folded.graph.node for i in node.input}
    kept = [i for i in folded.graph.initializer if i.name in used_names]
    del folded.graph.initializer[:]
    folded.graph.initializer.extend(kept)
    folded = shape_inference.infer_shapes(folded, strict_mode=True)
    onnx.checker.check_model(folded)
    return folded


# Operators of ownvision's graphs whose opset-17 form means the same at opsets 10 and 12 (they only
# gained types, or moved attributes ONNX allows us to keep). The others are rewritten below.
_SAME_SEMANTICS = {
    "Conv",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "Sigmoid",
    "Sqrt",
    "Exp",
    "GlobalAveragePool",
    "Flatten",
    "Gemm",
    "MatMul",
    "Transpose",
    "Concat",
    "Gather",
    "InstanceNormalization",
    "Identity",
    "Reshape",
    "Softmax",
    "Clip",
    "Unsqueeze",
    "Squeeze",
    "Resize",
}
# IR versions that ONNX assigns to opsets 10 and 12 (onnx.helper.VERSION_TABLE).
_IR_VERSION = {10: 5, 12: 7}


def convert_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """The same static graph (from :func:`static_graph`) at ONNX opset 12 or 10, for older runtimes
    (Windows ML on Windows 10 1809 reads opset 10 at most).

    ``onnx.version_converter`` has no down-conversion adapters for most operators, so the few that
    changed between opsets 10 and 17 are rewritten here: Clip (min/max inputs -> attributes at 10),
    Unsqueeze/Squeeze (axes input -> attribute), Resize (roi/scales inputs required at 11-12;
    scales only at 10), Softmax (2-D coercion before opset 13: only the last axis of a 2-D input is
    accepted), Reshape (no ``allowzero``).

    Raises:
        ExportFailed: The graph uses an operator or form this conversion does not handle.
    """
    if opset not in _IR_VERSION:
        raise ExportFailed(f"conversion to ONNX opset {opset} is not supported (12 or 10)")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in [*graph.value_info, *graph.input, *graph.output]
    }
    added: list[onnx.TensorProto] = []

    def const(name: str) -> np.ndarray:
        if name not in inits:
            raise ExportFailed(f"cannot convert to opset {opset}: {name} is not a constant")
        return inits[name]

    def new_init(name: str, value: np.ndarray) -> str:
        added.append(numpy_helper.from_array(value, name))
        return name

    nodes = []
    for n in graph.node:
        if n.domain not in ("", "ai.onnx") or n.op_type not in _SAME_SEMANTICS:
            raise ExportFailed(f"cannot convert operator {n.op_type} to ONNX opset {opset}")
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        inputs = list(n.input)
        if n.op_type == "Clip" and opset < 11:
            lo = float(const(inputs[1])) if len(inputs) > 1 and inputs[1] else None
            hi = float(const(inputs[2])) if len(inputs) > 2 and inputs[2] else None
            attrs = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
            inputs = inputs[:1]
        elif n.op_type in ("Unsqueeze", "Squeeze") and len(inputs) > 1 and inputs[1]:
            axes = [int(a) for a in const(inputs[1])]
            rank = len(shapes.get(n.output[0] if n.op_type == "Unsqueeze" else inputs[0], []))
            if any(a < 0 for a in axes) and not rank:
                raise ExportFailed(f"cannot convert {n.op_type} with negative axes of unknown rank")
            attrs["axes"] = [a % rank if a < 0 else a for a in axes]
            inputs = inputs[:1]
        elif n.op_type in ("Concat", "Gather", "Flatten") and int(attrs.get("axis", 0)) < 0:
            rank = len(shapes.get(inputs[0], []))
            if not rank:
                raise ExportFailed(f"cannot convert {n.op_type} with a negative axis of unknown rank")
            attrs["axis"] = int(attrs["axis"]) % rank
        elif n.op_type == "Reshape":
            if attrs.pop("allowzero", 0):
                raise ExportFailed(f"cannot convert Reshape with allowzero=1 to ONNX opset {opset}")
        elif n.op_type == "Softmax":
            rank = len(shapes.get(n.input[0], []))
            axis = int(attrs.get("axis", -1))
            if rank != 2 or axis % 2 != 1:
                raise ExportFailed(f"cannot convert Softmax over axis {axis} of a rank-{rank} tensor to opset {opset}")
            attrs["axis"] = 1
        elif n.op_type == "Resize":
            in_shape = shapes.get(inputs[0])
            if len(inputs) > 3 and inputs[3]:
                sizes = const(inputs[3]).astype(np.float32)
                if not in_shape or not all(in_shape):
                    raise ExportFailed("cannot convert a Resize of unknown input shape")
                scales = sizes / np.asarray(in_shape, dtype=np.float32)
            else:
                scales = const(inputs[2]).astype(np.float32)
            scales_name = new_init(f"{n.name or n.output[0]}_scales", scales)
            if opset < 11:
                if (
                    attrs.get("mode", b"nearest"),
                    attrs.get("coordinate_transformation_mode", b"half_pixel"),
                    attrs.get("nearest_mode", b"round_prefer_floor"),
                ) != (b"nearest", b"asymmetric", b"floor"):
                    raise ExportFailed("only nearest/asymmetric/floor Resize converts to ONNX opset 10")
                attrs = {"mode": "nearest"}
                inputs = [inputs[0], scales_name]
            else:
                roi = new_init(f"{n.name or n.output[0]}_roi", np.zeros(0, dtype=np.float32))
                inputs = [inputs[0], roi, scales_name]
        nodes.append(helper.make_node(n.op_type, inputs, list(n.output), name=n.name, **attrs))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    used = {i for node in nodes for i in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del out.opset_import[:]
    out.opset_import.append(helper.make_opsetid("", opset))
    out.ir_version = _IR_VERSION[opset]
    try:
        onnx.checker.check_model(out, full_check=True)
    except Exception as exc:  # onnx raises ValidationError / InferenceError
        raise ExportFailed(f"the model converted to ONNX opset {opset} is not valid: {exc}") from exc
    return out
