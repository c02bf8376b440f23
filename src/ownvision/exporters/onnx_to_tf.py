"""Translate ownvision's static ONNX graphs (see :mod:`.graph`) into a TensorFlow function.

TensorFlow Lite wants channels-last tensors, ONNX has channels-first ones. The translation keeps
every 4-D activation in NHWC while it can and remembers, per value, whether it holds a logically
NCHW tensor in NHWC order (``nhwc=True``). Convolutions, pooling, element-wise operations, Resize
and Concat work on such values directly (with constants and axes permuted to match); operations
that depend on the memory order (Reshape, Transpose, Flatten, Gather, InstanceNormalization...) get
the logical NCHW tensor back first. The detector's GroupNorm (Reshape -> InstanceNormalization ->
Reshape) is recognised and computed in NHWC, so that its head needs no transposes.

Only the operators ownvision's classifiers and detectors use are supported; anything else raises
:class:`~.errors.ExportFailed` naming the operator.

Example:
    >>> module = translate(static_graph(onnx_bytes))
    >>> module(tf.zeros([1, 224, 224, 3]))["probabilities"].shape
    TensorShape([1, 3])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import tensorflow as tf
from onnx import numpy_helper

from .errors import ExportFailed

_TO_NHWC = (0, 2, 3, 1)
_TO_NCHW = (0, 3, 1, 2)
_AXIS_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}  # NCHW axis -> NHWC axis


@dataclass
class _Value:
    """A tensor during translation: a numpy constant or a TF tensor; ``nhwc`` as in the module doc."""

    t: Any
    nhwc: bool = False

    @property
    def const(self) -> bool:
        return isinstance(self.t, np.ndarray)

    @property
    def rank(self) -> int:
        return len(self.t.shape)


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _plain(v: _Value) -> Any:
    """The logical (ONNX-layout) tensor."""
    if v.nhwc:
        return tf.transpose(v.t, _TO_NCHW)
    return v.t


def _nhwc(v: _Value) -> Any:
    """A 4-D value in NHWC order."""
    if v.nhwc:
        return v.t
    if v.rank != 4:
        raise ExportFailed(f"expected a 4-D tensor, got shape {v.t.shape}")
    return np.transpose(v.t, _TO_NHWC) if v.const else tf.transpose(v.t, _TO_NHWC)


def _const_nhwc(c: np.ndarray) -> np.ndarray:
    """A constant that broadcasts against a logical NCHW tensor, reordered for its NHWC form."""
    if c.ndim > 4:
        raise ExportFailed(f"cannot broadcast a {c.ndim}-D constant against a 4-D tensor")
    return np.transpose(c.reshape((1,) * (4 - c.ndim) + c.shape), _TO_NHWC)


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class _Translator:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.graph = model.graph
        self.init = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        self.nodes = list(self.graph.node)
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in self.nodes:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.ops: dict[str, Callable[[onnx.NodeProto, list[_Value | None]], list[_Value]]] = {
            "Conv": self.conv,
            "Clip": self.clip,
            "Relu": self.unary(tf.nn.relu),
            "Sigmoid": self.unary(tf.sigmoid),
            "Sqrt": self.unary(tf.sqrt),
            "Exp": self.unary(tf.exp),
            "Identity": self.unary(tf.identity),
            "Add": self.binary(tf.add, np.add),
            "Sub": self.binary(tf.subtract, np.subtract),
            "Mul": self.binary(tf.multiply, np.multiply),
            "Div": self.binary(tf.divide, np.divide),
            "GlobalAveragePool": self.global_pool,
            "Flatten": self.flatten,
            "Gemm": self.gemm,
            "MatMul": self.matmul,
            "Softmax": self.softmax,
            "Reshape": self.reshape,
            "Transpose": self.transpose,
            "Concat": self.concat,
            "Gather": self.gather,
            "Unsqueeze": self.unsqueeze,
            "Squeeze": self.squeeze,
            "InstanceNormalization": self.instance_norm,
            "Resize": self.resize,
            "Pad": self.pad,
            "ReduceMean": self.reduce_mean,
        }

    # ---- driver ---------------------------------------------------------------------------------

    def __call__(self, image_nhwc: Any) -> dict[str, Any]:
        values: dict[str, _Value] = {k: _Value(v) for k, v in self.init.items()}
        values[self.graph.input[0].name] = _Value(image_nhwc, nhwc=True)
        skip: set[str] = set()
        for node in self.nodes:
            if node.name in skip:
                continue
            fused = self.group_norm(node, values)
            if fused is not None:
                out_name, value, consumed = fused
                values[out_name] = value
                skip.update(consumed)
                continue
            handler = self.ops.get(node.op_type)
            if node.op_type == "Constant":
                values[node.output[0]] = _Value(numpy_helper.to_array(_attrs(node)["value"]))
                continue
            if handler is None:
                raise ExportFailed(
                    f"operator {node.op_type} ({node.name}) is not supported by the TensorFlow converter"
                )
            inputs = [values[i] if i else None for i in node.input]
            for name, value in zip(node.output, handler(node, inputs), strict=True):
                values[name] = value
        return {o.name: tf.identity(_plain(values[o.name]), name=o.name) for o in self.graph.output}

    def const(self, v: _Value | None, what: str) -> np.ndarray:
        if v is None or not v.const:
            raise ExportFailed(f"{what} must be a constant")
        return np.asarray(v.t)

    # ---- operators ------------------------------------------------------------------------------

    def conv(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        a = _attrs(node)
        weight = self.const(ins[1], "Conv weight").astype(np.float32)
        out_ch, in_per_group, kh, kw = weight.shape
        group = int(a.get("group", 1))
        strides = list(a.get("strides", [1, 1]))
        dilations = list(a.get("dilations", [1, 1]))
        pads = list(a.get("pads", [0, 0, 0, 0]))
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise ExportFailed(f"Conv {node.name}: auto_pad is not supported")
        x = _nhwc(ins[0])
        h, w = int(x.shape[1]), int(x.shape[2])
        same = [*_same_pads(h, kh, strides[0], dilations[0]), *_same_pads(w, kw, strides[1], dilations[1])]
        ours = [pads[0], pads[2], pads[1], pads[3]]  # top, bottom, left, right
        if not any(pads):
            padding = "VALID"
        elif ours == same:
            padding = "SAME"
        else:
            x = tf.pad(x, [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]])
            padding = "VALID"
        in_ch = int(x.shape[3])
        if group == 1:
            y = tf.nn.conv2d(x, weight.transpose(2, 3, 1, 0), [1, *strides, 1], padding, dilations=dilations)
        elif group == in_ch and in_per_group == 1 and out_ch == in_ch:
            y = tf.nn.depthwise_conv2d(x, weight.transpose(2, 3, 0, 1), [1, *strides, 1], padding, dilations=dilations)
        else:
            raise ExportFailed(f"Conv {node.name}: grouped convolutions other than depthwise are not supported")
        if len(ins) > 2 and ins[2] is not None:
            y = tf.nn.bias_add(y, self.const(ins[2], "Conv bias").astype(np.float32))
        return [_Value(y, nhwc=True)]

    def clip(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        a = _attrs(node)
        lo = float(self.const(ins[1], "Clip min")) if len(ins) > 1 and ins[1] is not None else a.get("min")
        hi = float(self.const(ins[2], "Clip max")) if len(ins) > 2 and ins[2] is not None else a.get("max")
        x = ins[0]
        if lo == 0.0 and hi == 6.0:
            y = tf.nn.relu6(x.t)
        elif lo == 0.0 and hi is None:
            y = tf.nn.relu(x.t)
        else:
            y = tf.clip_by_value(x.t, -np.inf if lo is None else lo, np.inf if hi is None else hi)
        return [_Value(y, x.nhwc)]

    @staticmethod
    def unary(fn: Callable[[Any], Any]) -> Callable[[onnx.NodeProto, list[_Value | None]], list[_Value]]:
        def op(node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
            assert ins[0] is not None
            return [_Value(fn(ins[0].t), ins[0].nhwc)]

        return op

    @staticmethod
    def binary(
        fn: Callable[[Any, Any], Any], np_fn: Callable[[Any, Any], Any]
    ) -> Callable[[onnx.NodeProto, list[_Value | None]], list[_Value]]:
        def op(node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
            a, b = ins[0], ins[1]
            assert a is not None and b is not None
            if a.const and b.const:
                return [_Value(np.asarray(np_fn(a.t, b.t)))]
            if a.nhwc or b.nhwc:
                if (a.nhwc or a.const) and (b.nhwc or b.const):
                    ta = _const_nhwc(a.t).astype(np.float32) if a.const else a.t
                    tb = _const_nhwc(b.t).astype(np.float32) if b.const else b.t
                    return [_Value(fn(ta, tb), nhwc=True)]
            ta = a.t.astype(np.float32) if a.const else _plain(a)
            tb = b.t.astype(np.float32) if b.const else _plain(b)
            return [_Value(fn(ta, tb))]

        return op

    def global_pool(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        return [_Value(tf.reduce_mean(_nhwc(ins[0]), axis=[1, 2], keepdims=True), nhwc=True)]

    def reduce_mean(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        a = _attrs(node)
        axes = a.get("axes")
        if axes is None and len(ins) > 1 and ins[1] is not None:
            axes = self.const(ins[1], "ReduceMean axes").tolist()
        keep = bool(a.get("keepdims", 1))
        x = ins[0]
        if x.nhwc and keep and axes is not None:
            return [_Value(tf.reduce_mean(x.t, axis=[_AXIS_NHWC[ax % 4] for ax in axes], keepdims=True), nhwc=True)]
        return [_Value(tf.reduce_mean(_plain(x), axis=axes, keepdims=keep))]

    def flatten(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        axis = int(_attrs(node).get("axis", 1))
        x = ins[0]
        shape = [int(d) for d in x.t.shape]
        if x.nhwc and axis == 1 and shape[1] == shape[2] == 1:  # [N, 1, 1, C]: same bytes in either order
            return [_Value(tf.reshape(x.t, [shape[0], -1]))]
        logical = _plain(x)
        dims = [int(d) for d in logical.shape]
        return [_Value(tf.reshape(logical, [math.prod(dims[:axis]), math.prod(dims[axis:])]))]

    def gemm(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        a = _attrs(node)
        x = _plain(ins[0])
        if a.get("transA", 0):
            x = tf.transpose(x)
        w = self.const(ins[1], "Gemm B").astype(np.float32)
        if a.get("transB", 0):
            w = w.T
        y = tf.matmul(x, np.ascontiguousarray(w * float(a.get("alpha", 1.0))))
        if len(ins) > 2 and ins[2] is not None:
            y = y + self.const(ins[2], "Gemm C").astype(np.float32) * float(a.get("beta", 1.0))
        return [_Value(y)]

    def matmul(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None and ins[1] is not None
        b = ins[1].t.astype(np.float32) if ins[1].const else _plain(ins[1])
        return [_Value(tf.matmul(_plain(ins[0]), b))]

    def softmax(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        x = _plain(ins[0])
        axis = int(_attrs(node).get("axis", -1))
        if axis % len(x.shape) != len(x.shape) - 1:
            raise ExportFailed(f"Softmax {node.name}: only the last axis is supported")
        return [_Value(tf.nn.softmax(x, axis=-1))]

    def reshape(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        x = _plain(ins[0])
        return [_Value(tf.reshape(x, self._target_shape(node, [int(d) for d in x.shape], ins[1])))]

    def _target_shape(self, node: onnx.NodeProto, in_shape: list[int], shape_value: _Value | None) -> list[int]:
        target = [int(d) for d in self.const(shape_value, "Reshape shape")]
        if not _attrs(node).get("allowzero", 0):
            target = [in_shape[i] if d == 0 else d for i, d in enumerate(target)]
        return target

    def transpose(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        x = ins[0]
        perm = list(_attrs(node).get("perm", reversed(range(x.rank))))
        if x.const:
            return [_Value(np.transpose(x.t, perm))]
        return [_Value(tf.transpose(_plain(x), perm))]

    def concat(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        parts = [v for v in ins if v is not None]
        axis = int(_attrs(node)["axis"])
        if all(v.nhwc for v in parts):
            return [_Value(tf.concat([v.t for v in parts], axis=_AXIS_NHWC[axis % 4]), nhwc=True)]
        rank = parts[0].rank
        return [_Value(tf.concat([v.t.astype(np.float32) if v.const else _plain(v) for v in parts], axis=axis % rank))]

    def gather(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        idx = self.const(ins[1], "Gather indices").astype(np.int64)
        axis = int(_attrs(node).get("axis", 0))
        x = ins[0]
        if x.const:
            return [_Value(np.take(x.t, idx, axis=axis))]
        return [_Value(tf.gather(_plain(x), idx, axis=axis % x.rank))]

    def _axes(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[int]:
        axes = _attrs(node).get("axes")
        if axes is None and len(ins) > 1 and ins[1] is not None:
            axes = self.const(ins[1], f"{node.op_type} axes").tolist()
        if axes is None:
            raise ExportFailed(f"{node.op_type} {node.name}: axes are required")
        return [int(a) for a in axes]

    def unsqueeze(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        x = ins[0]
        logical = x.t if x.const else _plain(x)
        shape = list(logical.shape)
        rank = len(shape) + len(self._axes(node, ins))
        for a in sorted(ax % rank for ax in self._axes(node, ins)):
            shape.insert(a, 1)
        return [_Value(np.reshape(logical, shape) if x.const else tf.reshape(logical, [int(d) for d in shape]))]

    def squeeze(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        x = ins[0]
        logical = x.t if x.const else _plain(x)
        rank = len(logical.shape)
        drop = {a % rank for a in self._axes(node, ins)}
        shape = [int(d) for i, d in enumerate(logical.shape) if i not in drop]
        return [_Value(np.reshape(logical, shape) if x.const else tf.reshape(logical, shape))]

    def instance_norm(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        eps = float(_attrs(node).get("epsilon", 1e-5))
        scale = self.const(ins[1], "InstanceNormalization scale").astype(np.float32)
        bias = self.const(ins[2], "InstanceNormalization B").astype(np.float32)
        x = _plain(ins[0])
        rank = len(x.shape)
        mean, var = tf.nn.moments(x, axes=list(range(2, rank)), keepdims=True)
        bshape = [1, -1] + [1] * (rank - 2)
        y = (x - mean) * tf.math.rsqrt(var + eps) * scale.reshape(bshape) + bias.reshape(bshape)
        return [_Value(y)]

    def resize(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        a = _attrs(node)
        mode = a.get("mode", b"nearest")
        ctm = a.get("coordinate_transformation_mode", b"half_pixel")
        nearest = a.get("nearest_mode", b"round_prefer_floor")
        if (mode, ctm, nearest) != (b"nearest", b"asymmetric", b"floor"):
            raise ExportFailed(
                f"Resize {node.name}: only nearest/asymmetric/floor is supported, got {mode!r}/{ctm!r}/{nearest!r}"
            )
        x = _nhwc(ins[0])
        h, w = int(x.shape[1]), int(x.shape[2])
        if len(ins) > 3 and ins[3] is not None:
            size = [int(d) for d in self.const(ins[3], "Resize sizes")[2:]]
        else:
            scales = self.const(ins[2], "Resize scales")
            size = [int(math.floor(h * scales[2])), int(math.floor(w * scales[3]))]
        y = tf.raw_ops.ResizeNearestNeighbor(images=x, size=size, align_corners=False, half_pixel_centers=False)
        return [_Value(y, nhwc=True)]

    def pad(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[_Value]:
        assert ins[0] is not None
        a = _attrs(node)
        if a.get("mode", b"constant") != b"constant":
            raise ExportFailed(f"Pad {node.name}: only constant padding is supported")
        pads = [int(p) for p in (self.const(ins[1], "Pad pads") if len(ins) > 1 and ins[1] is not None else a["pads"])]
        value = float(self.const(ins[2], "Pad value")) if len(ins) > 2 and ins[2] is not None else 0.0
        x = ins[0]
        rank = x.rank
        pairs = [[pads[i], pads[i + rank]] for i in range(rank)]
        if x.nhwc:
            pairs = [pairs[i] for i in _TO_NHWC]
            return [_Value(tf.pad(x.t, pairs, constant_values=value), nhwc=True)]
        return [_Value(tf.pad(x.t, pairs, constant_values=value))]

    # ---- fused patterns -------------------------------------------------------------------------

    def group_norm(self, node: onnx.NodeProto, values: dict[str, _Value]) -> tuple[str, _Value, set[str]] | None:
        """GroupNorm exported by PyTorch as Reshape([0, G, -1]) -> InstanceNormalization(ones, zeros)
        -> Reshape(back to [N, C, H, W]), computed here on the NHWC tensor."""
        if node.op_type != "Reshape" or node.input[0] not in values or not values[node.input[0]].nhwc:
            return None
        users = self.consumers.get(node.output[0], [])
        if len(users) != 1 or users[0].op_type != "InstanceNormalization":
            return None
        norm = users[0]
        after = self.consumers.get(norm.output[0], [])
        if len(after) != 1 or after[0].op_type != "Reshape":
            return None
        back = after[0]
        x = values[node.input[0]]
        n, h, w, c = (int(d) for d in x.t.shape)
        try:
            target = self._target_shape(node, [n, c, h, w], values.get(node.input[1]))
            final = self._target_shape(back, [n, -1, h * w], values.get(back.input[1]))
            scale = self.const(values.get(norm.input[1]), "scale")
            bias = self.const(values.get(norm.input[2]), "bias")
        except ExportFailed:
            return None
        groups = target[1]
        if len(target) != 3 or final != [n, c, h, w] or groups < 1 or c % groups:
            return None
        if not (np.all(scale == 1.0) and np.all(bias == 0.0)):
            return None  # the affine part of GroupNorm follows as Mul/Add; a scaled InstanceNorm is not this pattern
        eps = float(_attrs(norm).get("epsilon", 1e-5))
        grouped = tf.reshape(x.t, [n, h, w, groups, c // groups])
        mean, var = tf.nn.moments(grouped, axes=[1, 2, 4], keepdims=True)
        y = tf.reshape((grouped - mean) * tf.math.rsqrt(var + eps), [n, h, w, c])
        return back.output[0], _Value(y, nhwc=True), {node.name, norm.name, back.name}


def translate(model: onnx.ModelProto) -> tf.Module:
    """A ``tf.Module`` computing the ONNX graph on NHWC input.

    Args:
        model: A static graph from :func:`.graph.static_graph` with one input ``[1, 3, H, W]``.

    Returns:
        A module whose ``serve`` tf.function maps ``input`` float32 ``[1, H, W, 3]`` to a dict of the
        graph's outputs in ONNX layout (e.g. ``probabilities`` ``[1, C]``).
    """
    graph = model.graph
    if len(graph.input) != 1:
        raise ExportFailed(f"expected one graph input, found {len(graph.input)}")
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1] != 3 or not all(dims):
        raise ExportFailed(f"expected a static [1, 3, H, W] input, found {dims}")
    translator = _Translator(model)
    input_name = graph.input[0].name
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([dims[0], dims[2], dims[3], 3], tf.float32, name=input_name)])
    def serve(image: Any) -> dict[str, Any]:
        return translator(image)

    module.serve = serve
    return module
