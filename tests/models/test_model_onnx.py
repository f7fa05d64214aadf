"""Every generator exports to ONNX (opset 17, TorchScript exporter) and matches in ONNX Runtime."""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
from model_inputs import example_inputs, perturb_parameters

from openfsgan.models import build_model


@pytest.mark.parametrize("name", ["reenactment", "segmentation", "inpainting", "blending"])
def test_onnx_export_matches_torch(name, tmp_path):
    model = build_model(name, preset="tiny").eval()
    perturb_parameters(model, scale=0.2)
    inputs = example_inputs(name, batch=1)
    input_names = [f"input_{i}" for i in range(len(inputs))]
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about constant spatial sizes
        torch.onnx.export(model, inputs, str(path), opset_version=17, dynamo=False,
                          input_names=input_names,
                          dynamic_axes={n: {0: "batch"} for n in input_names})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = example_inputs(name, batch=2, seed=5)  # a different batch size than at export
    onnx_outputs = session.run(None, {n: x.numpy() for n, x in zip(input_names, batch,
                                                                    strict=True)})
    with torch.no_grad():
        torch_outputs = model(*batch)
    if isinstance(torch_outputs, torch.Tensor):
        torch_outputs = (torch_outputs,)
    assert len(onnx_outputs) == len(torch_outputs)
    for got, want in zip(onnx_outputs, torch_outputs, strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=5e-4, rtol=1e-3)
