"""Domain logic, independent of HTTP and of the host."""
