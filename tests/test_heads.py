"""CRF and BiLSTM heads: shapes, compaction, padding invariance, learning, and error messages."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from cnbench.errors import CnbenchError
from cnbench.heads import build_head
from cnbench.heads.crf_heads import BiLSTM, compact

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
OPTIONS = dict(label_names=LABELS, dropout=0.1, lstm_hidden=8, crf_constrained=True)
TAGGING_HEADS = ("crf", "bilstm", "bilstm-crf")


def window_batch(hidden_size: int = 12, seed: int = 0):
    """Right-padded rows with [CLS]/[SEP] and a few unscored continuation pieces."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([10, 7, 4, 2])
    steps = 10
    attention = torch.arange(steps) < lengths.unsqueeze(1)
    score = attention.clone()
    score[:, 0] = False  # [CLS]
    score[torch.arange(4), lengths - 1] = False  # [SEP]
    score[0, 4] = score[1, 2] = False  # second pieces of a character
    hidden = torch.randn(4, steps, hidden_size, generator=generator)
    labels = torch.randint(0, len(LABELS), (4, steps), generator=generator).masked_fill(~score, -100)
    return hidden, attention, score, labels


def test_compact_moves_selected_positions_left_in_order():
    x = torch.arange(12).reshape(2, 6)
    mask = torch.tensor([[False, True, False, True, True, False], [False, False, True, False, False, False]])
    packed = compact(x, mask)
    assert packed.mask.tolist() == [[True, True, True], [True, False, False]]
    assert packed.values[packed.mask].tolist() == [1, 3, 4, 8]
    assert (packed.index[packed.mask] == mask.nonzero()[:, 1]).all()
    assert compact(x, torch.zeros_like(mask)).values.shape == (2, 1)  # keeps a time axis


@pytest.mark.parametrize("name", TAGGING_HEADS)
def test_tagging_heads_shapes_and_valid_predictions(name):
    hidden, attention, score, labels = window_batch()
    head = build_head(name, "tagging", 12, len(LABELS), unknown_option=1, **OPTIONS)
    out = head(hidden, None, attention, score, labels)
    assert out.loss.shape == () and torch.isfinite(out.loss)
    if "crf" in name:  # training steps use only the loss: no Viterbi
        assert out.predictions is None
    out = head.eval()(hidden, None, attention, score, labels)
    assert out.predictions.shape == score.shape and out.predictions.dtype == torch.long
    assert ((out.predictions >= 0) & (out.predictions < len(LABELS))).all()
    assert head(hidden, None, attention, score, None).loss is None


@pytest.mark.parametrize("name", ("crf", "bilstm-crf"))
def test_crf_heads_decode_over_scored_positions_only(name):
    hidden, attention, score, labels = window_batch()
    head = build_head(name, "tagging", 12, len(LABELS), **OPTIONS).eval()
    with torch.no_grad():
        torch.nn.init.normal_(head.crf.transitions)
        out = head(hidden, None, attention, score, labels)
        emissions = head.classifier(hidden) if name == "crf" else head.emissions(hidden, attention)
        for row in range(3):  # row 3 has no scored position
            scored = emissions[row][score[row]].unsqueeze(0)
            mask = torch.ones(scored.shape[:2], dtype=torch.bool)
            expected = head.crf.decode(scored, mask).tags[0]
            assert out.predictions[row][score[row]].tolist() == expected.tolist()
        assert (out.predictions[~score] == 0).all()
    assert any(".crf." in f".{n}" for n, _ in head.named_parameters())


def test_bilstm_ignores_padding():
    torch.manual_seed(0)
    lstm = BiLSTM(6, 5)
    x = torch.randn(3, 7, 6)
    mask = torch.arange(7) < torch.tensor([7, 4, 1]).unsqueeze(1)
    short = lstm(x, mask)
    longer_x = torch.cat([x, torch.randn(3, 5, 6) * 100], dim=1)  # garbage in the padding
    longer_x[~torch.cat([mask, torch.zeros(3, 5, dtype=torch.bool)], 1)] = 50.0
    longer = lstm(longer_x, torch.cat([mask, torch.zeros(3, 5, dtype=torch.bool)], 1))
    torch.testing.assert_close(longer[:, :7][mask], short[mask], rtol=0, atol=1e-6)
    assert (longer[:, :7][~mask] == 0).all() and (longer[:, 7:] == 0).all()


def test_bilstm_matches_a_packed_bidirectional_lstm_in_values_and_gradients():
    torch.manual_seed(0)
    lstm = BiLSTM(6, 5)
    reference = torch.nn.LSTM(6, 5, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(reference, f"{name}_l0").copy_(getattr(lstm.forward_lstm, f"{name}_l0"))
            getattr(reference, f"{name}_l0_reverse").copy_(getattr(lstm.backward_lstm, f"{name}_l0"))
    lengths = torch.tensor([7, 4, 1, 6])
    mask = torch.arange(7) < lengths.unsqueeze(1)
    x = torch.randn(4, 7, 6, requires_grad=True)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(reference(packed)[0], batch_first=True, total_length=7)
    weights = torch.randn(4, 7, 10)  # a loss that weighs every output differently
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), x)
    actual = lstm(x, mask)
    (actual_grad,) = torch.autograd.grad((actual * weights).sum(), x)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(actual_grad, expected_grad, rtol=0, atol=1e-6)


def test_bilstm_runs_in_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    lstm = BiLSTM(6, 5)
    x, mask = torch.randn(2, 7, 6), torch.ones(2, 7, dtype=torch.bool)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = lstm(x.bfloat16(), mask)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, lstm(x.bfloat16().float(), mask), rtol=0, atol=0)


def test_bilstm_classification_ignores_padding():
    torch.manual_seed(0)
    head = build_head("bilstm", "classification", 6, 3, lstm_hidden=5).eval()
    x = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    padded_x = torch.cat([x, torch.full((2, 3, 6), 9.0)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    x[1, 2:] = -9.0  # padding content must not matter either
    torch.testing.assert_close(pooled(head, padded_x, padded_mask), pooled(head, x, mask), rtol=0, atol=1e-6)


def pooled(head, x, mask) -> torch.Tensor:
    """The sentence vector the classification head feeds its final linear layer."""
    captured = []
    handle = head.classifier.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0]))
    with torch.no_grad():
        head(x, None, mask, None, None)
    handle.remove()
    return captured[0]


def toy_tagging(steps: int = 8, batch: int = 16):
    """Tags readable from the input with a little context: B where the feature starts a run."""
    generator = torch.Generator().manual_seed(0)
    kinds = torch.randint(0, 3, (batch, steps), generator=generator)  # 0 = O, 1 = PER, 2 = LOC
    begins = torch.ones_like(kinds, dtype=torch.bool)
    begins[:, 1:] = kinds[:, 1:] != kinds[:, :-1]
    labels = torch.where(kinds == 0, 0, torch.where(begins, 2 * kinds - 1, 2 * kinds))
    hidden = torch.nn.functional.one_hot(kinds, 4).float() + 0.1 * torch.randn(batch, steps, 4, generator=generator)
    mask = torch.ones(batch, steps, dtype=torch.bool)
    return hidden, mask, labels


@pytest.mark.parametrize("name", TAGGING_HEADS)
def test_tagging_loss_decreases(name):
    torch.manual_seed(0)
    hidden, mask, labels = toy_tagging()
    head = build_head(name, "tagging", 4, len(LABELS), **OPTIONS)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    losses = []
    for _ in range(25):
        loss = head(hidden, None, mask, mask, labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_classification_loss_decreases():
    torch.manual_seed(0)
    hidden = torch.randn(16, 6, 4)
    labels = (hidden[:, :, 0].amax(1) > 1.0).long()  # a local cue: max pooling can see it
    mask = torch.ones(16, 6, dtype=torch.bool)
    head = build_head("bilstm", "classification", 4, 2, lstm_hidden=8, dropout=0.0)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.02)
    losses = []
    for _ in range(25):
        loss = head(hidden, None, mask, None, labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("name", ("crf", "bilstm-crf"))
def test_crf_heads_reject_classification_clearly(name):
    with pytest.raises(CnbenchError, match=r"tagging \(NER\)"):
        build_head(name, "classification", 12, 3, **OPTIONS)


def test_constrained_crf_head_needs_scheme_labels():
    with pytest.raises(CnbenchError, match="crf_constrained=False"):
        build_head("crf", "tagging", 12, 2, label_names=["POS", "NEG"], crf_constrained=True)
    build_head("crf", "tagging", 12, 2, label_names=["POS", "NEG"], crf_constrained=False)


def test_crf_head_lets_a_window_start_inside_an_entity():
    head = build_head("crf", "tagging", len(LABELS), len(LABELS), **OPTIONS).eval()
    with torch.no_grad():
        head.classifier.weight.copy_(torch.eye(len(LABELS)) * 10)
        head.classifier.bias.zero_()
    hidden = torch.nn.functional.one_hot(torch.full((2, 6), LABELS.index("I-PER")), len(LABELS)).float()
    attention = torch.ones(2, 6, dtype=torch.bool)
    score = torch.zeros(2, 6, dtype=torch.bool)
    score[0, 1:5] = True  # a whole sentence between [CLS] and [SEP]
    score[1, 3:5] = True  # the scored middle of a window: the text goes on before it
    predicted = head(hidden, None, attention, score, None).predictions
    assert [LABELS[t] for t in predicted[0, 1:5]] == ["B-PER", "I-PER", "I-PER", "I-PER"]
    assert [LABELS[t] for t in predicted[1, 3:5]] == ["I-PER", "I-PER"]
