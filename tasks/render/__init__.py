"""The render package: faces in images (landmarks) and the animated photo presenter."""
