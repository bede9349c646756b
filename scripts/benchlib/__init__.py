"""The bench behind `make bench`: profiles, one measured point, sampling,
the summary CSV, the plots and the report. scripts/bench.py is the command
line; everything it does lives here in small modules with one job each."""
