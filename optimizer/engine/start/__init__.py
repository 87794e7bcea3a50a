"""Where HiGHS starts a large LP: saved bases, an estimated plan."""
