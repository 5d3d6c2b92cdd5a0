"""The instructor's reference pipelines: the fine-tuning engine, each week's pipelines, run records and bands."""
