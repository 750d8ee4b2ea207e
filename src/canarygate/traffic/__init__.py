"""Traffic backends (pure): from a live routing object and a desired weight to a patch."""
