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
