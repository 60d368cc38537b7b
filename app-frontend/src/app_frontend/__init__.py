"""The page of Sentiment Canary: write a review, see the verdict, confirm or correct it."""
