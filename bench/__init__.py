"""The benchmark harness (run with bench/run.sh); see bench/README.md."""
