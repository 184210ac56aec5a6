from dvc_cml.cli import main

raise SystemExit(main())
