from wanbuild.cli import main

raise SystemExit(main())
