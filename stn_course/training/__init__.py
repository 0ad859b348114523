"""One training loop for every chapter and for the benchmark.

Example (chapters: shrink ``steps`` and the data with ``config.pick``)::

    import torch
    from stn_course import distortions, training
    from stn_course.data import table1_splits
    from stn_course.models import build_model

    train, val, test = table1_splits("R")                 # (images, labels) tensor pairs
    def rotate(images, generator):                        # fresh distortions for every batch
        return distortions.apply("R", images, generator)[0]

    torch.manual_seed(0)
    model = build_model("st-cnn-aff", "R")
    hist = training.fit(model, train, val, steps=3000, batch_size=128, lr=1e-3, optimizer="adam",
                        schedule="cosine", augment=rotate, checkpoint="/tmp/run.pt")
    print(hist.best_val_error, training.evaluate(model, test))   # {"loss", "error" (%), "n"}

``train``/``val`` may also be any (map-style) Dataset yielding ``(image, label)``; ``hist.loss``
holds the loss of every step, ``hist.val_steps``/``hist.val_error`` the periodic validation error.

What ``fit`` does, step by step: draw a batch (the order depends only on ``seed`` and the
step number), optionally distort it on the device (``augment``), take one optimiser step at
the scheduled learning rate, record the loss; every ``eval_every`` steps measure the
validation error and keep the best weights; every ``checkpoint_every`` steps write the whole
state (model, optimiser, random generators, history) to ``checkpoint``. Calling ``fit`` again
with the same arguments after an interruption resumes from the checkpoint and ends with the
same weights, on a CPU bit for bit, as a run that was never interrupted: for tensors and for
Datasets (whose items are drawn with the global generator seeded from (seed, step, index), so
random transforms repeat whatever ``num_workers``), with dropout or any other use of the global
generator in the model. A checkpoint carries a fingerprint of everything that changes the run
(the settings, the functions passed in by their code, the precision, the model's architecture
and the training data); one of another run is refused.

Under ``torchrun`` (``WORLD_SIZE > 1``) each process takes its share of every batch and the
gradients are averaged with :class:`~torch.nn.parallel.DistributedDataParallel`; only rank 0
evaluates, writes checkpoints and shows progress.

One module per part: :mod:`~.batches` (the order of batches), :mod:`~.optim` (optimiser and
schedule), :mod:`~.devices` (devices, precision, distribution), :mod:`~.evaluation`,
:mod:`~.fingerprint` and :mod:`~.checkpoint` (what identifies a run, and saving and resuming it),
:mod:`~.average` (the moving average of the weights), :mod:`~.history` and :mod:`~.loop`
(:func:`fit` itself).
"""

from .average import WeightAverage
from .batches import StepBatchSampler, step_generator
from .checkpoint import save_checkpoint
from .devices import cpu_bf16_supported, resolve_device
from .evaluation import as_float, evaluate
from .history import History, TrainingDiverged
from .loop import fit, set_seed
from .optim import lr_factor, make_optimizer, param_groups

__all__ = ["History", "TrainingDiverged", "fit", "evaluate", "lr_factor", "param_groups", "make_optimizer",
           "StepBatchSampler", "step_generator", "save_checkpoint", "set_seed", "resolve_device",
           "cpu_bf16_supported", "WeightAverage", "as_float"]
