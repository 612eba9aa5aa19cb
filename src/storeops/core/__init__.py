"""Foundation shared by every layer: errors, settings, clock, ids, secrets."""
