import onnx
import pytest
import torch

from openfsgan.errors import ModelError
from openfsgan.export.onnx import INPUT_NAMES, OUTPUT_NAMES, export_onnx
from openfsgan.models import build_model
from openfsgan.models.checkpoint import save_pretrained


def _model_dir(tmp_path, name):
    torch.manual_seed(0)
    model = build_model(name, preset="tiny")
    with torch.no_grad():  # away from the zero-initialised heads: a non-trivial graph
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return save_pretrained(model, tmp_path / name)


@pytest.mark.parametrize("name", list(INPUT_NAMES))
def test_export_matches_torch(name, tmp_path):
    output = tmp_path / f"{name}.onnx"
    report = export_onnx(_model_dir(tmp_path, name), output, resolution=32)
    assert report.max_abs_diff <= 1e-3 and report.resolution == 32
    graph = onnx.load(str(output)).graph
    assert [i.name for i in graph.input] == list(INPUT_NAMES[name])
    assert [o.name for o in graph.output] == list(OUTPUT_NAMES[name])
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert onnx.load(str(output)).opset_import[0].version == 17


def test_failed_parity_writes_nothing(tmp_path):
    output = tmp_path / "x.onnx"
    with pytest.raises(ModelError, match="differs from torch"):
        export_onnx(_model_dir(tmp_path, "inpainting"), output, resolution=32, tolerance=-1.0)
    assert not output.exists()
    assert not list(tmp_path.glob("*.partial*"))


def test_what_cannot_be_exported(tmp_path):
    with pytest.raises(ModelError, match="exportable"):
        export_onnx(_model_dir(tmp_path, "discriminator"), tmp_path / "d.onnx")
    with pytest.raises(ModelError, match="neither"):
        export_onnx(tmp_path, tmp_path / "e.onnx")
    with pytest.raises(ModelError, match="multiple"):
        export_onnx(_model_dir(tmp_path, "segmentation"), tmp_path / "s.onnx", resolution=40)
