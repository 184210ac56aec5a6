from dvc_cml.cli import console

# Guarded: importing this module (as some tools do) must not run a command.
if __name__ == "__main__":
    console()
