from sklearn_gce.cli import run

run()
