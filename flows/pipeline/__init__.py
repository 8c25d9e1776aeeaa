"""The run, written once: fetch -> build -> gate -> publish -> report, as Prefect tasks.

`run.py` is the skeleton both flows share (nightly.py and backfill.py only choose what to fetch
and, for a backfill, which partitions to merge); `tasks.py` holds the Prefect tasks;
`backfill_range.py` the range checks, input selection and partition merge of a backfill.
"""
