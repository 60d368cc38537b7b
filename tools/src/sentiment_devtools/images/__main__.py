from sentiment_devtools.images.cli import main

raise SystemExit(main())
