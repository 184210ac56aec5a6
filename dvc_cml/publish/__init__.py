"""Where reports go: the local report directory (and, later, GitLab)."""
