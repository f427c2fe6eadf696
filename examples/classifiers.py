"""Three small models as NumPy functions, differentiated by s2sgrad.

(a) a single-layer perceptron: sigmoid output, binary cross-entropy (mean over the batch);
(b) an MLP with two tanh hidden layers, mean squared error;
(c) a softmax classifier: log-softmax written by hand (subtract the row max so exp
    never overflows), labels as a one-hot array, cross-entropy (mean over the batch).

Weights follow torch.nn.Linear's convention: y = x @ W.T + b, W of shape (out, in).
Each model's gradient is checked here against a central difference along a random
direction; tests/test_seed_models.py checks every parameter against PyTorch.

Run:  python examples/classifiers.py
"""
import inspect

import numpy as np

import s2sgrad


# --- (a) single-layer perceptron, binary cross-entropy ----------------------------------

def perceptron_loss(W, b, x, y):
    z = x @ W.T + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


# --- (b) MLP, two tanh hidden layers, mean squared error --------------------------------

def mlp_loss(W1, b1, W2, b2, W3, b3, x, y):
    h1 = np.tanh(x @ W1.T + b1)
    h2 = np.tanh(h1 @ W2.T + b2)
    pred = h2 @ W3.T + b3
    return np.mean((pred - y) ** 2)


# --- (c) softmax classifier, cross-entropy --------------------------------------------

def softmax_loss(W, b, x, onehot):
    z = x @ W.T + b
    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    return -np.mean(np.sum(onehot * logp, axis=1))


# --- parameters and data ---------------------------------------------------------------

def linear_init(rng, n_out, n_in):
    """W, b drawn like torch.nn.Linear's default: uniform in +-1/sqrt(n_in)."""
    bound = 1.0 / np.sqrt(n_in)
    return (rng.uniform(-bound, bound, size=(n_out, n_in)),
            rng.uniform(-bound, bound, size=(n_out,)))


def perceptron_problem(seed=0, n=32, d=5):
    """((W, b), (x, y)): labels 0/1 of shape (n, 1) from a noisy linear rule."""
    rng = np.random.default_rng(seed)
    W, b = linear_init(rng, 1, d)
    x = rng.normal(size=(n, d))
    y = (x @ rng.normal(size=(d, 1)) + 0.5 * rng.normal(size=(n, 1)) > 0).astype(float)
    return (W, b), (x, y)


def mlp_problem(seed=0, n=64, d=3, hidden=16):
    """((W1, b1, W2, b2, W3, b3), (x, y)): regress y = sin(x0) + x1 * x2, shape (n, 1)."""
    rng = np.random.default_rng(seed)
    W1, b1 = linear_init(rng, hidden, d)
    W2, b2 = linear_init(rng, hidden, hidden)
    W3, b3 = linear_init(rng, 1, hidden)
    x = rng.uniform(-2.0, 2.0, size=(n, d))
    y = (np.sin(x[:, 0]) + x[:, 1] * x[:, 2])[:, None]
    return (W1, b1, W2, b2, W3, b3), (x, y)


def softmax_problem(seed=0, n=32, d=4, k=3):
    """((W, b), (x, onehot)): k Gaussian blobs, one-hot labels of shape (n, k)."""
    rng = np.random.default_rng(seed)
    W, b = linear_init(rng, k, d)
    labels = rng.integers(0, k, size=n)
    centers = 2.0 * rng.normal(size=(k, d))
    x = centers[labels] + rng.normal(size=(n, d))
    return (W, b), (x, np.eye(k)[labels])


MODELS = [
    ("perceptron + binary cross-entropy", perceptron_loss, perceptron_problem),
    ("MLP (tanh, tanh) + mean squared error", mlp_loss, mlp_problem),
    ("softmax classifier + cross-entropy", softmax_loss, softmax_problem),
]


def directional_check(f, params, data, grads, seed=0, eps=1e-6):
    """(slope from the gradient, slope from a central difference) along a random direction."""
    rng = np.random.default_rng(seed)
    v = [rng.normal(size=p.shape) for p in params]
    plus = f(*[p + eps * vi for p, vi in zip(params, v)], *data)
    minus = f(*[p - eps * vi for p, vi in zip(params, v)], *data)
    return sum(np.sum(g * vi) for g, vi in zip(grads, v)), (plus - minus) / (2 * eps)


def main():
    for title, f, problem in MODELS:
        params, data = problem()
        vg = s2sgrad.value_and_grad(f, wrt=tuple(range(len(params))))
        value, grads = vg(*params, *data)
        print(f"{title}: loss = {value:.6f}")
        names = list(inspect.signature(f).parameters)[:len(params)]
        for name, g in zip(names, grads):
            print(f"    d loss / d {name:<2} shape {str(g.shape):<8} norm {np.linalg.norm(g):.6f}")
        slope, fd = directional_check(f, params, data, grads)
        print(f"    slope along a random direction: {slope:.9f} (central difference {fd:.9f})")
    print()
    print(s2sgrad.grad(softmax_loss, wrt=(0, 1)).source)


if __name__ == "__main__":
    main()
