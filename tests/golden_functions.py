"""Small functions whose generated gradients are pinned word for word in tests/transforms/test_generated_code.py."""
import math

import numpy as np


def f(x):
    return x * x + math.sin(x)


def power(x, n):
    """x ** n by repeated multiplication."""
    y = 1.0
    for i in range(n):
        y = y * x
    return y


def relu_sum(a, b):
    if a > b:
        z = a * b
    else:
        z = b - a
    return math.exp(z)


def newton(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def tiny_loss(W1, b1, W2, b2, x, ideal):
    """The TinyModel loss of examples/tiny_model.py."""
    h = x @ W1.T + b1
    h = np.maximum(h, 0.0)
    pred = h @ W2.T + b2
    return np.sum((ideal - pred) ** 2)


def sin_sum(a):
    return np.sum(2 * np.sin(a) + 1)


def decay(x, rate, n):
    s = x
    for i in range(n):
        s = s * math.exp(-rate) + math.sin(s)
    return s
