"""Loading a bundle: the checks a user meets when a bundle is missing, corrupt or foreign."""
import json
import shutil

import pytest

from notabridge.engine.bundle import BundleError, load_bundle


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    return shutil.copytree(tiny_bundle, tmp_path / "bundle")


def test_loads_once_on_the_cpu_and_reports_it(tiny_bundle):
    bundle = load_bundle(tiny_bundle, device="auto")
    assert bundle.provider == "CPUExecutionProvider"     # no GPU on this machine
    assert [i.name for i in bundle.patch_session.get_inputs()] == ["patches", "past_length", "past_key_0", "past_value_0",
                                                                   "past_key_1", "past_value_1"]
    assert bundle.info["name"] == "tiny-test" and len(bundle.prompts) == 2


def test_corrupt_graph_is_refused(bundle_copy):
    with open(bundle_copy / "char_decoder.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="does not match the sha256"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(format_version=99), "format version 99"),
    (lambda c: c.update(format="something-else"), "not a notabridge-bundle"),
    (lambda c: c.pop("patch_length"), "lacks patch_length"),
    (lambda c: c.update(precision="int4"), "unknown precision"),
])
def test_foreign_or_incomplete_config_is_refused(bundle_copy, change, message):
    cfg = json.loads((bundle_copy / "config.json").read_text())
    change(cfg)
    (bundle_copy / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_copy)


def test_missing_pieces_say_what_to_do(bundle_copy, tmp_path):
    with pytest.raises(BundleError, match="no model bundle"):
        load_bundle(tmp_path / "nowhere")
    with pytest.raises(BundleError, match="no CUDA provider"):   # onnxruntime without CUDA here
        load_bundle(bundle_copy, device="cuda", verify=False)
    (bundle_copy / "patch_decoder.onnx").unlink()
    with pytest.raises(BundleError, match="lacks patch_decoder.onnx"):
        load_bundle(bundle_copy)
