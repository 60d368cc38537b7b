from app_service.cli import main

raise SystemExit(main())
