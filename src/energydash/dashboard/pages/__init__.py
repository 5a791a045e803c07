"""One module per page: its layout, its callbacks and what it streams live."""
