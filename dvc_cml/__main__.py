from dvc_cml.cli import console

# Guarded: the chart worker is started with "spawn", which re-imports the main module.
if __name__ == "__main__":
    console()
