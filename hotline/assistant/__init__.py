"""小贝, the smart assistant: entities, NLU, dialogue, knowledge base and evaluation."""
