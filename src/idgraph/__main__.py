from idgraph.cli import app

app()
