from localimages.cli import main

raise SystemExit(main())
