"""End-to-end pipelines (split -> train -> eval) behind `gentleclip demo`."""
