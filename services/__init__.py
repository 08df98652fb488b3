"""What the web app does, independent of HTTP: storage, auth, jobs, answers, the library."""
