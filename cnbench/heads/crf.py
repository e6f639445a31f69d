"""Linear-chain CRF, vectorised over the batch, with two interchangeable algorithms over time.

Scores: a tag path ``y`` of a sequence of length ``L`` scores
``start[y_0] + sum_t emissions[t, y_t] + sum_{t>=1} transitions[y_{t-1}, y_t] + end[y_{L-1}]``.

Supported:

- ``nll`` (forward algorithm, log-sum-exp) and ``decode`` (Viterbi) on ``[B, T, K]`` emissions with
  a ``[B, T]`` bool mask. Masks must be *left-aligned* (each row a run of true then only false);
  anything else raises ``ValueError``. A row with zero length is allowed: its NLL is 0, its decoded
  tags are all padding and its best score is 0 (the empty path). ``T`` itself must be >= 1.
- Two algorithms, chosen per call (``method="auto"``) or forced (``"sequential"`` / ``"scan"``):
  a per-step loop over time, and a log-depth tree reduction that multiplies the per-step ``K x K``
  matrices in the (logsumexp, +) semiring for the NLL and the (max, +) semiring for Viterbi. Both
  give the same results up to float rounding (Viterbi ties may break differently). The scan does
  ``O(T K^3)`` work in ``log2 T`` vectorised steps instead of ``O(T K^2)`` in ``T`` tiny steps, so
  on CPU it wins only while ``B * K^3`` is small (single sentences, small tag sets), where the
  loop's per-op overhead dominates; the "auto" rule (``_DECODE_SCAN``, ``_NLL_SCAN``) and its
  measurements are in ``benchmarks/results/crf.md``. Memory: the scan holds ``O(B T K^3)`` floats,
  the loop ``O(B T K^2)``.
- Everything is computed in float32, whatever the dtype of the emissions (bf16 under autocast
  included), because log-sum-exp over long paths loses too much precision in bf16.
- Optional label-scheme constraints (``constrained=True`` with ``label_names``): transitions that
  would produce an ill-formed entity get ``-inf`` in *decoding*, so Viterbi never emits them.
  BIO/IOB2 (``O``, ``B-X``, ``I-X``) and BIOES/BMES (``S-X``, ``E-X``, ``M-X`` as ``I-X``) are
  recognised; other label names raise ``CnbenchError``. ``decode(open_start=, open_end=)`` lifts
  the start / end constraint for rows cut out of a longer text. The constraint is *not* applied in
  training: gold paths cut out of a longer text (a window starting inside an entity) or noisy
  annotations can violate the scheme, and would get an infinite loss; since gold paths never
  use the forbidden transitions otherwise, training drives their scores down anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from cnbench.errors import CnbenchError

PAD_TAG = -100
"""Fill value of ``decode`` tags at positions outside the mask (same as ``IGNORE_INDEX``)."""

Method = Literal["auto", "sequential", "scan"]

# Off-diagonal entries of the semiring identity used for masked steps in the NLL scan. Finite so
# that log-sum-exp gradients never see (-inf) - (-inf); exp(-1e9 - x) is exactly 0 in float32.
_NLL_NEG = -1e9


class ViterbiResult(NamedTuple):
    tags: Tensor
    """``[B, T]`` int64 best tag path; ``PAD_TAG`` outside the mask."""
    score: Tensor
    """``[B]`` float32 score of that path (0 for an empty row)."""


class CRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags; ``transitions[i, j]`` scores tag ``i`` -> ``j``.

    ``label_names`` is only needed for ``constrained=True`` (``CnbenchError`` when missing or not
    a BIO/BIOES tag set).
    """

    # the buffers registered in __init__, declared so that type checkers know them as tensors
    start_allowed: Tensor
    transition_allowed: Tensor
    end_allowed: Tensor

    def __init__(
        self,
        num_tags: int,
        label_names: Sequence[str] | None = None,
        constrained: bool = False,
    ):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        # Zeros: an untrained CRF decodes like per-token argmax, a neutral starting point.
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))

        self.constrained = constrained
        if constrained:
            if label_names is None:
                raise CnbenchError("a constrained CRF needs the label names (e.g. O, B-PER, I-PER)")
            if len(label_names) != num_tags:
                raise CnbenchError(f"got {len(label_names)} label names for {num_tags} CRF tags")
            start_ok, trans_ok, end_ok = allowed_transitions(label_names)
        else:
            start_ok = torch.ones(num_tags, dtype=torch.bool)
            trans_ok = torch.ones(num_tags, num_tags, dtype=torch.bool)
            end_ok = torch.ones(num_tags, dtype=torch.bool)
        # Buffers (not parameters): they follow .to(device) but are derived from label_names,
        # so they stay out of state_dict.
        self.register_buffer("start_allowed", start_ok, persistent=False)
        self.register_buffer("transition_allowed", trans_ok, persistent=False)
        self.register_buffer("end_allowed", end_ok, persistent=False)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}, constrained={self.constrained}"

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor, method: Method = "auto") -> Tensor:
        """``[B]`` negative log-likelihood of ``tags`` (``[B, T]`` int; any value outside the mask,
        e.g. -100) given ``emissions`` ``[B, T, K]`` and a left-aligned ``mask`` ``[B, T]``.

        Raises ``ValueError`` for bad shapes, a mask that is not left-aligned, or a tag outside
        ``[0, K)`` under the mask.
        """
        lengths = self._check(emissions, mask)
        if tags.shape != mask.shape:
            raise ValueError(f"tags shape {tuple(tags.shape)} != mask shape {tuple(mask.shape)}")
        if ((tags < 0) | (tags >= self.num_tags))[mask].any():
            raise ValueError(f"tags under the mask must be in [0, {self.num_tags})")
        with torch.autocast(emissions.device.type, enabled=False):
            em = emissions.float()
            tags = tags.masked_fill(~mask, 0).long()
            start, end, trans = self._params()
            if self._use_scan(em.shape, method, *_NLL_SCAN):
                log_z = _log_partition_scan(em, mask, start, end, trans)
            else:
                log_z = _log_partition_sequential(em, mask, start, end, trans)
            nll = log_z - _path_score(em, tags, mask, lengths, start, end, trans)
            return torch.where(lengths > 0, nll, torch.zeros_like(nll))

    @torch.no_grad()
    def decode(
        self,
        emissions: Tensor,
        mask: Tensor,
        method: Method = "auto",
        open_start: Tensor | None = None,
        open_end: Tensor | None = None,
    ) -> ViterbiResult:
        """Viterbi: the best tag path per row (``PAD_TAG`` outside the mask) and its score.

        With ``constrained=True`` only scheme-respecting paths are considered, except that rows
        flagged in ``open_start`` / ``open_end`` (``[B]`` bool) may start / end with any tag: they
        are cut from a longer sequence (a window) and may begin or end inside an entity. Raises
        ``ValueError`` like ``nll``.
        """
        lengths = self._check(emissions, mask)
        with torch.autocast(emissions.device.type, enabled=False):
            em = emissions.float()
            start, end, trans = self._params()
            if self.constrained:
                start = _forbid(start, self.start_allowed, open_start)
                end = _forbid(end, self.end_allowed, open_end)
                trans = _forbid(trans, self.transition_allowed, None)
            if self._use_scan(em.shape, method, *_DECODE_SCAN):
                tags, score = _viterbi_scan(em, mask, start, end, trans)
            else:
                tags, score = _viterbi_sequential(em, mask, start, end, trans)
            return ViterbiResult(tags.masked_fill(~mask, PAD_TAG), score.masked_fill(lengths == 0, 0.0))

    def _params(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.start_transitions.float(), self.end_transitions.float(), self.transitions.float()

    def _check(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """Validate shapes and alignment; return the ``[B]`` lengths."""
        if emissions.dim() != 3 or emissions.shape[-1] != self.num_tags:
            raise ValueError(f"emissions must be [B, T, {self.num_tags}], got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2] or mask.dtype != torch.bool:
            raise ValueError(
                f"mask must be a bool tensor of shape {tuple(emissions.shape[:2])}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        if emissions.shape[1] == 0:
            raise ValueError("emissions need at least one time step (rows may be empty via mask)")
        if (mask[:, 1:] & ~mask[:, :-1]).any():
            raise ValueError("mask must be left-aligned: true for a prefix of each row, then false")
        return mask.sum(1)

    @staticmethod
    def _use_scan(shape: torch.Size, method: Method, max_work: int, min_steps: int) -> bool:
        """``method="auto"``: the scan when the sequence has at least ``min_steps`` steps and
        ``B * K^3`` (the scan's work per step) is at most ``max_work``; see ``_DECODE_SCAN`` and
        ``_NLL_SCAN`` for the measured values."""
        if method not in ("auto", "sequential", "scan"):
            raise ValueError(f"method must be 'auto', 'sequential' or 'scan', got {method!r}")
        if method != "auto":
            return method == "scan"
        batch, steps, num_tags = shape
        return steps >= min_steps and batch * num_tags**3 <= max_work


# (max B*K^3, min T) for which "auto" picks the scan. Measured on a 2-core AMD EPYC (torch 2.13
# CPU, 1 thread; grid of B 1-16, K 7-21, T 16-256): the loop costs ~15-20 us of op overhead per
# step whatever the batch, the scan ~1.5 ns per element of its B*T*K^3 work. So the scan wins for
# small batches and tag sets (B=1, K=7, T=256: 15x faster decode, 7x faster NLL) and loses on
# training-size batches (B=32, K=7: decode 1.2-1.5x, NLL + backward 2.5x slower). Not measured on
# a GPU, where the scan should win far more often; the rule is applied on every device.
_DECODE_SCAN = (6000, 32)
_NLL_SCAN = (2500, 16)


def allowed_transitions(label_names: Sequence[str]) -> tuple[Tensor, Tensor, Tensor]:
    """``(start_allowed [K], allowed [K, K], end_allowed [K])`` bool masks for a BIO or BIOES/BMES
    tag set (BIOES if any label starts with ``E-`` or ``S-``; ``M-`` is read as ``I-``).

    BIO: ``I-X`` may only follow ``B-X`` or ``I-X`` (so never start a sequence).
    BIOES: ``I-X``/``E-X`` only follow ``B-X``/``I-X``; ``B-X``/``I-X`` must be followed by
    ``I-X``/``E-X`` (so cannot end a sequence); ``O``, ``B-``, ``S-`` follow ``O``/``E-``/``S-``.
    Raises ``CnbenchError`` for a label that is not ``O`` or ``<prefix>-<type>``.
    """
    parsed: list[tuple[str, str]] = []
    for name in label_names:
        if name == "O":
            parsed.append(("O", ""))
            continue
        prefix, sep, kind = name.partition("-")
        if not sep or not kind or prefix not in ("B", "I", "M", "E", "S"):
            raise CnbenchError(
                f"cannot constrain the CRF: label {name!r} is not O or B-/I-/E-/S-/M-<type>; "
                "use crf_constrained=False for other tag sets"
            )
        parsed.append(("I" if prefix == "M" else prefix, kind))
    bioes = any(prefix in ("E", "S") for prefix, _ in parsed)

    def inside(prefix: str) -> bool:  # tags that continue an entity
        return prefix in ("I", "E")

    def open_(prefix: str) -> bool:  # tags after which the entity must continue
        return bioes and prefix in ("B", "I")

    k = len(parsed)
    start = torch.tensor([not inside(p) for p, _ in parsed])
    end = torch.tensor([not open_(p) for p, _ in parsed])
    allowed = torch.ones(k, k, dtype=torch.bool)
    for i, (p_prev, t_prev) in enumerate(parsed):
        for j, (p_next, t_next) in enumerate(parsed):
            if inside(p_next):
                ok = p_prev in ("B", "I") and t_prev == t_next
            else:
                ok = not open_(p_prev)
            allowed[i, j] = ok
    return start, allowed, end


def _forbid(scores: Tensor, allowed: Tensor, exempt: Tensor | None) -> Tensor:
    """``scores`` with disallowed entries at -inf; rows in ``exempt`` (``[B]``) keep them all."""
    constrained = scores.masked_fill(~allowed, float("-inf"))
    if exempt is None:
        return constrained
    return torch.where(exempt.unsqueeze(1), scores, constrained)


# --- gold path --------------------------------------------------------------------------------


def _path_score(
    em: Tensor, tags: Tensor, mask: Tensor, lengths: Tensor, start: Tensor, end: Tensor, trans: Tensor
) -> Tensor:
    maskf = mask.float()
    emit = em.gather(-1, tags.unsqueeze(-1)).squeeze(-1)
    score = start[tags[:, 0]] + (emit * maskf).sum(1)
    score = score + (trans[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]).sum(1)
    last = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    return score + end[last]


# --- sequential algorithms --------------------------------------------------------------------


def _log_partition_sequential(em: Tensor, mask: Tensor, start: Tensor, end: Tensor, trans: Tensor) -> Tensor:
    alpha = start + em[:, 0]
    for t in range(1, em.shape[1]):
        step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + em[:, t]
        alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
    return torch.logsumexp(alpha + end, dim=1)


def _viterbi_sequential(em: Tensor, mask: Tensor, start: Tensor, end: Tensor, trans: Tensor) -> tuple[Tensor, Tensor]:
    batch, steps, num_tags = em.shape
    identity = torch.arange(num_tags, device=em.device).expand(batch, num_tags)
    score = start + em[:, 0]
    backpointers = []
    for t in range(1, steps):
        best, arg = (score.unsqueeze(2) + trans).max(dim=1)
        keep = mask[:, t].unsqueeze(1)
        score = torch.where(keep, best + em[:, t], score)
        # Masked steps point each tag at itself, so the backtrack passes through them unchanged.
        backpointers.append(torch.where(keep, arg, identity))
    best_score, current = (score + end).max(dim=1)
    tags = [current]
    for pointers in reversed(backpointers):
        current = pointers.gather(1, current.unsqueeze(1)).squeeze(1)
        tags.append(current)
    tags.reverse()
    return torch.stack(tags, dim=1), best_score


# --- log-depth tree reductions ----------------------------------------------------------------
#
# Step t >= 1 is the matrix M_t[i, j] = trans[i, j] + em[t, j] (tag i at t-1 -> tag j at t);
# a masked step is the semiring identity (0 on the diagonal, "-inf" off it), so a row's product
# over all steps equals the product over its real steps. Adjacent pairs are multiplied level by
# level; an odd last matrix is carried up unchanged.


def _step_matrices(em: Tensor, mask: Tensor, trans: Tensor, off_diagonal: float) -> Tensor:
    num_tags = em.shape[-1]
    identity = torch.full((num_tags, num_tags), off_diagonal, device=em.device)
    identity.fill_diagonal_(0.0)
    matrices = trans + em[:, 1:].unsqueeze(2)
    return torch.where(mask[:, 1:, None, None], matrices, identity)


def _log_partition_scan(em: Tensor, mask: Tensor, start: Tensor, end: Tensor, trans: Tensor) -> Tensor:
    alpha = start + em[:, 0]
    if em.shape[1] > 1:
        matrices = _step_matrices(em, mask, trans, _NLL_NEG)
        while matrices.shape[1] > 1:
            pairs = matrices.shape[1] // 2
            left, right = matrices[:, 0 : 2 * pairs : 2], matrices[:, 1 : 2 * pairs : 2]
            product = torch.logsumexp(left.unsqueeze(-1) + right.unsqueeze(-3), dim=-2)
            matrices = torch.cat([product, matrices[:, 2 * pairs :]], dim=1)
        alpha = torch.logsumexp(alpha.unsqueeze(2) + matrices[:, 0], dim=1)
    return torch.logsumexp(alpha + end, dim=1)


def _viterbi_scan(em: Tensor, mask: Tensor, start: Tensor, end: Tensor, trans: Tensor) -> tuple[Tensor, Tensor]:
    """Max-plus tree reduction that records, for every merged pair and every (first tag, last
    tag), the best tag at the boundary between the two halves; the path is then read top-down
    in ``log2 T`` gathers: each node knows its outer tags and looks up its middle one."""
    batch, steps, num_tags = em.shape
    alpha = start + em[:, 0]
    if steps == 1:
        best_score, first = (alpha + end).max(dim=1)
        return first.unsqueeze(1), best_score

    matrices = _step_matrices(em, mask, trans, float("-inf"))
    levels: list[Tensor] = []  # per level: [B, pairs, K*K] argmax of the shared boundary tag
    while matrices.shape[1] > 1:
        pairs = matrices.shape[1] // 2
        left, right = matrices[:, 0 : 2 * pairs : 2], matrices[:, 1 : 2 * pairs : 2]
        product, middle = (left.unsqueeze(-1) + right.unsqueeze(-3)).max(dim=-2)
        levels.append(middle.flatten(2))
        matrices = torch.cat([product, matrices[:, 2 * pairs :]], dim=1)

    total = alpha.unsqueeze(2) + matrices[:, 0] + end.unsqueeze(-2)  # [B, first tag, last tag]
    best_score, flat = total.flatten(1).max(dim=1)
    first = flat // num_tags
    # Each node's outer tags: the tag just before its first step and the tag after its last.
    before, after = first.unsqueeze(1), (flat % num_tags).unsqueeze(1)
    for middle in reversed(levels):
        pairs = middle.shape[1]
        mid = middle.gather(2, (before[:, :pairs] * num_tags + after[:, :pairs]).unsqueeze(2))
        mid = mid.squeeze(2)
        before = torch.cat([torch.stack([before[:, :pairs], mid], dim=2).flatten(1), before[:, pairs:]], dim=1)
        after = torch.cat([torch.stack([mid, after[:, :pairs]], dim=2).flatten(1), after[:, pairs:]], dim=1)
    return torch.cat([first.unsqueeze(1), after], dim=1), best_score
