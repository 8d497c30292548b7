"""One Keras trainer for every family; the families differ only by ``recipe.step``.

Speed: the whole of ``run_steps`` is one ``tf.function`` call. Inside it a graph while loop
gathers each batch from the images (one device tensor) through the epoch's permutation, draws
noise from a ``tf.random.Generator`` and runs the step; metrics are summed on the device and
read back once. Where it pays (see :func:`use_xla`) the loop is also compiled with XLA.

Several devices (``config.devices > 1``): a ``tf.distribute.MirroredStrategy`` over the first N
GPUs, or N logical CPU devices. The networks, optimisers and noise generator are created under
its scope; each step runs once per replica (``strategy.run``) on that replica's shard of the
global batch (``config.batch_size``, which N must divide) with its own noise, the optimisers sum
the replicas' gradients of losses scaled by 1/N (so the update is the global batch's), and the
metrics are averaged over the replicas. The trainer is still one process, so sampling,
checkpoints and the registry are done once. No XLA on that path.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from ganzoo.cards import Recipe
from ganzoo.conditioning import training_labels
from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.protocols import METRIC_KEYS, TrainConfig
from ganzoo.training.config import check_batch_size, epoch_steps
from ganzoo_keras.builder import build_network, random_states
from ganzoo_keras.canonical import from_canonical, to_canonical
from ganzoo_keras.data import epoch_permutation, images_to_tensor
from ganzoo_keras.distributed import mirrored_strategy
from ganzoo_keras.inference import KerasGenerator
from ganzoo_keras.losses import loss_for, penalty_for, reports_probabilities
from ganzoo_keras.optimizers import make_optimizer
from ganzoo_keras.runtime import keras, resolve_device, tf
from ganzoo_keras.steps import GanSteps, penalty_term

PARTS = ("generator", "discriminator")
CONV_KINDS = ("conv", "conv_transpose")
# XLA's compile takes seconds longer than tracing; below this many steps it does not pay back.
XLA_MIN_STEPS = 200


def use_xla(recipe: Recipe, config: TrainConfig, steps_per_epoch: int) -> bool:
    """Whether to compile the training loop with XLA.

    ``config.extra["xla"]`` (true/false) decides when given, else ``config.compile=True`` asks
    for it. Otherwise XLA is used where it was measured not to hurt on this project's 2-core
    CPU: networks without convolutions (seed004's small dense GAN: about 1.3x the images/s;
    seed002's: even, now that Adam is fused), in runs long enough to repay the few seconds of
    compiling. XLA's CPU convolutions (transposed ones above all) ran about 10x slower than
    TensorFlow's own kernels, so convolutional recipes stay off unless asked.
    """
    if "xla" in config.extra:
        return bool(config.extra["xla"])
    if config.compile:
        return True
    layers = (*recipe.generator.layers, *recipe.discriminator.layers)
    dense_only = not any(layer.kind in CONV_KINDS for layer in layers)
    return dense_only and config.epochs * steps_per_epoch >= XLA_MIN_STEPS


class KerasTrainer:
    """Networks, optimisers, noise and data of one run; implements ``ganzoo.protocols.Trainer``.

    State names (besides the canonical ``generator.*`` / ``discriminator.*`` weights):
    ``optim.<part>.<j>`` for the optimiser's variables in Keras' order (iteration counter,
    learning rate, then slots), ``rng.noise`` for the noise generator's state and
    ``rng.<part>.<layer>.<j>`` for Keras seed-generator states (dropout).

    ``config.extra["deterministic"]`` turns on TensorFlow's op determinism (needed on GPUs).
    ``steps`` (a :class:`~ganzoo_keras.steps.GanSteps`) holds the networks, optimisers and
    step functions, for tests and tools that drive single updates.

    ``strategy`` is the ``MirroredStrategy`` when ``config.devices > 1`` (else ``None``);
    ``replicas`` its number of devices. State and weights read the first replica's copies,
    which the strategy keeps identical to the others.

    One step is one generator update; with ``recipe.d_steps_per_g = k`` it first makes k
    discriminator updates, each on its own batch, so a step consumes k batches, an epoch (one
    pass over the images) has ``n // (batch_size * k)`` steps and ``max_steps`` caps steps.
    """

    def __init__(self, recipe: Recipe, config: TrainConfig, images: np.ndarray,
                 labels: np.ndarray | None = None):
        self.recipe = recipe
        self.config = config
        self.batch_size = int(config.batch_size)
        self.replicas = int(config.devices)
        if self.replicas < 1:
            raise UsageError(f"--devices must be at least 1, not {self.replicas}")
        self.strategy: tf.distribute.Strategy | None = None
        if self.replicas > 1:
            check_batch_size(self.batch_size, self.replicas)
            # Before anything else touches TensorFlow: logical CPUs are set up only then.
            self.strategy = mirrored_strategy(self.replicas, config.device)
            self.device = self.strategy.extended.worker_devices[0]
        else:
            self.device = resolve_device(config.device)
        n = int(np.shape(images)[0])
        self.batches_per_step = recipe.d_steps_per_g
        # The last partial step's batches are dropped; the batch size is checked in the core.
        self.steps_per_epoch = epoch_steps(n, self.batch_size, self.batches_per_step,
                                           replicas=self.replicas, max_steps=config.max_steps)
        self._n = n
        # A conditional recipe's class labels (checked: one per image, in range).
        checked = training_labels(recipe, labels, n)

        if config.extra.get("deterministic"):
            # Process-wide and one-way; CPU runs are bitwise reproducible without it, GPU
            # kernels (cuDNN convolutions, scatter/segment sums) are not.
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        dtype = "mixed_bfloat16" if config.amp else "float32"
        # Under a strategy its scope places the variables (mirrored on every replica).
        placement = self.strategy.scope() if self.strategy else tf.device(self.device)
        with tf.device(self.device):
            self.images = images_to_tensor(images, recipe.image_shape, self.device)
            self.labels = None if checked is None else tf.constant(checked, tf.int32)
        with placement:
            sync = self.strategy is not None  # batch norm over the global batch
            self.generator = build_network(recipe.generator, "generator", dtype, sync)
            self.discriminator = build_network(recipe.discriminator, "discriminator", dtype,
                                               sync)
            self.optimizers = {part: make_optimizer(recipe.optimizers[part]) for part in PARTS}
            for part in PARTS:
                # Built now so that load_state has every slot to assign.
                self.optimizers[part].build(self._model(part).trainable_variables)
            self.noise_rng = tf.random.Generator.from_seed(config.seed)
            # Fake images' labels: uniform over the classes, their own seeded generator.
            self.label_rng = (None if checked is None
                              else tf.random.Generator.from_seed(config.seed + 0x1ABE1))

        penalty = penalty_for(recipe)
        self.steps = GanSteps(self.generator, self.discriminator,
                              self.optimizers["generator"], self.optimizers["discriminator"],
                              self._noise, recipe.d_batches, loss_scale=1.0 / self.replicas,
                              loss=loss_for(recipe),
                              probabilities=reports_probabilities(recipe),
                              penalty=None if penalty is None else penalty_term(
                                  penalty, self.discriminator, recipe.penalty.weight,
                                  self._uniform),
                              d_steps_per_g=self.batches_per_step,
                              fake_labels=None if self.label_rng is None else self._labels)
        self._step = self.steps.by_name(recipe.step)
        self.xla = use_xla(recipe, config, self.steps_per_epoch) and self.strategy is None
        image_spec = tf.TensorSpec((n, *recipe.image_shape), tf.float32)
        # A partial, not the bound method: TF keys its "frequent retracing" warning on the code
        # object, so every trainer in a process would count against one budget.
        self._run = tf.function(
            functools.partial(KerasTrainer._loop, self),
            jit_compile=self.xla,
            input_signature=[image_spec, tf.TensorSpec((n,), tf.int32),
                             tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.int32),
                             *([] if self.labels is None else [tf.TensorSpec((n,), tf.int32)])],
        )
        self._perm_epoch: int | None = None
        self._perm: tf.Tensor | None = None

    # -- the loop ---------------------------------------------------------------------------

    def _model(self, part: str) -> keras.Model:
        return self.generator if part == "generator" else self.discriminator

    def _noise(self, batch: int) -> tf.Tensor:
        shape = (batch, self.recipe.latent_dim)
        if self.recipe.noise == "uniform":
            return self.noise_rng.uniform(shape, -1.0, 1.0, dtype=tf.float32)
        return self.noise_rng.normal(shape, dtype=tf.float32)

    def _labels(self, batch: int) -> tf.Tensor:
        # maxval is exclusive: labels in [0, classes).
        return self.label_rng.uniform((batch,), 0, int(self.recipe.classes), dtype=tf.int32)

    def _uniform(self, n: int) -> tf.Tensor:
        # A penalty's interpolation weights: from the noise generator (seeded, saved).
        return self.noise_rng.uniform((n,), 0.0, 1.0, dtype=tf.float32)

    def _loop(self, images: tf.Tensor, perm: tf.Tensor, start: tf.Tensor,
              count: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        # A plain while loop and a gathered index (not ``for i in tf.range`` and ``tf.slice``):
        # those make XLA treat ``start`` and ``count`` as constants and recompile every call.
        batch = self.batch_size * self.batches_per_step  # images one step takes
        offsets = tf.range(batch)
        totals = tf.zeros([len(METRIC_KEYS)], tf.float32)
        i = tf.constant(0)
        while i < count:
            index = tf.gather(perm, (start + i) * batch + offsets)
            real = (tf.gather(images, index),) if labels is None else (
                tf.gather(images, index), tf.gather(labels, index))
            if self.strategy is None:
                totals += self._step(*real)
            else:
                totals += self._replicated_step(*real)
            i += 1
        return totals / tf.cast(count, tf.float32)

    def _replicated_step(self, batch: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """One step on every replica, each on its shard of ``batch``; the replicas' mean metrics."""
        shard = self.batch_size // self.replicas
        k = self.batches_per_step

        def replica_step(images: tf.Tensor, *rest: tf.Tensor) -> tf.Tensor:
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            # This replica's shard of each of the step's k batches, with a static shape (the
            # steps read it) from a dynamic replica id.
            batches = tf.reshape(images, [k, self.batch_size, *self.recipe.image_shape])
            mine = tf.reshape(
                tf.slice(batches, tf.stack([0, replica * shard, 0, 0, 0]),
                         [k, shard, *self.recipe.image_shape]),
                [k * shard, *self.recipe.image_shape])
            if not rest:
                return self._step(mine)
            ys = tf.reshape(rest[0], [k, self.batch_size])
            return self._step(mine, tf.reshape(
                tf.slice(ys, tf.stack([0, replica * shard]), [k, shard]), [k * shard]))

        args = (batch,) if labels is None else (batch, labels)
        metrics = self.strategy.run(replica_step, args=args)
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, metrics, axis=None)

    def _permutation(self, epoch: int) -> tf.Tensor:
        if self._perm_epoch != epoch:
            with tf.device(self.device):
                self._perm = tf.identity(epoch_permutation(self._n, self.config.seed, epoch))
            self._perm_epoch = epoch
        return self._perm

    def run_steps(self, epoch: int, start: int, count: int) -> dict[str, float]:
        """Run steps ``start .. start+count-1`` of ``epoch``; their mean metrics."""
        if count < 1 or start < 0 or start + count > self.steps_per_epoch:
            raise ValueError(f"steps {start}..{start + count - 1} are outside the epoch's "
                             f"{self.steps_per_epoch} steps")
        perm = self._permutation(epoch)
        with tf.device(self.device):
            means = self._run(self.images, perm, tf.constant(start, tf.int32),
                              tf.constant(count, tf.int32),
                              *([] if self.labels is None else [self.labels]))
        return dict(zip(METRIC_KEYS, (float(v) for v in means.numpy()), strict=True))

    # -- outputs ------------------------------------------------------------------------------

    def sample(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Images from ``noise`` (conditional: and ``labels``) with the generator in inference
        mode (NHWC float32)."""
        generator = KerasGenerator(self.generator, self.recipe.latent_dim, self.device)
        if self.labels is None:
            return generator.generate(noise)
        return generator.generate(noise, labels)

    def weights(self) -> dict[str, np.ndarray]:
        """Both networks' weights under canonical names."""
        return {name: value for part in PARTS
                for name, value in to_canonical(self._model(part), part).items()}

    # -- state --------------------------------------------------------------------------------

    def _state_variables(self) -> dict[str, tf.Variable]:
        """Every variable besides the weights that a resumed run needs, by state name."""
        out: dict[str, tf.Variable] = {}
        for part in PARTS:
            for j, var in enumerate(self.optimizers[part].variables):
                out[f"optim.{part}.{j}"] = var
            for i, layer in enumerate(self._model(part).layers):
                for j, var in enumerate(random_states(layer)):
                    out[f"rng.{part}.{i}.{j}"] = var
        out["rng.noise"] = self.noise_rng.state
        if self.label_rng is not None:
            out["rng.labels"] = self.label_rng.state
        return out

    def state(self) -> dict[str, np.ndarray]:
        """Weights, optimiser variables and random states, as numpy arrays."""
        out = self.weights()
        for name, var in self._state_variables().items():
            out[name] = np.array(var.numpy())
        return out

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned (same recipe): the run continues exactly."""
        variables = self._state_variables()
        values = {}
        for name, var in variables.items():
            if name not in state:
                raise WeightsFileError(f"state '{name}' is missing from the checkpoint")
            value, want = np.asarray(state[name]), tuple(var.shape)
            if value.shape != want and not (want == () and value.shape == (1,)):
                # (1,) for a scalar is tolerated: np.ascontiguousarray makes one of a 0-d array.
                raise WeightsFileError(f"state '{name}' has shape {value.shape}, "
                                       f"expected {want}")
            values[name] = value.reshape(want).astype(_numpy_dtype(var))
        for part in PARTS:
            from_canonical(self._model(part), part, state)
        for name, var in variables.items():
            var.assign(values[name])


def _numpy_dtype(var: tf.Variable) -> np.dtype:
    # Keras variables name their dtype with a string, tf.Variables with a tf.DType.
    return np.dtype(getattr(var.dtype, "name", var.dtype))
