"""Command line: ``bertscape audit PATH... [--json | --verify | --prov | --content-hash]``, ``validate CONFIG``, ``estimate [CONFIG]``."""

from __future__ import annotations

import argparse
import json
import sys

from . import BertscapeError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bertscape", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("audit", help="lineage of an artifact down to its sources")
    a.add_argument("path", nargs="+")
    a.add_argument("--json", action="store_true", help="machine-readable lineage")
    a.add_argument("--verify", action="store_true", help="re-hash every recorded input; exit 1 naming each mismatch")
    a.add_argument("--prov", action="store_true", help="W3C PROV-JSON document of the lineage(s)")
    a.add_argument("--content-hash", action="store_true",
                   help="sha256 of each artifact's content without its provenance record (equal for equal results)")
    v = sub.add_parser("validate", help="validate a config file against the schema")
    v.add_argument("config")
    e = sub.add_parser("estimate", help="GPU-hours and disk per rule of a config (FLOPs / a stated GPU rate; bytes written)")
    e.add_argument("config", nargs="?", default="config.yaml")
    e.add_argument("--tflops", type=float, default=100.0, help="sustained TFLOP/s per GPU (default 100)")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "validate":
            from .config import read_yaml, validate

            validate(read_yaml(args.config))
            print(f"{args.config}: valid")
            return 0
        if args.cmd == "estimate":
            from .config import read_yaml, validate
            from .estimate import checkpoint_bytes_before, disk, estimate, render as table, render_disk

            config = validate(read_yaml(args.config))
            print(table(estimate(config, args.tflops), args.tflops))
            print("\n" + render_disk(disk(config), checkpoint_bytes_before(config)))
            return 0
        from .audit import lineage, prov_document, render, verify

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
            tree = lineage(path)
            print(json.dumps(tree, indent=1, default=str) if args.json else render(tree))
        return 1 if bad else 0
    except BertscapeError as e:
        print(f"bertscape: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
