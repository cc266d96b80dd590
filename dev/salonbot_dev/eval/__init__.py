"""Evaluation of the assistant the way agent benchmarks do it: task files (`tasks`), a
customer simulator (`users`), each task run through the production processor on a
scratch database (`database`, `engines`, `runner`), graded on the state it leaves
(`grading`), and pass^k with tokens, cost and latency (`report`). `suite` runs them all;
`salonbot eval` is the command. See docs/evaluation.md."""
