"""Run directories: the only code that knows the file format (attrs, status, output, scalars, trash, archives)."""
