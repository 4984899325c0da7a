"""GPU check of the fit-to-score path: a calibrated binary and a multi-task model trained on CUDA (bf16), then
saved and loaded on the CPU; parameters unchanged by fit."""

import copy

import numpy as np
import pyarrow as pa

import needmap as nm

rng = np.random.default_rng(0)
n = 5000
city = rng.choice(["a", "b", "c", "d"], n)
spend = rng.gamma(2.0, 50.0, n)
logit = (city == "a") * 1.5 - (city == "d") * 1.0 + (spend - 100) / 50
y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
table = pa.table({"city": city, "spend": spend, "y": y, "amount": spend * 0.3 + rng.normal(0, 5, n)})
for target, extra in (("y", {"calibrate": "platt"}), ("y,amount", {})):
    model = nm.Model("deepfm", target=target, epochs=3, progress=False, device="cuda", precision="bf16", **extra)
    before = copy.deepcopy(model.get_params())
    assert model.fit(table, validation=0.2) is model and model.get_params() == before
    p = model.predictor_
    assert p.metrics_["training"]["device"].startswith("cuda"), p.metrics_["training"]["device"]
    assert next(p.network_.parameters()).device.type == "cpu"
    out = model.predict_proba(table)
    batch = p.preprocessor_.transform(table)
    np.testing.assert_array_equal(p.score(batch), out)
    model.save("/tmp/gpu-model")
    loaded = nm.load("/tmp/gpu-model")
    np.testing.assert_array_equal(loaded.predict_proba(table), out)
    row = table.drop_columns(target.split(",")).to_pylist()[0]
    one = loaded.predict_proba(row)
    np.testing.assert_allclose(one, out[:1], rtol=1e-5, atol=1e-6)
    print(target, "device", p.metrics_["training"]["device"], "eval", loaded.evaluate(table), "one row", one)
print("GPU CHECK OK")
