from glassgen.cli.app import main

main()
