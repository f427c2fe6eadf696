"""Newton's method on the Rosenbrock function, with the Hessian from s2sgrad.

The gradient is reverse mode; the Hessian is forward mode over the gradient's own
generated code (forward over reverse).  Run: python examples/newton.py
"""
import numpy as np

import s2sgrad


def rosenbrock(x):
    total = 0.0
    for i in range(len(x) - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def main():
    grad = s2sgrad.grad(rosenbrock)
    hessian = s2sgrad.hessian(rosenbrock)
    x = np.array([-1.2, 1.0])  # the classic start
    for step in range(30):
        g = grad(x)
        if np.linalg.norm(g) < 1e-10:
            break
        x = x - np.linalg.solve(hessian(x), g)  # the Newton step
        print(f"step {step + 1:2d}  f = {rosenbrock(x):.3e}  |grad| = {np.linalg.norm(grad(x)):.3e}")
    print("minimum at", x)
    print("\nThe Hessian's tangent code, generated from the gradient's code:\n")
    print(hessian.rows[0]._forward.source.split("def jvp_grad_rosenbrock")[1][:1200])


if __name__ == "__main__":
    main()
