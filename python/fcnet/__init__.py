"""fcnet: fully-connected neural-network classifiers with a C++ core.

- fcnet.TwoLayerNet, fcnet.FullyConnectedNet: the networks of CS231n's assignments 1 and 2, with
  parameters in NumPy arrays and loss/gradients computed by the library.
- fcnet.MLPClassifier: a scikit-learn style classifier trained by the library's trainer.
- fcnet.load(path) / fcnet.Model: model files, the same ones the `fcnet` command line uses.
- fcnet.Error: what the library raises (a ValueError and a RuntimeError), with its message.
"""

from ._fcnet import Error, cpu_instruction_sets, num_threads, set_num_threads
from ._fcnet import __version__
from .cs231n import FullyConnectedNet, TwoLayerNet
from .estimator import MLPClassifier
from .model import Model, load

__all__ = [
    "Error",
    "FullyConnectedNet",
    "MLPClassifier",
    "Model",
    "TwoLayerNet",
    "cpu_instruction_sets",
    "load",
    "num_threads",
    "set_num_threads",
    "__version__",
]
