"""``ganzoo_torch.steps.GanSteps`` on a two-layer GAN, for what the golden steps leave open
(written for mutants mutation testing left alive, docs/testing.md): the refusals' exact words,
the data-parallel hook seeing every gradient before every update, the forwards defaulting to
the modules, and the concat step of a loss without an exact concat form.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ganzoo_torch.losses import BCE_LOGITS, LEAST_SQUARES  # noqa: E402
from ganzoo_torch.steps import GanSteps  # noqa: E402

BATCH = 3


def make_steps(**kwargs):
    torch.manual_seed(0)
    generator, discriminator = torch.nn.Linear(2, 4), torch.nn.Linear(4, 1)
    noise = torch.linspace(-1, 1, 2 * BATCH * 4).reshape(-1, 2)
    drawn = iter(noise.split(BATCH))
    steps = GanSteps(generator, discriminator,
                     torch.optim.SGD(generator.parameters(), lr=0.1),
                     torch.optim.SGD(discriminator.parameters(), lr=0.1),
                     lambda n: next(drawn)[:n], BATCH, torch.device("cpu"), **kwargs)
    return steps


def real_batch(n=BATCH):
    return torch.linspace(-0.5, 0.5, n * 4).reshape(n, 4)


def test_an_unknown_step_is_refused_naming_the_three():
    with pytest.raises(ValueError) as caught:
        make_steps().by_name("sequential")
    assert str(caught.value) == ("unknown step 'sequential' (expected one of simultaneous, "
                                 "alternating, combined)")
    steps = make_steps()
    assert steps.by_name("simultaneous") == steps.simultaneous
    assert steps.by_name("alternating") == steps.alternating
    assert steps.by_name("combined") == steps.combined


def test_k_discriminator_steps_need_k_batches():
    steps = make_steps(d_steps_per_g=2)
    with pytest.raises(ValueError) as caught:
        steps.alternating(real_batch(BATCH))
    assert str(caught.value) == f"a step takes 2 batches of {BATCH} real images, got {BATCH}"
    assert len(steps._batches(real_batch(2 * BATCH))) == 2


@pytest.mark.parametrize("step", ["simultaneous", "alternating", "combined"])
def test_every_update_is_preceded_by_a_sync_of_its_gradients(step):
    seen = []

    def sync(params):
        seen.append((len(params), all(p.grad is not None for p in params)))

    steps = make_steps(sync_gradients=sync, d_batches="separate")
    steps.by_name(step)(real_batch())
    g, d = (2, True), (2, True)
    expected = {"simultaneous": [g, d], "alternating": [d, g], "combined": [d, d, g]}[step]
    assert seen == expected


def test_the_forwards_default_to_the_modules_and_can_be_replaced():
    steps = make_steps()
    assert steps.g_forward is steps.generator and steps.d_forward is steps.discriminator
    calls = []

    def d_forward(x):
        calls.append(x.shape[0])
        return steps.discriminator(x)

    steps = make_steps(d_forward=d_forward, g_forward=None)
    steps.simultaneous(real_batch())
    assert calls == [BATCH, BATCH]


def test_concat_without_an_exact_form_is_the_mean_of_the_two_halves():
    steps = make_steps(d_batches="concat", loss=LEAST_SQUARES, probabilities=False)
    d_before = [p.detach().clone() for p in steps.discriminator.parameters()]
    generator = steps.generator
    noise = torch.linspace(-1, 1, 2 * BATCH * 4).reshape(-1, 2)[:BATCH]
    with torch.no_grad():
        generator.eval()
        fake = generator(noise)
        generator.train()
        real_out = steps.discriminator(real_batch())
        fake_out = steps.discriminator(fake)
    expected = 0.5 * (LEAST_SQUARES.real(real_out) + LEAST_SQUARES.fake(fake_out))
    d_loss, _, d_real, d_fake = steps.combined(real_batch())
    assert float(d_loss) == pytest.approx(float(expected), rel=1e-6)
    assert float(d_real) == pytest.approx(float(real_out.mean()), rel=1e-6)  # raw, not sigmoid
    assert float(d_fake) == pytest.approx(float(fake_out.mean()), rel=1e-6)
    assert any(not torch.equal(a, b) for a, b in
               zip(d_before, steps.discriminator.parameters(), strict=True))


def test_bce_reports_mean_probabilities_by_default():
    steps = make_steps()
    with torch.no_grad():
        real_out = steps.discriminator(real_batch())
    _, _, d_real, _ = steps.simultaneous(real_batch())
    assert steps.loss is BCE_LOGITS
    assert float(d_real) == pytest.approx(float(torch.sigmoid(real_out).mean()), rel=1e-6)


@pytest.mark.parametrize(("step", "d_batches", "share"), [
    ("simultaneous", "separate", 1.0), ("alternating", "separate", 1.0),
    ("combined", "concat", 1.0), ("combined", "separate", 0.5),
])
def test_the_penalty_sees_this_real_batch_and_the_fakes_and_joins_d_loss(step, d_batches, share):
    seen = []

    def penalty(real, fake):
        seen.append((real.detach().clone(), fake.detach().clone()))
        return torch.tensor(5.0)

    plain = make_steps(d_batches=d_batches).by_name(step)(real_batch())
    steps = make_steps(d_batches=d_batches, penalty=penalty)
    with_penalty = steps.by_name(step)(real_batch())
    # the separate combined step reports the mean of its real and fake updates
    assert float(with_penalty[0]) == pytest.approx(float(plain[0]) + 5.0 * share, rel=1e-6)
    ((real, fake),) = seen
    assert torch.equal(real, real_batch())
    assert fake.shape == (BATCH, 4) and not torch.equal(fake, real)


def test_penalty_term_runs_the_penalty_on_the_module_with_its_weight():
    from ganzoo_torch.steps import penalty_term

    calls = []
    module, uniform = torch.nn.Linear(1, 1), torch.rand
    term = penalty_term(lambda *args: calls.append(args) or torch.tensor(2.0), module, 10.0,
                        uniform)
    real, fake = torch.ones(2, 1), torch.zeros(2, 1)
    assert float(term(real, fake)) == 2.0
    assert calls == [(module, real, fake, 10.0, uniform)]
