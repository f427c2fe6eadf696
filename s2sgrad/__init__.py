"""s2sgrad: source-to-source automatic differentiation for Python.

    import s2sgrad
    g = s2sgrad.grad(f)          # reverse mode, generated from f's source
    g(1.5)                       # the gradient
    print(g.source)              # the generated code, plain Python
    s2sgrad.symbolic(f)          # sympy's closed form of the derivative, to compare with
"""
from . import testing
from .api import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .custom import custom_derivative
from .errors import (ArgumentError, BackendError, CompileError, ExpressionSwellError, GraphvizError,
                     NonScalarOutputError, NotClosedFormError, OptionError, RecursiveCallError, S2SGradError,
                     SourceUnavailableError, UndefinedNameError, UnsupportedCallError, UnsupportedSyntaxError,
                     WrtError)
from .frontend import stop_gradient
from .teaching.compare import compare
from .teaching.graph import graph
from .teaching.symbolic import symbolic

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp", "stop_gradient", "custom_derivative",
           "symbolic", "compare", "graph", "testing", "S2SGradError",
           "ArgumentError", "BackendError", "CompileError", "NonScalarOutputError", "OptionError",
           "RecursiveCallError", "SourceUnavailableError", "UndefinedNameError", "UnsupportedCallError",
           "UnsupportedSyntaxError", "WrtError",
           "NotClosedFormError", "ExpressionSwellError", "GraphvizError"]
__version__ = "0.1.0"
