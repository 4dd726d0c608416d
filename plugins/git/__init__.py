"""Git with a credential: the command and its forced settings, SSH through an agent, repository addresses."""
