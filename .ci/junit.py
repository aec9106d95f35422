"""Reads schism's JUnit files with junitparser (a standard JUnit reader) and checks their shape.

Usage: python junit.py run.xml fuzz-1.xml fuzz-2.xml
run.xml: from `schism run --junit`; fuzz-1.xml and fuzz-2.xml: from `schism fuzz --junit` after
a first farm that filed a finding and a second over the same crashes folder.
"""
import sys

from junitparser import Error, Failure, JUnitXml, Skipped


def cases(path):
    xml = JUnitXml.fromfile(path)
    suites = list(xml) if hasattr(xml, "__iter__") else [xml]
    return [(suite.name, case) for suite in suites for case in suite]


def findings(path):
    found = {}
    for _, case in cases(path):
        assert case.classname in ("divergence", "fault", "slow"), f"{path}: class {case.classname}"
        assert case.result, f"{path}: finding {case.name} neither fails nor is skipped"
        found[case.name] = type(case.result[0]).__name__.lower()
    print(f"{path}: {len(found)} findings: {found}")
    return found


def main(run_path, first_path, second_path):
    run = cases(run_path)
    assert run, f"{run_path}: no test case"
    suites = {s for s, _ in run}
    assert "cross-client" in suites, f"{run_path}: no cross-client suite in {suites}"
    outcomes = {"passed": 0, "failure": 0, "error": 0, "skipped": 0}
    for _, case in run:
        assert case.name and case.classname, f"{run_path}: a case without name or class"
        kinds = [type(r) for r in case.result]
        if Failure in kinds:
            outcomes["failure"] += 1
            assert case.result[0].message, f"{case.name}: a failure without its mismatch"
        elif Error in kinds:
            outcomes["error"] += 1
        elif Skipped in kinds:
            outcomes["skipped"] += 1
        else:
            outcomes["passed"] += 1
    print(f"{run_path}: {len(run)} test cases in suites {sorted(suites)}: {outcomes}")
    assert outcomes["passed"] and outcomes["failure"] and outcomes["skipped"], f"{run_path}: expected passes, failures and skips"
    first, second = findings(first_path), findings(second_path)
    assert "failure" in first.values(), f"{first_path}: the canary's finding does not fail"
    for name, result in first.items():
        if result == "failure":
            assert second.get(name) == "skipped", f"{second_path}: {name}, new in the first run, is not known in the second"


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
