"""``lasor demo``: a local web page for lasor (standard library server + vendored three.js)."""
