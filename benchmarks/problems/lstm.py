"""LSTM (ADBench's definition): a 2-layer LSTM predicts each next character of a
1024-character sequence, 14 wide; the objective is minus the mean log-softmax of the true
next character.  Gradient with respect to the main parameters (weight and bias of each
layer, alternating rows, 4b each) and the extra ones (input scale, output scale, output
bias).

One layer step on input x with weight W, bias B, hidden h and cell s:
gates = concat(x, h, x, h) * W + B; forget, in, out = sigmoid of the first three quarters,
change = tanh of the last; s = s*forget + in*change; h = out*tanh(s).  The hidden and cell
states are carried from one character to the next.

- lstm_vectorized: NumPy on width-b vectors, loops over characters and layers, the states
  in lists (s2sgrad python, autograd);
- lstm_jax: the same step in jax.lax.scan over the characters (jit of the Python loop
  would trace all 1023 steps: minutes of XLA compilation);
- lstm_loop: loop-style over the b entries, as a numba user writes it (s2sgrad numba);
- lstm_torch: PyTorch, the reference.

File: `l c b`; 2l lines of 4b main parameters; 3 lines of b extra parameters; 2l lines of
b state values (hidden, cell per layer); c lines of b sequence values.
"""
import math

import numpy as np

from benchmarks import peers, tools
from benchmarks.harness import Case, Tool, data_path


def read_lstm(path):
    """(main_params (2l, 4b), extra_params (3, b), state (2l, b), sequence (c, b))."""
    with open(path) as f:
        numbers = f.read().split()
    layers, chars, width = (int(v) for v in numbers[:3])
    values = np.array(numbers[3:], dtype=float)
    main_size = 2 * layers * 4 * width
    main = values[:main_size].reshape(2 * layers, 4 * width)
    extra = values[main_size:main_size + 3 * width].reshape(3, width)
    start = main_size + 3 * width
    state = values[start:start + 2 * layers * width].reshape(2 * layers, width)
    sequence = values[start + 2 * layers * width:].reshape(chars, width)
    return main, extra, state, sequence


def lstm_vectorized(main_params, extra_params, state, sequence):
    layers = main_params.shape[0] // 2
    b = sequence.shape[1]
    hidden = [state[2 * i] for i in range(layers)]
    cell = [state[2 * i + 1] for i in range(layers)]
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        x = sequence[t] * extra_params[0]
        for i in range(layers):
            gates = np.concatenate([x, hidden[i], x, hidden[i]]) * main_params[2 * i] + main_params[2 * i + 1]
            forget = 1.0 / (1.0 + np.exp(-gates[0:b]))
            ingate = 1.0 / (1.0 + np.exp(-gates[b:2 * b]))
            outgate = 1.0 / (1.0 + np.exp(-gates[2 * b:3 * b]))
            change = np.tanh(gates[3 * b:4 * b])
            cell[i] = cell[i] * forget + ingate * change
            hidden[i] = outgate * np.tanh(cell[i])
            x = hidden[i]
        ypred = x * extra_params[1] + extra_params[2]
        lse = np.log(np.sum(np.exp(ypred)))
        total = total + np.sum(sequence[t + 1] * (ypred - lse))
    return -total / ((sequence.shape[0] - 1) * b)


def lstm_loop(main_params, extra_params, state, sequence):
    layers = main_params.shape[0] // 2
    b = sequence.shape[1]
    s = np.zeros((2 * layers, b))
    for i in range(2 * layers):
        for j in range(b):
            s[i, j] = state[i, j]
    x = np.zeros(b)
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        for j in range(b):
            x[j] = sequence[t, j] * extra_params[0, j]
        for i in range(layers):
            w = 2 * i
            for j in range(b):
                h = s[w, j]
                forget = 1.0 / (1.0 + math.exp(-(x[j] * main_params[w, j] + main_params[w + 1, j])))
                ingate = 1.0 / (1.0 + math.exp(-(h * main_params[w, b + j] + main_params[w + 1, b + j])))
                outgate = 1.0 / (1.0 + math.exp(-(x[j] * main_params[w, 2 * b + j] + main_params[w + 1, 2 * b + j])))
                change = math.tanh(h * main_params[w, 3 * b + j] + main_params[w + 1, 3 * b + j])
                s[w + 1, j] = s[w + 1, j] * forget + ingate * change
                s[w, j] = outgate * math.tanh(s[w + 1, j])
                x[j] = s[w, j]
        sum_exp = 0.0
        for j in range(b):
            sum_exp += math.exp(x[j] * extra_params[1, j] + extra_params[2, j])
        lse = math.log(sum_exp)
        for j in range(b):
            total += sequence[t + 1, j] * (x[j] * extra_params[1, j] + extra_params[2, j] - lse)
    return -total / ((sequence.shape[0] - 1) * b)


def lstm_torch(main_params, extra_params, state, sequence):
    import torch
    layers = main_params.shape[0] // 2
    b = sequence.shape[1]
    hidden = [state[2 * i] for i in range(layers)]
    cell = [state[2 * i + 1] for i in range(layers)]
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        x = sequence[t] * extra_params[0]
        for i in range(layers):
            gates = torch.cat([x, hidden[i], x, hidden[i]]) * main_params[2 * i] + main_params[2 * i + 1]
            forget, ingate, outgate = (torch.sigmoid(gates[q * b:(q + 1) * b]) for q in range(3))
            cell[i] = cell[i] * forget + ingate * torch.tanh(gates[3 * b:])
            hidden[i] = outgate * torch.tanh(cell[i])
            x = hidden[i]
        ypred = x * extra_params[1] + extra_params[2]
        total = total + (sequence[t + 1] * (ypred - torch.logsumexp(ypred, 0))).sum()
    return -total / ((sequence.shape[0] - 1) * b)


def lstm_jax(jax, main_params, extra_params, state, sequence):
    jnp = jax.numpy
    layers = main_params.shape[0] // 2
    b = sequence.shape[1]

    def step(carry, pair):
        hidden, cell = carry
        current, following = pair
        x = current * extra_params[0]
        new_hidden, new_cell = [], []
        for i in range(layers):
            gates = jnp.concatenate([x, hidden[i], x, hidden[i]]) * main_params[2 * i] + main_params[2 * i + 1]
            forget, ingate, outgate = (jax.nn.sigmoid(gates[q * b:(q + 1) * b]) for q in range(3))
            new_cell.append(cell[i] * forget + ingate * jnp.tanh(gates[3 * b:]))
            new_hidden.append(outgate * jnp.tanh(new_cell[i]))
            x = new_hidden[i]
        ypred = x * extra_params[1] + extra_params[2]
        return (jnp.stack(new_hidden), jnp.stack(new_cell)), jnp.sum(following * (ypred - jax.nn.logsumexp(ypred)))

    _, terms = jax.lax.scan(step, (state[0::2], state[1::2]), (sequence[:-1], sequence[1:]))
    return -jnp.sum(terms) / ((sequence.shape[0] - 1) * b)


def jax_scan(args):
    def build():
        jax = peers.load("jax")
        objective = jax.jit(lambda *a: lstm_jax(jax, *a))
        gradient = jax.jit(jax.grad(lambda *a: lstm_jax(jax, *a), argnums=(0, 1)))
        jargs = [jax.numpy.asarray(a) for a in args]
        return (lambda: jax.block_until_ready(objective(*jargs))), (lambda: jax.block_until_ready(gradient(*jargs)))
    return Tool("JAX jit", build, "lax.scan")


def cases(quick):
    """lstm_l2_c1024; quick: its first 4 characters."""
    main, extra, state, sequence = read_lstm(data_path("lstm", "lstm_l2_c1024.txt"))
    if quick:
        sequence = sequence[:4]
    args = (main, extra, state, sequence)
    wrt = (0, 1)
    return [Case(f"LSTM l=2 c={len(sequence)}", lambda: tools.torch_gradient(lstm_torch, args, wrt), "PyTorch autograd",
                 [tools.s2sgrad_python(lstm_vectorized, args, wrt), jax_scan(args),
                  tools.torch_eager(lstm_torch, args, wrt), tools.hips_autograd(lstm_vectorized, args, wrt),
                  tools.s2sgrad_numba(lstm_loop, args, wrt, note="loop-style")])]
