from sage_tui.cli import main

main()
