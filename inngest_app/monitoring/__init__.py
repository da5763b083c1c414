"""Run monitoring: every function run recorded (middleware → buffered recorder → one row per
run), usage and cost reported by SQL, Prometheus metrics. Never in a function's way."""
