from glassgen.md.runner import main

main()
