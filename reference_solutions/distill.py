"""Week 6: knowledge distillation from a teacher trained on train only, into a smaller student.

    teacher_logits = cached_teacher_logits(teacher_result, key)   # one row per train example
    loss = KDLoss(teacher_logits, T=4.0, alpha=0.7)               # engine.train(..., loss=loss)

The student learns from the teacher's whole softened distribution, not just the argmax: which wrong
classes the teacher finds plausible carries information a one-hot label does not (Hinton et al. 2015).
The loss is α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α)·CE(student, label); the T²
keeps the soft term's gradients at the scale of the hard term's as T grows.

The course's own teacher (Qwen3-32B) had been fine-tuned on train and test, so its soft labels carried
test information into every student. The teacher here is trained on train only, and its logits are
computed for train rows only: nothing about val or test reaches the student through it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from course import api
from reference_solutions import engine


def kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, T: float, alpha: float
) -> torch.Tensor:
    """α·T²·KL(teacher_T ‖ student_T) (mean over examples) + (1 − α)·cross-entropy with the labels."""
    if not T > 0 or not 0 <= alpha <= 1:
        raise ValueError(f"KD needs T > 0 and 0 <= alpha <= 1, got T={T}, alpha={alpha}")
    soft = F.kl_div(
        F.log_softmax(student_logits / T, dim=-1),
        F.log_softmax(teacher_logits / T, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * T * T * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)


class KDLoss:
    """`engine.train`'s loss hook: looks up the teacher's logits of each batch's train rows."""

    def __init__(self, teacher_logits: np.ndarray, T: float, alpha: float) -> None:
        self.teacher = torch.as_tensor(teacher_logits, dtype=torch.float32)
        self.T, self.alpha = T, alpha
        self.__name__ = f"kd(T={T:g}, alpha={alpha:g})"

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        teacher = self.teacher[rows.cpu()].to(logits.device)
        return kd_loss(logits, teacher, labels, self.T, self.alpha)


def train_ids_key(train_ids: list[str], teacher_run: str) -> str:
    """Cache key of a teacher's logits: the teacher and the exact train rows, in order."""
    return hashlib.sha256(("\x00".join([teacher_run, *train_ids])).encode()).hexdigest()[:16]


def cached_teacher_logits(
    teacher: engine.TrainResult, config: engine.TrainConfig, cache_dir: Path, teacher_run: str
) -> np.ndarray:
    """The teacher's logits on the train split, one row per train example in `load_course_data` order,
    computed once and kept in `cache_dir` (a grid of students reuses them)."""
    raw_train, _ = api.load_course_data()
    train_ds, _ = api.load_course_data(tokenizer=teacher.tokenizer, max_length=config.max_length)
    path = Path(cache_dir) / f"teacher-{train_ids_key(list(raw_train['id']), teacher_run)}.npy"
    if path.is_file():
        return np.load(path)
    device = next(teacher.model.parameters()).device
    logits = engine.predict_logits(
        teacher.model,
        list(train_ds["input_ids"]),
        teacher.tokenizer.pad_token_id,
        config.eval_batch_size,
        engine.resolve_precision(config.precision, device),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, logits)
    return logits
