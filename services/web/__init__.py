"""The web app: pages for people, a client of the public API through the gateway."""
