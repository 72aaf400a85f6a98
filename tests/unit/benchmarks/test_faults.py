"""The fault benchmark's summary: totals over the faults, what was lost, the slowest recovery."""

import importlib.util
import pathlib

PATH = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "faults.py"
spec = importlib.util.spec_from_file_location("faults_benchmark", PATH)
faults = importlib.util.module_from_spec(spec)
spec.loader.exec_module(faults)


def fault(name, failed=0, requests=100, recover=30.0, lost=None, redundancy=True):
    return {"fault": name, "requests": requests, "failed_requests": failed, "recover_s": recover,
            "lost": lost or {}, "result": "stopped", "redundancy_kept": redundancy}


def test_the_summary_adds_up_the_faults_and_names_what_was_lost():
    out = faults.summarize([fault("a", recover=12.5), fault("b", failed=2, requests=50, recover=80.0,
                                                            lost={"rows written during the run and gone": ["x"]})],
                           1, "1 failed, 1 passed")
    assert (out["requests"], out["failed_requests"], out["lost"]) == (150, 2, ["b"])
    assert out["slowest_recovery_s"] == 80.0 and out["all_passed"] is False and out["tests"] == "1 failed, 1 passed"


def test_no_fault_measured_is_said_plainly():
    out = faults.summarize([], 0, "5 deselected")
    assert out["faults"] == [] and out["slowest_recovery_s"] is None and out["all_passed"] is True


def test_requests_failed_where_the_only_database_was_gone_are_counted_apart():
    out = faults.summarize([fault("a", failed=1), fault("database gone", failed=40, redundancy=False)], 0, "2 passed")
    assert (out["failed_requests"], out["failed_requests_without_redundancy"], out["requests"]) == (1, 40, 200)
