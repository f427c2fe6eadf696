"""PyTorch's TinyModel (Linear 1000->100, ReLU, Linear 100->10), as a NumPy function.

The PyTorch tutorial:

    class TinyModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer1 = torch.nn.Linear(1000, 100)
            self.relu = torch.nn.ReLU()
            self.layer2 = torch.nn.Linear(100, 10)
        def forward(self, x):
            return self.layer2(self.relu(self.layer1(x)))

    prediction = model(some_input)            # batch of 16
    loss = (ideal_output - prediction).pow(2).sum()
    loss.backward()                           # model.layer1.weight.grad, ...

s2sgrad differentiates functions, not modules: the parameters are arguments, and
grad(loss, wrt=(0, 1, 2, 3)) gives all four gradients at once.  The weights follow
torch.nn.Linear's convention: y = x @ W.T + b, with W of shape (out, in).

Run:  python examples/tiny_model.py
"""
import numpy as np

import s2sgrad

BATCH, N_IN, N_HIDDEN, N_OUT = 16, 1000, 100, 10


def tiny_model(W1, b1, W2, b2, x):
    """The forward pass: prediction of shape (batch, 10)."""
    h = x @ W1.T + b1
    h = np.maximum(h, 0.0)
    return h @ W2.T + b2


def loss(W1, b1, W2, b2, x, ideal):
    """Sum of squared errors, as in the tutorial."""
    h = x @ W1.T + b1
    h = np.maximum(h, 0.0)
    pred = h @ W2.T + b2
    return np.sum((ideal - pred) ** 2)


def linear_init(rng, n_out, n_in):
    """W, b drawn like torch.nn.Linear's default: uniform in +-1/sqrt(n_in)."""
    bound = 1.0 / np.sqrt(n_in)
    return (rng.uniform(-bound, bound, size=(n_out, n_in)),
            rng.uniform(-bound, bound, size=(n_out,)))


def init_params(seed=0):
    """(W1, b1, W2, b2), float64."""
    rng = np.random.default_rng(seed)
    W1, b1 = linear_init(rng, N_HIDDEN, N_IN)
    W2, b2 = linear_init(rng, N_OUT, N_HIDDEN)
    return W1, b1, W2, b2


def make_data(seed=1):
    """x of shape (16, 1000) and ideal of shape (16, 10), uniform in [0, 1) like torch.rand."""
    rng = np.random.default_rng(seed)
    return rng.random((BATCH, N_IN)), rng.random((BATCH, N_OUT))


def main():
    params = init_params()
    x, ideal = make_data()
    g = s2sgrad.grad(loss, wrt=(0, 1, 2, 3))
    grads = g(*params, x, ideal)
    print(g.source)
    print(f"loss = {loss(*params, x, ideal):.6f}")
    for name, p, gp in zip(["W1", "b1", "W2", "b2"], params, grads):
        print(f"d loss / d {name}: shape {gp.shape} (param {p.shape}), norm {np.linalg.norm(gp):.6f}")


if __name__ == "__main__":
    main()
