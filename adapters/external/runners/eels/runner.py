"""schism's long-lived state-test runner for the Python execution specs (EELS).

`ethereum-spec-evm statetest` prints only the state root; this runner drives the same
machinery (`ethereum_spec_tools.evm_tools.statetest.run_test_case`, i.e. EELS's t8n) and prints
what the t8n result holds: state root, logs hash, gas used and the rejection, one JSON line per
case. The protocol is shared with the EthereumJS runner; see ../README.md.

    python runner.py [--trace] [--version]

Reads state-test file paths from stdin, one per line; an empty line or EOF ends it.
"""

import contextlib
import io
import json
import sys
import traceback


def _version() -> str:
    from importlib.metadata import version

    return version("ethereum-execution")


def _summary(case, result, trace_lines):
    rejected = (result.rejected or {}).get(0)
    out = {
        "name": case.key,
        "fork": case.fork_name,
        "index": case.index,
        "stateRoot": "0x" + result.state_root.hex(),
        "logsHash": "0x" + result.logs_hash.hex(),
        "gasUsed": hex(result.gas_used),
        # EELS's receipt says only succeeded or not; the halt class is in the trace.
        "status": "rejected" if rejected is not None else "executed",
        "error": rejected,
    }
    if trace_lines is not None:
        status, error = _ending(trace_lines)
        if rejected is None and status is not None:
            out["status"], out["error"] = status, error
    return out


def _ending(trace_lines):
    """How the top-level frame ended, from the EIP-3155 summary line of the trace."""
    for line in reversed(trace_lines):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if "gasUsed" in obj and "pc" not in obj:
            error = obj.get("error")
            if not error:
                return "success", None
            return ("revert" if "Revert" in error else "halt"), error
    return None, None


def main() -> int:
    if "--version" in sys.argv:
        print(_version(), flush=True)
        return 0
    trace = "--trace" in sys.argv
    from ethereum_spec_tools.evm_tools.statetest import read_test_cases, run_test_case

    try:
        # 2.x: the fork modules are loaded once per process and `run_test_case` takes the cache.
        from ethereum_spec_tools.evm_tools.t8n import ForkCache
    except ImportError:
        # 1.x (1.17.0): no cache; `run_test_case(case, t8n_extra, output_basedir)`.
        ForkCache = None

    def run(case, fork_cache, extra, buffer):
        if fork_cache is None:
            return run_test_case(case, t8n_extra=extra, output_basedir=buffer)
        return run_test_case(case, fork_cache, t8n_extra=extra, output_basedir=buffer)

    extra = ["--trace", "--trace.nomemory", "--trace.returndata"] if trace else []
    stdout = sys.stdout
    with ForkCache() if ForkCache is not None else contextlib.nullcontext() as fork_cache:
        for line in sys.stdin:
            path = line.rstrip("\n")
            if not path:
                break
            try:
                cases = list(read_test_cases(path))
            except Exception as e:  # a bad file is one fault line, never the end of the runner
                print(json.dumps({"fault": f"{path}: {e}"}), file=stdout, flush=True)
                continue
            for case in cases:
                head = {"name": case.key, "fork": case.fork_name, "index": case.index}
                buffer = io.StringIO() if trace else None
                try:
                    result = run(case, fork_cache, extra, buffer)
                except BaseException as e:  # noqa: BLE001 - EELS exits on unsupported forks
                    traceback.print_exc(file=sys.stderr)
                    print(json.dumps({**head, "fault": f"{type(e).__name__}: {e}"}), file=stdout, flush=True)
                    continue
                lines = buffer.getvalue().splitlines() if buffer is not None else None
                if lines is not None:
                    for step in lines:
                        if '"pc"' in step:
                            stdout.write(step + "\n")
                stdout.write(json.dumps(_summary(case, result, lines)) + "\n")
                stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
