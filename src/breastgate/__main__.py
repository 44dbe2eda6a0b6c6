"""``python -m breastgate``: the same command line as ``breastgate``."""

from breastgate.cli import main

if __name__ == "__main__":
    main()
