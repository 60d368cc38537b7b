from app_frontend.cli import main

raise SystemExit(main())
