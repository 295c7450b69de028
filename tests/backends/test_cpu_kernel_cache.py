from __future__ import annotations

from pathlib import Path

from psionic.backends.cpu.kernel_cache import KernelCacheLocator, sources_digest
from psionic.backends.cpu.matmul import _matmul_rows
from psionic.backends.cpu.norm import _rms_norm


def test_the_digest_covers_every_source_file(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    before = sources_digest(tmp_path)
    (tmp_path / "b.py").write_text("y = 3\n")
    assert sources_digest(tmp_path) != before
    (tmp_path / "b.py").write_text("y = 2\n")
    assert sources_digest(tmp_path) == before


def test_kernels_are_cached_with_the_package_wide_stamp() -> None:
    for kernel in (_matmul_rows, _rms_norm):
        locator = kernel._cache._impl.locator
        assert isinstance(locator, KernelCacheLocator)
        assert locator.get_source_stamp() == sources_digest()
