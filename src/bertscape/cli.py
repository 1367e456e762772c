"""Command line: ``bertscape audit PATH... [--depth N | --json | --verify | --prov | --content-hash]``,
``validate CONFIG``, ``estimate [CONFIG]``, ``config-reference [-o config/README.md]``, ``claims-table CLAIMS_JSON``,
``export-checkpoint CHECKPOINT OUTPUT``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import BertscapeError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bertscape", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("audit", help="lineage of an artifact down to its sources")
    a.add_argument("path", nargs="+")
    a.add_argument("--json", action="store_true", help="machine-readable lineage")
    a.add_argument("--depth", type=int, default=None, metavar="N",
                   help="text view: show N levels of inputs below each path (default: all); what is cut is counted")
    a.add_argument("--verify", action="store_true", help="re-hash every recorded input; exit 1 naming each mismatch")
    a.add_argument("--prov", action="store_true", help="W3C PROV-JSON document of the lineage(s)")
    a.add_argument("--content-hash", action="store_true",
                   help="sha256 of each artifact's content without its provenance record (equal for equal results)")
    v = sub.add_parser("validate", help="validate a config file against the schema")
    v.add_argument("config")
    e = sub.add_parser("estimate", help="GPU-hours and disk per rule of a config (FLOPs / a stated GPU rate; bytes written)")
    e.add_argument("config", nargs="?", default="config.yaml")
    e.add_argument("--tflops", type=float, default=100.0, help="sustained TFLOP/s per GPU (default 100)")
    r = sub.add_parser("config-reference", help="config/README.md (every key: type, default, meaning) from the schema")
    r.add_argument("-o", "--output", default=None, help="write here (default: print)")
    r.add_argument("--schema", default=None, help="schema file (default: the workflow's)")
    t = sub.add_parser("claims-table", help="the README's claims table (markdown) from a run's claims.json")
    t.add_argument("claims_json")
    x = sub.add_parser("export-checkpoint",
                       help="a run's checkpoint (shared-base or packed format) as a plain fp32 safetensors file")
    x.add_argument("checkpoint")
    x.add_argument("output")
    args = ap.parse_args(argv)
    try:
        code = _run(args)
        sys.stdout.flush()  # a closed pipe (`... | head`) shows here, not at interpreter exit
        return code
    except BrokenPipeError:  # the reader went away: not an error of ours, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by the closed pipe
    except KeyboardInterrupt:
        return 130
    except BertscapeError as e:
        print(f"bertscape: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # unreadable or unwritable file, full disk, quota, NFS: one line naming it
        from .oserrors import describe

        print(f"bertscape: {describe(e)}", file=sys.stderr)
        return 2
    except ValueError as e:  # malformed record or config: one line naming it
        print(f"bertscape: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.cmd == "validate":
        from .config import read_yaml, validate

        validate(read_yaml(args.config))
        print(f"{args.config}: valid")
        return 0
    if args.cmd == "config-reference":
        from .config import SCHEMA
        from .configdoc import write_reference

        text = write_reference(args.schema or SCHEMA, args.output)
        print(f"wrote {args.output}" if args.output else text)
        return 0
    if args.cmd == "export-checkpoint":
        from .checkpoints import load
        from .io import save_tensors, tensors_metadata

        if not Path(args.checkpoint).is_file():
            raise BertscapeError(f"no such file: {args.checkpoint}")
        meta = {k: v for k, v in tensors_metadata(args.checkpoint).items()
                if k not in ("format", "base", "base_sha256", "shared", "packed")}
        state = load(args.checkpoint)
        save_tensors(args.output, state, {**meta, "exported_from": str(Path(args.checkpoint).resolve())})
        print(f"wrote {args.output}: {len(state)} tensors, fp32 bit for bit")
        return 0
    if args.cmd == "claims-table":
        from .evidence import markdown
        from .io import read_json

        if not Path(args.claims_json).exists():
            raise BertscapeError(f"no such file: {args.claims_json}")
        doc = read_json(args.claims_json)
        if "decisions" not in doc:
            raise BertscapeError(f"{args.claims_json}: no 'decisions' (a claims.json from before claims over seeds?)")
        print(markdown(doc), end="")
        return 0
    if args.cmd == "estimate":
        from .config import read_yaml, validate
        from .estimate import checkpoint_bytes_before, disk, estimate, render as table, render_disk

        config = validate(read_yaml(args.config))
        print(table(estimate(config, args.tflops), args.tflops))
        print("\n" + render_disk(disk(config), checkpoint_bytes_before(config)))
        return 0
    from .audit import lineage, prov_document, render, verify

    missing = [p for p in args.path if not Path(p).exists()]
    if missing:
        raise BertscapeError(f"no such file or directory: {', '.join(missing)}")
    if args.depth is not None and args.depth < 0:
        raise BertscapeError(f"--depth must be >= 0, got {args.depth}")
    if args.content_hash:
        from .provenance import content_hash

        for path in args.path:
            print(f"{content_hash(path)}  {path}")
        return 0
    if args.prov:
        print(json.dumps(prov_document(args.path), indent=1, default=str))
        return 0
    bad = 0
    for path in args.path:
        if args.verify:
            problems = verify(path)
            for p in problems:
                print(p)
            print(f"{path}: {'all recorded inputs match' if not problems else f'{len(problems)} mismatches'}")
            bad += bool(problems)
            continue
        if args.json:
            print(json.dumps(lineage(path), indent=1, default=str))
    if not args.verify and not args.json:
        print(render(args.path, depth=args.depth))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
