"""The class-conditional DCGAN (issue 13's ``cgan``): label embedding into G, projection D.

Cross-backend parity (the same canonical weights give the same outputs, losses and one-step
updates in torch and Keras), the label's effect, the unlabelled-dataset error, sampling by label
and by class, export/import keeping the conditional metadata, and eval's label accuracy.

Tolerances: outputs and losses agree to ``rtol=1e-4, atol=1e-4`` (float32, different kernels
and summation orders, 6,272-term dense sums); one SGD step's updated weights to ``atol=1e-5``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os

import numpy as np
import pytest

from ganzoo.cards import OptimizerSpec, builtin_cards, parse_card
from ganzoo.conditioning import balanced_labels, training_labels
from ganzoo.errors import CardError, UnlabeledDatasetError, UsageError

torch = pytest.importorskip("torch")
if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed", allow_module_level=True)

from ganzoo_torch.builder import build_network  # noqa: E402
from ganzoo_torch.canonical import canonical_weights  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.keras]

RTOL = ATOL = 1e-4
STEP_ATOL = 1e-5
BATCH = 8
CARD = next(c for c in builtin_cards() if c.family == "cgan")
RECIPE = CARD.recipe()


def _keras():
    from ganzoo.frameworks import import_tensorflow

    import_tensorflow()  # torch first, then TensorFlow
    from ganzoo_keras.builder import build_network as keras_build
    from ganzoo_keras.canonical import from_canonical, to_canonical

    return keras_build, from_canonical, to_canonical


def _torch_nets(seed: int = 0):
    torch.manual_seed(seed)
    return build_network(RECIPE.generator).eval(), build_network(RECIPE.discriminator).eval()


def _keras_nets(weights):
    keras_build, from_canonical, _ = _keras()
    g = keras_build(RECIPE.generator, "generator")
    d = keras_build(RECIPE.discriminator, "discriminator")
    from_canonical(g, "generator", weights)
    from_canonical(d, "discriminator", weights)
    return g, d


def _batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((BATCH, RECIPE.latent_dim)).astype(np.float32)
    y = np.arange(BATCH, dtype=np.int64) % RECIPE.classes
    x = rng.uniform(-1, 1, (BATCH, *RECIPE.image_shape)).astype(np.float32)
    return z, y, x


def _t_forward(net, x, y):
    t = torch.from_numpy(x)
    if t.dim() == 4:
        t = t.permute(0, 3, 1, 2)
    with torch.no_grad():
        out = net(t, torch.from_numpy(y))
    return (out.permute(0, 2, 3, 1) if out.dim() == 4 else out).numpy()


# -- the card ----------------------------------------------------------------------------------


def test_card_counts_match_torch_and_keras_builds():
    g, d = _torch_nets()
    keras_build, _, _ = _keras()
    counts = RECIPE.parameter_counts()
    assert counts == RECIPE.expected_params
    for part, net in (("generator", g), ("discriminator", d)):
        trainable = sum(p.numel() for p in net.parameters())
        frozen = sum(b.numel() for n, b in net.named_buffers() if "num_batches" not in n)
        assert (trainable, frozen) == (counts[f"{part}_trainable"],
                                       counts[f"{part}_non_trainable"])
        model = keras_build(getattr(RECIPE, part), part)
        assert model.count_params() == trainable + frozen
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == trainable
    assert RECIPE.conditional and RECIPE.classes == 10
    assert RECIPE.generator.tensor_shapes("generator")["generator.embedding.weight"] == (10, 50)
    assert RECIPE.discriminator.tensor_shapes("discriminator")[
        "discriminator.embedding.weight"] == (10, 7 * 7 * 128)


def _card_text(**changes: str) -> str:
    from importlib import resources

    text = resources.files("ganzoo_registry").joinpath("cgan.toml").read_text()
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text


def test_card_refuses_penalties_and_a_projection_without_a_one_unit_dense_end():
    with pytest.raises(CardError, match=r"penalty.*conditional discriminator"):
        parse_card(_card_text(**{'step = "alternating"\n': 'step = "alternating"\n'
                                 'penalty = { name = "r1", weight = 10 }\n'}), "cgan.toml")
    with pytest.raises(CardError, match="projection discriminator must end in a dense"):
        parse_card(_card_text(**{'    { type = "dense", units = 1 },\n]':
                                 '    { type = "dense", units = 1 },\n'
                                 '    { type = "tanh" },\n]'}), "cgan.toml")
    with pytest.raises(CardError, match=r"conditioning\.generator"):
        parse_card(_card_text(**{'generator = "concat"': 'generator = "multiply"'}),
                   "cgan.toml")


# -- cross-backend parity ----------------------------------------------------------------------


def test_generator_and_discriminator_outputs_and_losses_agree_across_backends():
    from ganzoo_keras.losses import loss_for as keras_loss
    from ganzoo_keras.runtime import tf
    from ganzoo_torch.losses import loss_for as torch_loss

    g, d = _torch_nets()
    weights = {**canonical_weights(g, "generator"), **canonical_weights(d, "discriminator")}
    kg, kd = _keras_nets(weights)
    z, y, x = _batch()
    t_images = _t_forward(g, z, y)
    k_images = kg([z, y.astype(np.int32)], training=False).numpy()
    np.testing.assert_allclose(t_images, k_images, rtol=RTOL, atol=ATOL)
    t_logits = _t_forward(d, x, y)
    k_logits = kd([x, y.astype(np.int32)], training=False).numpy()
    np.testing.assert_allclose(t_logits, k_logits, rtol=RTOL, atol=ATOL)
    t_fake = _t_forward(d, t_images, y)
    k_fake = kd([k_images, y.astype(np.int32)], training=False).numpy()
    tl, kl = torch_loss(RECIPE), keras_loss(RECIPE)
    for name in ("real", "fake", "generator"):
        logits = t_logits if name == "real" else t_fake
        k = k_logits if name == "real" else k_fake
        t_value = float(getattr(tl, name)(torch.from_numpy(logits)))
        k_value = float(getattr(kl, name)(tf.constant(k)))
        assert t_value == pytest.approx(k_value, rel=RTOL, abs=ATOL), name


def test_label_changes_the_generator_and_the_discriminator_in_both_backends():
    g, d = _torch_nets()
    weights = {**canonical_weights(g, "generator"), **canonical_weights(d, "discriminator")}
    kg, kd = _keras_nets(weights)
    z, _, x = _batch()
    zeros, threes = np.zeros(BATCH, np.int64), np.full(BATCH, 3, np.int64)
    a, b = _t_forward(g, z, zeros), _t_forward(g, z, threes)
    assert np.abs(a - b).mean() > 1e-3  # the same z, another class: another image
    ka = kg([z, zeros.astype(np.int32)], training=False).numpy()
    kb = kg([z, threes.astype(np.int32)], training=False).numpy()
    assert np.abs(ka - kb).mean() > 1e-3
    da, db = _t_forward(d, x, zeros), _t_forward(d, x, threes)
    assert np.abs(da - db).min() > 1e-4  # D(x, y) depends on y for every image
    # ... by exactly the projection: <embed(3) - embed(0), h>.
    kda = kd([x, zeros.astype(np.int32)], training=False).numpy()
    kdb = kd([x, threes.astype(np.int32)], training=False).numpy()
    np.testing.assert_allclose(db - da, kdb - kda, rtol=RTOL, atol=ATOL)


def _comparable(step: str, loss: str = "bce_logits", d_batches: str = "separate"):
    sgd = OptimizerSpec("sgd", {"lr": 1.0, "momentum": 0.0})  # updates well above float noise
    return dataclasses.replace(RECIPE, step=step, loss=loss, d_batches=d_batches,
                               optimizers={"generator": sgd, "discriminator": sgd})


class _Queue:
    def __init__(self, batches, convert):
        self.batches, self.convert, self.drawn = list(batches), convert, 0

    def __call__(self, n):
        batch = self.batches[self.drawn]
        assert len(batch) == n
        self.drawn += 1
        return self.convert(batch)


def _draws(recipe):
    return 1 if recipe.step == "simultaneous" else recipe.d_steps_per_g + 1


def _config(backend: str):
    from ganzoo.protocols import TrainConfig

    return TrainConfig(model_id=f"cgan-{backend}", recipe=RECIPE.name, dataset="random",
                       batch_size=BATCH, seed=0, device="cpu", max_steps=1,
                       extra={"torch_threads": 1} if backend == "torch" else {})


@pytest.mark.parametrize(("step", "loss", "d_batches"), [
    ("simultaneous", "bce_logits", "separate"), ("alternating", "bce_logits", "separate"),
    ("combined", "bce_logits", "concat"), ("alternating", "hinge", "separate"),
])
def test_one_training_step_updates_the_same_weights_in_torch_and_keras(step, loss, d_batches):
    from ganzoo_keras.backend import create_backend as keras_backend
    from ganzoo_keras.runtime import tf
    from ganzoo_torch.backend import create_backend as torch_backend

    recipe = _comparable(step, loss, d_batches)
    rng = np.random.default_rng(1)
    real = rng.uniform(-1, 1, (BATCH, *recipe.image_shape)).astype(np.float32)
    real_labels = rng.integers(0, 10, BATCH)
    noise = [rng.standard_normal((BATCH, recipe.latent_dim)).astype(np.float32)
             for _ in range(_draws(recipe))]
    fake_labels = [rng.integers(0, 10, BATCH) for _ in range(_draws(recipe))]
    images = np.zeros((BATCH, *recipe.image_shape), np.uint8)
    labels = np.zeros(BATCH, np.int64)

    t = torch_backend(None).create_trainer(recipe, _config("torch"), images, labels)
    initial = t.weights()
    t.steps.noise = _Queue(noise, torch.from_numpy)
    t.steps.fake_labels = _Queue(fake_labels, torch.from_numpy)
    with t.rng.active():
        t_metrics = t.steps.by_name(step)(torch.from_numpy(real).permute(0, 3, 1, 2).contiguous(),
                                          torch.from_numpy(real_labels))
    k = keras_backend(None).create_trainer(recipe, _config("keras"), images, labels)
    from ganzoo_keras.canonical import from_canonical

    for part in ("generator", "discriminator"):
        from_canonical(getattr(k, part), part, initial)
    k.steps.noise = _Queue(noise, tf.constant)
    k.steps.fake_labels = _Queue(fake_labels, lambda b: tf.constant(b, tf.int32))
    k_metrics = np.asarray(k.steps.by_name(step)(tf.constant(real),
                                               tf.constant(real_labels, tf.int32)))
    assert t.steps.noise.drawn == k.steps.noise.drawn == len(noise)
    for i in range(4):  # d_loss, g_loss, d_real, d_fake
        assert float(t_metrics[i]) == pytest.approx(float(k_metrics[i]), rel=RTOL, abs=ATOL)
    after_t, after_k = t.weights(), k.weights()
    assert after_t.keys() == after_k.keys() == initial.keys()
    for key in ("generator.embedding.weight", "discriminator.embedding.weight"):
        assert np.abs(after_t[key] - initial[key]).max() > 10 * STEP_ATOL, key  # trained
    for key in initial:
        np.testing.assert_allclose(after_t[key], after_k[key], rtol=0, atol=STEP_ATOL,
                                   err_msg=key)


# -- data --------------------------------------------------------------------------------------


def test_training_labels_are_checked():
    assert training_labels(RECIPE, np.array([0, 9, 3], np.uint8), 3).tolist() == [0, 9, 3]
    with pytest.raises(UnlabeledDatasetError, match="no class labels"):
        training_labels(RECIPE, None, 3, "mine/train")
    with pytest.raises(UnlabeledDatasetError, match=r"labels in \[0, 10\].*10 classes"):
        training_labels(RECIPE, np.array([0, 10, 3]), 3)
    with pytest.raises(UnlabeledDatasetError, match="2 labels for 3 images"):
        training_labels(RECIPE, np.array([0, 1]), 3)
    assert UnlabeledDatasetError.exit_code == 2
    unconditional = next(c for c in builtin_cards() if c.family == "dcgan").recipe()
    assert training_labels(unconditional, None, 3) is None


def test_balanced_labels_give_every_class_its_share_in_a_seeded_order():
    labels = balanced_labels(1003, 10, seed=4)
    assert np.bincount(labels).tolist() == [101, 101, 101] + [100] * 7
    assert (labels == balanced_labels(1003, 10, seed=4)).all()
    assert (labels != balanced_labels(1003, 10, seed=5)).any()


# -- the CLI: train, sample, export/import, eval -----------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home with cgan-torch@1 (3 steps on the bundled split) and mlp-torch@1."""
    from typer.testing import CliRunner

    from ganzoo.cli.app import app
    from ganzoo.cli.console import load_catalog

    path = tmp_path_factory.mktemp("cgan-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANZOO_HOME", str(path))
        mp.setenv("GANZOO_PLUGINS", "torch,keras")
        mp.setenv("OMP_NUM_THREADS", "1")
        load_catalog.cache_clear()
        runner = CliRunner()
        for model in ("cgan-torch", "mlp-torch"):
            result = runner.invoke(app, ["train", model, "--data", "fashion", "--split",
                                         "bundled-test", "--epochs", "1", "--max-steps", "3",
                                         "--batch-size", "16", "--no-progress"])
            assert result.exit_code == 0, result.output
        load_catalog.cache_clear()
    return path


@pytest.fixture
def in_home(home, monkeypatch, cli):
    monkeypatch.setenv("GANZOO_HOME", str(home))
    monkeypatch.setenv("GANZOO_PLUGINS", "torch,keras")
    return cli


def test_training_writes_conditional_metadata_and_a_grid_with_one_row_per_class(home):
    from PIL import Image

    from ganzoo.class_grid import PAD
    from ganzoo.weights import read_metadata

    version = home / "models" / "cgan-torch" / "1"
    meta = read_metadata(version / "weights.safetensors")
    assert meta["conditional"] is True and meta["classes"] == 10
    assert "conditional" not in read_metadata(home / "models" / "mlp-torch" / "1" /
                                              "weights.safetensors")
    width, height = Image.open(version / "samples.png").size
    # 8 columns, 10 rows of 28x28 (pad 2), scaled 2x.
    assert (width, height) == (2 * (8 * 30 + PAD), 2 * (10 * 30 + PAD))


def test_training_on_a_dataset_without_labels_fails_before_training(in_home, monkeypatch, home):
    import ganzoo.data

    real_load = ganzoo.data.load_dataset

    def unlabelled(*args, **kwargs):
        return dataclasses.replace(real_load(*args, **kwargs), labels=None)

    monkeypatch.setattr(ganzoo.data, "load_dataset", unlabelled)
    before = sorted(os.listdir(home / "models" / "cgan-torch"))
    result = in_home("train", "cgan-torch", "--split", "bundled-test", "--max-steps", "1",
                     "--no-progress")
    assert result.exit_code == 2, result.output
    assert "no class labels" in result.output and "conditional" in result.output
    assert sorted(os.listdir(home / "models" / "cgan-torch")) == before  # nothing registered


def test_sample_by_class_draws_ten_labelled_rows(in_home, tmp_path):
    from PIL import Image

    from ganzoo.class_grid import LABEL_WIDTH, PAD, class_grid_size

    out = tmp_path / "grid.png"
    result = in_home("sample", "cgan-torch@latest", "--by-class", "-o", str(out))
    assert result.exit_code == 0, result.output
    picture = np.asarray(Image.open(out))
    assert picture.shape[::-1][:2] == class_grid_size(10, 8, (28, 28, 1))
    margin = picture[:, : 2 * LABEL_WIDTH]
    row = 2 * (28 + PAD)
    for c in range(10):  # every row has its class name written left of it
        assert (margin[c * row:(c + 1) * row] > 128).sum() > 20, c
    assert (margin[10 * row:] == 0).all()
    # Row c was drawn for class c: the images are G(z, c), the same z in every row.
    from ganzoo.catalog import Catalog
    from ganzoo.images import make_grid
    from ganzoo.noise import draw_noise
    from ganzoo.sampling import load_generator_from_file, weights_path_for

    catalog = Catalog.load(plugins=["torch"])
    generator, meta = load_generator_from_file(catalog, weights_path_for("cgan-torch@1"))
    noise = draw_noise(meta["noise"], 80, meta["latent_dim"], 0)
    want = make_grid(generator.generate(noise, np.repeat(np.arange(10), 8)), 8)[..., 0]
    assert (picture[::2, 2 * LABEL_WIDTH::2] == want).all()


def test_sample_label_makes_every_image_of_that_class(in_home, tmp_path, home):
    from ganzoo.catalog import Catalog
    from ganzoo.images import make_grid
    from ganzoo.noise import draw_noise
    from ganzoo.sampling import load_generator_from_file

    out = tmp_path / "three.png"
    result = in_home("sample", "cgan-torch@1", "--label", "3", "-n", "9", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "of class 3" in result.output
    generator, meta = load_generator_from_file(
        Catalog.load(plugins=["torch"]), home / "models" / "cgan-torch" / "1" /
        "weights.safetensors")
    noise = draw_noise(meta["noise"], 9, meta["latent_dim"], 0)
    from PIL import Image

    written = np.asarray(Image.open(out))[::2, ::2]
    assert (written == make_grid(generator.generate(noise, np.full(9, 3)))[..., 0]).all()
    assert not (written == make_grid(generator.generate(noise, np.full(9, 4)))[..., 0]).all()


@pytest.mark.parametrize(("args", "words"), [
    (("cgan-torch@1", "--label", "10"), "outside cgan-torch@1's classes 0-9"),
    (("cgan-torch@1", "--label", "-1"), "outside"),
    (("mlp-torch@1", "--label", "3"), "not class-conditional"),
    (("mlp-torch@1", "--by-class"), "not class-conditional"),
    (("cgan-torch@1", "--label", "1", "--by-class"), "exclude each other"),
])
def test_sample_refuses_bad_labels(in_home, tmp_path, args, words):
    result = in_home("sample", *args, "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert not (tmp_path / "x.png").exists()


def test_export_import_across_backends_keeps_the_conditional_model(in_home, tmp_path):
    from ganzoo.catalog import Catalog
    from ganzoo.noise import draw_noise
    from ganzoo.sampling import load_generator_from_file
    from ganzoo.weights import read_metadata

    exported = tmp_path / "cgan.safetensors"
    assert in_home("export", "cgan-torch@1", "-o", str(exported)).exit_code == 0
    assert read_metadata(exported)["classes"] == 10
    result = in_home("import", str(exported), "--backend", "keras")
    assert result.exit_code == 0, result.output
    catalog = Catalog.load(plugins=["torch", "keras"])
    keras_gen, meta = load_generator_from_file(catalog, exported, "keras")
    torch_gen, _ = load_generator_from_file(catalog, exported, "torch")
    assert keras_gen.classes == torch_gen.classes == 10
    noise = draw_noise(meta["noise"], 10, meta["latent_dim"], 0)
    labels = np.arange(10)
    np.testing.assert_allclose(keras_gen.generate(noise, labels),
                               torch_gen.generate(noise, labels), rtol=RTOL, atol=ATOL)
    out = tmp_path / "k.png"
    assert in_home("sample", "cgan-keras@latest", "--by-class", "-o", str(out)).exit_code == 0


def test_eval_reports_label_accuracy_and_per_class_fid(in_home):
    result = in_home("eval", "cgan-torch@1", "-n", "400", "--json")
    assert result.exit_code == 0, result.output
    cond = json.loads(result.stdout)["results"]["conditional"]
    assert cond["classes"] == 10 and 0.0 <= cond["label_accuracy"] <= 1.0
    assert len(cond["label_accuracy_by_class"]) == 10
    assert cond["per_class_min_n"] == 150
    assert cond["per_class_skipped"] == list(range(10))  # 40 per class: too few
    table = in_home("eval", "cgan-torch@1", "-n", "400")
    assert "Label accuracy" in table.output
    plain = in_home("eval", "mlp-torch@1", "-n", "400", "--json")
    assert "conditional" not in json.loads(plain.stdout)["results"]


class _FakeConditional:
    """A conditional 'generator' returning real test images: of the asked class (``honest``)
    or of any class (ignoring the label)."""

    latent_dim = 4
    classes = 10

    def __init__(self, honest: bool):
        from ganzoo.catalog import Catalog
        from ganzoo.data import load_dataset

        data = load_dataset(Catalog.load(entry_points=False), "fashion", "bundled-test")
        images = data.images if data.images.ndim == 4 else data.images[..., None]
        self.images = images.astype(np.float32) / 127.5 - 1
        self.labels = np.asarray(data.labels)
        self.honest = honest
        self.rng = np.random.default_rng(0)

    def generate(self, noise, labels):
        pick = [self.rng.choice(np.flatnonzero(self.labels == y)) if self.honest
                else self.rng.integers(len(self.images)) for y in labels]
        return self.images[pick]


def test_label_accuracy_is_high_for_a_perfect_generator_and_chance_for_one_ignoring_labels():
    from ganzoo.catalog import Catalog
    from ganzoo.evaluation import Evaluator, generate_labelled

    evaluator = Evaluator(Catalog.load(entry_points=False), "fashion", n=2000, seed=0,
                          cache=False, real_split="bundled-test")
    meta = {"noise": "normal", "latent_dim": 4, "image_shape": [28, 28, 1]}
    results = {}
    for honest in (True, False):
        images, labels = generate_labelled(_FakeConditional(honest), meta, 2000, 0)
        assert np.bincount(labels).tolist() == [200] * 10
        results[honest] = evaluator.measure_images(images, labels, 10)["conditional"]
    perfect, ignoring = results[True], results[False]
    assert perfect["label_accuracy"] > 0.85  # the classifier's own accuracy on real images
    assert 0.06 < ignoring["label_accuracy"] < 0.14  # chance: 1/10
    assert len(perfect["per_class_fid"]) >= 8  # ~200 real and 200 generated per class
    # Real images of the right class are close to that class; any-class images are not.
    assert perfect["per_class_fid_mean"] < ignoring["per_class_fid_mean"] / 3


def test_python_api_samples_a_label(home, monkeypatch):
    monkeypatch.setenv("GANZOO_HOME", str(home))
    monkeypatch.setenv("GANZOO_PLUGINS", "torch,keras")
    api = pytest.importorskip("ganzoo.api")
    model = api.load("cgan-torch@1")
    three = model.sample(4, seed=1, label=3, dtype="float32")
    np.testing.assert_array_equal(
        three, model.network.generate(model.noise(4, 1), np.full(4, 3)))
    with pytest.raises(UsageError, match="outside"):
        model.sample(2, label=12)
    with pytest.raises(UsageError, match="unconditional"):
        api.load("mlp-torch@1").sample(2, label=1)
