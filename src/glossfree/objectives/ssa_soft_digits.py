"""``ssa_soft_digits``: paper 004's soft decoding of the SSA timestamp digits (Sec. 3.4).

The SSA answer ``"sss-eee"`` is trained by the LM's cross-entropy (``lm_ce``), which "enforces
exact token matching but does not reflect how close a predicted timestamp is to the target". Paper
004 adds a soft-decoded L1 term: at each digit position of the target, the logits of the ten digit
tokens alone give a 10-way softmax ``p``, whose expectation ``sum_k k * p_k`` is the digit's
continuous value, and

    L_L1 = mean over the six digits of | sum_k k * p_k - d* |        (``reduction: digit``, the paper's)
    L_SSA = L_CE + lambda * L_L1                                     (lambda = this objective's ``weight``)

The paper states the loss digit-wise ("the digit-wise L1 loss ... where d* is the target digit
label"); ``reduction: number`` instead compares the expected frame ``sum_j E[d_j] * 10^(w-1-j)``
with the true frame, in frames (a miss in the hundreds digit then costs 100x one in the units).

Only SSA samples (``batch.tasks == "ssa"``) contribute; a batch without any gives 0 (with a graph,
so every rank's backward sees the same parameters). The digit tokens are found in the tokenizer's
vocabulary, per position: sentencepiece may write a digit as ``"4"``, at a word start as ``"▁4"``
(or a bare ``"▁"`` then ``"4"``), or merged with the dash (``"2-"``: glossfree's trained T5
tokenizer does this for ``"042-137"``). A position whose piece holds one digit uses the ten pieces
of the same shape (``"0-"`` ... ``"9-"``) when the vocabulary has all ten. A digit in a piece with
two digits (``"04"``) or whose nine siblings are missing has no 10-way distribution: it is left
out, which the ``coverage`` metric reports (1 = every target digit is soft-decoded).

Metrics: ``digit_acc`` (argmax of the 10-way softmax equals the target digit; teacher-forced),
``frame_l1`` (expected frame minus true frame, absolute, mean over numbers whose digits are all
covered) and ``coverage``.
"""

from __future__ import annotations

from typing import Literal

import torch

from glossfree.alignment.windows import DIGITS
from glossfree.objectives.base import Objective, ObjectiveOutput, ObjectiveSettings, PointDims
from glossfree.text.prompts import format_ssa_target

_WORD_START = "\u2581"  # sentencepiece's word-boundary mark


class SSASoftDigitsConfig(ObjectiveSettings):
    """Soft-decoded L1 on the SSA answer's digits: ``{kind: ssa_soft_digits, weight: 1.0}``.

    Attributes:
        reduction: ``digit`` (paper 004: mean absolute error of each expected digit) or
            ``number`` (mean absolute error of each expected frame number, in frames).
    """

    kind: Literal["ssa_soft_digits"] = "ssa_soft_digits"
    reduction: Literal["digit", "number"] = "digit"

    metric_names = ("digit_acc", "coverage")


def digit_token_ids(tokenizer, template: str = "{}", to_model_id=None) -> list[int] | None:
    """The ids of the ten tokens ``template.format(0)`` ... ``template.format(9)`` (``"{}"`` for the
    bare digits, ``"\u2581{}"`` at a word start, ``"{}-"`` for a digit merged with the dash), or
    ``None`` when one is missing from the vocabulary (or is ``<unk>``). ``to_model_id`` maps
    tokenizer ids to the model's (a trimmed vocabulary); an id it cannot map gives ``None``."""
    unk = getattr(tokenizer, "unk_token_id", None)
    vocab = tokenizer.get_vocab()
    ids = []
    for digit in range(10):
        full = vocab.get(template.format(digit))
        if full is None or full == unk:
            return None
        try:
            ids.append(to_model_id(full) if to_model_id else full)
        except Exception:  # a trimmed vocabulary without this token
            return None
    return ids


def digit_slots(pieces: list[str]) -> tuple[list[tuple[int, str, int, int, int]], list[int]]:
    """Digit positions of a tokenised ``"sss-eee"`` answer.

    Args:
        pieces: the target's tokens (sentencepiece pieces), one per target position.

    Returns:
        ``(slots, widths)``: a slot ``(position, template, digit, number, place)`` for each digit
        that is the only digit of its token (``template``: the piece with the digit replaced by
        ``{}``, e.g. ``"{}"``, ``"\u2581{}"``, ``"{}-"``; ``number`` 0 for start and 1 for end;
        ``place`` its power of ten), and the digit characters of each number.
    """
    chars: list[tuple[str, int, str | None]] = []  # (char, position, template if the only digit of its piece)
    for position, piece in enumerate(pieces):
        digits = [k for k, char in enumerate(piece) if char.isdigit()]
        template = None
        if len(digits) == 1:
            k = digits[0]
            template = piece[:k].replace("{", "{{").replace("}", "}}") + "{}" + piece[k + 1 :].replace("{", "{{").replace("}", "}}")
        for char in piece.lstrip(_WORD_START):
            chars.append((char, position, template))
    groups: list[list[tuple[str, int, str | None]]] = [[]]
    for entry in chars:
        if entry[0] == "-":
            groups.append([])
        elif entry[0].isdigit():
            groups[-1].append(entry)
    slots, widths = [], []
    for number, group in enumerate(groups[:2]):
        width = len(group)
        widths.append(width)
        for j, (char, position, template) in enumerate(group):
            if template is not None:
                slots.append((position, template, int(char), number, width - 1 - j))
    return slots, widths


class SSASoftDigits(Objective):
    lm_need = "full"

    def __init__(self, config: SSASoftDigitsConfig, dims: PointDims) -> None:
        super().__init__(config)
        self._tables: dict[str, list[int] | None] = {}  # template -> the ten token ids (model ids)
        self._pieces: dict[int, str] = {}

    def _digit_ids(self, lm, template: str) -> list[int] | None:
        if template not in self._tables:
            self._tables[template] = digit_token_ids(lm.tokenizer, template, lm.model_id)
        return self._tables[template]

    def _piece(self, lm, model_id: int) -> str:
        if model_id not in self._pieces:
            self._pieces[model_id] = lm.tokenizer.convert_ids_to_tokens(lm.full_id(model_id))
        return self._pieces[model_id]

    def forward(self, output, batch, model) -> ObjectiveOutput:
        assert output.logits is not None  # lm_need "full"
        logits = output.logits  # [B, L_target, V]
        zero = logits.sum() * 0.0
        tasks = getattr(batch, "tasks", None) or []
        rows = [i for i, task in enumerate(tasks) if task == "ssa"]
        empty = {"digit_acc": torch.zeros(()), "coverage": torch.zeros(()), "frame_l1": torch.zeros(())}
        if not rows:
            return ObjectiveOutput(loss=zero, metrics=empty)
        lm = model.lm
        labels = lm.encode_targets([batch.texts[i] for i in rows])  # [n, L] model ids, -100 on padding
        # Gather (row, position, variant ids, digit, number key, place) of every usable digit.
        batch_rows, positions, id_rows, targets, numbers, places = [], [], [], [], [], []
        total_digits = 0
        widths: dict[int, int] = {}  # number key (2 * sample + number) -> its digit characters
        for n, row in enumerate(rows):
            ids = [int(i) for i in labels[n].tolist() if i != -100]
            slots, digit_counts = digit_slots([self._piece(lm, i) for i in ids])
            total_digits += sum(digit_counts)
            for number, width in enumerate(digit_counts):
                widths[2 * n + number] = width
            for position, template, digit, number, place in slots:
                variant_ids = self._digit_ids(lm, template)
                if variant_ids is None or position >= logits.shape[1]:
                    continue
                batch_rows.append(row)
                positions.append(position)
                id_rows.append(variant_ids)
                targets.append(digit)
                numbers.append(2 * n + number)
                places.append(place)
        if not batch_rows:
            return ObjectiveOutput(loss=zero, metrics=empty)
        device = logits.device
        picked = logits[torch.tensor(batch_rows, device=device), torch.tensor(positions, device=device)]  # [S, V]
        digit_logits = picked.gather(1, torch.tensor(id_rows, device=device)).float()  # [S, 10]
        probs = digit_logits.softmax(dim=-1)
        values = (probs * torch.arange(10, device=device, dtype=probs.dtype)).sum(dim=-1)  # [S] expected digits
        target = torch.tensor(targets, device=device, dtype=probs.dtype)
        scale = torch.tensor([10.0**p for p in places], device=device, dtype=probs.dtype)
        keys = torch.tensor(numbers, device=device)
        unique, inverse, counts = keys.unique(return_inverse=True, return_counts=True)
        expected = torch.zeros(len(unique), device=device, dtype=probs.dtype).index_add(0, inverse, values * scale)
        true = torch.zeros(len(unique), device=device, dtype=probs.dtype).index_add(0, inverse, target * scale)
        # A number with a digit inside a multi-digit piece has no expected value: left out.
        complete = torch.tensor([int(c) == widths[int(k)] for k, c in zip(unique, counts)], device=device)
        frame_error = (expected - true).abs()
        if self.config.reduction == "digit":
            loss = (values - target).abs().mean()
        else:
            loss = frame_error[complete].mean() if bool(complete.any()) else zero
        metrics = {
            "digit_acc": (digit_logits.argmax(dim=-1) == target.long()).float().mean().detach(),
            "coverage": torch.tensor(len(batch_rows) / max(total_digits, 1)),
            "frame_l1": frame_error[complete].mean().detach() if bool(complete.any()) else torch.zeros(()),
        }
        return ObjectiveOutput(loss=loss, metrics=metrics)


def answer_format_constraint(lm, digits: int = DIGITS):
    """A ``prefix_allowed_tokens_fn`` that lets beam search write only ``"ddd-ddd"`` (then end):
    at each step the token the format's template ``"000-000"`` has there, a digit position taking
    any of the ten digit tokens of that shape (:func:`digit_slots`).
    ``None`` when the tokenizer has no ten digit tokens of a needed shape (answers are then free)."""
    template = format_ssa_target(0, 0, digits=digits)
    ids = [int(i) for i in lm.encode_targets([template])[0].tolist() if i != -100]  # model ids, </s> last
    pieces = [lm.tokenizer.convert_ids_to_tokens(lm.full_id(i)) for i in ids]
    slots, widths = digit_slots(pieces)
    if len(slots) != sum(widths):
        return None
    allowed: list[list[int]] = [[i] for i in ids]
    for position, shape, *_ in slots:
        choices = digit_token_ids(lm.tokenizer, shape, lm.model_id)
        if choices is None:
            return None
        allowed[position] = choices
    last = allowed[-1]

    def allowed_tokens(batch_id: int, decoder_ids: torch.Tensor) -> list[int]:
        step = decoder_ids.shape[-1] - 1  # the decoder start token comes first
        return allowed[step] if step < len(allowed) else last

    return allowed_tokens
