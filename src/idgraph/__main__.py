from idgraph.cli import main

main()
