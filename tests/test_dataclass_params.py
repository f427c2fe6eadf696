"""Dataclasses of parameters taken as wrt: one argument per field, like a dict's keys
(frontend/dicts.py), read in the function as `p.W`; the gradient is a dict keyed by field
name (API.md: "a dict (or dataclass) of arrays as a wrt argument gives a dict of
gradients with the same keys"); a tangent is a dict keyed by field name or a dataclass of
the same class.  A dataclass not taken as wrt stays an object read live (reach.py).
Oracles: torch.func on a dict of tensors, check_grads (central differences, both modes,
dataclasses perturbed with dataclasses.replace), hand derivations."""
import dataclasses
import math

import numpy as np
import pytest
import torch

import s2sgrad
from s2sgrad.testing import check_grads


@dataclasses.dataclass(frozen=True)
class FrozenMLP:
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray


@dataclasses.dataclass
class MLP:
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray


@dataclasses.dataclass
class Gaussian:
    mu: float
    log_sigma: float


def predict(p, x):
    h = np.tanh(x @ p.W1 + p.b1)
    return h @ p.W2 + p.b2


def mlp_loss(p, x, y):
    return np.mean((predict(p, x) - y) ** 2)


def gaussian_nll(theta, data):
    z = (data - theta.mu) / np.exp(theta.log_sigma)
    return 0.5 * np.sum(z ** 2) + data.shape[0] * theta.log_sigma


def torch_mlp_loss(p, x, y):
    h = torch.tanh(x @ p["W1"] + p["b1"])
    return torch.mean((h @ p["W2"] + p["b2"] - y) ** 2)


def mlp_point(cls, seed=0, n_in=3, n_hidden=5, n_out=2, batch=7):
    rng = np.random.default_rng(seed)
    p = cls(rng.normal(size=(n_in, n_hidden)), rng.normal(size=n_hidden),
            rng.normal(size=(n_hidden, n_out)), rng.normal(size=n_out))
    return p, rng.normal(size=(batch, n_in)), rng.normal(size=(batch, n_out))


def fields(p) -> dict:
    return {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}


def torch_grad(p, x, y):
    tp = {k: torch.tensor(v) for k, v in fields(p).items()}
    g = torch.func.grad(torch_mlp_loss)(tp, torch.tensor(x), torch.tensor(y))
    return {k: t.numpy() for k, t in g.items()}


def assert_dicts_close(got, expected):
    assert isinstance(got, dict) and list(got) == list(expected)
    for k in expected:
        assert np.shape(got[k]) == np.shape(expected[k]), k
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- reverse mode
@pytest.mark.parametrize("cls", [FrozenMLP, MLP])
def test_a_dataclass_of_parameters_gives_a_dict_of_gradients_matching_torch(cls):
    p, x, y = mlp_point(cls)
    got = s2sgrad.grad(mlp_loss)(p, x, y)  # through the helper predict(p, x)
    assert_dicts_close(got, torch_grad(p, x, y))
    value, again = s2sgrad.value_and_grad(mlp_loss)(p, x, y)
    assert value == pytest.approx(mlp_loss(p, x, y), rel=1e-12)
    assert_dicts_close(again, got)
    check_grads(mlp_loss, p, x, y, wrt=(0, 1))


def test_vjp_of_a_dataclass_against_torch():
    p, x, _ = mlp_point(FrozenMLP, seed=1)
    cot = np.random.default_rng(2).normal(size=(7, 2))
    got = s2sgrad.vjp(predict)(p, x, cot)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in fields(p).items()}
    h = torch.tanh(torch.tensor(x) @ tp["W1"] + tp["b1"])
    (h @ tp["W2"] + tp["b2"]).backward(torch.tensor(cot))
    assert_dicts_close(got, {k: t.grad.numpy() for k, t in tp.items()})


@pytest.mark.parametrize("as_dataclass", [False, True])
def test_jvp_takes_a_tangent_keyed_by_field_or_a_dataclass_of_the_same_class(as_dataclass):
    p, x, _ = mlp_point(MLP, seed=3)
    rng = np.random.default_rng(4)
    t = {k: rng.normal(size=np.shape(v)) for k, v in reversed(fields(p).items())}  # any key order
    tangent = MLP(**t) if as_dataclass else t
    value, out = s2sgrad.jvp(predict)(p, x, tangent)
    tp = {k: torch.tensor(v) for k, v in fields(p).items()}
    _, want = torch.func.jvp(lambda q: torch.tanh(torch.tensor(x) @ q["W1"] + q["b1"]) @ q["W2"] + q["b2"],
                             (tp,), ({k: torch.tensor(t[k]) for k in tp},))
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-10)
    np.testing.assert_allclose(value, predict(p, x), rtol=1e-12)


def test_wrong_tangents_are_refused():
    p, x, _ = mlp_point(MLP, seed=5)
    t = {k: np.ones(np.shape(v)) for k, v in fields(p).items()}
    with pytest.raises(s2sgrad.S2SGradError, match="tangent of the dataclass `p` must be a MLP or a dict"):
        s2sgrad.jvp(predict)(p, x, {"W1": t["W1"]})
    with pytest.raises(s2sgrad.S2SGradError, match="tangent of the dataclass `p`"):
        s2sgrad.jvp(predict)(p, x, FrozenMLP(**t))  # another class with the same fields
    with pytest.raises(s2sgrad.S2SGradError, match="tangent of `x` is a MLP, and `x` is not"):
        s2sgrad.jvp(predict, wrt=1)(p, x, MLP(**t))


def test_float_fields_by_hand_and_integers_promoted():
    data = np.random.default_rng(6).normal(1.5, 0.7, size=30)
    theta = Gaussian(0.3, -0.2)
    check_grads(gaussian_nll, theta, data)
    g = s2sgrad.grad(gaussian_nll)(theta, data)
    s2 = math.exp(2 * -0.2)  # by hand: dmu = -sum(data - mu) / s^2, dlog_s = n - sum(z^2)
    assert list(g) == ["mu", "log_sigma"]
    assert g["mu"] == pytest.approx(-np.sum(data - 0.3) / s2, rel=1e-12)
    assert g["log_sigma"] == pytest.approx(30 - np.sum((data - 0.3) ** 2) / s2, rel=1e-12)
    g0 = s2sgrad.grad(gaussian_nll)(Gaussian(0, 0), data)  # int fields: float gradients
    assert g0["mu"] == pytest.approx(-np.sum(data)) and isinstance(g0["mu"], float)


# ---------------------------------------------------------------------- partial wrt, collisions
@dataclasses.dataclass(frozen=True)
class Scale:
    s: float


def two_dataclasses(p, q, x):
    return np.sum(np.tanh(p.W1 @ x) * q.s) + q.s * np.sum(p.b1)


def test_one_of_two_dataclasses_taken_as_wrt_the_other_read_live():
    rng = np.random.default_rng(7)
    p = MLP(rng.normal(size=(3, 4)), rng.normal(size=3), np.zeros(1), np.zeros(1))
    q, x = Scale(1.5), rng.normal(size=4)
    th = np.tanh(p.W1 @ x)
    g = s2sgrad.grad(two_dataclasses)  # wrt p only: q is an object, its s a constant
    got = g(p, q, x)  # by hand: dW1 = outer(s (1 - th^2), x), db1 = s
    assert_dicts_close(got, {"W1": np.outer(1.5 * (1 - th ** 2), x), "b1": np.full(3, 1.5),
                             "W2": np.zeros(1), "b2": np.zeros(1)})
    got = g(p, Scale(-2.0), x)  # another q: not the first one's derivative
    np.testing.assert_allclose(got["b1"], np.full(3, -2.0))
    gp, gq = s2sgrad.grad(two_dataclasses, wrt=(0, 1))(p, q, x)
    assert gq == {"s": pytest.approx(np.sum(th) + np.sum(p.b1))}
    check_grads(two_dataclasses, p, q, x, wrt=(1, 2))


@dataclasses.dataclass
class Odd:
    d_x: np.ndarray
    t_x: float
    np: np.ndarray
    x: float


def collides(p, x, p_np, d_p_x):
    return np.sum(p.d_x * x) * p.t_x + np.sum(p.np * p_np) + p.x * d_p_x + np.sum(np.sin(p.np) * p.x)


def test_field_names_that_collide_with_parameters_and_generated_names():
    rng = np.random.default_rng(8)
    p = Odd(rng.normal(size=3), 0.7, rng.normal(size=3), -1.1)
    x, p_np, d_p_x = rng.normal(size=3), rng.normal(size=3), 2.5
    check_grads(collides, p, x, p_np, d_p_x, wrt=(0, 1, 2, 3))
    gp, gx, gn, gd = s2sgrad.grad(collides, wrt=(0, 1, 2, 3))(p, x, p_np, d_p_x)
    # by hand
    assert list(gp) == ["d_x", "t_x", "np", "x"]
    np.testing.assert_allclose(gp["d_x"], x * 0.7)
    assert gp["t_x"] == pytest.approx(np.sum(p.d_x * x))
    np.testing.assert_allclose(gp["np"], p_np + np.cos(p.np) * -1.1)
    assert gp["x"] == pytest.approx(d_p_x + np.sum(np.sin(p.np)))
    np.testing.assert_allclose(gx, p.d_x * 0.7)
    np.testing.assert_allclose(gn, p.np)
    assert gd == pytest.approx(-1.1)


# ---------------------------------------------------------------------- the cache
@dataclasses.dataclass
class WeightOnly:
    W1: np.ndarray


@dataclasses.dataclass
class Weighted:
    W1: object
    b1: object


def reads_w(p, x):
    return np.sum(np.sin(p.W1 * x))


def test_values_changed_after_the_first_call_give_the_new_gradient():
    g = s2sgrad.grad(reads_w)
    x = np.array([0.3, -0.4])
    got = g(Weighted(np.array([1.0, 2.0]), 0.0), x)  # by hand: d/dW = x cos(W x)
    assert_dicts_close(got, {"W1": x * np.cos(np.array([1.0, 2.0]) * x), "b1": 0.0})
    assert "p_b1" in g.source
    got = g(WeightOnly(np.array([0.5, 0.5])), x)  # another set of fields
    assert_dicts_close(got, {"W1": x * np.cos(0.5 * x)})
    assert "p_b1" not in g.source
    got = g(Weighted(0.5, 1.0), x)  # a field holding a float, then an array
    assert got["W1"] == pytest.approx(np.sum(x * np.cos(0.5 * x))) and isinstance(got["W1"], float)
    got = g(Weighted(np.full((3, 2), 0.5), 1.0), x)  # other shapes
    np.testing.assert_allclose(got["W1"], np.tile(x * np.cos(0.5 * x), (3, 1)))
    with pytest.raises(s2sgrad.S2SGradError, match="the dict `p` used as a whole"):
        g({"W1": np.ones(2)}, x)  # a dict with the same key: p.W1 is no key read


def test_numba_backend_takes_dataclasses():
    p, x, y = mlp_point(FrozenMLP, seed=9)
    assert_dicts_close(s2sgrad.grad(mlp_loss, backend="numba")(p, x, y), torch_grad(p, x, y))


def test_generated_code_names_the_fields():
    p, x, y = mlp_point(MLP)
    g = s2sgrad.grad(mlp_loss)
    g(p, x, y)
    assert "def grad_mlp_loss(p_W1, p_b1, p_W2, p_b2, x, y):" in g.source
    assert "The dataclass p is passed one field a parameter: p_W1 = p.W1" in g.source


# ---------------------------------------------------------------------- refusals
@dataclasses.dataclass
class WithMethods:
    W: np.ndarray
    b: np.ndarray

    def norm(self):
        return np.sum(self.W ** 2)

    @property
    def scale(self):
        return 2.0


@dataclasses.dataclass
class Net:
    layers: list
    b: float


def calls_a_method(p, x):
    return p.norm() + np.sum(x)


def reads_a_property(p, x):
    return p.scale * np.sum(p.W * x)


def indexes(p, x):
    return np.sum(p["W"] * x)


def loops_over(p, x):
    total = 0.0
    for v in p:
        total = total + np.sum(v * x)
    return total


def writes(p, x):
    p.W = p.W * 2.0
    return np.sum(p.W * x)


def takes_len(p, x):
    return len(p) * np.sum(p.W * x)


def passes_to_numpy(p, x):
    return np.sum(np.tanh(p) * x)


def reads_layers(p, x):
    return np.sum(p.layers[0] * x) + p.b


@pytest.mark.parametrize("fn, message", [
    (calls_a_method, "calling `p.norm()`, a method of the dataclass `p` taken as wrt"),
    (reads_a_property, "`p.scale`: the dataclass `p` is taken as wrt, one parameter per field (W, b)"),
    (indexes, "the dataclass `p`, taken as wrt, used as a whole"),
    (loops_over, "the dataclass `p`, taken as wrt, used as a whole"),
    (writes, "writing the attribute `p.W`"),
    (takes_len, "the dataclass `p` passed to `len`"),
    (passes_to_numpy, "the dataclass `p` passed to `np.tanh`"),
])
def test_what_is_refused_is_refused_at_its_line(fn, message):
    with pytest.raises(s2sgrad.S2SGradError) as info:
        s2sgrad.grad(fn)(WithMethods(np.ones(2), np.zeros(2)), np.ones(2))
    text = str(info.value)
    assert message in text, text
    assert "test_dataclass_params.py:" in text and "^" in text and "hint:" in text


def test_fields_other_than_numbers_and_arrays_are_refused():
    with pytest.raises(s2sgrad.S2SGradError, match="its field 'layers' is a list: the fields of a dataclass "
                                                   "taken as wrt are numbers and arrays"):
        s2sgrad.grad(reads_layers)(Net([np.ones(2)], 1.0), np.ones(2))
    with pytest.raises(s2sgrad.S2SGradError, match="its field 'b' is a str"):
        s2sgrad.grad(reads_a_property)(WithMethods(np.ones(2), "bias"), np.ones(2))
    with pytest.raises(s2sgrad.S2SGradError, match=r"reading `p.layers` \(a list\)"):
        s2sgrad.grad(reads_layers, wrt=1)(Net([np.ones(2)], 1.0), np.ones(2))  # not wrt: read live


# ---------------------------------------------------------------------- jacobian, hessian, hvp
def test_jacobian_hessian_and_hvp_of_a_dataclass_against_torch():
    p, x, y = mlp_point(FrozenMLP, seed=10, n_in=2, n_hidden=3, batch=3)
    tp, tx, ty = {k: torch.tensor(v) for k, v in fields(p).items()}, torch.tensor(x), torch.tensor(y)
    torch_predict = lambda q: torch.tanh(tx @ q["W1"] + q["b1"]) @ q["W2"] + q["b2"]  # noqa: E731
    for mode in ("forward", "reverse"):
        J = s2sgrad.jacobian(predict, mode=mode)(p, x)
        assert_dicts_close(J, {k: t.numpy() for k, t in torch.func.jacrev(torch_predict)(tp).items()})
    H = s2sgrad.hessian(mlp_loss)(p, x, y)
    want = torch.func.hessian(torch_mlp_loss)(tp, tx, ty)
    assert list(H) == list(want)
    for k in want:
        assert_dicts_close(H[k], {k2: t.numpy() for k2, t in want[k].items()})
    v = FrozenMLP(*(np.ones(np.shape(a)) for a in fields(p).values()))  # a dataclass vector, or a dict
    _, hv = torch.func.jvp(lambda q: torch.func.grad(torch_mlp_loss)(q, tx, ty), (tp,),
                           ({k: torch.ones_like(t) for k, t in tp.items()},))
    for vector in (v, fields(v)):
        assert_dicts_close(s2sgrad.hvp(mlp_loss)(p, x, y, vector), {k: t.numpy() for k, t in hv.items()})
