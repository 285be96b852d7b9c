"""ecomsuite: e-commerce tasks for lm-evaluation-harness, with TRL fine-tuning, PEFT merging,
traditional baselines and a static leaderboard."""

__version__ = "0.1.0"


class EcomError(Exception):
    """An error the user can fix. The CLI prints its message as one line and exits non-zero."""
