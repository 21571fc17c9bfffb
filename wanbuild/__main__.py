from wanbuild.cli import entry

raise SystemExit(entry())
