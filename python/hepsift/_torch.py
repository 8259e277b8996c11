"""PyTorch helpers shared by hepsift's neural estimators (imported only when torch is needed).

Seeding, mini-batch training, thread control, NumPy copies of module states and the ONNX
export of a ``torch.nn.Module`` whose forward pass already holds the score head.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "load_numpy_state",
    "progress",
    "set_metadata",
    "state_to_numpy",
    "torch_seed",
    "torch_threads",
    "torch_to_onnx",
    "train_minibatches",
]


def torch_to_onnx(
    module: Any, n_inputs: int, opset: int, *, input_name: str = "features", output_name: str = "score"
) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
    """Export ``module`` (float32 ``(n, n_inputs)`` -> ``(n, k)``) with the TorchScript exporter.

    Returns
    -------
    (onnx.ModelProto, native) where ``native(X)`` evaluates the module in float32 and returns
    ``(n,)`` for ``k == 1`` else ``(n, k)``.
    """
    import onnx
    import torch

    module = module.eval()
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "m.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (torch.zeros(2, n_inputs),), f, input_names=[input_name], output_names=[output_name],
                dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}}, opset_version=opset,
                dynamo=False,
            )
        proto = onnx.load(f)

    def native(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = module(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy()
        y = y.reshape(len(y), -1)
        return y[:, 0] if y.shape[1] == 1 else y

    return proto, native


def set_metadata(proto: Any, values: Mapping[str, Any]) -> None:
    """Add (or replace) string metadata properties of an ``onnx.ModelProto``."""
    existing = {p.key: p for p in proto.metadata_props}
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        if key in existing:
            existing[key].value = text
        else:
            p = proto.metadata_props.add()
            p.key, p.value = key, text


def state_to_numpy(module: Any) -> dict[str, np.ndarray]:
    """Copy of the ``state_dict`` of a ``torch.nn.Module`` as NumPy arrays (picklable without torch)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_numpy_state(module: Any, state: Mapping[str, np.ndarray]) -> None:
    """Load a state written by :func:`state_to_numpy` into ``module`` (in place)."""
    import torch

    module.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})


def torch_seed(seed: int) -> Any:
    """Seed torch's global generator and return a dedicated ``torch.Generator`` for shuffling."""
    import torch

    torch.manual_seed(int(seed))
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def iterate_minibatches(n: int, batch_size: int, generator: Any) -> Any:
    """Yield index tensors of a random permutation of ``range(n)`` in chunks of ``batch_size``."""
    import torch

    perm = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield perm[start : start + batch_size]


def train_minibatches(
    xt: Any, generator: Any, batch_loss: Callable[[Any], Any], optimizer: Any, *, epochs: int, batch_size: int,
    desc: str, show_progress: bool, scheduler: Any = None, max_grad_norm: float | None = None,
) -> list[float]:
    """Minimise ``batch_loss`` over shuffled mini-batches of the training events.

    Parameters
    ----------
    xt : torch.Tensor, shape (n_events, ...); the training events
    generator : torch.Generator that shuffles the events (see :func:`torch_seed`)
    batch_loss : callable mapping a batch ``xt[idx]`` to a scalar loss tensor
    optimizer : torch optimizer over the trained parameters
    epochs, batch_size : passes over ``xt`` and events per step
    desc, show_progress : label of the progress bar over epochs, and whether to show it
    scheduler : learning-rate scheduler stepped after every epoch, optional
    max_grad_norm : clip the gradient norm of the optimizer's parameters before every step, optional

    Returns
    -------
    list of float: the event-weighted mean loss of each epoch
    """
    import torch

    clipped = [p for group in optimizer.param_groups for p in group["params"]] if max_grad_norm is not None else []
    history = []
    for _ in progress(range(int(epochs)), desc=desc, enabled=show_progress):
        total = 0.0
        for idx in iterate_minibatches(len(xt), int(batch_size), generator):
            loss = batch_loss(xt[idx])
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(clipped, max_grad_norm)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        if scheduler is not None:
            scheduler.step()
        history.append(total / len(xt))
    return history


def progress(iterable: Any, *, desc: str, enabled: bool) -> Any:
    """A tqdm progress bar when ``enabled`` (and tqdm is installed), else the iterable."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return iterable
    return tqdm(iterable, desc=desc, leave=False)


class torch_threads:
    """``with torch_threads(1):`` runs the block with that many torch intra-op threads.

    The networks here are small: one thread trains them fastest and does not compete with
    other processes on a shared machine. ``n <= 0`` leaves torch's setting unchanged.
    """

    def __init__(self, n: int = 1) -> None:
        self.n = int(n)

    def __enter__(self) -> None:
        import torch

        self._saved = torch.get_num_threads()
        if self.n > 0:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self._saved)
