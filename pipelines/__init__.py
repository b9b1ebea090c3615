"""Ray batch jobs. Only this package knows about Ray actors; the library works without a cluster."""
