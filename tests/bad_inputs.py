"""Functions s2sgrad must refuse, each with a clear error pointing at the bad construct.

Used by tests/test_errors.py.  In every function the line holding the offending
construct carries the marker comment ``# <- here`` (exactly one such line per
function); the tests find the line number and the construct's column from this file
at test time, so the functions can be edited or moved freely.
"""
import math

COUNTER = 0.0
SCALES = [1.0, 2.0]


# 1. a generator
def gen_square(x):
    yield x * x  # <- here


# 2. an async function
async def async_square(x):  # <- here
    return x * x


# 3. a function defined in the body
def nested_def(x):
    if x > 0.0:
        def inner(t):  # <- here
            return t * t
    return inner(x)


# 4. a class defined in the body
def nested_class(x):
    class Box:  # <- here
        value = 2.0
    return x * x


# 5. a global write
def global_write(x):
    global COUNTER  # <- here
    COUNTER = x
    return x * x


# 6. a nonlocal write, in a closure
def make_accumulator():
    total = 0.0

    def accumulate(x):
        nonlocal total  # <- here
        total = total + x
        return total * x

    return accumulate


accumulate = make_accumulator()


# 7. recursion, direct and mutual
def fact(x, n):
    if n == 0:
        return 1.0
    return x * fact(x, n - 1)  # <- here


def ping(x, n):
    if n <= 0:
        return x
    return 2.0 * pong(x, n - 1)


def pong(x, n):
    return x + ping(x, n - 1)  # <- here


# 8. exec and eval
def uses_exec(x):
    exec("y = 1")  # <- here
    return x * x


def uses_eval(x):
    return x * eval("3.0")  # <- here


# 9. calls to C functions that have no derivative rule
def gamma_active(x):
    return x * math.gamma(x)  # <- here


def lgamma_active(x):
    return math.lgamma(x) + x  # <- here


def gamma_active_indirect(x):
    t = 2.0 * x + 1.0
    return math.gamma(t)  # <- here


def gamma_of_constant(x):
    return x * math.gamma(3.0)


def gamma_of_inactive_param(x, n):
    return x * x * math.gamma(n)


def gamma_of_inactive_local(x, n):
    k = n + 1
    return math.lgamma(k) * x


# 10. a tuple output given to grad
def pair(x):
    return x * x, 3.0 * x  # <- here


# 11. an undefined name
def undefined_name(x):
    return x * no_such_name_anywhere  # noqa: F821  # <- here


# 12. a lambda and a dict comprehension in the body
def lambda_in_body(x):
    return (lambda t: t * t)(x)  # <- here


def comprehension_in_body(xs):
    ys = {k: t * t for k, t in enumerate(xs)}  # <- here
    return ys[0] + ys[1]


# 13. (wrt errors use this plain function)
def one_param(x):
    return x * x


# 14. a lambda given to grad directly
square_lambda = (
    lambda x: x * x)  # noqa: E731  # <- here


# 15. with, try, *args, **kwargs
def with_block(x):
    with open(__file__) as fh:  # <- here
        fh.read()
    return x * x


def try_block(x):
    try:  # <- here
        y = x * x
    except ValueError:
        y = 0.0
    return y


def star_args(x, *rest):  # <- here
    return x * x


def star_kwargs(x, **options):  # <- here
    return x * x


# 16. writing into a global array (or a closure's): s2sgrad reads it as a constant
def global_element_write(x):
    SCALES[0] = x * 2.0  # <- here
    return SCALES[0] * x


def closure_element_write(x):
    buf = [0.0]

    def store(v):
        buf[0] = v  # <- here
        return v

    return store(x) * x
