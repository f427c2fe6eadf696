"""The seed tutorials in examples/, pinned against PyTorch (float64) and hand derivations.

Each example's NumPy function is first checked to compute the same value as its PyTorch
counterpart (written here with torch.nn / torch.nn.functional, not transcribed from the
NumPy), then s2sgrad's gradient is checked against torch's backward().
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

import s2sgrad

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import classifiers  # noqa: E402  (examples/classifiers.py, found through the path set above)
import sin_tutorial  # noqa: E402
import tiny_model  # noqa: E402
import train_sgd  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-10)


def leaf(a):
    """A float64 torch leaf tensor holding a copy of a NumPy array, with requires_grad."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=True)


def const(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def assert_grads_equal(ours, theirs):
    assert len(ours) == len(theirs)
    for g, t in zip(ours, theirs):
        g = np.asarray(g)
        assert g.shape == tuple(t.shape)
        np.testing.assert_allclose(g, t.detach().numpy(), **TOL)


# --- the sine curve ---------------------------------------------------------------------

def torch_sin_grad(a):
    """The tutorial verbatim: out.backward(), then a.grad."""
    at = leaf(a)
    b = torch.sin(at)
    c = 2 * b
    d = c + 1
    out = d.sum()
    out.backward()
    return out.item(), at.grad.numpy()


def test_sin_forward_matches_torch():
    a = sin_tutorial.make_input()
    assert a.shape == (25,)
    value, _ = torch_sin_grad(a)
    assert abs(sin_tutorial.f(a) - value) <= 1e-12 * max(1.0, abs(value))


def test_sin_gradient_is_two_cos():
    a = sin_tutorial.make_input()
    da = s2sgrad.grad(sin_tutorial.f)(a)
    assert np.shape(da) == a.shape
    # d/da_i sum_j (2 sin(a_j) + 1) = 2 cos(a_i)
    np.testing.assert_allclose(da, 2 * np.cos(a), rtol=1e-14, atol=1e-14)


def test_sin_gradient_matches_torch():
    a = sin_tutorial.make_input()
    _, torch_grad = torch_sin_grad(a)
    np.testing.assert_allclose(s2sgrad.grad(sin_tutorial.f)(a), torch_grad, rtol=1e-14, atol=1e-14)


# --- TinyModel ---------------------------------------------------------------------------

class TinyModel(torch.nn.Module):
    """The PyTorch tutorial's model, in float64."""

    def __init__(self):
        super().__init__()
        self.layer1 = torch.nn.Linear(1000, 100, dtype=torch.float64)
        self.relu = torch.nn.ReLU()
        self.layer2 = torch.nn.Linear(100, 10, dtype=torch.float64)

    def forward(self, x):
        return self.layer2(self.relu(self.layer1(x)))


def torch_tiny(params):
    """A TinyModel holding copies of the NumPy parameters (W1, b1, W2, b2)."""
    model = TinyModel()
    W1, b1, W2, b2 = params
    with torch.no_grad():
        model.layer1.weight.copy_(const(W1))
        model.layer1.bias.copy_(const(b1))
        model.layer2.weight.copy_(const(W2))
        model.layer2.bias.copy_(const(b2))
    return model


def torch_tiny_params(model):
    return [model.layer1.weight, model.layer1.bias, model.layer2.weight, model.layer2.bias]


def tiny_setup():
    params = tiny_model.init_params()
    x, ideal = tiny_model.make_data()
    assert [p.shape for p in params] == [(100, 1000), (100,), (10, 100), (10,)]
    assert x.shape == (16, 1000) and ideal.shape == (16, 10)
    return params, x, ideal


def torch_tiny_loss_and_grads(params, x, ideal):
    model = torch_tiny(params)
    prediction = model(const(x))
    loss = (const(ideal) - prediction).pow(2).sum()
    loss.backward()
    return loss.item(), [p.grad for p in torch_tiny_params(model)]


def test_tiny_model_forward_matches_torch():
    params, x, ideal = tiny_setup()
    pred = torch_tiny(params)(const(x)).detach().numpy()
    np.testing.assert_allclose(tiny_model.tiny_model(*params, x), pred, rtol=1e-12, atol=1e-12)
    value, _ = torch_tiny_loss_and_grads(params, x, ideal)
    assert abs(tiny_model.loss(*params, x, ideal) - value) <= 1e-12 * abs(value)


def test_tiny_model_gradients_match_torch():
    params, x, ideal = tiny_setup()
    _, theirs = torch_tiny_loss_and_grads(params, x, ideal)
    ours = s2sgrad.grad(tiny_model.loss, wrt=(0, 1, 2, 3))(*params, x, ideal)
    assert_grads_equal(ours, theirs)


def test_tiny_model_value_and_grad_matches_torch():
    params, x, ideal = tiny_setup()
    value, theirs = torch_tiny_loss_and_grads(params, x, ideal)
    our_value, ours = s2sgrad.value_and_grad(tiny_model.loss, wrt=(0, 1, 2, 3))(*params, x, ideal)
    assert abs(our_value - value) <= 1e-10 * abs(value)
    assert_grads_equal(ours, theirs)


def test_tiny_model_vjp_matches_backward_with_a_cotangent():
    params, x, _ = tiny_setup()
    cotangent = np.random.default_rng(7).normal(size=(16, 10))
    model = torch_tiny(params)
    pred = model(const(x))
    pred.backward(const(cotangent))  # PyTorch's out.backward(grad_tensor)
    ours = s2sgrad.vjp(tiny_model.tiny_model, wrt=(0, 1, 2, 3))(*params, x, cotangent)
    assert_grads_equal(ours, [p.grad for p in torch_tiny_params(model)])


def test_tiny_model_jvp_matches_torch_func_jvp():
    """Forward mode: the directional derivative of the prediction along tangents of all
    four parameters, against torch.func.jvp of the same torch.nn model."""
    params, x, _ = tiny_setup()
    rng = np.random.default_rng(11)
    tangents = [rng.normal(size=p.shape) for p in params]
    value, tangent = s2sgrad.jvp(tiny_model.tiny_model, wrt=(0, 1, 2, 3))(*params, x, *tangents)

    def prediction(W1, b1, W2, b2):
        return F.linear(torch.relu(F.linear(const(x), W1, b1)), W2, b2)

    pred, t_pred = torch.func.jvp(prediction, tuple(const(p) for p in params),
                                  tuple(const(t) for t in tangents))
    np.testing.assert_allclose(value, pred.numpy(), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(tangent, t_pred.numpy(), rtol=1e-10, atol=1e-9)


def test_tiny_model_loss_hessian_vector_product_matches_torch():
    """Forward over reverse on the TinyModel loss (wrt W2) against torch's jvp of grad."""
    params, x, ideal = tiny_setup()
    v = np.random.default_rng(12).normal(size=params[2].shape)
    ours = s2sgrad.hvp(tiny_model.loss, wrt=2)(*params, x, ideal, v)

    def loss_of_W2(W2):
        W1, b1, _, b2 = (const(p) for p in params)
        pred = F.linear(torch.relu(F.linear(const(x), W1, b1)), W2, b2)
        return (const(ideal) - pred).pow(2).sum()

    _, theirs = torch.func.jvp(torch.func.grad(loss_of_W2), (const(params[2]),), (const(v),))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-8)


# --- perceptron, MLP, softmax classifier --------------------------------------------------

def torch_perceptron_loss(W, b, x, y):
    return F.binary_cross_entropy(torch.sigmoid(F.linear(x, W, b)), y)


def torch_mlp_loss(W1, b1, W2, b2, W3, b3, x, y):
    h1 = torch.tanh(F.linear(x, W1, b1))
    h2 = torch.tanh(F.linear(h1, W2, b2))
    return F.mse_loss(F.linear(h2, W3, b3), y)


def torch_softmax_loss(W, b, x, onehot):
    labels = onehot.argmax(dim=1)  # cross_entropy takes class indices
    return F.cross_entropy(F.linear(x, W, b), labels)


CLASSIFIERS = {
    "perceptron": (classifiers.perceptron_loss, classifiers.perceptron_problem, torch_perceptron_loss),
    "mlp": (classifiers.mlp_loss, classifiers.mlp_problem, torch_mlp_loss),
    "softmax": (classifiers.softmax_loss, classifiers.softmax_problem, torch_softmax_loss),
}


def torch_loss_and_grads(torch_f, params, data):
    leaves = [leaf(p) for p in params]
    loss = torch_f(*leaves, *[const(d) for d in data])
    loss.backward()
    return loss.item(), [p.grad for p in leaves]


def check_classifier_forward(name):
    f, problem, torch_f = CLASSIFIERS[name]
    params, data = problem()
    value, _ = torch_loss_and_grads(torch_f, params, data)
    assert abs(f(*params, *data) - value) <= 1e-12 * abs(value)


def check_classifier_gradients(name):
    f, problem, torch_f = CLASSIFIERS[name]
    params, data = problem()
    value, theirs = torch_loss_and_grads(torch_f, params, data)
    wrt = tuple(range(len(params)))
    assert_grads_equal(s2sgrad.grad(f, wrt=wrt)(*params, *data), theirs)
    our_value, ours = s2sgrad.value_and_grad(f, wrt=wrt)(*params, *data)
    assert abs(our_value - value) <= 1e-10 * abs(value)
    assert_grads_equal(ours, theirs)


def test_perceptron_forward_matches_torch_bce():
    check_classifier_forward("perceptron")


def test_perceptron_gradients_match_torch():
    check_classifier_gradients("perceptron")


def test_mlp_forward_matches_torch_mse():
    check_classifier_forward("mlp")


def test_mlp_gradients_match_torch():
    check_classifier_gradients("mlp")


def test_softmax_forward_matches_torch_cross_entropy():
    check_classifier_forward("softmax")


def test_softmax_gradients_match_torch():
    check_classifier_gradients("softmax")


def test_softmax_is_stable_for_large_logits():
    """The max subtraction: logits near 1000 neither overflow in exp nor lose the loss."""
    (W, b), (x, onehot) = classifiers.softmax_problem()
    b = b + 1000.0
    value, theirs = torch_loss_and_grads(torch_softmax_loss, (W, b), (x, onehot))
    with np.errstate(over="raise", invalid="raise"):
        assert abs(classifiers.softmax_loss(W, b, x, onehot) - value) <= 1e-10 * abs(value)
        assert_grads_equal(s2sgrad.grad(classifiers.softmax_loss, wrt=(0, 1))(W, b, x, onehot), theirs)


# --- training with SGD, and zero_grad -----------------------------------------------------

def torch_sgd_curve(params, data, steps, lr, zero_grad=True):
    """The PyTorch loop: (loss before each step, final parameters)."""
    leaves = [leaf(p) for p in params]
    x, y = (const(d) for d in data)
    optimizer = torch.optim.SGD(leaves, lr=lr)
    losses = []
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()
        loss = torch_mlp_loss(*leaves, x, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy() for p in leaves]


def test_sgd_loss_curve_matches_torch_step_for_step():
    params, data = classifiers.mlp_problem()
    theirs, their_params = torch_sgd_curve(params, data, train_sgd.STEPS, train_sgd.LR)
    assert theirs[-1] < 0.5 * theirs[0]  # the oracle itself trains
    ours, our_params = train_sgd.train(params, data)
    assert len(ours) == train_sgd.STEPS
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=0)
    for p, t in zip(our_params, their_params):
        np.testing.assert_allclose(p, t, rtol=1e-9, atol=1e-12)


def test_forgotten_zero_grad_curve_matches_torch_without_zero_grad():
    params, data = classifiers.mlp_problem()
    theirs, _ = torch_sgd_curve(params, data, train_sgd.STEPS, train_sgd.LR, zero_grad=False)
    good, _ = torch_sgd_curve(params, data, train_sgd.STEPS, train_sgd.LR)
    assert not np.allclose(theirs, good)  # forgetting zero_grad changes the training
    ours, _ = train_sgd.train(params, data, forget_zero_grad=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=0)


def test_torch_accumulates_without_zero_grad_and_s2sgrad_does_not():
    params, data = classifiers.mlp_problem()
    leaves = [leaf(p) for p in params]
    x, y = (const(d) for d in data)
    torch_mlp_loss(*leaves, x, y).backward()
    once = [p.grad.clone() for p in leaves]
    torch_mlp_loss(*leaves, x, y).backward()  # no zero_grad in between
    for p, g in zip(leaves, once):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g.numpy(), rtol=1e-15, atol=0)

    g = s2sgrad.grad(classifiers.mlp_loss, wrt=tuple(range(len(params))))
    first = g(*params, *data)
    second = g(*params, *data)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert_grads_equal(second, once)  # the plain gradient, not 2x
