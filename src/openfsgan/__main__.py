from openfsgan.cli.main import main

raise SystemExit(main())
