"""Model prices, the DynamoDB cost guard and cost estimates."""
