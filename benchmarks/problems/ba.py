"""Bundle adjustment (ADBench's definition): the reprojection error of every observation
and its Jacobian, one 2 x 15 block per observation (11 camera parameters, 3 point
coordinates, 1 weight).  The weight rows (w_err = 1 - w^2, derivative -2w) are left out:
they need no AD.

Observation i sees camera i % n and point i % m; the functions take the per-observation
copies (cams[i], points[i], weights[i], features[i]), so that a vector-Jacobian product with
the cotangent 1 in row r of every observation gives row r of every block: two VJPs give
the whole sparse Jacobian.  Every tool computes it that way (s2sgrad.vjp, jax.vjp,
autograd.make_vjp, torch.autograd.grad with grad_outputs).

- reprojection_errors: loop-style over observations, the Rodrigues rotation with its
  small-angle branch as an `if` (s2sgrad numba);
- reprojection_vectorized: NumPy over all observations, the branch as np.where with a safe
  theta and the cross products written out (as when s2sgrad had no rule for np.cross) (s2sgrad
  python, JAX, autograd); reprojection_torch the same in PyTorch.

Camera layout: rotation (Rodrigues vector) 0:3, centre 3:6, focal length 6, principal
point 7:9, radial distortion 9:11.  File: `n m p`, one camera, one point, one weight, one
feature (the reader repeats them).
"""
import math

import numpy as np

from benchmarks import peers
from benchmarks.harness import Case, Tool, data_path

BLOCK = 15


def read_ba(path, observations=None):
    """(cams, points, weights, features), one row per observation (the first `observations`)."""
    with open(path) as f:
        numbers = f.read().split()
    n, m, p = (int(v) for v in numbers[:3])
    values = np.array(numbers[3:], dtype=float)
    camera, point, weight, feature = values[:11], values[11:14], values[14], values[15:17]
    cams = np.tile(camera, (n, 1))
    pts = np.tile(point, (m, 1))
    count = p if observations is None else min(p, observations)
    index = np.arange(count)
    return (np.ascontiguousarray(cams[index % n]), np.ascontiguousarray(pts[index % m]),
            np.full(count, weight), np.tile(feature, (count, 1)))


def reprojection_errors(cams, points, weights, features):
    """(p, 2) weighted reprojection errors, one observation a loop iteration."""
    p = cams.shape[0]
    err = np.zeros((p, 2))
    for i in range(p):
        x0 = points[i, 0] - cams[i, 3]
        x1 = points[i, 1] - cams[i, 4]
        x2 = points[i, 2] - cams[i, 5]
        r0 = cams[i, 0]
        r1 = cams[i, 1]
        r2 = cams[i, 2]
        sqtheta = r0 * r0 + r1 * r1 + r2 * r2
        if sqtheta != 0.0:
            theta = math.sqrt(sqtheta)
            cos_t = math.cos(theta)
            sin_t = math.sin(theta)
            w0 = r0 / theta
            w1 = r1 / theta
            w2 = r2 / theta
            tmp = (w0 * x0 + w1 * x1 + w2 * x2) * (1.0 - cos_t)
            y0 = x0 * cos_t + (w1 * x2 - w2 * x1) * sin_t + w0 * tmp
            y1 = x1 * cos_t + (w2 * x0 - w0 * x2) * sin_t + w1 * tmp
            y2 = x2 * cos_t + (w0 * x1 - w1 * x0) * sin_t + w2 * tmp
        else:
            y0 = x0 + (r1 * x2 - r2 * x1)
            y1 = x1 + (r2 * x0 - r0 * x2)
            y2 = x2 + (r0 * x1 - r1 * x0)
        p0 = y0 / y2
        p1 = y1 / y2
        rsq = p0 * p0 + p1 * p1
        distortion = 1.0 + cams[i, 9] * rsq + cams[i, 10] * rsq * rsq
        focal = cams[i, 6]
        err[i, 0] = weights[i] * (focal * distortion * p0 + cams[i, 7] - features[i, 0])
        err[i, 1] = weights[i] * (focal * distortion * p1 + cams[i, 8] - features[i, 1])
    return err


def reprojection_vectorized(cams, points, weights, features):
    """reprojection_errors over all observations at once."""
    x = points - cams[:, 3:6]
    rot = cams[:, 0:3]
    sqtheta = np.sum(rot * rot, axis=1)
    nonzero = sqtheta != 0.0
    theta = np.sqrt(np.where(nonzero, sqtheta, 1.0))  # 1.0: no 0/0 in the branch not taken
    w = rot / theta[:, None]
    cos_t = np.cos(theta)[:, None]
    sin_t = np.sin(theta)[:, None]
    w_dot_x = np.sum(w * x, axis=1)[:, None]
    # the cross products written out (s2sgrad had no rule for np.cross then; the same for every tool)
    w_cross_x = np.stack([w[:, 1] * x[:, 2] - w[:, 2] * x[:, 1], w[:, 2] * x[:, 0] - w[:, 0] * x[:, 2],
                          w[:, 0] * x[:, 1] - w[:, 1] * x[:, 0]], axis=1)
    rot_cross_x = np.stack([rot[:, 1] * x[:, 2] - rot[:, 2] * x[:, 1], rot[:, 2] * x[:, 0] - rot[:, 0] * x[:, 2],
                            rot[:, 0] * x[:, 1] - rot[:, 1] * x[:, 0]], axis=1)
    rodrigues = x * cos_t + w_cross_x * sin_t + w * (w_dot_x * (1.0 - cos_t))
    rotated = np.where(nonzero[:, None], rodrigues, x + rot_cross_x)
    projected = rotated[:, 0:2] / rotated[:, 2:3]
    rsq = np.sum(projected * projected, axis=1)
    distortion = 1.0 + cams[:, 9] * rsq + cams[:, 10] * rsq * rsq
    reprojected = (cams[:, 6] * distortion)[:, None] * projected + cams[:, 7:9]
    return weights[:, None] * (reprojected - features)


def reprojection_torch(cams, points, weights, features):
    import torch
    x = points - cams[:, 3:6]
    rot = cams[:, 0:3]
    sqtheta = (rot * rot).sum(1)
    nonzero = sqtheta != 0.0
    theta = torch.sqrt(torch.where(nonzero, sqtheta, torch.ones_like(sqtheta)))
    w = rot / theta[:, None]
    cos_t = torch.cos(theta)[:, None]
    sin_t = torch.sin(theta)[:, None]
    w_dot_x = (w * x).sum(1)[:, None]
    rodrigues = x * cos_t + torch.linalg.cross(w, x) * sin_t + w * (w_dot_x * (1.0 - cos_t))
    rotated = torch.where(nonzero[:, None], rodrigues, x + torch.linalg.cross(rot, x))
    projected = rotated[:, 0:2] / rotated[:, 2:3]
    rsq = (projected * projected).sum(1)
    distortion = 1.0 + cams[:, 9] * rsq + cams[:, 10] * rsq * rsq
    reprojected = (cams[:, 6] * distortion)[:, None] * projected + cams[:, 7:9]
    return weights[:, None] * (reprojected - features)


def blocks(rows):
    """(p, 2, 15) Jacobian blocks from the two VJPs' (d_cams, d_points, d_weights), every
    tool's rows assembled by the same compiled loop.  NumPy's strided copies into
    out[:, r, :11] took 2.7x the numba objective (per-row overhead on rows of 11, 3 and
    1 values), more than one of its VJPs; ADBench's C++ harness writes the Jacobian in
    compiled code too."""
    rows = [[np.ascontiguousarray(np.asarray(part), dtype=np.float64) for part in row] for row in rows]
    out = np.empty((len(rows[0][0]), len(rows), BLOCK))
    for r, (c, q, w) in enumerate(rows):
        _fill_row(out, r, c, q, w)
    return out


def _fill_row(out, r, cams, points, weights):
    """Row r of every block: the camera's 11 entries, the point's 3, the weight's."""
    global _fill_row
    import numba

    @numba.njit(cache=True)
    def fill(out, r, cams, points, weights):
        for i in range(out.shape[0]):
            for j in range(11):
                out[i, r, j] = cams[i, j]
            for j in range(3):
                out[i, r, 11 + j] = points[i, j]
            out[i, r, 14] = weights[i]
    _fill_row = fill
    fill(out, r, cams, points, weights)


def seeds(p):
    """The two cotangents: 1 in column r of every observation."""
    return [np.outer(np.ones(p), np.eye(2)[r]) for r in range(2)]


def s2sgrad_rows(fn, args, backend):
    def build():
        import s2sgrad
        objective = fn
        if backend == "numba":
            import numba
            objective = numba.njit(fn)
        vjp = s2sgrad.vjp(fn, wrt=(0, 1, 2), backend=backend)
        cotangents = seeds(len(args[0]))
        return (lambda: objective(*args)), (lambda: blocks([vjp(*args, c) for c in cotangents]))
    return build


def jax_rows(args):
    def build():
        jax = peers.load("jax")
        jfn = peers.with_numpy(reprojection_vectorized, jax.numpy)

        def jacobian_rows(cams, points, weights, features, cotangents):
            value, pullback = jax.vjp(lambda c, q, w: jfn(c, q, w, features), cams, points, weights)
            return [pullback(c) for c in cotangents]
        objective = jax.jit(jfn)
        rows = jax.jit(jacobian_rows)
        jargs = [jax.numpy.asarray(a) for a in args]
        cotangents = [jax.numpy.asarray(c) for c in seeds(len(args[0]))]
        return ((lambda: jax.block_until_ready(objective(*jargs))),
                (lambda: blocks(jax.block_until_ready(rows(*jargs, cotangents)))))
    return build


def autograd_rows(args):
    def build():
        autograd = peers.load("autograd")
        afn = peers.with_numpy(reprojection_vectorized, peers.load("autograd.numpy"))
        cotangents = seeds(len(args[0]))

        def jacobian_rows():
            pullback, _ = autograd.make_vjp(afn, argnum=(0, 1, 2))(*args)
            return blocks([pullback(c) for c in cotangents])
        return (lambda: afn(*args)), jacobian_rows
    return build


def torch_rows(args):
    """Eager PyTorch: one forward with a graph, two backward passes through it."""
    def build():
        torch = peers.load("torch")
        cams, points, weights = (torch.tensor(a, requires_grad=True) for a in args[:3])
        features = torch.tensor(args[3])
        cotangents = [torch.tensor(c) for c in seeds(len(args[0]))]

        def objective():
            with torch.no_grad():
                return reprojection_torch(cams, points, weights, features)

        def jacobian_rows():
            err = reprojection_torch(cams, points, weights, features)
            return blocks([[t.numpy() for t in torch.autograd.grad(err, (cams, points, weights), c,
                                                                   retain_graph=True)] for c in cotangents])
        return objective, jacobian_rows
    return build


def cases(quick):
    """All 31,843 observations of ba1; quick: the first 10."""
    args = read_ba(data_path("ba", "ba1_n49_m7776_p31843.txt"), 10 if quick else None)
    note = f"{len(args[0]):,} observations, 2 VJPs"
    reference = torch_rows(args)
    return [Case(f"BA ba1 ({len(args[0]):,} obs)", lambda: reference()[1](), "PyTorch autograd", [
        Tool("s2sgrad python", s2sgrad_rows(reprojection_vectorized, args, "python"), note),
        Tool("JAX jit", jax_rows(args), note),
        Tool("PyTorch eager", torch_rows(args), note),
        Tool("HIPS autograd", autograd_rows(args), note),
        Tool("s2sgrad numba", s2sgrad_rows(reprojection_errors, args, "numba"), note + ", loop-style"),
    ])]
