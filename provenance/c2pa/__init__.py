"""C2PA Content Credentials: keys, signing, manifests, reading. No Django imports here."""
