"""The console's screens, each with its styles in a .tcss beside it."""
