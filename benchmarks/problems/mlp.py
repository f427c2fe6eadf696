"""The TinyModel MLP step: PyTorch's tutorial model (Linear 1000->100, Linear 100->10,
batch of 16; examples/tiny_model.py), here with tanh and a softmax cross-entropy loss on
a fixed random batch and labels; gradient with respect to the four weights.  The weights
follow torch.nn.Linear's convention: y = x @ W.T + b."""
import numpy as np

from benchmarks import tools
from benchmarks.harness import Case

N_IN, N_HIDDEN, N_OUT = 1000, 100, 10


def mlp_loss(W1, b1, W2, b2, x, onehot):
    hidden = np.tanh(x @ W1.T + b1)
    logits = hidden @ W2.T + b2
    peak = np.max(logits, axis=1, keepdims=True)
    log_softmax = logits - peak - np.log(np.sum(np.exp(logits - peak), axis=1, keepdims=True))
    return -np.sum(onehot * log_softmax) / x.shape[0]


def mlp_loss_torch(W1, b1, W2, b2, x, onehot):
    import torch
    hidden = torch.tanh(x @ W1.T + b1)
    logits = hidden @ W2.T + b2
    return -(onehot * torch.log_softmax(logits, 1)).sum() / x.shape[0]


def batch(size, seed=0):
    """(W1, b1, W2, b2, x, onehot): torch.nn.Linear's initialisation, inputs in [0, 1)."""
    rng = np.random.default_rng(seed)
    bound1, bound2 = 1.0 / np.sqrt(N_IN), 1.0 / np.sqrt(N_HIDDEN)
    W1 = rng.uniform(-bound1, bound1, (N_HIDDEN, N_IN))
    b1 = rng.uniform(-bound1, bound1, N_HIDDEN)
    W2 = rng.uniform(-bound2, bound2, (N_OUT, N_HIDDEN))
    b2 = rng.uniform(-bound2, bound2, N_OUT)
    x = rng.random((size, N_IN))
    onehot = np.eye(N_OUT)[rng.integers(0, N_OUT, size)]
    return W1, b1, W2, b2, x, onehot


def cases(quick):
    """A batch of 16; quick: 4."""
    args = batch(4 if quick else 16)
    wrt = (0, 1, 2, 3)
    return [Case(f"MLP {N_IN}-{N_HIDDEN}-{N_OUT} batch {len(args[4])}",
                 lambda: tools.torch_gradient(mlp_loss_torch, args, wrt), "PyTorch autograd",
                 tools.vectorized_peers(mlp_loss, mlp_loss_torch, args, wrt))]
