from framefleet.cli import main

raise SystemExit(main())
