"""Generate the bundled sample data: taxi rides, deterministic (seeded).

    python configs/make_sample_data.py

writes configs/rides/data/rides-{0,1,2}.parquet (3 x 2,000 rows) and
configs/rides_declarative/data/rides.csv (the same 6,000 rows). The files are
committed; this script documents how they were made.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS_PER_FILE = 2000
FILES = 3
COMPANIES = ["Flash Cab", "Taxi Affiliation Services", "City Service", "Sun Taxi", "Medallion Leasing", "Globe Taxi"]
COMPANY_WEIGHTS = [0.3, 0.25, 0.2, 0.12, 0.08, 0.05]
PAYMENTS = ["Credit Card", "Cash", "Mobile", "Prcard"]


def rides(rng: np.random.Generator, rows: int) -> pa.Table:
    miles = np.round(rng.gamma(1.6, 2.2, rows), 2)
    seconds = (miles * rng.uniform(140, 260, rows) + rng.integers(60, 400, rows)).astype(np.int64)
    fare = np.round(3.25 + 2.25 * miles + rng.normal(0, 1.5, rows).clip(-2, 6), 2)
    payment = rng.choice(PAYMENTS, rows, p=[0.55, 0.35, 0.07, 0.03])
    tips = np.where(payment == "Credit Card", np.round(fare * rng.uniform(0.1, 0.25, rows), 2), 0.0)
    company = rng.choice(COMPANIES, rows, p=COMPANY_WEIGHTS).astype(object)
    company[rng.random(rows) < 0.03] = None  # a few rides with no company: `default: ""` fills them
    return pa.table(
        {
            "trip_miles": pa.array(miles, pa.float64()),
            "trip_seconds": pa.array(seconds, pa.int64()),
            "fare": pa.array(fare, pa.float64()),
            "tips": pa.array(tips, pa.float64()),
            "company": pa.array(company, pa.string()),
            "payment_type": pa.array(payment, pa.string()),
            "pickup_hour": pa.array(rng.integers(0, 24, rows), pa.int64()),
        }
    )


def main() -> None:
    rng = np.random.default_rng(20240601)
    tables = [rides(rng, ROWS_PER_FILE) for _ in range(FILES)]
    parquet_dir = os.path.join(HERE, "rides", "data")
    os.makedirs(parquet_dir, exist_ok=True)
    for index, table in enumerate(tables):
        pq.write_table(table, os.path.join(parquet_dir, f"rides-{index}.parquet"), compression="zstd")
    csv_dir = os.path.join(HERE, "rides_declarative", "data")
    os.makedirs(csv_dir, exist_ok=True)
    pcsv.write_csv(pa.concat_tables(tables), os.path.join(csv_dir, "rides.csv"))


if __name__ == "__main__":
    main()
