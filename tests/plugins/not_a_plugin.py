"""A helper module for plugins: kept in plugins_dir under a name starting with "_", never imported as a plugin."""

raise RuntimeError("not a plugin")
