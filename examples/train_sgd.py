"""Training the MLP of classifiers.py with plain SGD, and the zero_grad lesson.

In PyTorch, loss.backward() *adds* into each parameter's .grad, so a training loop
clears them every step:

    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    for step in range(20):
        optimizer.zero_grad()      # leave this out and .grad holds the sum of every step so far
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()           # p -= lr * p.grad

s2sgrad keeps no state: each call of the generated gradient computes new arrays from the
arguments it is given, so there is nothing to zero and calling it twice gives the same
gradient twice.  train(..., forget_zero_grad=True) reproduces, on purpose, what PyTorch
does when zero_grad is forgotten: it steps along the running sum of all gradients so far,
a different algorithm (momentum that never decays), whose loss goes up and down instead
of decreasing step after step.
tests/test_seed_models.py checks both curves against the PyTorch loops above.

Run:  python examples/train_sgd.py
"""
import numpy as np

import s2sgrad
from classifiers import mlp_loss, mlp_problem

LR = 0.2
STEPS = 20


def train(params, data, steps=STEPS, lr=LR, forget_zero_grad=False):
    """SGD on mlp_loss: (the loss before each step, the final parameters)."""
    vg = s2sgrad.value_and_grad(mlp_loss, wrt=tuple(range(len(params))))
    params = [np.array(p, dtype=float) for p in params]  # copies: the caller's arrays stay as they are
    summed = None
    losses = []
    for _ in range(steps):
        value, grads = vg(*params, *data)  # fresh gradients: no zero_grad needed
        if forget_zero_grad:  # what PyTorch's .grad holds when zero_grad is left out
            summed = list(grads) if summed is None else [s + g for s, g in zip(summed, grads)]
            grads = summed
        params = [p - lr * g for p, g in zip(params, grads)]
        losses.append(float(value))
    return losses, params


def main():
    params, data = mlp_problem()
    g = s2sgrad.grad(mlp_loss, wrt=tuple(range(len(params))))
    first, second = g(*params, *data), g(*params, *data)
    same = all(np.array_equal(a, b) for a, b in zip(first, second))
    print(f"two calls of the gradient at the same point give the same arrays: {same}")
    print("(in PyTorch, two loss.backward() calls without zero_grad leave .grad = 2 x the gradient)")
    print()
    good, _ = train(params, data)
    bad, _ = train(params, data, forget_zero_grad=True)
    print(f"SGD, lr={LR}, {STEPS} steps on the MLP (loss before each step)")
    print(" step   fresh gradients   gradients summed (zero_grad forgotten)")
    for step, (a, b) in enumerate(zip(good, bad)):
        print(f" {step:4d}   {a:15.9f}   {b:15.9f}")
    ups = [sum(later > earlier for earlier, later in zip(c, c[1:])) for c in (good, bad)]
    print(f"steps where the loss went up: {ups[0]} with fresh gradients, {ups[1]} with summed ones")


if __name__ == "__main__":
    main()
