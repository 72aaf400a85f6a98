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


def test_the_suite_runs_on_the_faults_lab_unless_told_another(monkeypatch, capsys):
    seen = []

    def run(argv, **kwargs):
        seen.append((argv, kwargs["env"]["ESCALATOR_TEST_INVENTORY"]))
        return faults.subprocess.CompletedProcess(argv, 0, "2 passed\n", "")
    monkeypatch.setattr(faults.subprocess, "run", run)
    assert faults.main([]) == 0 and faults.main(["--inventory", "inventories/lab", "-k", "f04"]) == 0
    assert [inventory for dummy, inventory in seen] == ["inventories/lab-faults", "inventories/lab"]
    assert seen[1][0][-2:] == ["-k", "f04"] and '"tests": "2 passed"' in capsys.readouterr().out
