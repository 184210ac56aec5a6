from dvc_cml.cli import main

# Guarded: the chart worker is started with "spawn", which re-imports the main module.
if __name__ == "__main__":
    raise SystemExit(main())
