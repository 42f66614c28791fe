"""`fcnet explain --model`: one example through a trained network, every number against PyTorch
computing the same network from the model file's parameters."""

import json
import subprocess

import numpy as np
import pytest
import torch

import fcnet
from conftest import cli_path


def run_cli(*args):
    r = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"fcnet {' '.join(map(str, args))} failed:\n{r.stderr}"
    return r.stdout


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_explain_model_matches_pytorch(tmp_path, activation):
    rng = np.random.default_rng(4)
    n = 80
    colour = rng.choice(["red", "blue"], n)
    a, b = rng.normal(3, 2, n), rng.normal(-1, 0.5, n)
    label = np.where(a + (colour == "red") > 3.5, "yes", "no")
    data = tmp_path / "d.csv"
    with open(data, "w") as f:
        f.write("a,colour,b,label\n")
        for row in zip(a, colour, b, label):
            f.write(",".join(map(str, row)) + "\n")
    model = tmp_path / "m.safetensors"
    run_cli("train", "--data", data, "--hidden", "7,5", "--activation", activation, "--epochs", "20",
            "--test-data", "none", "--quiet", "--threads", "1", "--out", model)
    e = json.loads(run_cli("explain", "--model", model, "--data", data, "--row", 5, "--json"))
    assert e["features"] == ["a", "colour=blue", "colour=red", "b"]
    m = fcnet.load(model)
    scale, mean, std = m.input_transform
    raw = np.array([a[5], colour[5] == "blue", colour[5] == "red", b[5]], dtype=float)
    np.testing.assert_allclose(e["raw"], raw, rtol=1e-6)
    x = torch.tensor((raw * scale - mean) / std, requires_grad=True)
    np.testing.assert_allclose(e["x"], x.detach().numpy(), rtol=1e-6, atol=1e-7)
    p = m.params
    f = torch.tanh if activation == "tanh" else torch.relu
    h = x
    for layer in range(1, 4):
        W, bias = torch.tensor(p[f"W{layer}"], dtype=torch.float64), torch.tensor(p[f"b{layer}"], dtype=torch.float64)
        z = h @ W + bias
        if layer < 3:
            np.testing.assert_allclose(e["Z"][layer - 1], z.detach().numpy(), rtol=1e-6, atol=1e-6)
            h = f(z)
            np.testing.assert_allclose(e["O"][layer - 1], h.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(e["S"], z.detach().numpy(), rtol=1e-6, atol=1e-6)
    logp = torch.log_softmax(z, dim=0)
    np.testing.assert_allclose(e["softmax"], logp.exp().detach().numpy(), rtol=1e-6, atol=1e-7)
    y = ["no", "yes"].index(label[5])
    assert e["label"] == label[5]
    assert e["L_i"] == pytest.approx(float(-logp[y]), rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(e["dLi_dS"], (logp.exp() - torch.eye(2)[y]).detach().numpy(), atol=1e-7)
    pred = int(torch.argmax(logp))
    assert e["predicted"] == ["no", "yes"][pred]
    logp[pred].backward()
    np.testing.assert_allclose(e["grad_x"], x.grad.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(e["attribution"], (x.grad * x).detach().numpy(), rtol=1e-6, atol=1e-7)
    assert e["check"]["max_abs_diff"] < 1e-6 * max(1.0, e["check"]["max_abs_grad"])
    text = run_cli("explain", "--model", model, "--data", data, "--row", 5)
    assert "eq. 1.3" in text and "colour=red" in text and "central differences" in text
