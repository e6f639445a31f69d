"""CRF: both algorithms against pytorch-crf 0.7.2 and against brute-force enumeration."""

from __future__ import annotations

import itertools

import pytest
import torch
import torchcrf

from cnbench.errors import CnbenchError
from cnbench.heads.crf import CRF, PAD_TAG, allowed_transitions

METHODS = ("sequential", "scan")
BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def random_crf(num_tags: int, seed: int, **kwargs) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags, **kwargs)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


def reference(crf: CRF) -> torchcrf.CRF:
    ref = torchcrf.CRF(crf.num_tags, batch_first=True)
    ref.load_state_dict(crf.state_dict())
    return ref


def ragged_batch(batch: int, steps: int, num_tags: int, seed: int, min_length: int = 1):
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(batch, steps, num_tags, generator=generator) * 2
    lengths = torch.randint(min_length, steps + 1, (batch,), generator=generator)
    lengths[0] = steps
    mask = torch.arange(steps) < lengths.unsqueeze(1)
    tags = torch.randint(0, num_tags, (batch, steps), generator=generator).masked_fill(~mask, -100)
    return emissions, tags, mask, lengths


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("batch,steps,num_tags", [(6, 13, 5), (4, 37, 7), (3, 1, 4)])
def test_nll_and_viterbi_match_pytorch_crf(method, batch, steps, num_tags):
    crf = random_crf(num_tags, seed=steps)
    ref = reference(crf)
    emissions, tags, mask, lengths = ragged_batch(batch, steps, num_tags, seed=steps)

    expected_nll = -ref(emissions, tags.clamp(min=0), mask, reduction="none")
    torch.testing.assert_close(crf.nll(emissions, tags, mask, method=method), expected_nll)

    decoded = crf.decode(emissions, mask, method=method)
    for row, expected in enumerate(ref.decode(emissions, mask)):
        assert decoded.tags[row, : lengths[row]].tolist() == expected
        assert (decoded.tags[row, lengths[row] :] == PAD_TAG).all()


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, dict]:
    """log Z and {path: score} for one sequence, by enumerating every tag path."""
    start, end, trans = crf.start_transitions, crf.end_transitions, crf.transitions
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        score = start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
        score = score + sum(trans[a, b] for a, b in itertools.pairwise(path))
        scores[path] = score
    return torch.logsumexp(torch.stack(list(scores.values())), 0), scores


@pytest.mark.parametrize("method", METHODS)
def test_matches_brute_force_enumeration(method):
    crf = random_crf(3, seed=1)
    emissions, _, _, _ = ragged_batch(5, 4, 3, seed=2)
    lengths = torch.tensor([4, 3, 2, 1, 0])  # includes an empty row
    mask = torch.arange(4) < lengths.unsqueeze(1)
    tags = torch.randint(0, 3, (5, 4), generator=torch.Generator().manual_seed(2))
    nll = crf.nll(emissions, tags, mask, method=method)
    decoded = crf.decode(emissions, mask, method=method)
    with torch.no_grad():
        for row, length in enumerate(lengths.tolist()):
            if length == 0:
                assert nll[row] == 0 and decoded.score[row] == 0
                assert (decoded.tags[row] == PAD_TAG).all()
                continue
            log_z, scores = brute_force(crf, emissions[row], length)
            gold = tuple(tags[row, :length].tolist())
            torch.testing.assert_close(nll[row], log_z - scores[gold])
            best = max(scores, key=lambda path: scores[path].item())
            assert tuple(decoded.tags[row, :length].tolist()) == best
            torch.testing.assert_close(decoded.score[row], scores[best])


def test_scan_and_sequential_gradients_agree():
    crf = random_crf(7, seed=3)
    emissions, tags, mask, _ = ragged_batch(4, 29, 7, seed=3)
    grads = []
    for method in METHODS:
        crf.zero_grad()
        leaf = emissions.clone().requires_grad_()
        crf.nll(leaf, tags, mask, method=method).sum().backward()
        grads.append([leaf.grad] + [p.grad.clone() for p in crf.parameters()])
    for sequential, scan in zip(*grads, strict=True):
        assert torch.isfinite(scan).all()
        torch.testing.assert_close(sequential, scan, rtol=1e-4, atol=1e-5)


def test_bf16_emissions_are_computed_in_float32():
    crf = random_crf(5, seed=4)
    emissions, tags, mask, _ = ragged_batch(3, 6, 5, seed=4)
    low = emissions.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        nll = crf.nll(low, tags, mask)
    assert nll.dtype == torch.float32
    torch.testing.assert_close(nll, crf.nll(low.float(), tags, mask))


def test_bad_inputs_raise_clearly():
    crf = CRF(3)
    emissions = torch.zeros(2, 4, 3)
    holes = torch.tensor([[True, False, True, False], [True, True, False, False]])
    with pytest.raises(ValueError, match="left-aligned"):
        crf.decode(emissions, holes)
    mask = torch.ones(2, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        crf.nll(emissions, torch.full((2, 4), -100), mask)
    with pytest.raises(ValueError, match="at least one time step"):
        crf.decode(torch.zeros(2, 0, 3), torch.zeros(2, 0, dtype=torch.bool))


def is_well_formed_bio(names: list[str]) -> bool:
    previous = "O"
    for name in names:
        if name.startswith("I-") and previous[2:] != name[2:]:
            return False
        previous = name
    return True


@pytest.mark.parametrize("method", METHODS)
def test_constrained_decoding_never_emits_ill_formed_bio(method):
    crf = random_crf(len(BIO), seed=5, label_names=BIO, constrained=True)
    with torch.no_grad():
        crf.start_transitions[2::2] += 5.0  # tempt it to start with I-X
        crf.transitions[0, 2::2] += 5.0  # and to go O -> I-X
    emissions, _, mask, lengths = ragged_batch(64, 20, len(BIO), seed=5)
    tags = crf.decode(emissions * 3, mask, method=method).tags
    unconstrained = CRF(len(BIO))
    unconstrained.load_state_dict(crf.state_dict())
    free = unconstrained.decode(emissions * 3, mask, method=method).tags
    ill_formed = 0
    for row, length in enumerate(lengths.tolist()):
        assert is_well_formed_bio([BIO[t] for t in tags[row, :length].tolist()])
        ill_formed += not is_well_formed_bio([BIO[t] for t in free[row, :length].tolist()])
    assert ill_formed > 10  # the test would catch a constraint that does nothing


def test_open_start_lifts_only_the_start_constraint():
    crf = CRF(len(BIO), label_names=BIO, constrained=True)
    emissions = torch.full((2, 3, len(BIO)), -10.0)
    emissions[:, :, BIO.index("I-PER")] = 10.0
    mask = torch.ones(2, 3, dtype=torch.bool)
    tags = crf.decode(emissions, mask, open_start=torch.tensor([True, False])).tags
    assert [BIO[t] for t in tags[0]] == ["I-PER"] * 3
    assert [BIO[t] for t in tags[1]] == ["B-PER", "I-PER", "I-PER"]


def test_bioes_constraints():
    names = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    start, allowed, end = allowed_transitions(names)
    assert start.tolist() == [True, True, False, False, True]
    assert end.tolist() == [True, False, False, True, True]
    assert allowed[1].tolist() == [False, False, True, True, False]  # B-PER -> I-PER / E-PER
    assert allowed[3].tolist() == [True, True, False, False, True]  # E-PER -> O / B / S


def test_constraint_needs_a_known_scheme():
    with pytest.raises(CnbenchError, match="crf_constrained=False"):
        CRF(3, ["O", "PER", "LOC"], constrained=True)
    with pytest.raises(CnbenchError, match="label names"):
        CRF(3, constrained=True)
