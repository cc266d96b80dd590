"""A customer's right to be forgotten: `erasure.forget_customer` removes or anonymises one
customer of one salon in PostgreSQL and in the DynamoDB tables (`customer_items`).
docs/privacy.md lists what salonbot stores where, for how long, and what erasure does."""
