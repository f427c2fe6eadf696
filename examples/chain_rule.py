"""The chain rule on a small layer, by hand and as s2sgrad writes it.

    y = W x + b          (W: 3x4, x: 4, b: 3)
    z = tanh(y)
    L = mean((z - t)**2)

By hand, backwards from L (n = 3 outputs):
    dL/dz = 2 (z - t) / n
    dL/dy = dL/dz * (1 - z**2)          tanh' = 1 - tanh**2
    dL/dW = outer(dL/dy, x)             y_i = sum_j W_ij x_j + b_i
    dL/db = dL/dy
    dL/dx = W.T @ dL/dy

s2sgrad's adjoint below is the same derivation, one `# grad of:` block a statement.

Run:  python examples/chain_rule.py
"""
import numpy as np

import s2sgrad


def loss(W, x, b, t):
    y = W @ x + b
    z = np.tanh(y)
    return np.mean((z - t) ** 2)


def by_hand(W, x, b, t):
    z = np.tanh(W @ x + b)
    d_z = 2 * (z - t) / z.size
    d_y = d_z * (1 - z ** 2)
    return np.outer(d_y, x), W.T @ d_y, d_y


def main():
    rng = np.random.default_rng(0)
    W, x, b, t = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3), rng.normal(size=3)
    g = s2sgrad.grad(loss, wrt=("W", "x", "b"))
    generated = g(W, x, b, t)
    print(g.source)
    for name, mine, hand in zip(("W", "x", "b"), generated, by_hand(W, x, b, t)):
        print(f"dL/d{name}: largest difference from the hand derivation {np.max(np.abs(mine - hand)):.1e}")


if __name__ == "__main__":
    main()
