"""Build a bank from tasks with checkable answers and measure whether it helps (the paper's protocol)."""
