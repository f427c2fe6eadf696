"""Functions of numbers for the cuda backend's tests (in a file: s2sgrad reads source)."""
import math

import numpy as np


def poly_trig(x, y):
    return x ** 3 * math.sin(y) + math.cos(x * y) / (1.0 + y * y) - 2.0 * x


def branches(x, y):
    if x > y:
        z = x * y + math.exp(-x)
    elif x > 0.0:
        z = math.sqrt(x) * y
    else:
        z = x - y * y
    return z


def for_loop(x, a, n):
    s = 0.0
    for i in range(n):
        s = math.sin(s * x) + a * i
    return s


def while_loop(x, y):
    z = x * y
    while z < 10.0:
        z = z * z + 1.5 + x
    return z


def _helper(a, b):
    return a * math.exp(b) + b


def with_helper(x, y):
    u = _helper(x, y)
    return u * _helper(y, u * 0.1)


def _norm_cdf(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def black_scholes(spot, vol, strike, t, rate):
    """A European call's price."""
    sqrt_t = math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    return spot * _norm_cdf(d1) - strike * math.exp(-rate * t) * _norm_cdf(d2)


def gauss_loglik(x, mu, sigma):
    z = (x - mu) / sigma
    return -0.5 * z * z - math.log(sigma) - 0.5 * math.log(2.0 * math.pi)


def uses_numpy(x):
    return np.sum(x * 2.0)


def uses_list(x):
    xs = [x, 2.0 * x]
    return xs[0] * xs[1]


def _pair(a, b):
    return a * b, a + b


def uses_pair(x, y):
    p, q = _pair(x, y)
    return p * q


def loop_without_tape(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i + math.sin(x)
    return s


def creeping_while(x, y):
    """A while loop of tens of trips, more for a larger y: each point its own count."""
    z = x
    while z < y:
        z = z + 0.05 * math.sin(z) * x + 0.1
    return z * x


def power_loop(x, n):
    """x ** n by n products: its gradient is n x ** (n - 1)."""
    p = 1.0
    for i in range(n):
        p = p * x
    return p


def power_between(x, m, n):
    """x ** (n - m) (1 where n <= m): a range from one argument to another."""
    p = 1.0
    for i in range(m, n):
        p = p * x
    return p


def nested_power(x, n, m):
    """x ** (n m) by nested loops."""
    p = 1.0
    for i in range(n):
        for j in range(m):
            p = p * x
    return p


def nested_sin(x, a, n, m):
    s = 0.0
    for i in range(n):
        for j in range(m):
            s = math.sin(s * x) + a * j
        s = s * a
    return s


def triangle(x, n):
    """An inner loop bound by the outer loop's variable: n (n - 1) / 2 pushes."""
    s = x
    for i in range(n):
        for j in range(i):
            s = math.sin(s) * x
    return s


def computed_bound(x, n):
    """The trip count is computed in the function: found by the counting pass."""
    m = 2 * n + 1
    s = x
    for i in range(m):
        s = math.cos(s) + x
    return s


def int_and_float_tapes(x, n):
    """Two tapes of two types: s (float64) and k (int64, overwritten in the loop)."""
    k = 1
    s = x
    for i in range(n):
        s = math.sin(s) * k
        k = k * 3 % 7 + 1
    return s


def _settle(z, x):
    """A helper with a while loop: its vjp keeps its own tape."""
    while z < 4.0:
        z = z * z * 0.3 + x + 0.5
    return z


def loop_with_helper(x, n):
    s = x
    for i in range(n):
        s = _settle(s, x) * 0.1
    return s


def every_other(x, n):
    """A range with a step: len(range(1, n, 2)) trips."""
    s = x
    for i in range(1, n, 2):
        s = math.sin(s) * x + i
    return s


def branchy_loop(x, n):
    """A push on one branch only: the room at entry (n) is an upper bound."""
    s = x
    for i in range(n):
        if s > 0.5:
            s = s * s - 0.3
        else:
            s = s + 0.4
    return s


def colliding_names(tape_s, checkpoint_every, segment):
    """Parameters named like the generated tapes, k and the segment counter."""
    s = tape_s
    for i in range(segment):
        s = math.sin(s * checkpoint_every) + 0.1 * s
    return s
