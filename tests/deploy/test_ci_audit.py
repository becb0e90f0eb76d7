"""CI's dependency audit (.ci/audit_dependencies.py), run with a stand-in pip-audit that writes a chosen report.

pip-audit prints "No known vulnerabilities found" even when it could query no database for any
package; the wrapper must say that nothing was audited, and must fail only on a real finding.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {"name": "django", "version": "5.2.19", "skip_reason": "Dependency not found on PyPI"}
CLEAN = {"name": "django", "version": "5.2.19", "vulns": []}
VULNERABLE = {"name": "requests", "version": "2.0.0", "vulns": [{"id": "PYSEC-2023-74", "fix_versions": ["2.31.0"]}]}


def _fake_pip_audit(tmp_path, reports: dict[str, list[dict] | None]) -> Path:
    """A pip-audit that writes, per service (-s), the given dependency list, or fails like a dead network."""
    program = tmp_path / "pip-audit"
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"reports = json.loads({json.dumps(json.dumps(reports))})\n"
        "args = sys.argv[1:]\n"
        "service, out = args[args.index('-s') + 1], args[args.index('-o') + 1]\n"
        "if reports.get(service) is None:\n"
        "    sys.exit('requests.exceptions.ConnectionError: Failed to resolve')\n"
        "json.dump({'dependencies': reports[service], 'fixes': []}, open(out, 'w'))\n"
    )
    program.chmod(0o755)
    return program


def _audit(tmp_path, reports):
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "audit_dependencies.py"),
         "--pip-audit", str(_fake_pip_audit(tmp_path, reports)), "--path", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result.returncode, result.stdout


def test_no_reachable_database_is_reported_as_not_audited_and_does_not_fail(tmp_path):
    returncode, output = _audit(tmp_path, {"pypi": [SKIPPED, SKIPPED], "osv": None})

    assert returncode == 0
    assert "DEPENDENCY AUDIT NOT DONE" in output


def test_a_known_vulnerability_fails_ci(tmp_path):
    returncode, output = _audit(tmp_path, {"pypi": [CLEAN, VULNERABLE, SKIPPED]})

    assert returncode == 1
    assert "VULNERABLE requests 2.0.0: PYSEC-2023-74" in output
    assert "audited 2 of 3" in output


@pytest.mark.parametrize("reports", [{"pypi": [CLEAN]}, {"pypi": None, "osv": [CLEAN]}], ids=["pypi", "osv-fallback"])
def test_a_clean_audit_passes_and_says_how_much_it_checked(tmp_path, reports):
    returncode, output = _audit(tmp_path, reports)

    assert returncode == 0
    assert "audited 1 of 1 packages, 0 with known vulnerabilities" in output
    assert "NOT DONE" not in output
