"""The studio core: no Qt; torch only where a module truly needs it."""
