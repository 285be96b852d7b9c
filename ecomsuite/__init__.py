"""ecomsuite: e-commerce tasks for lm-evaluation-harness, with TRL fine-tuning, PEFT merging,
traditional baselines and a static leaderboard."""

__version__ = "0.1.0"


class EcomError(Exception):
    """An error the user can fix. The CLI prints its message as one line and exits non-zero."""


def read_yaml_mapping(path, what: str, example: str = "") -> dict:
    """A YAML file that must hold a mapping (recipe, study); one-line EcomError otherwise. Empty file: {}."""
    import yaml

    try:
        from pathlib import Path

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise EcomError(f"{path}: not valid YAML ({str(e).splitlines()[0]}); fix the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise EcomError(f"{path}: {what} is a mapping of keys to values, got {type(data).__name__}"
                        + (f" (see {example})" if example else ""))
    return data


def _quiet_optional_kernel_notice() -> None:
    """``import peft`` imports bitsandbytes, which on a CPU with AVX512-BF16 logs a warning that it
    could not fetch an optional 4-bit matmul kernel from the Hugging Face Hub (``kernels-community``)
    and uses its built-in one. Every ``ecomsuite`` command that loads PEFT printed it, although
    nothing failed (offline, it can never succeed). Only that message of that logger is dropped."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to load CPU gemm_4bit_forward from kernels-community")

    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(keep)


_quiet_optional_kernel_notice()
