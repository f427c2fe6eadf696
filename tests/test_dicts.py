"""Dicts of parameters (JAX pytrees, PyTorch named parameters): a dict argument is
flattened to one parameter per key, and its gradient comes back as a dict with the same
keys in the same order.  Oracles: torch.func.grad on a dict of tensors, check_grads
(central differences, both modes), hand derivations."""
import math

import numpy as np
import pytest
import torch

import s2sgrad
from s2sgrad.testing import check_grads

WEIGHT = "W"  # a module constant naming a key


# ---------------------------------------------------------------------- functions under test
def mlp_loss(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    pred = h @ params["W2"] + params["b2"]
    return np.mean((pred - y) ** 2)


def predict(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def mlp_loss_via_helper(params, x, y):
    return np.mean((predict(params, x) - y) ** 2)


def gaussian_nll(theta, data):
    """Negative log-likelihood of data under N(mu, sigma**2), sigma = exp(log_sigma)."""
    mu, log_sigma = theta["mu"], theta["log_sigma"]
    z = (data - mu) / np.exp(log_sigma)
    n = data.shape[0]
    return 0.5 * np.sum(z ** 2) + n * log_sigma + 0.5 * n * math.log(2 * math.pi)


def linear_maybe_bias(params, x):
    return np.sum(np.tanh(params[WEIGHT] @ x + params.get("b", 0.0)))


def weight_decay(params, x):
    total = 0.0
    for name, value in params.items():
        total = total + 0.5 * np.sum(value ** 2)
    for v in params.values():
        total = total + np.sum(v * x)
    for k in params:
        if k != "skip":
            total = total + np.sum(params[k]) * len(params)
    return total


def built_inside(x, y):
    d = {"a": x * 2.0, "b": np.sin(y)}
    e = {**d, "a": d["b"], "c": x * y}  # a later key replaces an earlier one
    f = dict(c=x, b=y)
    scale = 2.0 if "a" in d and "a" not in f else 0.0
    return d["a"] * e["a"] + e["c"] - e["b"] + scale * f["c"]


def swap_entries(x, y):
    d = {"a": x, "b": y}
    d = {"a": d["b"] * 3.0, "b": d["a"]}  # every value read before any is bound
    return d["a"] * d["b"] ** 2


def affine(x, scale=1.0, shift=0.0):
    return x * scale + shift


def scaled(x, **kw):
    return x * kw["scale"] + kw.get("shift", 0.0)


def calls_with_kwargs(x, opts):
    a = np.sum(affine(x, **opts))
    b = np.sum(scaled(x, **opts))
    c = np.sum(scaled(x, **{"scale": 3.0}))
    return a + b * c + scaled(x[0], scale=opts["scale"], shift=1.0)


def named_torch_style(params, x):
    h = x @ params["layer.0.weight"].T + params["layer.0.bias"]
    return np.sum(np.maximum(h, 0.0) ** 2)


def collides(params, params_W, d_params_W):
    return np.sum(params["W"] * params_W) + np.sum(d_params_W * params["W"] ** 2)


# ---------------------------------------------------------------------- oracles
def torch_grad(fn, params, *rest, wrt_rest=False):
    """torch.func.grad with respect to a dict of tensors (and the other arguments)."""
    tparams = {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
    trest = [torch.tensor(r, dtype=torch.float64) for r in rest]
    argnums = tuple(range(1 + len(rest))) if wrt_rest else 0
    out = torch.func.grad(fn, argnums=argnums)(tparams, *trest)
    as_np = lambda g: {k: t.numpy() for k, t in g.items()} if isinstance(g, dict) else g.numpy()
    return tuple(as_np(g) for g in out) if wrt_rest else as_np(out)


def torch_mlp_loss(params, x, y):
    h = torch.tanh(x @ params["W1"] + params["b1"])
    pred = h @ params["W2"] + params["b2"]
    return torch.mean((pred - y) ** 2)


def mlp_point(seed=0, n_in=3, n_hidden=5, n_out=2, batch=7, order=("W1", "b1", "W2", "b2")):
    rng = np.random.default_rng(seed)
    shapes = {"W1": (n_in, n_hidden), "b1": (n_hidden,), "W2": (n_hidden, n_out), "b2": (n_out,)}
    params = {k: rng.normal(size=shapes[k]) for k in order}
    return params, rng.normal(size=(batch, n_in)), rng.normal(size=(batch, n_out))


def assert_dicts_close(got, expected):
    assert isinstance(got, dict) and list(got) == list(expected)
    for k in expected:
        assert np.shape(got[k]) == np.shape(expected[k]), k
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- reverse mode
@pytest.mark.parametrize("fn", [mlp_loss, mlp_loss_via_helper])
def test_mlp_with_a_dict_of_parameters_matches_torch(fn):
    params, x, y = mlp_point(order=("b2", "W1", "W2", "b1"))  # keys come back in this order
    got = s2sgrad.grad(fn)(params, x, y)
    assert list(got) == ["b2", "W1", "W2", "b1"]
    assert_dicts_close(got, torch_grad(torch_mlp_loss, params, x, y))


def test_dict_and_another_argument_against_torch():
    params, x, y = mlp_point(seed=1)
    got_params, got_x = s2sgrad.grad(mlp_loss, wrt=("params", "x"))(params, x, y)
    want_params, want_x, _ = torch_grad(torch_mlp_loss, params, x, y, wrt_rest=True)
    assert_dicts_close(got_params, want_params)
    np.testing.assert_allclose(got_x, want_x, rtol=1e-10)
    only_x = s2sgrad.grad(mlp_loss, wrt="x")(params, x, y)  # the dict a constant
    np.testing.assert_allclose(only_x, want_x, rtol=1e-10)


def test_values_changed_after_the_first_call_give_the_new_gradient():
    g = s2sgrad.grad(mlp_loss_via_helper)
    for seed in (2, 3):
        params, x, y = mlp_point(seed=seed)
        assert_dicts_close(g(params, x, y), torch_grad(torch_mlp_loss, params, x, y))
    params, x, y = mlp_point(seed=4, n_hidden=9, batch=3)  # other shapes too
    assert_dicts_close(g(params, x, y), torch_grad(torch_mlp_loss, params, x, y))


def test_another_key_set_regenerates():
    g = s2sgrad.grad(linear_maybe_bias)
    rng = np.random.default_rng(5)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    without = g({"W": W}, x)
    source_without = g.source
    with_bias = g({"W": W, "b": b}, x)
    assert "params_b" in g.source and "params_b" not in source_without
    s = 1 - np.tanh(W @ x) ** 2  # by hand: d/dW sum(tanh(W x + b)) = outer(1 - tanh^2, x)
    assert_dicts_close(without, {"W": np.outer(s, x)})
    s = 1 - np.tanh(W @ x + b) ** 2
    assert_dicts_close(with_bias, {"W": np.outer(s, x), "b": s})
    assert_dicts_close(g({"W": W}, x), without)  # back to the first key set


def test_likelihood_with_a_dict_of_parameters():
    data = np.random.default_rng(6).normal(1.5, 0.7, size=40)
    theta = {"mu": 0.3, "log_sigma": -0.2}
    check_grads(gaussian_nll, theta, data, modes=("forward", "reverse"))
    g = s2sgrad.grad(gaussian_nll)(theta, data)
    sigma2 = math.exp(2 * -0.2)  # by hand: dmu = -sum(data - mu) / s^2, dlog_s = n - sum(z^2)
    assert list(g) == ["mu", "log_sigma"] and all(type(v) is float or isinstance(v, np.floating)
                                                  for v in g.values())
    assert g["mu"] == pytest.approx(-np.sum(data - 0.3) / sigma2, rel=1e-12)
    assert g["log_sigma"] == pytest.approx(40 - np.sum((data - 0.3) ** 2) / sigma2, rel=1e-12)
    value, g2 = s2sgrad.value_and_grad(gaussian_nll)({"mu": 0, "log_sigma": 0}, data)  # ints promoted
    assert value == pytest.approx(gaussian_nll({"mu": 0.0, "log_sigma": 0.0}, data))
    assert g2["mu"] == pytest.approx(-np.sum(data))


def test_vjp_of_a_dict_and_jvp_with_a_dict_of_tangents():
    params, x, _ = mlp_point(seed=7)
    cot = np.random.default_rng(8).normal(size=(7, 2))
    got = s2sgrad.vjp(predict)(params, x, cot)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tanh(torch.tensor(x) @ tparams["W1"] + tparams["b1"])
    (h @ tparams["W2"] + tparams["b2"]).backward(torch.tensor(cot))
    assert_dicts_close(got, {k: t.grad.numpy() for k, t in tparams.items()})
    tangents = {k: np.random.default_rng(9).normal(size=v.shape) for k, v in reversed(params.items())}
    value, tangent = s2sgrad.jvp(predict)(params, x, tangents)
    # the tangent is the directional derivative: <vjp(cot), t> = <cot, jvp(t)>
    assert np.sum(cot * tangent) == pytest.approx(sum(np.sum(got[k] * tangents[k]) for k in got), rel=1e-10)
    np.testing.assert_allclose(value, predict(params, x))
    check_grads(mlp_loss, *mlp_point(seed=10), wrt=(0, 1))


def test_loops_over_a_dict_are_unrolled():
    params = {"a": np.array([1.0, -2.0]), "skip": np.array([0.5, 3.0])}
    x = np.array([0.25, 2.0])
    g_params, g_x = s2sgrad.grad(weight_decay, wrt=(0, 1))(params, x)
    # by hand: value + x, plus len(params) = 2 for the keys other than "skip"
    assert_dicts_close(g_params, {"a": params["a"] + x + 2.0, "skip": params["skip"] + x})
    np.testing.assert_allclose(g_x, params["a"] + params["skip"])
    check_grads(weight_decay, params, x, wrt=(0, 1))


def test_dicts_built_inside_the_function():
    check_grads(built_inside, 0.7, -1.3, wrt=(0, 1))
    gx, gy = s2sgrad.grad(built_inside, wrt=(0, 1))(0.7, -1.3)
    # f = 2x sin(y) + x y - sin(y) + 2x
    assert gx == pytest.approx(2 * math.sin(-1.3) - 1.3 + 2)
    assert gy == pytest.approx(2 * 0.7 * math.cos(-1.3) + 0.7 - math.cos(-1.3))
    check_grads(swap_entries, 1.2, 0.4, wrt=(0, 1))
    gx, gy = s2sgrad.grad(swap_entries, wrt=(0, 1))(1.2, 0.4)  # f = 3 y x^2
    assert (gx, gy) == (pytest.approx(6 * 0.4 * 1.2), pytest.approx(3 * 1.2 ** 2))


def test_kwargs_passed_to_helpers():
    x, opts = np.array([0.5, -1.0, 2.0]), {"scale": 1.5, "shift": -0.25}
    check_grads(calls_with_kwargs, x, opts, wrt=(0, 1))
    gx, gopts = s2sgrad.grad(calls_with_kwargs, wrt=(0, 1))(x, opts)
    b, c = np.sum(x * 1.5 - 0.25), np.sum(3.0 * x)
    # by hand: a = sum(x s + t), b = sum(x s + t), c = 3 sum(x), plus x0 s + 1
    assert gopts["scale"] == pytest.approx(np.sum(x) + np.sum(x) * c + x[0])
    assert gopts["shift"] == pytest.approx(3 + 3 * c)
    np.testing.assert_allclose(gx, 1.5 + 1.5 * c + b * 3.0 + np.array([1.5, 0, 0]))


def activation(x, cfg):
    if cfg["act"] == "tanh":
        y = np.tanh(x * cfg["scale"])
    else:
        y = x * cfg["scale"]
    return np.sum(y) * cfg["n"]


def test_a_dict_of_options_beside_the_parameters():
    x = np.array([0.3, -0.2])
    np.testing.assert_allclose(s2sgrad.grad(activation)(x, {"act": "tanh", "scale": 2.0, "n": 3}),
                               3 * 2.0 * (1 - np.tanh(2.0 * x) ** 2))
    np.testing.assert_allclose(s2sgrad.grad(activation)(x, {"act": "lin", "scale": 2.0, "n": 3}), [6.0, 6.0])
    with pytest.raises(s2sgrad.S2SGradError, match="its entry 'act' is a str"):
        s2sgrad.grad(activation, wrt=1)(x, {"act": "lin", "scale": 2.0, "n": 3})


def test_torch_style_names_and_names_that_collide():
    rng = np.random.default_rng(11)
    params = {"layer.0.weight": rng.normal(size=(4, 3)), "layer.0.bias": rng.normal(size=4)}
    x = rng.normal(size=(6, 3))
    got = s2sgrad.grad(named_torch_style)(params, x)
    tparams = {k: torch.tensor(v) for k, v in params.items()}
    want = torch.func.grad(lambda p: torch.sum(torch.relu(torch.tensor(x) @ p["layer.0.weight"].T
                                                          + p["layer.0.bias"]) ** 2))(tparams)
    assert_dicts_close(got, {k: t.numpy() for k, t in want.items()})
    W, W2, W3 = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    g = s2sgrad.grad(collides, wrt=(0, 1, 2))
    gp, gw, gd = g({"W": W}, W2, W3)
    assert_dicts_close(gp, {"W": W2 + 2 * W3 * W})
    np.testing.assert_allclose(gw, W)
    np.testing.assert_allclose(gd, W ** 2)


def test_generated_code_names_the_entries_and_stands_alone():
    params, x, y = mlp_point()
    g = s2sgrad.grad(mlp_loss_via_helper)
    g(params, x, y)
    assert "def grad_mlp_loss_via_helper(params_W1, params_b1, params_W2, params_b2, x, y):" in g.source
    assert "d_params_W1" in g.source and "s2sgrad" not in g.source.split('"""', 2)[2].replace(
        "generated by s2sgrad", "")
    assert "The dict params is passed one entry a parameter: params_W1 = params['W1']" in g.source
    namespace = {}
    exec(compile(g.source, "<generated>", "exec"), namespace)  # standalone: numpy only
    flat = namespace["grad_mlp_loss_via_helper"](*params.values(), x, y)
    for got, want in zip(flat, g(params, x, y).values()):
        np.testing.assert_allclose(got, want)


def test_numba_backend_takes_dicts():
    params, x, y = mlp_point(seed=12)
    got = s2sgrad.grad(mlp_loss, backend="numba")(params, x, y)
    assert_dicts_close(got, torch_grad(torch_mlp_loss, params, x, y))


# ---------------------------------------------------------------------- jacobian, hessian, hvp
def torch_predict(params, x):
    return torch.tanh(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def as_torch(params):
    return {k: torch.tensor(v) for k, v in params.items()}


def assert_nested_close(got, want):
    """got (numpy: dicts, tuples, arrays, floats) against want (the same structure of tensors)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want)
        for k in want:
            assert_nested_close(got[k], want[k])
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_nested_close(g, w)
    else:
        assert np.shape(got) == tuple(want.shape)
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_of_a_dict_is_a_dict_of_jacobians_as_jax_jacrev_gives(mode):
    params, x, _ = mlp_point(seed=13, batch=2)
    want = torch.func.jacrev(torch_predict, argnums=(0, 1))(as_torch(params), torch.tensor(x))
    got = s2sgrad.jacobian(predict, wrt=(0, 1), mode=mode)(params, x)
    assert_nested_close(got, want)  # key -> out.shape + entry.shape
    assert_nested_close(s2sgrad.jacobian(predict, mode=mode)(params, x), want[0])
    np.testing.assert_allclose(s2sgrad.jacobian(predict, wrt=1, mode=mode)(params, x), want[1].numpy())


def test_hessian_of_a_dict_is_nested_as_jax_nests_it():
    params, x, y = mlp_point(seed=14, n_in=2, n_hidden=3, batch=4)
    targs = (as_torch(params), torch.tensor(x), torch.tensor(y))
    want = torch.func.hessian(torch_mlp_loss, argnums=(0, 1))(*targs)
    got = s2sgrad.hessian(mlp_loss, wrt=(0, 1))(params, x, y)  # H[I][k][J]: jax's nesting
    assert_nested_close(got, want)
    assert_nested_close(s2sgrad.hessian(mlp_loss)(params, x, y), torch.func.hessian(torch_mlp_loss)(*targs))
    # the dict read only: hessian and hvp with respect to x
    np.testing.assert_allclose(s2sgrad.hessian(mlp_loss, wrt=1)(params, x, y), want[1][1].numpy(), rtol=1e-9)
    v = np.random.default_rng(15).normal(size=x.shape)
    H = want[1][1].numpy().reshape(x.size, x.size)
    np.testing.assert_allclose(s2sgrad.hvp(mlp_loss, wrt=1)(params, x, y, v), (H @ v.ravel()).reshape(x.shape),
                               rtol=1e-9)


def test_hvp_of_a_dict_takes_and_gives_dicts():
    params, x, y = mlp_point(seed=16, n_in=2, n_hidden=3, batch=4)
    rng = np.random.default_rng(17)
    v = {k: rng.normal(size=np.shape(p)) for k, p in reversed(params.items())}
    vx = rng.normal(size=x.shape)
    tx, ty = torch.tensor(x), torch.tensor(y)
    _, want = torch.func.jvp(lambda p, xx: torch.func.grad(torch_mlp_loss, argnums=(0, 1))(p, xx, ty),
                             (as_torch(params), tx), ({k: torch.tensor(v[k]) for k in params}, torch.tensor(vx)))
    assert_nested_close(s2sgrad.hvp(mlp_loss, wrt=(0, 1))(params, x, y, v, vx), want)
    _, want = torch.func.jvp(lambda p: torch.func.grad(torch_mlp_loss)(p, tx, ty), (as_torch(params),),
                             ({k: torch.tensor(v[k]) for k in params},))
    assert_nested_close(s2sgrad.hvp(mlp_loss)(params, x, y, v), want)


LEVEL = 1.0  # a module constant the second derivative must read again when it changes


def scaled_loss(params, x):
    return LEVEL * np.sum(params["a"] ** 3 * x) + np.sum(params["b"] ** 2)


def test_second_derivatives_with_dicts_follow_changed_values_keys_and_globals():
    global LEVEL
    x = np.array([0.5, -1.0])
    h = s2sgrad.hessian(scaled_loss)
    a, b = np.array([1.0, 2.0]), np.array([3.0])
    got = h({"a": a, "b": b}, x)  # by hand: d2/da2 = diag(6 a x), d2/db2 = 2, no cross terms
    np.testing.assert_allclose(got["a"]["a"], np.diag(6 * a * x))
    np.testing.assert_allclose(got["b"]["b"], [[2.0]])
    np.testing.assert_allclose(got["a"]["b"], np.zeros((2, 1)))
    got = h({"b": 0.5, "a": -a}, x)  # other key order, a float entry
    assert list(got) == ["b", "a"] and got["b"]["b"] == 2.0
    np.testing.assert_allclose(got["a"]["a"], np.diag(-6 * a * x))
    LEVEL = 3.0
    try:
        np.testing.assert_allclose(h({"a": a, "b": b}, x)["a"]["a"], np.diag(18 * a * x))
        np.testing.assert_allclose(s2sgrad.hvp(scaled_loss)({"a": a, "b": b}, x, {"a": [1.0, 0.0], "b": [0.0]})["a"],
                                   [18 * a[0] * x[0], 0.0])
    finally:
        LEVEL = 1.0


def sin_weights(params, x):
    return np.sum(np.sin(params["a"] * x) * params["b"])


def test_hessian_of_a_dict_on_the_numba_backend():
    params, x = {"a": np.array([0.3, 0.5]), "b": 1.5}, np.array([1.0, -2.0])
    got = s2sgrad.hessian(sin_weights, backend="numba")(params, x)
    s = np.sin(params["a"] * x)  # by hand: d2/da2 = diag(-b x^2 s), d2/da db = x cos(a x), d2/db2 = 0
    np.testing.assert_allclose(got["a"]["a"], np.diag(-1.5 * x * x * s), rtol=1e-12)
    np.testing.assert_allclose(got["a"]["b"], x * np.cos(params["a"] * x), rtol=1e-12)
    np.testing.assert_allclose(got["b"]["a"], x * np.cos(params["a"] * x), rtol=1e-12)
    assert got["b"]["b"] == 0.0


# ---------------------------------------------------------------------- refusals
def writes_into(params, x):
    params["W"] = params["W"] * 2.0
    return np.sum(params["W"] * x)


def deletes(params, x):
    del params["b"]
    return np.sum(params["W"] * x)


def variable_key(params, x, name):
    return np.sum(params[name] * x)


def missing_key(params, x):
    return np.sum(params["V"] * x)


def returns_whole(params, x):
    return params


def breaks_out(params, x):
    total = 0.0
    for k in params:
        if k == "b":
            break
        total = total + np.sum(params[k] * x)
    return total


def updates(params, x):
    params.update(W=x)
    return np.sum(params["W"])


def prints(params, x):
    print(f"params: {params}")
    return np.sum(params["W"] * x)


def keyword_twice(x):
    d = {"a": x}
    e = dict(a=x, **d)
    return e["a"]


def to_numpy(params, x):
    return np.sum(np.stack(params) * x)


@pytest.mark.parametrize("fn, args, message", [
    (writes_into, (), "writing into the dict `params`"),
    (deletes, (), "writing into the dict `params`"),
    (variable_key, ("W",), "with the key `name`, which is not a constant string"),
    (missing_key, (), "the dict `params` has no key 'V' (its keys: 'W', 'b')"),
    (returns_whole, (), "the dict `params` used as a whole"),
    (breaks_out, (), "`break` in a loop over the dict `params`"),
    (updates, (), "writing into the dict `params`"),
    (to_numpy, (), "the dict `params` passed to `np.stack`"),
    (prints, (), "the dict `params` or a loop variable over a dict's keys in an f-string"),
])
def test_what_is_refused_is_refused_at_its_line(fn, args, message):
    params, x = {"W": np.ones(2), "b": np.zeros(2)}, np.ones(2)
    with pytest.raises(s2sgrad.S2SGradError) as info:
        s2sgrad.grad(fn)(params, x, *args)
    text = str(info.value)
    assert message in text, text
    assert "test_dicts.py:" in text and "^" in text and "hint:" in text


def test_what_the_api_refuses_about_dicts():
    params, x, y = mlp_point()
    with pytest.raises(s2sgrad.S2SGradError, match="nested dicts"):
        s2sgrad.grad(linear_maybe_bias)({"W": {"inner": np.ones(2)}}, np.ones(2))
    with pytest.raises(s2sgrad.S2SGradError, match="empty"):
        s2sgrad.grad(gaussian_nll)({}, np.ones(3))
    with pytest.raises(s2sgrad.S2SGradError, match="tangent of the dict `params`"):
        s2sgrad.jvp(predict)(params, x, {"W1": np.ones((3, 5))})
    with pytest.raises(s2sgrad.S2SGradError, match="tangent of the dict `params`"):
        s2sgrad.hvp(mlp_loss)(params, x, y, {"W1": np.ones((3, 5))})
    with pytest.raises(s2sgrad.S2SGradError, match="derivative of a derivative"):
        s2sgrad.vjp(s2sgrad.grad(gaussian_nll), wrt=1)({"mu": 0.1, "log_sigma": 0.2}, np.ones(3), (1.0, 1.0))


def test_a_key_given_twice_to_dict_is_refused_as_python_refuses_it():
    with pytest.raises(TypeError):
        keyword_twice(1.0)  # Python's own error
    with pytest.raises(s2sgrad.S2SGradError, match="given the key 'a' twice") as info:
        s2sgrad.grad(keyword_twice)(1.0)
    assert "test_dicts.py:" in str(info.value)
