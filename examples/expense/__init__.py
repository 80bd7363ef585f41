"""Expense approval as a Litestar app: managers, then finance and legal review, with escalation."""
