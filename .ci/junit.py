"""Reads schism's JUnit files with junitparser (a standard JUnit reader) and checks their shape.

Usage: python junit.py run.xml fuzz.xml
run.xml: from `schism run --junit`; fuzz.xml: from `schism fuzz --junit`.
"""
import sys

from junitparser import Error, Failure, JUnitXml, Skipped


def cases(path):
    xml = JUnitXml.fromfile(path)
    suites = list(xml) if hasattr(xml, "__iter__") else [xml]
    return [(suite.name, case) for suite in suites for case in suite]


def main(run_path, fuzz_path):
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
    fuzz = cases(fuzz_path)
    for _, case in fuzz:
        assert case.classname in ("divergence", "fault", "slow"), f"{fuzz_path}: class {case.classname}"
        assert case.result, f"{fuzz_path}: finding {case.name} neither fails nor is skipped"
    print(f"{fuzz_path}: {len(fuzz)} findings: " + ", ".join(f"{c.name} ({type(c.result[0]).__name__.lower()})" for _, c in fuzz))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
