from model_service.cli import main

raise SystemExit(main())
