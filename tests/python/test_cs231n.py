"""TwoLayerNet and FullyConnectedNet: the course's published values, PyTorch float64 autograd, and
numerical gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fcnet
from conftest import FIXTURES, numerical_gradient, read_safetensors, rel_error

# The values CS231n's two_layer_net notebook prints for the toy problem.
COURSE_SCORES = np.array([
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949],
])
COURSE_LOSS = 1.30378789133

TORCH_ACT = {
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,  # exact erf form
    "identity": lambda z: z,
}


def torch_reference(params, X, y, reg, activation="relu"):
    """Scores, loss = mean CE + reg·Σ‖W‖², and gradients, in float64 with autograd."""
    t = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in params.items()}
    L = len(params) // 2
    a = torch.tensor(np.asarray(X, dtype=np.float64).reshape(len(X), -1))
    for l in range(1, L + 1):
        z = a @ t[f"W{l}"] + t[f"b{l}"]
        a = TORCH_ACT[activation](z) if l < L else z
    scores = a
    if y is None:
        return scores.detach().numpy()
    loss = F.cross_entropy(scores, torch.tensor(np.asarray(y), dtype=torch.long))
    loss = loss + reg * sum((t[f"W{l}"] ** 2).sum() for l in range(1, L + 1))
    loss.backward()
    return scores.detach().numpy(), loss.item(), {k: v.grad.numpy() for k, v in t.items()}


# --- assignment 1: the toy problem -------------------------------------------------------------

def test_toy_init_draws_the_course_parameters(toy):
    net, X, y = toy
    ref, _ = read_safetensors(FIXTURES / "toy_cs231n.safetensors")
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(net.params[k], ref[k])
    np.testing.assert_array_equal(X, ref["x"])


def test_toy_scores_match_the_course(toy):
    net, X, _ = toy
    scores = net.loss(X)
    ref, _ = read_safetensors(FIXTURES / "toy_cs231n.safetensors")
    assert scores.dtype == np.float64
    assert np.max(np.abs(scores - COURSE_SCORES)) < 1e-7  # the course prints 8 decimals
    assert np.max(np.abs(scores - ref["scores"])) < 1e-13


def test_toy_loss_matches_the_course(toy):
    net, X, y = toy
    loss, _ = net.loss(X, y, reg=0.05)
    _, meta = read_safetensors(FIXTURES / "toy_cs231n.safetensors")
    assert abs(loss - COURSE_LOSS) < 1e-12
    assert abs(loss - float(meta["loss_reg0.05"])) < 1e-14
    loss0, _ = net.loss(X, y, reg=0.0)
    assert abs(loss0 - float(meta["loss_reg0"])) < 1e-14


@pytest.mark.parametrize("reg,suffix", [(0.05, ""), (0.0, "_reg0")])
def test_toy_gradients_match_autograd_and_numerical(toy, reg, suffix):
    net, X, y = toy
    _, grads = net.loss(X, y, reg=reg)
    ref, _ = read_safetensors(FIXTURES / "toy_cs231n.safetensors")
    for name in ("W1", "b1", "W2", "b2"):
        assert grads[name].shape == net.params[name].shape
        assert rel_error(grads[name], ref[f"grad_{name}{suffix}"]) < 1e-10, name
        num = numerical_gradient(lambda: net.loss(X, y, reg=reg)[0], net.params[name])
        assert rel_error(grads[name], num) < 1e-8, name


def test_toy_training_reaches_the_course_loss(toy):
    net, X, y = toy
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    hist = stats["loss_history"]
    assert len(hist) == 100
    assert hist[0] > 1.0
    assert hist[-1] < 0.02, hist[-1]
    # 5 examples, batch 200: every iteration is an epoch, so the accuracies are recorded each time.
    assert len(stats["train_acc_history"]) == 100 and len(stats["val_acc_history"]) == 100
    assert stats["val_acc_history"][-1] == 1.0
    np.testing.assert_array_equal(net.predict(X), y)


def test_train_decays_once_per_epoch_and_samples_like_the_course():
    """Replays the course's loop in NumPy with the same random stream: the same batches and
    learning rates give the same parameters."""
    rng = np.random.RandomState(3)
    X = rng.randn(50, 6)
    y = rng.randint(0, 4, size=50)
    np.random.seed(7)
    net = fcnet.TwoLayerNet(6, 8, 4, std=0.1)
    start = {k: v.copy() for k, v in net.params.items()}
    np.random.seed(11)
    stats = net.train(X, y, X[:10], y[:10], learning_rate=0.5, learning_rate_decay=0.5, reg=1e-3,
                      num_iters=12, batch_size=20)
    np.random.seed(11)
    p = start
    lr = 0.5
    per_epoch = max(50 / 20, 1)
    losses = []
    for it in range(12):
        idx = np.random.choice(50, 20)
        _, loss, grads = torch_reference(p, X[idx], y[idx], 1e-3)
        losses.append(loss)
        p = {k: p[k] - lr * grads[k] for k in p}
        if it % per_epoch == 0:
            lr *= 0.5
    np.testing.assert_allclose(stats["loss_history"], losses, rtol=1e-10)
    for k in p:
        np.testing.assert_allclose(net.params[k], p[k], rtol=1e-9, atol=1e-12)
    # iterations_per_epoch = 2.5: the course's `it % 2.5 == 0` holds at iterations 0, 5 and 10.
    assert len(stats["val_acc_history"]) == 3


def _replay(X, y, start, lr, decay, reg, num_iters, batch_size, seed):
    """The course's loop in float64 NumPy/PyTorch from `start`: losses and final parameters."""
    np.random.seed(seed)
    p = {k: v.astype(np.float64) for k, v in start.items()}
    per_epoch = max(X.shape[0] / batch_size, 1)
    losses = []
    for it in range(num_iters):
        idx = np.random.choice(X.shape[0], batch_size)
        _, loss, grads = torch_reference(p, X[idx].astype(np.float64), y[idx], reg)
        losses.append(loss)
        p = {k: p[k] - lr * grads[k] for k in p}
        if it % per_epoch == 0:
            lr *= decay
    return losses, p


def test_train_in_float32_follows_the_course_loop():
    """float32 X: the engine's float32 steps track the course's loop (float64) on the same batches
    to float32 rounding."""
    rng = np.random.RandomState(5)
    X = rng.randn(40, 6).astype(np.float32)
    y = rng.randint(0, 3, size=40)
    np.random.seed(2)
    net = fcnet.TwoLayerNet(6, 16, 3, std=0.1)
    start = {k: v.copy() for k, v in net.params.items()}
    np.random.seed(9)
    stats = net.train(X, y, X, y, learning_rate=0.3, learning_rate_decay=0.9, reg=1e-3,
                      num_iters=30, batch_size=64)  # batches larger than X: drawn with replacement
    losses, p = _replay(X, y, start, 0.3, 0.9, 1e-3, 30, 64, seed=9)
    np.testing.assert_allclose(stats["loss_history"], losses, rtol=2e-5)
    for k in p:
        np.testing.assert_allclose(net.params[k], p[k], rtol=1e-4, atol=1e-5)
    assert losses[-1] < losses[0]


def test_train_on_cuda_follows_the_cpu_or_says_why_it_cannot():
    rng = np.random.RandomState(1)
    X = rng.randn(60, 5).astype(np.float32)
    y = rng.randint(0, 3, size=60)
    runs = {}
    for device in ("cpu", "cuda"):
        np.random.seed(4)
        net = fcnet.TwoLayerNet(5, 12, 3, std=0.1)
        try:
            runs[device] = net.train(X, y, X, y, learning_rate=0.2, num_iters=20, batch_size=16,
                                     device=device)["loss_history"]
        except fcnet.Error as e:
            assert device == "cuda", str(e)
            assert "CUDA is not available: built without FCNET_CUDA" in str(e) or \
                "no CUDA device found" in str(e), str(e)
            return
    np.testing.assert_allclose(runs["cuda"], runs["cpu"], rtol=1e-4)


def test_train_names_a_bad_device_or_precision():
    net = fcnet.TwoLayerNet(3, 4, 2)
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="device: is 'gpu'"):
        net.train(X, y, X, y, device="gpu")
    with pytest.raises(ValueError, match="precision: is 'f16'"):
        net.train(X, y, X, y, precision="f16")


# --- assignment 1: any sizes against PyTorch --------------------------------------------------

def test_two_layer_net_float64_matches_torch():
    rng = np.random.default_rng(5)
    net = fcnet.TwoLayerNet(7, 13, 4)
    net.params = {"W1": rng.normal(size=(7, 13)) / 3, "b1": 0.1 * rng.normal(size=13),
                  "W2": rng.normal(size=(13, 4)) / 4, "b2": 0.1 * rng.normal(size=4)}
    X = rng.normal(size=(9, 7))
    y = rng.integers(0, 4, size=9)
    scores_ref, loss_ref, grads_ref = torch_reference(net.params, X, y, 0.1)
    assert rel_error(net.loss(X), scores_ref) < 1e-12
    loss, grads = net.loss(X, y, reg=0.1)
    assert abs(loss - loss_ref) < 1e-13
    for k in grads_ref:
        assert rel_error(grads[k], grads_ref[k]) < 1e-10, k


def test_two_layer_net_float32_inputs_compute_in_float32():
    rng = np.random.default_rng(6)
    net = fcnet.TwoLayerNet(20, 16, 5, std=0.2)
    X = rng.normal(size=(30, 20)).astype(np.float32)
    y = rng.integers(0, 5, size=30)
    _, loss_ref, grads_ref = torch_reference(net.params, X, y, 0.01)
    loss, grads = net.loss(X, y, reg=0.01)
    assert net.loss(X).dtype == np.float32
    assert abs(loss - loss_ref) < 1e-5 * abs(loss_ref)
    for k in grads_ref:
        assert grads[k].dtype == np.float64  # gradients come back in the parameters' type
        np.testing.assert_allclose(grads[k], grads_ref[k], rtol=1e-3, atol=1e-6)


def test_parameter_edits_are_seen_by_the_next_call(toy):
    net, X, y = toy
    before, _ = net.loss(X, y, reg=0.05)
    net.params["W2"] *= 2.0  # in place
    _, ref_loss, _ = torch_reference(net.params, X, y, 0.05)
    after, _ = net.loss(X, y, reg=0.05)
    assert abs(after - ref_loss) < 1e-12 and abs(after - before) > 1e-3
    net.params["b1"] = np.full(10, 0.5)  # a new array
    _, ref_loss, _ = torch_reference(net.params, X, y, 0.05)
    assert abs(net.loss(X, y, reg=0.05)[0] - ref_loss) < 1e-12


# --- assignment 2 ------------------------------------------------------------------------------

@pytest.mark.parametrize("reg", [0.0, 3.14])
def test_fully_connected_net_course_gradient_check(reg):
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    model = fcnet.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg,
                                    weight_scale=5e-2, dtype=np.float64)
    loss, grads = model.loss(X, y)
    # Assignment 2's loss has ½·reg·Σ‖W‖².
    _, loss_ref, grads_ref = torch_reference(model.params, X, y, 0.5 * reg)
    assert abs(loss - loss_ref) < 1e-12
    for name in sorted(model.params):
        assert rel_error(grads[name], grads_ref[name]) < 1e-10, name
        num = numerical_gradient(lambda: model.loss(X, y)[0], model.params[name])
        # Central differences at h = 1e-5 carry ~1e-10 of rounding noise, which dominates the
        # relative error of the tiniest entries; hence an absolute floor.
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-9, err_msg=name)


def test_fully_connected_net_initial_loss_is_log_num_classes():
    np.random.seed(0)
    model = fcnet.FullyConnectedNet([100, 100], input_dim=3 * 32 * 32, num_classes=10,
                                    weight_scale=1e-3)
    X = np.random.randn(50, 3, 32, 32)  # images are flattened as the course's layers do
    y = np.random.randint(10, size=50)
    loss, grads = model.loss(X, y)
    assert abs(loss - np.log(10)) < 0.01
    assert all(g.dtype == np.float32 for g in grads.values())  # the course's default dtype
    assert model.loss(X).shape == (50, 10)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gelu", "leaky_relu", "identity"])
def test_fully_connected_net_activations_match_torch(activation):
    np.random.seed(4)
    X = np.random.randn(11, 9)
    y = np.random.randint(6, size=11)
    model = fcnet.FullyConnectedNet([8, 7, 5], input_dim=9, num_classes=6, reg=0.3, weight_scale=0.5,
                                    dtype=np.float64, activation=activation)
    scores_ref, loss_ref, grads_ref = torch_reference(model.params, X, y, 0.15, activation)
    assert rel_error(model.loss(X), scores_ref) < 1e-12
    loss, grads = model.loss(X, y)
    assert abs(loss - loss_ref) < 1e-12
    for name in grads_ref:
        assert rel_error(grads[name], grads_ref[name]) < 1e-9, name


def test_dropout_gradients_with_a_fixed_seed():
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    model = fcnet.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2,
                                    dtype=np.float64, dropout_keep_ratio=0.5, seed=123)
    plain = fcnet.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, dtype=np.float64)
    plain.params = {k: v.copy() for k, v in model.params.items()}
    # Test mode (no labels): dropout is off.
    np.testing.assert_array_equal(model.loss(X), plain.loss(X))
    loss, grads = model.loss(X, y)
    assert loss == model.loss(X, y)[0]  # the same mask on every call with a seed
    assert abs(loss - plain.loss(X, y)[0]) > 1e-6  # and it does drop units
    for name in sorted(model.params):
        num = numerical_gradient(lambda: model.loss(X, y)[0], model.params[name])
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-9, err_msg=name)


def test_dropout_is_inverted_dropout_with_the_keep_ratio():
    np.random.seed(2)
    D, H, C, keep = 30, 4000, 3, 0.3
    model = fcnet.FullyConnectedNet([H], input_dim=D, num_classes=C, weight_scale=0.1,
                                    dtype=np.float64, dropout_keep_ratio=keep, seed=9,
                                    activation="identity")
    X = np.random.randn(1, D)
    y = np.array([2])
    _, grads = model.loss(X, y)
    # One example, identity activation: a hidden unit's row of dW2 is zero exactly when dropped.
    kept = np.any(grads["W2"] != 0, axis=1)
    assert abs(kept.mean() - keep) < 0.03
    # Kept units are scaled by 1/keep: rebuild the forward pass from the mask and compare dW2.
    p = model.params
    a = X @ p["W1"] + p["b1"]
    m = kept / keep
    scores = (a * m) @ p["W2"] + p["b2"]
    probs = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    dscores = probs - np.eye(C)[y]
    np.testing.assert_allclose(grads["W2"], (a * m).T @ dscores, rtol=1e-10, atol=1e-14)


def test_fully_connected_net_overfits_a_small_batch():
    np.random.seed(1)
    X = np.random.randn(20, 12)
    y = np.random.randint(5, size=20)
    model = fcnet.FullyConnectedNet([40, 40], input_dim=12, num_classes=5, weight_scale=0.1,
                                    dtype=np.float64)
    first = model.loss(X, y)[0]
    for _ in range(300):
        loss, grads = model.loss(X, y)
        for k in model.params:
            model.params[k] -= 0.2 * grads[k]
    assert first > 1.0 and loss < 0.05
    assert np.mean(np.argmax(model.loss(X), axis=1) == y) == 1.0
