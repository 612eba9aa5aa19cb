"""The automations: the only layer that combines domains, rules, ai and connectors."""
