"""Weights saved the way README tells Keras users to (Python `safetensors`, Keras names, no
flashnet metadata) must load in flashnet and give the same logits as NumPy computes."""
import gzip, json, os, subprocess, sys

import numpy as np
from safetensors.numpy import save_file

flashnet, data, out = sys.argv[1], os.environ["FLASHNET_DATA"], sys.argv[2]
rng = np.random.default_rng(0)
k1, b1, k2, b2 = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in [(784, 128), (128,), (128, 10), (10,)]]
path = os.path.join(out, "keras.safetensors")
save_file({"dense/kernel": k1, "dense/bias": b1, "dense_1/kernel": k2, "dense_1/bias": b2}, path)

with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 784)
for i in (0, 1, 4321):
    x = images[i].astype(np.float64) / 255.0
    logits = np.maximum(x @ k1 + b1, 0) @ k2 + b2
    res = json.loads(subprocess.check_output([flashnet, "predict", "--offline", "--json", "--model", path, "--index", str(i)], stderr=subprocess.DEVNULL))
    got = np.array(res["predictions"][0]["logits"])
    assert np.allclose(got, logits, atol=1e-4), (i, got, logits)
    assert res["predictions"][0]["prediction"] == int(np.argmax(logits))
print("Keras interop: 1 passed, 0 failed")
