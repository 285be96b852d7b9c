"""The one library notice ecomsuite silences (ecomsuite._quiet_optional_kernel_notice): only that
message of that logger; everything else bitsandbytes logs still shows."""

import logging

import ecomsuite  # noqa: F401  (installs the filter)


def _shown(logger_name: str, msg: str) -> bool:
    logger = logging.getLogger(logger_name)
    record = logger.makeRecord(logger_name, logging.WARNING, __file__, 1, msg, (), None)
    return logger.filter(record)


def test_optional_kernel_notice_dropped_other_messages_kept():
    name = "bitsandbytes.backends.cpu.ops"
    assert not _shown(name, "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure ...")
    assert _shown(name, "some other bitsandbytes warning")
    assert _shown("bitsandbytes.cextension", "Failed to load CPU gemm_4bit_forward from kernels-community: x")


def test_importing_peft_prints_no_kernel_notice():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "import ecomsuite, peft"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "kernels-community" not in r.stderr


def test_forkserver_preload_imports_ecomsuite_before_peft():
    # the study's forkserver imports its PRELOAD list in order: the filter must be in place before peft
    from ecomsuite.reproduce import PRELOAD

    assert PRELOAD.index("ecomsuite") < PRELOAD.index("peft")
