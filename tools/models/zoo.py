"""zoo.py -- the registry of models the test suite builds and compares.

Each model is a `Spec`: a name, a function that writes the ONNX file, and a
function that makes the inputs for its test data sets. The families live in
their own modules (vision.py, transformer.py, ocr.py, detector.py,
control_flow.py, and make_rnn_models.py when present); each exports
`SPECS`, a list of Spec. Nothing is downloaded: torchvision architectures get
random weights from fixed seeds, the rest is written with torch or
onnx.helper.

    import zoo
    for spec in zoo.all_specs():
        case_dir = zoo.ensure_case(spec, "tests/models")   # cached
        # case_dir/model.onnx + test_data_set_*/input_*.pb, output_*.pb,
        # the outputs computed by ONNX Runtime

A case is rebuilt when the source of its module or of this file changes, or
when the torch / onnxruntime versions change (see `_fingerprint`).
"""

import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import warnings
import zlib
from typing import Callable, Dict, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# Modules that define SPECS. Optional ones may be absent (written by other
# engineers); a module that fails to import is reported, not ignored.
FAMILY_MODULES = ["vision", "transformer", "ocr", "detector", "control_flow"]
OPTIONAL_MODULES = ["make_rnn_models"]


@dataclasses.dataclass
class Spec:
    name: str
    # write(path) writes the ONNX model to `path`.
    write: Callable[[str], None]
    # feeds(rng, model) returns one {input name: ndarray} per test data set.
    feeds: Callable[[np.random.Generator, "onnx.ModelProto"], List[Dict[str, np.ndarray]]]
    description: str = ""
    module: str = ""


# --- helpers the family modules use ---------------------------------------

def seed_for(name: str) -> int:
    """A stable per-model seed, so adding a model changes no other model."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def quiet():
    """Silence torch.onnx's tracer warnings; they are expected for exports."""
    warnings.filterwarnings("ignore")


def randomize_batchnorm(module, seed: int):
    """Give BatchNorm layers non-trivial statistics so BN folding and the
    BN kernels are actually exercised (torchvision initializes them to the
    identity)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(n, generator=g) * 0.1)


def export_torch(model, args, path, input_names, output_names, opset=13,
                 dynamic_axes=None):
    """torch.onnx.export with the settings every model here uses."""
    import torch  # noqa: F401 (torch.onnx needs torch imported)
    quiet()
    model.eval()
    # Not under torch.no_grad(): with grad off, nn.TransformerEncoder takes
    # its fused "fast path", which has no ONNX export.
    torch.onnx.export(model, args, path, opset_version=opset,
                      input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes or {},
                      do_constant_folding=True)


def random_feeds(dims: Optional[Dict[str, int]] = None, sets: int = 1,
                 int_high: int = 10):
    """A feeds() that fills every graph input from its declared type:
    floats standard normal, integers in [0, int_high), bools random. `dims`
    gives values for symbolic dims (default 1)."""
    dims = dims or {}

    def feeds(rng, model):
        from onnx import mapping
        out = []
        inits = {i.name for i in model.graph.initializer}
        for _ in range(sets):
            feed = {}
            for vi in model.graph.input:
                if vi.name in inits:
                    continue
                tt = vi.type.tensor_type
                shape = []
                for d in tt.shape.dim:
                    if d.HasField("dim_value"):
                        shape.append(d.dim_value)
                    else:
                        shape.append(dims.get(d.dim_param, 1))
                dt = mapping.TENSOR_TYPE_TO_NP_TYPE[tt.elem_type]
                if np.issubdtype(dt, np.floating):
                    a = rng.standard_normal(shape).astype(dt)
                elif dt == np.bool_:
                    a = rng.integers(0, 2, shape).astype(np.bool_)
                else:
                    a = rng.integers(0, int_high, shape).astype(dt)
                feed[vi.name] = a
            out.append(feed)
        return out
    return feeds


# --- the registry ----------------------------------------------------------

_specs: Optional[List[Spec]] = None
_import_errors: Dict[str, str] = {}


def all_specs() -> List[Spec]:
    global _specs
    if _specs is None:
        _specs = []
        for mod in FAMILY_MODULES + OPTIONAL_MODULES:
            if mod in OPTIONAL_MODULES and not os.path.exists(os.path.join(HERE, mod + ".py")):
                continue
            try:
                m = importlib.import_module(mod)
            except Exception as e:  # reported by import_errors()
                _import_errors[mod] = "%s: %s" % (type(e).__name__, e)
                continue
            for s in _adapt(m):
                s.module = s.module or mod
                _specs.append(s)
        names = [s.name for s in _specs]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise RuntimeError("duplicate model names: %s" % sorted(dup))
    return _specs


def _adapt(module) -> List[Spec]:
    """SPECS from a family module. A module may instead export
    MODELS = {name: write(path)} (plus optional FEEDS = {name: feeds}); those
    get random_feeds()."""
    if hasattr(module, "SPECS"):
        return list(module.SPECS)
    specs = []
    feeds = getattr(module, "FEEDS", {})
    for name, write in getattr(module, "MODELS", {}).items():
        specs.append(Spec(name, write, feeds.get(name, random_feeds())))
    return specs


def import_errors() -> Dict[str, str]:
    all_specs()
    return dict(_import_errors)


def get(name: str) -> Spec:
    for s in all_specs():
        if s.name == name:
            return s
    raise KeyError(name)


# --- building a case -----------------------------------------------------------

def _fingerprint(spec: Spec) -> str:
    h = hashlib.sha256()
    for f in sorted({"zoo.py", spec.module + ".py"}):
        p = os.path.join(HERE, f)
        if os.path.exists(p):
            with open(p, "rb") as fh:
                h.update(f.encode() + b"\0" + fh.read())
    import onnxruntime
    import torch
    h.update(("torch %s ort %s" % (torch.__version__, onnxruntime.__version__)).encode())
    h.update(spec.name.encode())
    return h.hexdigest()


def ort_session(path: str):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ensure_case(spec: Spec, out_root: str, force: bool = False) -> str:
    """Builds (or reuses) `out_root/<name>`: model.onnx and test_data_set_*
    with ONNX Runtime's outputs. Returns the case directory."""
    import onnx
    from onnx import numpy_helper

    case = os.path.join(out_root, spec.name)
    stamp_path = os.path.join(case, "stamp.json")
    fp = _fingerprint(spec)
    if not force and os.path.exists(stamp_path):
        with open(stamp_path) as f:
            if json.load(f).get("fingerprint") == fp:
                return case

    os.makedirs(out_root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=spec.name + ".", dir=out_root)
    try:
        model_path = os.path.join(tmp, "model.onnx")
        spec.write(model_path)
        model = onnx.load(model_path)
        onnx.checker.check_model(model)
        sess = ort_session(model_path)
        out_names = [o.name for o in sess.get_outputs()]
        rng = np.random.default_rng(seed_for(spec.name))
        for k, feed in enumerate(spec.feeds(rng, model)):
            d = os.path.join(tmp, "test_data_set_%d" % k)
            os.makedirs(d)
            in_names = [i.name for i in sess.get_inputs()]
            for i, name in enumerate(in_names):
                _write_tensor(os.path.join(d, "input_%d.pb" % i), feed[name], name)
            outs = sess.run(out_names, feed)
            for i, (name, val) in enumerate(zip(out_names, outs)):
                _write_tensor(os.path.join(d, "output_%d.pb" % i), np.asarray(val), name)
        info = {
            "fingerprint": fp,
            "name": spec.name,
            "description": spec.description,
            "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0),
            "ops": sorted({n.op_type for n in _all_nodes(model.graph)}),
            "bytes": os.path.getsize(model_path),
        }
        with open(os.path.join(tmp, "stamp.json"), "w") as f:
            json.dump(info, f, indent=1)
        if os.path.exists(case):
            shutil.rmtree(case)
        os.rename(tmp, case)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return case


def case_info(case_dir: str) -> dict:
    with open(os.path.join(case_dir, "stamp.json")) as f:
        return json.load(f)


def _write_tensor(path, array, name):
    from onnx import numpy_helper
    # np.array, not np.ascontiguousarray: the latter turns a scalar (shape
    # []) into shape [1].
    t = numpy_helper.from_array(np.array(array, order="C"), name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def _all_nodes(graph):
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.HasField("g"):
                yield from _all_nodes(a.g)
            for g in a.graphs:
                yield from _all_nodes(g)
