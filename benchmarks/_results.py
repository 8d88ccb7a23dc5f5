"""Print a benchmark's table and write it to ``benchmarks/results/<name>.csv`` and ``.json``."""

import json
import pathlib

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def report(table, name, title, float_format):
    """Print ``title`` and the DataFrame ``table``, then write it as CSV and JSON records."""
    print(title)
    print(table.to_string(float_format=float_format))
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / f"{name}.csv")
    (RESULTS / f"{name}.json").write_text(json.dumps(table.reset_index().to_dict(orient="records"), indent=1))
