"""The shared dashboard: share links (`/v1/.../share-links`), and what a share link opens
without an API key — a read-only HTML dashboard and SVG badges (`/s/{token}...`)."""
