"""Write generated program text to a real module file and import it: s2sgrad reads
function source with inspect, so property tests cannot exec their programs in memory."""
import importlib.util
import itertools
import os
import tempfile

_counter = itertools.count()


def load(source: str, prefix: str = "prop"):
    """The function `f` of a module with this source text."""
    folder = tempfile.mkdtemp(prefix=f"s2sgrad_{prefix}_")
    path = os.path.join(folder, f"{prefix}_{next(_counter)}.py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f
