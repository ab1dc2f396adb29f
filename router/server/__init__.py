"""The process side: a supervisor and N hypercorn workers."""
