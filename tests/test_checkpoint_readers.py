"""Every script that reads a run's checkpoint goes through bertscape.checkpoints.load: a last epoch is packed
by default (train.last_checkpoint: fp32_packed) and θ0 is a shared-base file, so a plain safetensors read of
either gets no weights under their names (the filter-curve scripts once did, and failed on the first real run)."""
import re
from pathlib import Path

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "workflow" / "scripts").glob("*.py"))
PLAIN_READ = re.compile(r"load_tensors\([^)]*(epoch|ckpts|start|theta|full_path)")


def test_no_script_reads_a_checkpoint_as_a_plain_file():
    assert SCRIPTS
    bad = [f"{p.name}:{i}" for p in SCRIPTS for i, line in enumerate(p.read_text().splitlines(), 1)
           if PLAIN_READ.search(line)]
    assert not bad, f"read these checkpoints with bertscape.checkpoints.load: {bad}"
