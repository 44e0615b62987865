"""Collects what scripts/gpu-check.sh measured into $OUT/results.json and prints a
one-line digest. Arguments: OUT, the stage statuses ("name=status;..."), GPU present (0/1)."""
import datetime
import json
import os
import subprocess
import sys


def main():
    out, stages, have_gpu = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    path = lambda name: os.path.join(out, name)

    def load(name):
        try:
            return json.load(open(path(name)))
        except (OSError, ValueError):
            return None

    def text(name):
        return open(path(name)).read() if os.path.exists(path(name)) else ""

    ctest = [l.strip() for l in text("ctest.log").splitlines() if "tests passed" in l or "tests failed" in l]
    sanitizer = []
    for line in text("sanitizer.log").splitlines():
        if line.startswith("RESULT "):
            _, binary, test_filter, result, seconds = line.split(" ", 4)
            sanitizer.append({"binary": binary, "filter": test_filter, "result": result, "seconds": seconds})
    peer = [json.loads(l) for l in text("peer.jsonl").splitlines() if l.strip().startswith("{")]
    configure = [l.split("configure: ", 1)[1] for l in text("progress.log").splitlines() if "configure: " in l]
    r = {
        "date": datetime.datetime.utcnow().isoformat() + "Z",
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "command": "scripts/gpu-check.sh",
        "gpu_present": have_gpu,
        "gpu": text("gpu.txt").strip(),
        "configure": configure[-1] if configure else "",
        "stages": dict(s.split("=", 1) for s in stages.split(";") if s),
        "ctest": ctest[-1] if ctest else "",
        "sanitizer": sanitizer,
        "bench": {b: load(f"bench_{b}.json") for b in ("spmm", "sddmm", "sparse_linear", "topology")},
        "step_resnet50": load("bench_step_resnet50.json"),
        "step_mlp": load("bench_step_mlp.json"),
        "memory_resnet50": load("memory_resnet50.json"),
        "rigl_summary": load("rigl/summary.json"),
        "dense_summary": load("dense/summary.json"),
        "peer": peer,
        "configs": text("configs.log").splitlines(),
    }
    for k in ("rigl_summary", "dense_summary"):
        if r[k]:
            r[k].pop("config", None)
    json.dump(r, open(path("results.json"), "w"), indent=1)
    print(json.dumps({"stages": r["stages"], "ctest": r["ctest"],
                      "sanitizer": {s["binary"] + " " + s["filter"]: s["result"] for s in sanitizer}}))


if __name__ == "__main__":
    main()
