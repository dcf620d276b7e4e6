"""The `clinicmail` command. The CLI is imported when the command runs, not when this module is:
a sending process that multiprocessing starts from the command imports the command's script
again, and finds nothing heavy in it."""


def run() -> None:
    from pipeline.cli import main

    main()
