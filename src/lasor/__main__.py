from lasor.cli import main

raise SystemExit(main())
