"""A corpus of ordinary Python functions that s2sgrad must differentiate.

Each corpus function is registered with the ``@case`` decorator, which records it in
``CORPUS`` together with

* ``points``: a function of a numpy Generator returning the positional arguments of
  one test point (a tuple, or a single value for a one-argument function).  Points are
  drawn where the function is differentiable: away from the kinks of abs/min/max, the
  jumps of floor/%/branches and loop exits, and inside the domains of log, asin, ...
  numpy numbers are turned into plain Python floats and ints before use;
* ``wrt``: the arguments to differentiate, as for ``s2sgrad.grad`` (a position, a name,
  or a tuple of them).  Integer arguments (loop counts, sizes) are left out of wrt.

``@case`` returns the function unchanged, so the functions stay plain Python and
tests/test_corpus.py can check each one with ``s2sgrad.testing.check_grads``.
Functions without ``@case`` are helpers called by the corpus, or functions tested by
hand because finite differences cannot check them (``s2sgrad.stop_gradient``).
"""
import math
import math as m
from dataclasses import dataclass
from math import cos, sin
from typing import Any, Callable

import numpy as np

import s2sgrad


@dataclass(frozen=True)
class Case:
    func: Callable
    points: Callable  # numpy Generator -> positional arguments
    wrt: Any

    @property
    def name(self) -> str:
        return self.func.__name__

    def sample(self, rng) -> tuple:
        """One point: the positional arguments as plain Python values."""
        point = self.points(rng)
        return _plain(point if isinstance(point, tuple) else (point,))


CORPUS: list[Case] = []


def case(points, wrt=0):
    """Register the decorated function in CORPUS with its point generator and wrt."""
    def register(func):
        CORPUS.append(Case(func, points, wrt))
        return func
    return register


def _plain(value):
    """numpy scalars to Python floats and ints, inside tuples and lists too."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- point generators ---------------------------------------------------------------

def _apart(r, n, lo, hi, kinks=(), gap=0.2):
    """n uniform floats in (lo, hi), at least gap from each other and from every kink."""
    xs = []
    while len(xs) < n:
        x = r.uniform(lo, hi)
        if all(abs(x - k) >= gap for k in (*xs, *kinks)):
            xs.append(x)
    return tuple(xs)


def _frac(r, lo, hi):
    """k + f with k an integer in [lo, hi) and 0.2 < f < 0.8: far from any integer."""
    return int(r.integers(lo, hi)) + r.uniform(0.2, 0.8)


def _int(r, lo, hi):
    """An int in [lo, hi)."""
    return int(r.integers(lo, hi))


def _floats(r, n, lo, hi):
    """A list of n uniform floats in (lo, hi)."""
    return [r.uniform(lo, hi) for _ in range(n)]


def _quotient(r):
    """(a, b) with a/b = k + f far from an integer, b of either sign."""
    b = r.choice([-1.0, 1.0]) * r.uniform(0.5, 2.0)
    return b * _frac(r, -3, 3), b


def _list_and_threshold(r):
    """([4 floats], t) with no element within 0.1 of t or of another."""
    *xs, t = _apart(r, 5, -2.0, 2.0, gap=0.1)
    return xs, t


def _polar(r):
    """(x, y) at radius 0.5..2, angle away from atan2's cut at +-pi."""
    radius, angle = r.uniform(0.5, 2.0), r.uniform(-2.8, 2.8)
    return radius * math.cos(angle), radius * math.sin(angle)


# --- arithmetic ---------------------------------------------------------------------

@case(points=lambda r: r.uniform(-2.0, 2.0))
def square_plus_sin(x):
    return x * x + sin(x)


@case(points=lambda r: (r.uniform(2.0, 3.0), r.uniform(0.1, 1.0)), wrt=(0, 1))
def rational(x, y):
    return (x + y) / (x - y * y) - y / x


@case(points=lambda r: (r.uniform(0.5, 2.0), r.uniform(-1.5, 2.5)), wrt=(0, 1))
def variable_power(x, y):
    return x ** y + y ** 2


@case(points=lambda r: r.uniform(0.5, 2.0))
def constant_powers(x):
    return x ** 3 - 2 * x ** 2 + x ** 0.5 + x ** -1 + 2 ** x


@case(points=lambda r: (r.uniform(-2.0, 2.0), r.uniform(-2.0, 2.0)), wrt=(0, 1))
def unary_minus(x, y):
    return -x * -(y - x) - -y + (-x) ** 3


@case(points=_quotient, wrt=(0, 1))
def floordiv_mod(a, b):
    q = a // b
    rem = a % b
    return q * b + rem * rem


@case(points=lambda r: (r.uniform(0.5, 3.0) * _frac(r, -2, 3), r.uniform(0.5, 3.0)),
      wrt=("t", "period"))
def sawtooth(t, period):
    """Phase in [0, 1) of t on a sawtooth of the given period."""
    return (t % period) / period


@case(points=lambda r: 2 * math.pi * _frac(r, -2, 2) - math.pi)
def wrap_angle(theta):
    return (theta + math.pi) % (2 * math.pi) - math.pi


@case(points=lambda r: _apart(r, 2, -2.0, 2.0, kinks=(0.0,)), wrt=(0, 1))
def abs_distance(x, y):
    return abs(x - y) + abs(x) * y


@case(points=lambda r: _apart(r, 3, -2.0, 2.0), wrt=(0, 1, 2))
def clip(x, lo, hi):
    return min(max(x, lo), hi)


@case(points=lambda r: _apart(r, 3, -2.0, 2.0), wrt=(0, 1, 2))
def spread(x, y, z):
    return max(x, y, z) * min(x, y, z) + max(x, 0.5 * y)


@case(points=lambda r: _apart(r, 1, -1.0, 3.0, kinks=(1.0,)))
def fabs_distance(x):
    return math.fabs(x - 1.0) * x


@case(points=lambda r: _apart(r, 1, -1.0, 1.0, kinks=(0.0,), gap=0.1))
def leaky_relu(x):
    return x if x > 0 else 0.01 * x


# --- math functions -----------------------------------------------------------------

@case(points=lambda r: r.uniform(-1.2, 1.2))
def trig(x):
    return math.sin(x) * math.cos(x) + math.tan(x)


@case(points=lambda r: r.uniform(-0.9, 0.9))
def inverse_trig(x):
    return math.asin(x) + x * math.acos(x) + math.atan(2 * x)


@case(points=_polar, wrt=(0, 1))
def polar_angle(x, y):
    return math.atan2(y, x)


@case(points=lambda r: r.uniform(-2.0, 2.0))
def hyperbolic(x):
    return math.sinh(x) + math.cosh(x) * math.tanh(x)


@case(points=lambda r: (r.uniform(-1.5, 1.5), r.uniform(1.2, 3.0)), wrt=(0, 1))
def inverse_hyperbolic(x, y):
    return math.asinh(x) + math.acosh(y) * math.atanh(x / 2)


@case(points=lambda r: r.uniform(-1.5, 1.5))
def exponentials(x):
    return math.exp(-x * x) + 2 * math.expm1(x)


@case(points=lambda r: r.uniform(0.2, 5.0))
def logarithms(x):
    return math.log(x) + math.log1p(x) + math.log2(x) - math.log10(x)


@case(points=lambda r: (r.uniform(0.5, 5.0), r.uniform(1.5, 4.0)), wrt=(0, 1))
def log_any_base(x, base):
    return math.log(x, base)


@case(points=lambda r: (r.uniform(0.3, 3.0), r.uniform(-2.0, 2.0)), wrt=(0, 1))
def sqrt_and_pow(x, y):
    return math.sqrt(x) * math.pow(x, y)


@case(points=lambda r: (r.uniform(0.5, 2.0), r.uniform(-2.0, 2.0)), wrt=(0, 1))
def hypotenuse(a, b):
    return math.hypot(a, b)


@case(points=lambda r: r.uniform(-2.5, 2.5))
def normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@case(points=lambda r: r.uniform(-2.5, 2.5))
def normal_tail(x):
    return 0.5 * m.erfc(x / m.sqrt(2.0))


@case(points=lambda r: (r.uniform(-2.0, 2.0), _frac(r, -3, 3)), wrt=(0, 1))
def floor_ceil_trunc(x, y):
    return x * math.floor(y) + x * math.ceil(y) + math.trunc(y) * y


@case(points=lambda r: r.uniform(0.1, 3.0))
def circle_area(radius):
    return math.pi * radius ** 2


@case(points=lambda r: (r.uniform(-0.5, 0.5), r.uniform(0.0, 3.0)), wrt=(0, 1))
def continuous_growth(rate, t):
    return math.e ** (rate * t)


@case(points=lambda r: r.uniform(-4.0, 4.0))
def softplus(x):
    return m.log1p(m.exp(x))


@case(points=lambda r: (r.uniform(-2, 2), r.uniform(-2, 2), r.uniform(-3, 3)), wrt=(0, 1, 2))
def rotate_x(x, y, theta):
    return x * cos(theta) - y * sin(theta)


@case(points=lambda r: r.uniform(0.95, 2.0))
def lennard_jones(dist):
    return 4.0 * (dist ** -12 - dist ** -6)


@case(points=lambda r: (r.uniform(0.5, 2.0), r.uniform(-2.0, 2.0), r.uniform(0.5, 2.0)),
      wrt=(0, 1, 2))
def gaussian_pdf(sigma, x, mu):
    z = (x - mu) / sigma
    return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2.0 * math.pi))


@case(points=lambda r: (r.uniform(80, 120), r.uniform(80, 120), r.uniform(0.1, 0.5),
                        r.uniform(0.2, 2.0)), wrt=(0, 1, 2, 3))
def black_scholes_call(spot, strike, vol, years):
    """Price of a European call (zero interest rate)."""
    d1 = (math.log(spot / strike) + 0.5 * vol * vol * years) / (vol * math.sqrt(years))
    d2 = d1 - vol * math.sqrt(years)
    cdf1 = 0.5 * (1.0 + math.erf(d1 / math.sqrt(2.0)))
    cdf2 = 0.5 * (1.0 + math.erf(d2 / math.sqrt(2.0)))
    return spot * cdf1 - strike * cdf2


# --- assignment ---------------------------------------------------------------------

@case(points=lambda r: r.uniform(-2.0, 2.0))
def reassigned(x):
    y = x
    y = y * y
    y = y + 1.0
    y = sin(y)
    y = y * x
    return y


@case(points=lambda r: (r.uniform(-2.0, 2.0), r.uniform(-2.0, 2.0)), wrt=(0, 1))
def augmented(x, y):
    s = x
    s += y
    s -= 0.5 * x
    s *= y
    s /= 1.0 + x * x
    s **= 2
    return s


@case(points=lambda r: (r.uniform(0.5, 2.0), r.uniform(0.5, 2.0)), wrt=(0, 1))
def augmented_power(x, p):
    y = x + 1.0
    y **= p
    y **= 0.5
    return y


@case(points=lambda r: (r.uniform(-1.0, 1.0), _int(r, 1, 9)))
def accumulate_elements(a, n):
    s = [0.0, 0.0, 0.0]
    for i in range(n):
        s[i % 3] += a * (i + 1)
        s[i % 3] *= 1.1
    return s[0] * s[1] + s[2]


@case(points=lambda r: (r.uniform(0.5, 2.0), r.uniform(0.5, 2.0)), wrt=(0, 1))
def pack_unpack(x, y):
    pair = (x * y, x + y)
    prod, total = pair
    return prod / total


@case(points=lambda r: (r.uniform(-1.0, 1.0), r.uniform(-1.0, 1.0)), wrt=(0, 1))
def swap_and_rotate(x, y):
    a, b = x, y
    a, b = b, a
    for _ in range(3):
        a, b = b, a + 0.5 * b
    return a * b - x


@case(points=lambda r: (r.uniform(0.5, 1.5), r.uniform(0.5, 1.5), _int(r, 1, 10)), wrt=(0, 1))
def fibonacci_like(x, y, n):
    a, b = x, y
    for _ in range(n):
        a, b = b, a + b
    return b / a


# --- branches -----------------------------------------------------------------------

@case(points=lambda r: _apart(r, 1, -3.0, 3.0, kinks=(-1.0, 1.0)))
def piecewise_cubic(x):
    if x < -1.0:
        y = -x - 1.0
    elif x < 1.0:
        y = x ** 3
    else:
        y = 3.0 * x - 2.0
    return y


@case(points=lambda r: _apart(r, 1, -3.0, 3.0, kinks=(-1.0, 1.0)))
def huber(residual, delta=1.0):
    """Huber loss: quadratic near zero, linear in the tails."""
    if abs(residual) <= delta:
        return 0.5 * residual * residual
    else:
        return delta * (abs(residual) - 0.5 * delta)


@case(points=lambda r: _apart(r, 2, -2.0, 2.0, kinks=(0.0,)), wrt=(0, 1))
def conditional_expression(x, y):
    big = x if x > y else y
    sign = 1.0 if x * y > 0 else -1.0
    return big * big + sign * x


@case(points=lambda r: (_apart(r, 1, -1.0, 3.0, kinks=(0.0, 2.0))[0],
                        _apart(r, 1, -2.0, 2.0, kinks=(0.0,))[0]), wrt=(0, 1))
def boolean_logic(x, y):
    if (x > 0 and y > 0) or not x < 2:
        return x * y
    return x + y


@case(points=lambda r: _apart(r, 1, -2.0, 3.0, kinks=(0.0, 1.0, 2.0)))
def chained_comparison(x):
    if 0.0 < x < 1.0:
        return x * x
    elif 1.0 <= x <= 2.0:
        return 2.0 * x - 1.0
    return 0.5 * x * x * x


@case(points=lambda r: _apart(r, 1, -2.0, 3.0, kinks=(0.0, 1.0)))
def several_returns(x):
    if x < 0.0:
        return -x * x
    if x < 1.0:
        return x ** 3
    return 3.0 * x - 2.0


@case(points=lambda r: _apart(r, 1, -2.0, 3.0, kinks=(0.0, 1.0)))
def ternary_chain(x):
    return x * x if x > 1 else (2 * x - 1 if x > 0 else -1.0 + x)


@case(points=lambda r: _apart(r, 1, -4.0, 4.0, kinks=(0.0,)))
def sinc(x):
    if abs(x) < 1e-3:
        return 1.0 - x * x / 6.0
    return sin(x) / x


# --- loops --------------------------------------------------------------------------

@case(points=lambda r: (r.uniform(100, 1000), r.uniform(0.01, 0.1), _int(r, 1, 20)),
      wrt=("principal", "rate"))
def compound_interest(principal, rate, years):
    """Balance after `years` of yearly compounding."""
    balance = principal
    for _ in range(years):
        balance *= 1.0 + rate
    return balance


@case(points=lambda r: (r.uniform(1000, 5000), r.uniform(0.01, 0.1), _int(r, 2, 30)),
      wrt=(0, 1))
def loan_payment(principal, rate, years):
    return principal * rate / (1.0 - (1.0 + rate) ** -years)


@case(points=lambda r: (r.uniform(-0.9, 0.9), _int(r, 0, 3), _int(r, 3, 8)))
def power_series(x, a, b):
    total = 0.0
    for k in range(a, b):
        total += x ** k / (k + 1)
    return total


@case(points=lambda r: (r.uniform(-1.5, 1.5), _int(r, 1, 9)))
def countdown(x, n):
    acc = 0.0
    for i in range(n, 0, -2):
        acc = acc * x + i
    return acc


@case(points=lambda r: r.uniform(-2.0, 2.0))
def horner(x):
    acc = 0.0
    for c in (2.0, -3.0, 0.5, 1.0):  # 2x^3 - 3x^2 + 0.5x + 1
        acc = acc * x + c
    return acc


@case(points=lambda r: r.uniform(-3.0, 3.0))
def weighted_waves(x):
    total = 0.0
    for w in [0.5, 1.5, -0.25]:
        total += w * sin(w * x)
    return total


@case(points=lambda r: (r.uniform(-1, 1), r.uniform(-1, 1), _int(r, 1, 5)), wrt=(0, 1))
def grid_sum(x, y, n):
    total = 0.0
    for i in range(n):
        for j in range(3):
            total += sin(i * x + j * y) / (1 + i + j)
    return total


@case(points=lambda r: (r.uniform(-1.2, 1.2), _int(r, 1, 6)))
def triangle_sum(x, n):
    total = 0.0
    for i in range(n):
        for j in range(i + 1):
            total += x ** j / (i + 1)
    return total


@case(points=lambda r: (r.uniform(-1.0, 1.0), r.uniform(0.5, 2.0), _int(r, 2, 8)),
      wrt=("a", "b"))
def trapezoid(a, b, n):
    """Trapezoid rule for the integral of exp(-x^2) from a to b."""
    h = (b - a) / n
    total = 0.5 * (math.exp(-a * a) + math.exp(-b * b))
    for i in range(1, n):
        x = a + i * h
        total += math.exp(-x * x)
    return total * h


@case(points=lambda r: (r.uniform(-1.0, 1.0), _int(r, 1, 8)))
def cos_taylor(x, n):
    total = 0.0
    term = 1.0
    for k in range(n):
        total += term
        term *= -x * x / ((2 * k + 1) * (2 * k + 2))
    return total


@case(points=lambda r: r.uniform(0.1, 10.0))
def newton_sqrt(a):
    x = a if a > 1.0 else 1.0
    while abs(x * x - a) > 1e-14 * a:
        x = 0.5 * (x + a / x)
    return x


@case(points=lambda r: (r.uniform(0.1, 2.0), r.uniform(0.1, 0.7)), wrt=(0, 1))
def kepler_anomaly(mean_anomaly, ecc):
    """Solve Kepler's equation E - e sin E = M with eight Newton steps."""
    e_anom = mean_anomaly
    for _ in range(8):
        e_anom -= (e_anom - ecc * sin(e_anom) - mean_anomaly) / (1.0 - ecc * cos(e_anom))
    return e_anom


@case(points=lambda r: 10.0 / 1.5 ** _frac(r, 1, 6))
def grow_until(x):
    steps = 0
    while x < 10.0:
        x = x * 1.5
        steps += 1
    return x + steps


@case(points=lambda r: 0.1 * 2.0 ** _frac(r, 0, 5))
def halve_until_small(x):
    while True:
        x = x / 2.0
        if x < 0.1:
            break
    return x * x


@case(points=lambda r: r.uniform(-2.0, 2.0))
def fixed_point_cos(x):
    k = 0
    while True:
        x = cos(x)
        k += 1
        if k >= 6:
            break
    return x


@case(points=lambda r: 3.0 / _frac(r, 1, 8))
def terms_until(x):
    total = 0.0
    for i in range(10):
        if i * x > 3.0:
            break
        total += x ** i
    return total


@case(points=lambda r: list(_apart(r, 4, -2.0, 2.0, kinks=(0.0,), gap=0.1)))
def sum_positive_squares(xs):
    total = 0.0
    for v in xs:
        if v < 0.0:
            continue
        total += v * v
    return total


@case(points=_list_and_threshold, wrt=(0, 1))
def first_above(xs, t):
    for i in range(len(xs)):
        if xs[i] > t:
            return xs[i] * t
    return t * t


@case(points=lambda r: (r.uniform(-2.0, 2.0), _int(r, 2, 6)))
def nested_return(x, n):
    for i in range(n):
        for j in range(n):
            if i * j > 6:
                return x * i * j
    return x * x


@case(points=lambda r: (r.uniform(0.5, 3.0), r.uniform(0.2, 1.0), _int(r, 1, 30)), wrt=(0, 1))
def gradient_descent(x0, lr, steps):
    """Minimise (x - 3)^2 by gradient descent; the result depends on x0 and lr."""
    x = x0
    for _ in range(steps):
        x -= 0.1 * lr * 2.0 * (x - 3.0)
    return x


# --- lists --------------------------------------------------------------------------

@case(points=lambda r: (r.uniform(-1.5, 1.5), _int(r, 2, 7)))
def powers_list(x, n):
    xs = []
    for i in range(n):
        xs.append(x ** i)
    return xs[1] * xs[-1] + xs[n // 2]


@case(points=lambda r: r.uniform(-2.0, 2.0))
def sum_of_sine_squares(x):
    ys = []
    for k in range(4):
        ys.append(sin(k * x))
    total = 0.0
    for v in ys:
        total += v * v
    return total


@case(points=lambda r: (_floats(r, 4, -2, 2), _floats(r, 4, -2, 2)))
def dot(w, xs):
    total = 0.0
    for i in range(len(w)):
        total += w[i] * xs[i]
    return total


@case(points=lambda r: _floats(r, 5, -2.0, 2.0))
def prefix_sums(xs):
    ys = []
    for v in xs:
        ys.append(0.0)
    ys[0] = xs[0]
    for i in range(1, len(xs)):
        ys[i] = ys[i - 1] + xs[i]
    total = 0.0
    for v in ys:
        total += v * v
    return total


@case(points=lambda r: _floats(r, 6, -2.0, 2.0))
def running_mean_variance(xs):
    """Welford's running mean and variance; returns mean + sample variance."""
    mean = 0.0
    m2 = 0.0
    n = 0
    for v in xs:
        n += 1
        delta = v - mean
        mean += delta / n
        m2 += delta * (v - mean)
    return mean + m2 / (n - 1)


@case(points=lambda r: list(_apart(r, 5, -3.0, 3.0, gap=0.05)))
def logsumexp(xs):
    top = xs[0]
    for i in range(1, len(xs)):
        top = max(top, xs[i])
    total = 0.0
    for v in xs:
        total += math.exp(v - top)
    return top + math.log(total)


@case(points=lambda r: _floats(r, 4, -2.0, 2.0))
def vector_norm(xs):
    total = 0.0
    for v in xs:
        total += v * v
    return math.sqrt(total)


@case(points=lambda r: _floats(r, 5, 0.2, 4.0))
def geometric_mean(xs):
    log_sum = 0.0
    for v in xs:
        log_sum += math.log(v)
    return math.exp(log_sum / len(xs))


@case(points=lambda r: (_floats(r, 4, -2.0, 2.0), r.uniform(-1.5, 1.5)), wrt=(0, 1))
def horner_coeffs(coeffs, x):
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


@case(points=lambda r: (r.uniform(-2, 2), r.uniform(-2, 2), _floats(r, 5, -2, 2),
                        _floats(r, 5, -2, 2)), wrt=("w", "b"))
def mse_loss(w, b, xs, ys):
    loss = 0.0
    for i in range(len(xs)):
        err = w * xs[i] + b - ys[i]
        loss += err * err
    return loss / len(xs)


@case(points=lambda r: (_floats(r, 3, -2.0, 2.0), r.uniform(-2.0, 2.0)), wrt=(0, 1))
def scale_in_place(xs, a):
    for i in range(len(xs)):
        xs[i] *= a
    return xs[0] + xs[-1] * xs[1]


@case(points=lambda r: (_floats(r, 4, -1.0, 1.0), r.uniform(0.5, 0.99)), wrt=(0, 1))
def discounted_returns(rewards, gamma):
    """Sum over steps of the discounted return-to-go."""
    returns = []
    for _ in rewards:
        returns.append(0.0)
    for i in range(len(rewards)):
        for j in range(i, len(rewards)):
            returns[i] += gamma ** (j - i) * rewards[j]
    total = 0.0
    for g in returns:
        total += g
    return total


@case(points=lambda r: _floats(r, 4, -2.0, 2.0))
def softmax_first(logits):
    total = 0.0
    for z in logits:
        total += math.exp(z)
    return math.exp(logits[0]) / total


# --- calls to helpers, module constants, closures -------------------------------------

SCALE = 2.5
OFFSET = 0.5
GRAVITY = 9.81


def quadratic(x, a=1.0, b=0.0):
    return a * x * x + b * x


@case(points=lambda r: r.uniform(-2.0, 2.0))
def quadratic_calls(x):
    return quadratic(x) + quadratic(x, 2.0, b=-3.0) + quadratic(b=0.5, x=x)


@case(points=lambda r: r.uniform(-4.0, 4.0))
def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


@case(points=lambda r: r.uniform(-4.0, 4.0))
def swish(x):
    return x * sigmoid(x)


@case(points=lambda r: (r.uniform(-3, 3), r.uniform(-3, 3)), wrt=(0, 1))
def swish_difference(x, y):
    return swish(x) - swish(0.5 * y)


def power_sum(x, n=3):
    total = 0.0
    for k in range(1, n + 1):
        total += x ** k
    return total


@case(points=lambda r: r.uniform(-1.5, 1.5))
def power_sum_user(x):
    return power_sum(x) + power_sum(x, n=5) / 2.0


def to_polar(x, y):
    return math.hypot(x, y), math.atan2(y, x)


@case(points=_polar, wrt=(0, 1))
def polar_roundtrip(x, y):
    radius, angle = to_polar(x, y)
    return radius * cos(angle) + radius ** 2 * sin(angle)


@case(points=lambda r: r.uniform(-2.0, 2.0))
def scaled_energy(x):
    return SCALE * x * x + OFFSET


@case(points=lambda r: (r.uniform(1.0, 20.0), r.uniform(0.2, 1.3)), wrt=("speed", "angle"))
def projectile_range(speed, angle):
    return speed ** 2 * math.sin(2.0 * angle) / GRAVITY


@case(points=lambda r: (r.uniform(-2, 2), r.uniform(-2, 2)), wrt=("x", "v"))
def spring_energy(x, v, k=2.0, mass=0.5):
    return 0.5 * k * x * x + 0.5 * mass * v * v


@case(points=lambda r: (r.uniform(3.0, 4.0), r.uniform(3.0, 4.0), r.uniform(3.0, 4.0)),
      wrt=(0, 1, 2))
def heron_area(a, b, c):
    s = (a + b + c) / 2.0
    return math.sqrt(s * (s - a) * (s - b) * (s - c))


def make_scaled_square(k):
    def scaled_square(x):
        return k * x * x
    return scaled_square


scaled_square = case(points=lambda r: r.uniform(-2.0, 2.0))(make_scaled_square(1.7))


def make_damped_wave(decay, freq):
    def damped_wave(t):
        return math.exp(-decay * t) * math.cos(freq * t)
    return damped_wave


damped_wave = case(points=lambda r: r.uniform(0.0, 5.0))(make_damped_wave(0.3, 2.0))


# --- docstrings, comments, annotations, assert, print -------------------------------

@case(points=lambda r: r.uniform(0.5, 2.0))
def annotated(x: float) -> float:
    """x squared plus its logarithm, with annotations."""
    # an annotated local, then an ordinary reassignment of it
    y: float = x * x
    y = y + math.log(x)
    return y


@case(points=lambda r: r.uniform(0.1, 4.0))
def checked_sqrt(x: float) -> float:
    assert x > 0, "checked_sqrt needs a positive argument"
    return math.sqrt(x) * 2.0


@case(points=lambda r: r.uniform(-1.0, 1.0))
def logged_step(x):
    print("step from", x)
    y = 0.9 * x + 0.1
    print("to", y)
    return y * y


# --- small simulations ----------------------------------------------------------------

@case(points=lambda r: (r.uniform(0.5, 2.0), r.uniform(0.1, 1.0), _int(r, 1, 20)), wrt=(0, 1))
def euler_ode(y0, k, steps):
    """Explicit Euler for y' = -k y + sin(y) with step 0.1."""
    dt = 0.1
    y = y0
    for _ in range(steps):
        y = y + dt * (-k * y + sin(y))
    return y


@case(points=lambda r: (r.uniform(2.5, 2.9), r.uniform(0.2, 0.8), _int(r, 1, 10)), wrt=(0, 1))
def logistic_map(rate, x0, n):
    x = x0
    for _ in range(n):
        x = rate * x * (1.0 - x)
    return x


@case(points=lambda r: (r.uniform(-3, 3), _int(r, 0, 2)))
def logistic_loss(z, label):
    return m.log1p(m.exp(-z)) if label == 1 else m.log1p(m.exp(z))


@case(points=lambda r: (r.uniform(0.5, 2.0), r.uniform(-1.0, 1.0), r.uniform(0.1, 0.5),
                        _int(r, 5, 40)), wrt=(0, 1, 2))
def pendulum(angle, velocity, damping, steps):
    """Semi-implicit Euler for a damped pendulum; returns the final energy."""
    dt = 0.05
    for _ in range(steps):
        velocity += dt * (-math.sin(angle) - damping * velocity)
        angle += dt * velocity
    return 0.5 * velocity * velocity + (1.0 - math.cos(angle))


@case(points=lambda r: (r.uniform(-1, 1), r.uniform(-1, 1), r.uniform(-1, 1), r.uniform(-1, 1)),
      wrt=(0, 1, 2, 3))
def distance(x1, y1, x2, y2):
    return math.hypot(x2 - x1 + 3.0, y2 - y1)


# --- not in CORPUS: stop_gradient, checked by hand in test_corpus.py -------------------

def stopped_product(x):
    return x * s2sgrad.stop_gradient(x)  # d/dx = x, not 2x


def stopped_normalize(x, y):
    norm = s2sgrad.stop_gradient(math.sqrt(x * x + y * y))
    return x / norm  # d/dx = 1/norm, d/dy = 0


assert len({c.name for c in CORPUS}) == len(CORPUS), "corpus function names must be unique"
